"""The KPI dashboard: every KPI of a window beside its comparison window, monthly trends and
a sortable per-touchpoint table with its CSV export.

The numbers are the API's: the same parameter parsing and validation
(``api/reports.parse_report_query`` and ``resolve_report_args``) and the same engine
(``kpis.kpi_report``). Formatting for display happens here, never in the engine.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import format_currency, format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..api.reports import parse_report_query, resolve_report_args
from ..auth.permissions import Permission, requires
from ..complaints.csv_export import DEFAULT_DIALECT, DIALECTS, neutralise
from ..customers.models import Customer
from ..errors import ValidationError
from ..extensions import db, utcnow
from ..journey import services as journey_services
from ..journey.forms import channel_choices
from ..journey.models import Touchpoint
from .charts import SMALL, Chart, ChartKind, ChartSize, axis_values, build_chart
from .kpis import METRICS, KpiFilters, KpiReport, kpi_report
from .touchpoint_kpis import (
    SORT_KEYS,
    TouchpointKpis,
    TrendPoint,
    last_full_months,
    monthly_trend,
    sort_touchpoint_kpis,
    touchpoint_kpis,
)
from .windows import Window, default_comparison

bp = Blueprint("reports", __name__, url_prefix="/reports")

Format = Literal["percent", "score", "mean", "rate", "money", "hours", "count"]

# How each metric of the contract is shown, and what it is called.
METRIC_FORMATS: dict[str, Format] = {
    "nps": "score",
    "csat": "percent",
    "csat_mean": "mean",
    "ces_mean": "mean",
    "ces_easy_pct": "percent",
    "churn_rate": "percent",
    "retention_rate": "percent",
    "referral_rate": "percent",
    "complaint_rate": "rate",
    "clv_mean": "money",
    "value_at_risk": "money",
    "first_response_median_h": "hours",
    "first_response_p90_h": "hours",
    "resolution_median_h": "hours",
    "resolution_p90_h": "hours",
    "sla_compliance": "percent",
    "reopen_rate": "percent",
    "fcr_rate": "percent",
    "responses": "count",
    "complaints": "count",
    "contacts": "count",
    "churned": "count",
    "acquired": "count",
    "active_start": "count",
    "active_end": "count",
    "negative_share": "percent",
}
METRIC_LABELS: dict[str, Any] = {
    "nps": _l("NPS"),
    "csat": _l("CSAT (share satisfied)"),
    "csat_mean": _l("CSAT mean (1–5)"),
    "ces_mean": _l("CES mean (1–7)"),
    "ces_easy_pct": _l("CES: easy (% 5–7)"),
    "churn_rate": _l("Churn rate"),
    "retention_rate": _l("Retention rate"),
    "referral_rate": _l("Referral rate"),
    "complaint_rate": _l("Complaints per 1,000 contacts"),
    "clv_mean": _l("Mean customer lifetime value"),
    "value_at_risk": _l("Value at risk (churned)"),
    "first_response_median_h": _l("First response, median"),
    "first_response_p90_h": _l("First response, 90th percentile"),
    "resolution_median_h": _l("Resolution, median"),
    "resolution_p90_h": _l("Resolution, 90th percentile"),
    "sla_compliance": _l("SLA compliance"),
    "reopen_rate": _l("Reopen rate"),
    "fcr_rate": _l("First-contact resolution"),
    "responses": _l("Feedback responses"),
    "complaints": _l("Complaints"),
    "contacts": _l("Contacts"),
    "churned": _l("Customers churned"),
    "acquired": _l("Customers acquired"),
    "active_start": _l("Active customers at the start"),
    "active_end": _l("Active customers at the end"),
    "negative_share": _l("Negative share"),
}
# Tiles in groups, every metric of the contract once.
TILE_GROUPS: list[tuple[Any, tuple[str, ...]]] = [
    (_l("Feedback"), ("nps", "csat", "csat_mean", "ces_mean", "ces_easy_pct", "responses")),
    (_l("Complaints"), ("complaint_rate", "complaints", "contacts")),
    (
        _l("Customers"),
        (
            "churn_rate",
            "retention_rate",
            "referral_rate",
            "clv_mean",
            "value_at_risk",
            "churned",
            "acquired",
            "active_start",
            "active_end",
        ),
    ),
    (
        _l("Resolution"),
        (
            "first_response_median_h",
            "first_response_p90_h",
            "resolution_median_h",
            "resolution_p90_h",
            "sla_compliance",
            "reopen_rate",
            "fcr_rate",
        ),
    ),
]
assert sorted(n for _g, names in TILE_GROUPS for n in names) == sorted(METRICS)  # noqa: S101

TABLE_COLUMNS: tuple[str, ...] = (
    "contacts",
    "complaints",
    "complaint_rate",
    "responses",
    "nps",
    "csat",
    "ces_mean",
    "negative_share",
)
TREND_CHARTS: tuple[tuple[str, ChartKind], ...] = (
    ("nps", "line"),
    ("csat", "line"),
    ("ces_mean", "line"),
    ("complaint_rate", "bar"),
    ("churn_rate", "line"),
)
FORM_FIELDS = ("from", "to", "compare_from", "compare_to", "touchpoint", "stage", "segment")
FORM_FIELDS_ALL = (*FORM_FIELDS, "channel")


# --- formatting ---------------------------------------------------------------------------


def _decimal(value: float, digits: int) -> str:
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""))


def format_metric(name: str, value: float | None) -> str:
    """A metric's value for display; "–" for None (an empty population)."""
    if value is None:
        return "–"
    kind = METRIC_FORMATS[name]
    if kind == "percent":
        return _("%(value)s %%", value=_decimal(value, 1))
    if kind == "score":
        return _decimal(value, 1)
    if kind == "mean":
        return _decimal(value, 2)
    if kind == "rate":
        return _decimal(value, 2)
    if kind == "money":
        return format_currency(value, current_app.config["CURRENCY"])
    if kind == "hours":
        return _("%(value)s h", value=_decimal(value, 1))
    return _decimal(value, 0)


def format_change(name: str, change: float | None) -> str:
    """value − compare for display, signed; percentages in percentage points."""
    if change is None:
        return "–"
    kind = METRIC_FORMATS[name]
    sign = "+" if change > 0 else ""
    if kind == "percent":
        return _("%(value)s pp", value=sign + _decimal(change, 1))
    if kind == "money":
        return sign + format_currency(change, current_app.config["CURRENCY"])
    return sign + format_metric(name, change)


@dataclass(frozen=True)
class Tile:
    """One KPI as a tile: value beside its change against the comparison window."""

    name: str
    label: str
    value: str
    raw: float | None
    compare: str
    change: str
    direction: Literal["up", "down", "flat", "none"]

    @property
    def missing(self) -> bool:
        return self.raw is None


def make_tile(name: str, value: float | None, compare: float | None) -> Tile:
    change = None if value is None or compare is None else value - compare
    direction: Literal["up", "down", "flat", "none"] = (
        "none" if change is None else "up" if change > 0 else "down" if change < 0 else "flat"
    )
    return Tile(
        name=name,
        label=str(METRIC_LABELS[name]),
        value=format_metric(name, value),
        raw=value,
        compare=format_metric(name, compare),
        change=format_change(name, change),
        direction=direction,
    )


def report_tiles(report: KpiReport) -> list[tuple[str, list[Tile]]]:
    return [
        (
            str(group),
            [make_tile(n, report.metrics[n].value, report.metrics[n].compare) for n in names],
        )
        for group, names in TILE_GROUPS
    ]


def _month_label(moment: datetime, zone: ZoneInfo) -> str:
    return format_date(moment.astimezone(zone).date(), "MMM yy")


def trend_charts(
    trend: Sequence[TrendPoint],
    zone: ZoneInfo,
    *,
    names: Sequence[tuple[str, ChartKind]] = TREND_CHARTS,
    size: ChartSize | None = None,
    prefix: str = "trend",
) -> list[Chart]:
    """One chart per metric over the months of ``trend`` (the one chart module)."""
    labels = [_month_label(p.window.start, zone) for p in trend]
    charts: list[Chart] = []
    for name, kind in names:
        values = [p.metric(name) for p in trend]
        label = str(METRIC_LABELS[name])
        first = trend[0].window.start.astimezone(zone).date() if trend else None
        last = trend[-1].window.start.astimezone(zone).date() if trend else None
        charts.append(
            build_chart(
                chart_id=f"{prefix}-{name}",
                title=_("%(metric)s per month", metric=label),
                description=_(
                    "%(metric)s for each month from %(start)s to %(end)s; "
                    "months without data are gaps.",
                    metric=label,
                    start=format_date(first, "MMMM yyyy") if first else "–",
                    end=format_date(last, "MMMM yyyy") if last else "–",
                ),
                value_heading=label,
                labels=labels,
                values=values,
                display=[format_metric(name, v) for v in values],
                axis=[format_metric(name, v) for v in axis_values(values, kind)],
                kind=kind,
                no_data=_("No data in this window."),
                **({"size": size} if size else {}),
            )
        )
    return charts


# --- the page -------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _local_day(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def _page_messages(fields: dict[str, str]) -> dict[str, str]:
    """Field problems as the form shows them (the API's parser speaks English)."""
    readable = {
        "from": _("Enter a date, e.g. 2026-01-01."),
        "to": _("Enter a date, e.g. 2026-01-01."),
        "compare_from": _("Enter a date, e.g. 2026-01-01."),
        "compare_to": _("Enter a date, e.g. 2026-01-01."),
        "channel": _("Unknown channel."),
        "segment": _("At most 64 characters."),
    }
    messages: dict[str, str] = {}
    for name, message in fields.items():
        parser_said = message.startswith(("Expected", "Not a valid", "Must be one of", "Length"))
        messages[name] = readable.get(name, message) if parser_said else message
    return messages


@dataclass(frozen=True)
class DashboardRequest:
    values: dict[str, str]  # what the form shows (what was typed, or the defaults)
    window: Window
    report_args: dict[str, Any]  # kpi_report keywords
    filters: KpiFilters


def _read_request(now: datetime, zone: ZoneInfo) -> DashboardRequest:
    """The form's values (defaults filled in) and the report arguments.

    Raises ValidationError (field → message) with the values attached as ``values``.
    """
    raw = {name: request.args.get(name, "").strip() for name in FORM_FIELDS_ALL}
    default = last_full_months(now, zone)
    values = {
        **raw,
        "from": raw["from"] or _local_day(default.start, zone),
        "to": raw["to"] or _local_day(default.end, zone),
    }
    try:
        parsed = parse_report_query(values)
        bounds, filters = resolve_report_args(
            parsed, timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"]
        )
    except ValidationError as exc:
        exc.values = values  # type: ignore[attr-defined]
        raise
    # from and to are required by the schema: always datetimes here.
    return DashboardRequest(values, Window(parsed["start"], parsed["end"]), bounds, filters)


def _choices(session: Session) -> dict[str, Any]:
    touchpoints = journey_services.list_touchpoints(session, include_archived=True)
    segments = session.scalars(
        select(Customer.segment).where(Customer.segment.is_not(None)).distinct()
    ).all()
    return {
        "touchpoints": touchpoints,
        "stages": journey_services.list_stages(session),
        "segments": sorted(s for s in segments if s),
        "channels": channel_choices(),
    }


def _sort_args() -> tuple[str | None, bool]:
    key = request.args.get("sort")
    descending = request.args.get("dir") == "desc"
    return (key if key in SORT_KEYS else None), descending


def _url(endpoint: str, values: dict[str, str], **changes: str | None) -> str:
    args = {k: v for k, v in {**values, **changes}.items() if v}
    return url_for(endpoint, **args)


@bp.get("/kpis")
@requires(Permission.VIEW_REPORTS)
def kpis() -> Any:
    zone = _zone()
    now = utcnow()
    timezone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    choices = _choices(db.session)
    sort, descending = _sort_args()
    try:
        chosen = _read_request(now, zone)
    except ValidationError as exc:
        values = exc.values  # type: ignore[attr-defined]
        return (
            render_template(
                "reports/kpis.html",
                values=values,
                errors=_page_messages(exc.fields),
                report=None,
                **choices,
            ),
            422,
        )
    report = kpi_report(
        db.session, **chosen.report_args, filters=chosen.filters, now=now, timezone=timezone
    )
    rows = touchpoint_kpis(db.session, report.window, chosen.filters)
    if sort is not None:
        rows = sort_touchpoint_kpis(rows, sort, descending=descending)  # type: ignore[arg-type]
    trend = monthly_trend(db.session, report.window, chosen.filters, zone=zone)
    state = {**chosen.values, "sort": sort or "", "dir": "desc" if descending else ""}

    def sort_url(key: str, direction: str) -> str:
        return _url("reports.kpis", state, sort=key, dir=direction) + "#touchpoint-table"

    return render_template(
        "reports/kpis.html",
        values=chosen.values,
        errors={},
        report=report,
        derived_compare=report.compare == default_comparison(report.window, zone),
        tile_groups=report_tiles(report),
        charts=trend_charts(trend, zone),
        rows=rows,
        columns=TABLE_COLUMNS,
        labels={k: str(v) for k, v in METRIC_LABELS.items()},
        cell=format_metric,
        sort=sort,
        descending=descending,
        sort_url=sort_url,
        csv_url=lambda dialect: _url("reports.touchpoints_csv", state, format=dialect),
        dialects=DIALECTS,
        zone=zone,
        caption=lambda window: window_caption(window, zone),
        **choices,
    )


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = ("touchpoint", "name", "stage", "archived", *TABLE_COLUMNS)


def _csv_number(value: float | None, decimal_comma: bool) -> str:
    if value is None:
        return ""
    text = str(value) if isinstance(value, int) else f"{value:.2f}"
    return text.replace(".", ",") if decimal_comma else text


def render_touchpoint_csv(rows: Sequence[TouchpointKpis], *, dialect: str) -> bytes:
    """The per-touchpoint table as CSV: text cells neutralised against formulas, numbers
    to two decimals (a decimal comma for Excel with German settings), empty for null.

    Raises KeyError for an unknown dialect (callers offer only ``DIALECTS``).
    """
    spec = DIALECTS[dialect]
    comma = spec.delimiter == ";"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec.delimiter, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        text = [neutralise(row.key), neutralise(row.name), neutralise(row.stage_key)]
        numbers = [_csv_number(getattr(row, c), comma) for c in TABLE_COLUMNS]
        writer.writerow([*text, "1" if row.archived else "0", *numbers])
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if spec.bom else data


@bp.get("/kpis/touchpoints.csv")
@requires(Permission.VIEW_REPORTS)
def touchpoints_csv() -> Any:
    zone = _zone()
    dialect = request.args.get("format", DEFAULT_DIALECT)
    if dialect not in DIALECTS:
        dialect = DEFAULT_DIALECT
    try:
        chosen = _read_request(utcnow(), zone)
    except ValidationError as exc:
        return (
            render_template(
                "reports/kpis.html",
                values=exc.values,  # type: ignore[attr-defined]
                errors=_page_messages(exc.fields),
                report=None,
                **_choices(db.session),
            ),
            422,
        )
    rows = touchpoint_kpis(db.session, chosen.window, chosen.filters)
    sort, descending = _sort_args()
    if sort is not None:
        rows = sort_touchpoint_kpis(rows, sort, descending=descending)  # type: ignore[arg-type]
    name = (
        f"touchpoint-kpis-{_local_day(chosen.window.start, zone)}"
        f"-{_local_day(chosen.window.end, zone)}.csv"
    )
    return Response(
        render_touchpoint_csv(rows, dialect=dialect),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the touchpoint page's figures ----------------------------------------------------------


@dataclass(frozen=True)
class TouchpointSummary:
    window: Window
    compare: Window
    tiles: list[Tile]
    chart: Chart


TOUCHPOINT_TILES = TABLE_COLUMNS


def touchpoint_summary(
    session: Session, touchpoint: Touchpoint, *, now: datetime, zone: ZoneInfo
) -> TouchpointSummary:
    """The touchpoint's KPIs over the last 12 full months beside the 12 before, and its
    monthly NPS — for the touchpoint page."""
    window = last_full_months(now, zone)
    compare = default_comparison(window, zone)
    filters = KpiFilters(touchpoint_id=touchpoint.id)
    current = touchpoint_kpis(session, window, filters)
    previous = touchpoint_kpis(session, compare, filters)

    def value(rows: list[TouchpointKpis], name: str) -> float | None:
        return getattr(rows[0], name) if rows else None

    tiles = [
        make_tile(name, value(current, name), value(previous, name)) for name in TOUCHPOINT_TILES
    ]
    trend = monthly_trend(session, window, filters, zone=zone)
    chart = trend_charts(
        trend, zone, names=(("nps", "line"),), size=SMALL, prefix=f"tp-{touchpoint.key}"
    )[0]
    return TouchpointSummary(window, compare, tiles, chart)


def window_caption(window: Window, zone: ZoneInfo) -> str:
    """ "1 Nov 2025 – 31 Oct 2026": the window with its last day included, for captions."""
    last: date = (window.end - timedelta(microseconds=1)).astimezone(zone).date()
    return _(
        "%(start)s – %(end)s",
        start=format_date(window.start.astimezone(zone).date(), "medium"),
        end=format_date(last, "medium"),
    )
