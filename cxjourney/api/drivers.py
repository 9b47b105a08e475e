"""Reports: GET /api/v1/reports/drivers – how the survey CSAT after a resolved complaint
varies with hours to first response and to resolution, reopening, SLA breach and channel,
for a window and, when asked for (``compare_from``/``compare_to``, or ``compare=true`` for
the default comparison window), the same shape under ``"compare"``.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields

from ..analytics.drivers import DRIVERS, DriverReport, driver_report
from ..analytics.touchpoint_report import check_report_scope
from ..analytics.windows import resolve_windows
from ..auth.permissions import Permission, requires
from ..extensions import db, utcnow
from .errors import ErrorSchema
from .reports import ReportArgsSchema, WindowSchema, _StrictSchema, resolve_report_args

blp = Blueprint("api_drivers", __name__, description="Reports: service drivers of satisfaction")


class DriverReportArgsSchema(ReportArgsSchema):
    compare = fields.Boolean(
        load_default=False,
        metadata={"description": "Add the default comparison window's report under compare"},
    )


class DriverBinSchema(_StrictSchema):
    key = fields.String(metadata={"description": "The bin's stable identifier, e.g. lt_1h"})
    label = fields.String(metadata={"description": "The bin, in the request's language"})
    n = fields.Integer(metadata={"description": "Complaints in the bin"})
    csat_mean = fields.Float(allow_none=True, metadata={"description": "Mean CSAT (1–5)"})
    satisfied_pct = fields.Float(allow_none=True, metadata={"description": "CSAT 4–5 ÷ n × 100"})


class DriverSchema(_StrictSchema):
    key = fields.String(metadata={"enum": list(DRIVERS)})
    rho = fields.Float(
        allow_none=True,
        metadata={"description": "Spearman's rho with CSAT; null for channel (categorical)"},
    )
    low = fields.Float(allow_none=True, metadata={"description": "95 % interval (Fisher z)"})
    high = fields.Float(allow_none=True)
    n = fields.Integer(metadata={"description": "Complaints with a value for the driver"})
    bins = fields.List(fields.Nested(DriverBinSchema))


class DriversBodySchema(_StrictSchema):
    window = fields.Nested(WindowSchema)
    complaints = fields.Integer(
        metadata={"description": "Complaints received in the window with a survey answer"}
    )
    drivers = fields.List(
        fields.Nested(DriverSchema),
        metadata={"description": "Ranked by |rho|, descending, nulls last"},
    )


class DriversReportSchema(DriversBodySchema):
    compare = fields.Nested(DriversBodySchema)


def dump_drivers(report: DriverReport) -> dict[str, Any]:
    return {
        "window": {"start": report.window.start, "end": report.window.end},
        "complaints": report.complaints,
        "drivers": [
            {
                "key": driver.key,
                "rho": driver.rho,
                "low": driver.low,
                "high": driver.high,
                "n": driver.n,
                "bins": [
                    {
                        "key": row.key,
                        "label": str(row.label),
                        "n": row.n,
                        "csat_mean": row.csat_mean,
                        "satisfied_pct": row.satisfied_pct,
                    }
                    for row in driver.bins
                ],
            }
            for driver in report.drivers
        ],
    }


@blp.get("/reports/drivers")
@requires(Permission.VIEW_REPORTS)
@blp.arguments(DriverReportArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, DriversReportSchema)
@blp.alt_response(422, schema=ErrorSchema)
def drivers(args: dict[str, Any]) -> Any:
    """How the survey CSAT of the complaints received in ``[from, to)`` varies with each
    service driver: bins with n, mean CSAT and % satisfied, and Spearman's rho with a 95 %
    interval; drivers ranked by |rho|. Filters narrow the complaints as in the KPI report.
    A complaint answered more than once counts with its first answer."""
    timezone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    bounds, filters = resolve_report_args(args, timezone=timezone)
    window, compare = resolve_windows(*bounds.values(), ZoneInfo(timezone))  # type: ignore[arg-type]
    wanted = args["compare"] or bounds["compare_start"] is not None
    check_report_scope(db.session, [window, compare] if wanted else [window], filters)
    now = utcnow()
    body = dump_drivers(driver_report(db.session, window, filters, now=now))
    if wanted:
        body["compare"] = dump_drivers(driver_report(db.session, compare, filters, now=now))
    return body
