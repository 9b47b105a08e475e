"""Measures that colour the journey map: one registry, extended by later features.

A measure maps every active touchpoint key to a value (a category label or a number).
``colour_nodes`` turns those values into fills with a colour-blind-safe palette and a
legend. Register a new measure with ``@register_measure``; the map page lists them all.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ..analytics.kpis import KpiFilters
from ..analytics.touchpoint_kpis import data_revision, last_full_months, touchpoint_kpis
from ..analytics.windows import Window
from ..extensions import utcnow
from .models import Touchpoint, Transition

Value = str | float | None

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
CATEGORICAL = [
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#999933",
    "#88CCEE",
    "#AA4499",
]
# Five steps of viridis, light to dark: ordered, and readable in greyscale.
SEQUENTIAL = ["#FDE725", "#5EC962", "#21918C", "#3B528B", "#440154"]
MISSING = "#D9D9D9"


@dataclass(frozen=True)
class MapMeasure:
    key: str
    label: object  # a lazy string
    kind: Literal["categorical", "sequential"]
    compute: Callable[[Session, list[Touchpoint]], dict[str, Value]]
    unit: str = ""
    # What the values depend on besides the journey (data, the current month): part of the
    # map's cache key, which otherwise changes only with the journey's revision.
    cache_token: Callable[[Session], Hashable] | None = None

    def data_token(self, session: Session) -> Hashable:
        return None if self.cache_token is None else self.cache_token(session)


MEASURES: dict[str, MapMeasure] = {}


def register_measure(
    key: str,
    label: object,
    kind: Literal["categorical", "sequential"],
    unit: str = "",
    *,
    cache_token: Callable[[Session], Hashable] | None = None,
) -> Callable[[Callable[[Session, list[Touchpoint]], dict[str, Value]]], MapMeasure]:
    """Register a measure; one computed from data (events, feedback, complaints) passes a
    ``cache_token`` that changes with that data."""

    def decorator(compute: Callable[[Session, list[Touchpoint]], dict[str, Value]]) -> MapMeasure:
        measure = MapMeasure(key, label, kind, compute, unit, cache_token)
        MEASURES[key] = measure
        return measure

    return decorator


DEFAULT_MEASURE = "owner_team"


def get_measure(key: str | None) -> MapMeasure:
    return MEASURES.get(key or DEFAULT_MEASURE, MEASURES[DEFAULT_MEASURE])


@register_measure("owner_team", _l("Owner team"), "categorical")
def _owner_team(session: Session, touchpoints: list[Touchpoint]) -> dict[str, Value]:
    return {tp.key: tp.owner_team.name if tp.owner_team else None for tp in touchpoints}


@register_measure("connections", _l("Number of connections"), "sequential")
def _connections(session: Session, touchpoints: list[Touchpoint]) -> dict[str, Value]:
    """Designed transitions in and out of each touchpoint (one SQL aggregate)."""
    ends = union_all(
        select(Transition.source_id.label("tp_id")), select(Transition.target_id.label("tp_id"))
    ).subquery()
    counts = dict(session.execute(select(ends.c.tp_id, func.count()).group_by(ends.c.tp_id)).all())
    return {tp.key: float(counts.get(tp.id, 0)) for tp in touchpoints}


# --- KPIs of the last 12 full months (the dashboard's default window) ------------------------


def _kpi_window(now: datetime) -> tuple[datetime, datetime]:
    window = last_full_months(now, ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    return window.start, window.end


def _kpi_token(session: Session) -> Hashable:
    """The window (it moves on each month) and the newest event, feedback and complaint ids
    (new data shows at once; the map cache's time limit bounds edits to existing rows)."""
    return (_kpi_window(utcnow())[0], data_revision(session))


def _kpi_values(
    session: Session, touchpoints: list[Touchpoint], metric: str, digits: int
) -> dict[str, Value]:
    """``metric`` per touchpoint over the last 12 full months, rounded for display (the map
    shows and bins the rounded values); None where the population is empty."""
    rows = {
        r.key: r for r in touchpoint_kpis(session, Window(*_kpi_window(utcnow())), KpiFilters())
    }
    values: dict[str, Value] = {}
    for tp in touchpoints:
        row = rows.get(tp.key)
        value = getattr(row, metric) if row is not None else None
        values[tp.key] = None if value is None else round(float(value), digits)
    return values


@register_measure("nps", _l("NPS, last 12 months"), "sequential", cache_token=_kpi_token)
def _nps(session: Session, touchpoints: list[Touchpoint]) -> dict[str, Value]:
    return _kpi_values(session, touchpoints, "nps", 1)


@register_measure(
    "csat", _l("CSAT (share satisfied), last 12 months"), "sequential", " %", cache_token=_kpi_token
)
def _csat(session: Session, touchpoints: list[Touchpoint]) -> dict[str, Value]:
    return _kpi_values(session, touchpoints, "csat", 1)


@register_measure("ces", _l("CES mean (1–7), last 12 months"), "sequential", cache_token=_kpi_token)
def _ces(session: Session, touchpoints: list[Touchpoint]) -> dict[str, Value]:
    return _kpi_values(session, touchpoints, "ces_mean", 2)


@register_measure(
    "complaint_rate",
    _l("Complaints per 1,000 contacts, last 12 months"),
    "sequential",
    " ‰",
    cache_token=_kpi_token,
)
def _complaint_rate(session: Session, touchpoints: list[Touchpoint]) -> dict[str, Value]:
    return _kpi_values(session, touchpoints, "complaint_rate", 1)


@dataclass(frozen=True)
class Colouring:
    fills: dict[str, str]
    text_colours: dict[str, str]
    legend: list[tuple[str, str]]  # (fill, label)


def text_on(fill: str) -> str:
    """Black or white text, whichever reads on ``fill``."""
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if luminance > 0.45 else "#ffffff"


def _format(value: float) -> str:
    return f"{value:g}"


def colour_nodes(measure: MapMeasure, values: dict[str, Value], missing_label: str) -> Colouring:
    """Fills and legend for ``values``; None is grey and labelled ``missing_label``."""
    fills: dict[str, str] = {}
    legend: list[tuple[str, str]] = []
    if measure.kind == "categorical":
        categories = sorted({str(v) for v in values.values() if v is not None})
        palette = {c: CATEGORICAL[i % len(CATEGORICAL)] for i, c in enumerate(categories)}
        for key, value in values.items():
            fills[key] = palette[str(value)] if value is not None else MISSING
        legend = [(palette[c], c) for c in categories]
    else:
        numbers = sorted({float(v) for v in values.values() if v is not None})  # type: ignore[arg-type]
        low, high = (numbers[0], numbers[-1]) if numbers else (0.0, 0.0)
        steps = len(SEQUENTIAL)
        width = (high - low) / steps if high > low else 0.0

        def step(value: float) -> int:
            if width == 0:
                return 0
            return min(steps - 1, int((value - low) / width))

        for key, value in values.items():
            fills[key] = SEQUENTIAL[step(float(value))] if value is not None else MISSING  # type: ignore[arg-type]
        used = sorted({step(n) for n in numbers})
        for index in used:
            start = low + index * width
            end = high if index == steps - 1 or width == 0 else low + (index + 1) * width
            label = _format(start) if start == end else f"{_format(start)} – {_format(end)}"
            legend.append((SEQUENTIAL[index], label + measure.unit))
    if any(v is None for v in values.values()):
        legend.append((MISSING, missing_label))
    return Colouring(fills, {k: text_on(f) for k, f in fills.items()}, legend)
