"""Reports: where dissatisfaction and churn cluster.

GET /api/v1/reports/touchpoints, /reports/attribution and /reports/hotspots – the shapes of
DESIGN.md's API contract – and /reports/paths (paths to churn, repeat-contact loops), for a
window and, when asked for (``compare_from``/``compare_to``, or ``compare=true`` for the
default comparison window), the same shape under ``"compare"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..analytics.kpis import KpiFilters
from ..analytics.paths import DEFAULT_LIMIT as DEFAULT_PATHS
from ..analytics.paths import LIMIT_PROBLEM, OUTCOME_PROBLEM, OUTCOMES, PathsReport, paths_report
from ..analytics.paths import MAX_LIMIT as MAX_PATHS
from ..analytics.touchpoint_report import (
    HOTSPOT_REASONS,
    ChurnReport,
    check_report_scope,
    churn_report,
)
from ..analytics.windows import Window, resolve_windows
from ..auth.permissions import Permission, requires
from ..extensions import db
from .errors import ErrorSchema
from .reports import ReportArgsSchema, WindowSchema, _StrictSchema, resolve_report_args

blp = Blueprint(
    "api_churn_reports",
    __name__,
    description="Reports: touchpoints, Markov churn attribution, hotspots and clusters",
)


class ChurnReportArgsSchema(ReportArgsSchema):
    compare = fields.Boolean(
        load_default=False,
        metadata={"description": "Add the default comparison window's report under compare"},
    )


class TouchpointRowSchema(_StrictSchema):
    key = fields.String()
    stage = fields.String(metadata={"description": "The stage's key"})
    contacts = fields.Integer()
    customers = fields.Integer(allow_none=True, metadata={"description": "Customers who passed it"})
    complaints = fields.Integer()
    complaint_rate = fields.Float(allow_none=True, metadata={"description": "Per 1,000 contacts"})
    complaint_low95 = fields.Float(allow_none=True)
    responses = fields.Integer()
    nps = fields.Float(allow_none=True)
    csat = fields.Float(allow_none=True)
    ces_mean = fields.Float(allow_none=True)
    negative_share = fields.Float(allow_none=True)
    negative_low95 = fields.Float(allow_none=True)
    churned = fields.Integer(allow_none=True)
    churn_rate = fields.Float(allow_none=True)
    churn_low95 = fields.Float(allow_none=True)
    churn_lift = fields.Float(allow_none=True)
    value_at_risk = fields.Float(allow_none=True)
    removal_effect = fields.Float(allow_none=True)
    attributed_churn = fields.Float(allow_none=True)
    hotspot = fields.Boolean()
    hotspot_reasons = fields.List(fields.String(metadata={"enum": list(HOTSPOT_REASONS)}))


class TouchpointsBodySchema(_StrictSchema):
    window = fields.Nested(WindowSchema)
    touchpoints = fields.List(fields.Nested(TouchpointRowSchema))


class TouchpointsReportSchema(TouchpointsBodySchema):
    compare = fields.Nested(TouchpointsBodySchema)


class AttributionRowSchema(_StrictSchema):
    key = fields.String()
    visits = fields.Integer(allow_none=True, metadata={"description": "Paths that contain it"})
    removal_effect = fields.Float(allow_none=True)
    attributed_churn = fields.Float(allow_none=True)


class AttributionBodySchema(_StrictSchema):
    window = fields.Nested(WindowSchema)
    customers = fields.Integer(metadata={"description": "The churn population"})
    churned = fields.Integer()
    p_churn = fields.Float(allow_none=True)
    touchpoints = fields.List(fields.Nested(AttributionRowSchema))


class AttributionReportSchema(AttributionBodySchema):
    compare = fields.Nested(AttributionBodySchema)


class ClusterSchema(_StrictSchema):
    touchpoints = fields.List(fields.String())
    attributed_churn = fields.Float()
    value_at_risk = fields.Float()


class HotspotsBodySchema(_StrictSchema):
    window = fields.Nested(WindowSchema)
    complaint_rate = fields.Float(allow_none=True, metadata={"description": "Journey-wide"})
    negative_share = fields.Float(allow_none=True, metadata={"description": "Journey-wide"})
    churn_rate = fields.Float(allow_none=True, metadata={"description": "Journey-wide"})
    hotspots = fields.List(fields.String())
    clusters = fields.List(fields.Nested(ClusterSchema))


class HotspotsReportSchema(HotspotsBodySchema):
    compare = fields.Nested(HotspotsBodySchema)


def _window(window: Window) -> dict[str, Any]:
    return {"start": window.start, "end": window.end}


def dump_touchpoints(report: ChurnReport) -> dict[str, Any]:
    names = TouchpointRowSchema().fields
    return {
        "window": _window(report.window),
        "touchpoints": [
            {name: getattr(row, name) for name in names if name != "hotspot_reasons"}
            | {"hotspot_reasons": list(row.hotspot_reasons)}
            for row in report.rows
        ],
    }


def dump_attribution(report: ChurnReport) -> dict[str, Any]:
    return {
        "window": _window(report.window),
        "customers": report.customers,
        "churned": report.churned,
        "p_churn": report.p_churn,
        "touchpoints": [
            {
                "key": row.key,
                "visits": row.visits,
                "removal_effect": row.removal_effect,
                "attributed_churn": row.attributed_churn,
            }
            for row in report.rows
        ],
    }


def dump_hotspots(report: ChurnReport) -> dict[str, Any]:
    return {
        "window": _window(report.window),
        "complaint_rate": report.journey.complaint_rate,
        "negative_share": report.journey.negative_share,
        "churn_rate": report.journey.churn_rate,
        "hotspots": report.hotspots,
        "clusters": [
            {
                "touchpoints": list(cluster.touchpoints),
                "attributed_churn": cluster.attributed_churn,
                "value_at_risk": cluster.value_at_risk,
            }
            for cluster in report.clusters
        ],
    }


def churn_reports(
    args: dict[str, Any], *, timezone: str
) -> tuple[ChurnReport, ChurnReport | None, KpiFilters]:
    """The report of the window and, when asked for, of the comparison window.

    Raises ValidationError naming the problems of the window and filters, then of the
    scope (ten years, the segment).
    """
    bounds, filters = resolve_report_args(args, timezone=timezone)
    zone = ZoneInfo(timezone)
    window, compare = resolve_windows(*bounds.values(), zone)  # type: ignore[arg-type]
    wanted = args.get("compare") or bounds["compare_start"] is not None
    check_report_scope(db.session, [window, compare] if wanted else [window], filters)
    report = churn_report(db.session, window, filters, zone=zone)
    other = churn_report(db.session, compare, filters, zone=zone) if wanted else None
    return report, other, filters


def _respond(args: dict[str, Any], dump: Callable[[ChurnReport], dict[str, Any]]) -> Any:
    report, compare, _filters = churn_reports(
        args, timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"]
    )
    body = dump(report)
    if compare is not None:
        body["compare"] = dump(compare)
    return body


@blp.get("/reports/touchpoints")
@requires(Permission.VIEW_REPORTS)
@blp.arguments(ChurnReportArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, TouchpointsReportSchema)
@blp.alt_response(422, schema=ErrorSchema)
def touchpoints(args: dict[str, Any]) -> Any:
    """Every per-touchpoint measure of ``[from, to)``: contacts, complaints and feedback
    with Wilson bounds, churn with lift and value at risk, Markov removal effect and
    attributed churn, hotspot flags. Lists every touchpoint that is not archived."""
    return _respond(args, dump_touchpoints)


@blp.get("/reports/attribution")
@requires(Permission.VIEW_REPORTS)
@blp.arguments(ChurnReportArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, AttributionReportSchema)
@blp.alt_response(422, schema=ErrorSchema)
def attribution(args: dict[str, Any]) -> Any:
    """Exact first-order Markov churn attribution (removal effects) of ``[from, to)``."""
    return _respond(args, dump_attribution)


@blp.get("/reports/hotspots")
@requires(Permission.VIEW_REPORTS)
@blp.arguments(ChurnReportArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, HotspotsReportSchema)
@blp.alt_response(422, schema=ErrorSchema)
def hotspots(args: dict[str, Any]) -> Any:
    """The journey-wide values, the hotspots and their clusters (ranked by attributed
    churn, then value at risk) of ``[from, to)``."""
    return _respond(args, dump_hotspots)


class PathsArgsSchema(ChurnReportArgsSchema):
    outcome = fields.String(
        load_default="churn",
        validate=validate.OneOf(OUTCOMES, error=OUTCOME_PROBLEM),
        metadata={"description": "churn: customers who churned in the window; stay: the others"},
    )
    limit = fields.Integer(
        load_default=DEFAULT_PATHS,
        validate=validate.Range(min=1, max=MAX_PATHS, error=LIMIT_PROBLEM),
        metadata={"description": "How many paths to list (1–100)"},
    )


class PathSchema(_StrictSchema):
    touchpoints = fields.List(fields.String(), metadata={"description": "Keys, in event order"})
    count = fields.Integer()
    share = fields.Float(
        allow_none=True, metadata={"description": "Of the customers with the outcome, 0–100"}
    )


class LoopSchema(_StrictSchema):
    key = fields.String()
    customers = fields.Integer(
        metadata={"description": "Customers whose collapsed path visits it 3 times or more"}
    )
    churned = fields.Integer()
    churn_rate = fields.Float(metadata={"description": "churned ÷ customers × 100"})


class PathsBodySchema(_StrictSchema):
    window = fields.Nested(WindowSchema)
    outcome = fields.String(metadata={"enum": list(OUTCOMES)})
    customers = fields.Integer(
        metadata={"description": "Customers of the churn population with the outcome"}
    )
    paths = fields.List(fields.Nested(PathSchema))
    loops = fields.List(fields.Nested(LoopSchema))


class PathsReportSchema(PathsBodySchema):
    compare = fields.Nested(PathsBodySchema)


def dump_paths(report: PathsReport) -> dict[str, Any]:
    return {
        "window": _window(report.window),
        "outcome": report.outcome,
        "customers": report.customers,
        "paths": [
            {"touchpoints": list(row.touchpoints), "count": row.count, "share": row.share}
            for row in report.paths
        ],
        "loops": [
            {
                "key": row.key,
                "customers": row.customers,
                "churned": row.churned,
                "churn_rate": row.churn_rate,
            }
            for row in report.loops
        ],
    }


@blp.get("/reports/paths")
@requires(Permission.VIEW_REPORTS)
@blp.arguments(PathsArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, PathsReportSchema)
@blp.alt_response(422, schema=ErrorSchema)
def paths(args: dict[str, Any]) -> Any:
    """The most frequent collapsed paths of the customers who churned (``outcome=churn``) or
    stayed (``stay``) in ``[from, to)``, and the repeat-contact loops: per touchpoint, the
    customers whose path visits it 3 times or more. ``touchpoint``/``stage`` list only the
    paths containing a selected touchpoint and the loops of selected touchpoints."""
    timezone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    bounds, filters = resolve_report_args(args, timezone=timezone)
    window, compare = resolve_windows(*bounds.values(), ZoneInfo(timezone))  # type: ignore[arg-type]
    wanted = args["compare"] or bounds["compare_start"] is not None
    check_report_scope(db.session, [window, compare] if wanted else [window], filters)
    outcome, limit = args["outcome"], args["limit"]
    body = dump_paths(paths_report(db.session, window, filters, outcome=outcome, limit=limit))
    if wanted:
        other = paths_report(db.session, compare, filters, outcome=outcome, limit=limit)
        body["compare"] = dump_paths(other)
    return body
