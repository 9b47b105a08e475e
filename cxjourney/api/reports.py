"""Reports: GET /api/v1/reports/kpis – every KPI of a window beside its comparison window."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..analytics.kpis import COUNTS, METRICS, KpiFilters, KpiReport, kpi_report, resolve_filters
from ..analytics.windows import Window, resolve_windows
from ..auth.permissions import Permission, requires
from ..errors import ValidationError
from ..extensions import db, utcnow
from ..journey.models import Channel
from .errors import ErrorSchema
from .fields import Timestamp

blp = Blueprint("api_reports", __name__, description="Reports: KPIs over a window")

WINDOW_TIME = (
    "ISO 8601; a bare date is 00:00 of that day and a time without offset is local time, "
    "both in the configured timezone"
)


class _StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE
        ordered = True


class ReportArgsSchema(_StrictSchema):
    start = Timestamp(
        data_key="from", required=True, metadata={"description": f"Window start. {WINDOW_TIME}"}
    )
    end = Timestamp(
        data_key="to",
        required=True,
        metadata={"description": f"Window end, excluded. {WINDOW_TIME}"},
    )
    touchpoint = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    stage = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    segment = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    channel = fields.String(load_default=None, validate=validate.OneOf([c.value for c in Channel]))
    compare_start = Timestamp(
        data_key="compare_from",
        load_default=None,
        metadata={"description": "Comparison window start (with compare_to)"},
    )
    compare_end = Timestamp(
        data_key="compare_to",
        load_default=None,
        metadata={"description": "Comparison window end, excluded (with compare_from)"},
    )


# Every parameter the report reads (data keys), for callers that pass other ones too.
_REPORT_PARAMS = frozenset(
    {"from", "to", "compare_from", "compare_to", "touchpoint", "stage", "segment", "channel"}
)


class WindowSchema(_StrictSchema):
    start = Timestamp(data_key="from")
    end = Timestamp(data_key="to")


class RateSchema(_StrictSchema):
    value = fields.Float(allow_none=True)
    compare = fields.Float(allow_none=True)
    change = fields.Float(allow_none=True, metadata={"description": "value − compare"})


class CountSchema(_StrictSchema):
    value = fields.Integer()
    compare = fields.Integer()
    change = fields.Integer(metadata={"description": "value − compare"})


KpiMetricsSchema = _StrictSchema.from_dict(
    {
        name: fields.Nested(CountSchema if name in COUNTS else RateSchema, required=True)
        for name in METRICS
    },
    name="KpiMetrics",
)


class KpiReportSchema(_StrictSchema):
    window = fields.Nested(WindowSchema)
    compare = fields.Nested(WindowSchema)
    metrics = fields.Nested(KpiMetricsSchema)


def _window(window: Window) -> dict[str, Any]:
    return {"start": window.start, "end": window.end}


def dump_report(report: KpiReport) -> dict[str, Any]:
    return {
        "window": _window(report.window),
        "compare": _window(report.compare),
        "metrics": {
            name: {"value": m.value, "compare": m.compare, "change": m.change}
            for name, m in report.metrics.items()
        },
    }


def _filters(args: dict[str, Any]) -> tuple[KpiFilters | None, dict[str, str]]:
    try:
        filters = resolve_filters(
            db.session,
            touchpoint=args.get("touchpoint"),
            stage=args.get("stage"),
            segment=args.get("segment"),
            channel=args.get("channel"),
        )
    except ValidationError as exc:
        return None, exc.fields
    return filters, {}


def parse_report_query(raw: Mapping[str, str]) -> dict[str, Any]:
    """Load report parameters as the API does, other parameters ignored (the dashboard's
    form: sort, format). Empty values count as not given.

    Raises ValidationError naming each invalid parameter (first message each).
    """
    given = {k: v for k, v in raw.items() if k in _REPORT_PARAMS and v.strip()}
    try:
        loaded: dict[str, Any] = ReportArgsSchema(unknown=ma.EXCLUDE).load(given)
    except ma.ValidationError as exc:
        messages = exc.normalized_messages()
        raise ValidationError(
            {
                str(name): str(problem[0] if isinstance(problem, list) else problem)
                for name, problem in messages.items()
            }
        ) from exc
    return loaded


def resolve_report_args(
    args: Mapping[str, Any], *, timezone: str
) -> tuple[dict[str, datetime | None], KpiFilters]:
    """The window bounds and filters of loaded report parameters (the KPI endpoint and the
    dashboard page share it).

    Raises ValidationError naming every problem at once: unknown keys and the window's.
    """
    bounds: dict[str, datetime | None] = {
        "start": args["start"],
        "end": args["end"],
        "compare_start": args.get("compare_start"),
        "compare_end": args.get("compare_end"),
    }
    filters, problems = _filters(dict(args))
    try:
        resolve_windows(*bounds.values(), ZoneInfo(timezone))  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = {**problems, **exc.fields}
    if problems or filters is None:
        raise ValidationError(problems)
    return bounds, filters


@blp.get("/reports/kpis")
@requires(Permission.VIEW_REPORTS)
@blp.arguments(ReportArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, KpiReportSchema)
@blp.alt_response(422, schema=ErrorSchema)
def kpis(args: dict[str, Any]) -> Any:
    """Every KPI for ``[from, to)`` with value, compare and change (numbers or null).

    The comparison window defaults to the same number of calendar months before ``from``
    when both bounds are the first of a month at 00:00 local, else to the same duration
    ending at ``from``.
    """
    timezone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    bounds, filters = resolve_report_args(args, timezone=timezone)
    report = kpi_report(db.session, **bounds, filters=filters, now=utcnow(), timezone=timezone)  # type: ignore[arg-type]
    return dump_report(report)
