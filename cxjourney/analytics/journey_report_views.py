"""The reports page for touchpoint managers and team leads: for a window and its
comparison, the heat map, the hotspots, the clusters with their value at risk, the
significant changes, the per-touchpoint table (sortable, CSV) – one page that prints.

The numbers are the API's: the same parameter parsing (``api/reports``), the same engine
(``touchpoint_report.churn_report``). Formatting for display happens here and in the
template, never in the engine.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import format_currency, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth.permissions import Permission, requires
from ..complaints.csv_export import DEFAULT_DIALECT, DIALECTS, neutralise
from ..errors import ValidationError
from ..extensions import db, utcnow
from .heat_map import (
    DEFAULT_HEAT_MEASURE,
    build_heat_map,
    heat_measure_choices,
    is_heat_measure,
    significant_changes,
)
from .kpis import KpiFilters
from .paths import paths_report
from .touchpoint_report import ChurnReport, TouchpointRow, check_report_scope, churn_report
from .views import _choices, _local_day, _page_messages, _read_request, _url, _zone, window_caption
from .windows import default_comparison, resolve_windows

bp = Blueprint("journey_report", __name__, url_prefix="/reports")

# The table's columns after touchpoint and stage, and how each is shown.
COLUMNS: tuple[tuple[str, object, str], ...] = (
    ("contacts", _l("Contacts"), "count"),
    ("complaints", _l("Complaints"), "count"),
    ("complaint_rate", _l("Complaints per 1,000 contacts"), "rate"),
    ("complaint_low95", _l("Lower 95 % bound"), "rate"),
    ("responses", _l("Responses"), "count"),
    ("negative_share", _l("Negative share"), "percent"),
    ("negative_low95", _l("Lower 95 % bound"), "percent"),
    ("customers", _l("Customers passed"), "count"),
    ("churned", _l("Churned"), "count"),
    ("churn_rate", _l("Churn rate"), "percent"),
    ("churn_low95", _l("Lower 95 % bound"), "percent"),
    ("churn_lift", _l("Churn lift"), "ratio"),
    ("removal_effect", _l("Removal effect"), "ratio"),
    ("attributed_churn", _l("Attributed churn"), "decimal"),
    ("value_at_risk", _l("Value at risk"), "money"),
)
COLUMN_KEYS = tuple(key for key, _label, _kind in COLUMNS)
REASON_LABELS = {
    "complaint_rate": _l("complaint rate"),
    "negative_share": _l("negative share"),
    "churn_rate": _l("churn rate"),
}


def format_cell(kind: str, value: float | None) -> str:
    """A table value for display; "–" for None (an empty population)."""
    if value is None:
        return "–"
    if kind == "count":
        return format_decimal(value, format="#,##0")
    if kind == "percent":
        return _("%(value)s %%", value=format_decimal(value, format="#,##0.0"))
    if kind == "money":
        return format_currency(value, current_app.config["CURRENCY"])
    if kind == "ratio":
        return format_decimal(value, format="#,##0.000")
    return format_decimal(value, format="#,##0.0#")


def _sorted(rows: list[TouchpointRow], key: str | None, descending: bool) -> list[TouchpointRow]:
    """Rows by ``key``; rows without a value come last either way, ties keep journey order."""
    if key is None:
        return rows
    if key == "touchpoint":
        return sorted(rows, key=lambda r: r.name.casefold(), reverse=descending)
    present = [r for r in rows if getattr(r, key) is not None]
    missing = [r for r in rows if getattr(r, key) is None]
    return sorted(present, key=lambda r: getattr(r, key), reverse=descending) + missing


def _reports(values: dict[str, str]) -> tuple[Any, ChurnReport, ChurnReport, KpiFilters]:
    """Parse the page's parameters and compute both windows' reports.

    Raises ValidationError (field → message) with the form values as ``values``.
    """
    zone = _zone()
    chosen = _read_request(utcnow(), zone)
    measure = request.args.get("measure", "").strip() or DEFAULT_HEAT_MEASURE
    try:
        if not is_heat_measure(measure):
            raise ValidationError({"measure": _("Choose one of the listed measures.")})
        window, compare = resolve_windows(*chosen.report_args.values(), zone)
        check_report_scope(db.session, [window, compare], chosen.filters)
    except ValidationError as exc:
        exc.values = {**chosen.values, "measure": measure}  # type: ignore[attr-defined]
        raise
    values.update(chosen.values, measure=measure)
    report = churn_report(db.session, window, chosen.filters, zone=zone)
    previous = churn_report(db.session, compare, chosen.filters, zone=zone)
    return chosen, report, previous, chosen.filters


def _sort_args() -> tuple[str | None, bool]:
    key = request.args.get("sort")
    valid = key in COLUMN_KEYS or key == "touchpoint"
    return (key if valid else None), request.args.get("dir") == "desc"


def _error_page(exc: ValidationError) -> Any:
    return (
        render_template(
            "reports/journey.html",
            values=exc.values,  # type: ignore[attr-defined]
            errors=_page_messages(exc.fields),
            report=None,
            measures=heat_measure_choices(),
            **_choices(db.session),
        ),
        422,
    )


@bp.get("/journey")
@requires(Permission.VIEW_REPORTS)
def journey() -> Any:
    zone = _zone()
    values: dict[str, str] = {}
    try:
        _chosen, report, previous, filters = _reports(values)
    except ValidationError as exc:
        return _error_page(exc)
    sort, descending = _sort_args()
    heat = build_heat_map(db.session, report, previous, values["measure"])
    state = {**values, "sort": sort or "", "dir": "desc" if descending else ""}

    def sort_url(key: str, direction: str) -> str:
        return _url("journey_report.journey", state, sort=key, dir=direction) + "#touchpoints"

    names = {row.key: row.name for row in report.rows}
    churn_paths = paths_report(db.session, report.window, filters, outcome="churn", limit=10)
    stay_paths = paths_report(db.session, report.window, filters, outcome="stay", limit=5)
    return render_template(
        "reports/journey.html",
        values=values,
        errors={},
        report=report,
        previous=previous,
        derived_compare=previous.window == default_comparison(report.window, zone),
        heat=heat,
        measures=heat_measure_choices(),
        rows=_sorted(list(report.rows), sort, descending),
        columns=COLUMNS,
        cell=format_cell,
        reasons=REASON_LABELS,
        names=names,
        changes=significant_changes(report, previous),
        churn_paths=churn_paths,
        stay_paths=stay_paths,
        sort=sort,
        descending=descending,
        sort_url=sort_url,
        csv_url=lambda dialect: _url("journey_report.touchpoints_csv", state, format=dialect),
        caption=lambda window: window_caption(window, zone),
        **_choices(db.session),
    )


def render_report_csv(rows: list[TouchpointRow], *, dialect: str) -> bytes:
    """The touchpoint table as CSV: text neutralised against formulas, numbers unrounded
    (a decimal comma for Excel with German settings), empty for null."""
    spec = DIALECTS[dialect]
    comma = spec.delimiter == ";"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec.delimiter, lineterminator="\r\n")
    writer.writerow(("touchpoint", "name", "stage", *COLUMN_KEYS, "hotspot", "hotspot_reasons"))
    for row in rows:
        numbers = []
        for key in COLUMN_KEYS:
            value = getattr(row, key)
            text = "" if value is None else repr(value) if isinstance(value, float) else str(value)
            numbers.append(text.replace(".", ",") if comma else text)
        writer.writerow(
            [
                neutralise(row.key),
                neutralise(row.name),
                neutralise(row.stage),
                *numbers,
                "1" if row.hotspot else "0",
                " ".join(row.hotspot_reasons),
            ]
        )
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if spec.bom else data


@bp.get("/journey/touchpoints.csv")
@requires(Permission.VIEW_REPORTS)
def touchpoints_csv() -> Any:
    zone = _zone()
    dialect = request.args.get("format", DEFAULT_DIALECT)
    if dialect not in DIALECTS:
        dialect = DEFAULT_DIALECT
    values: dict[str, str] = {}
    try:
        _chosen, report, _previous, _filters = _reports(values)
    except ValidationError as exc:
        return _error_page(exc)
    sort, descending = _sort_args()
    name = (
        f"touchpoint-report-{_local_day(report.window.start, zone)}"
        f"-{_local_day(report.window.end, zone)}.csv"
    )
    return Response(
        render_report_csv(_sorted(list(report.rows), sort, descending), dialect=dialect),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
