"""The journey map as a heat map of a churn report: nodes coloured by a chosen measure (or
its change against the comparison window), hotspots and clusters marked, edges by flow.

The numbers are the touchpoint report's (``touchpoint_report.churn_report``); this module
only chooses colours, labels and marks, and the period comparison's significance tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import Session

from ..journey import services as journey_services
from ..journey.map_svg import (
    FlowEdge,
    HeatOverlay,
    LegendEntry,
    MapEdge,
    MapLabels,
    MapLane,
    MapNode,
    render_map,
)
from ..journey.measures import MISSING, SEQUENTIAL, Colouring, text_on
from .intervals import two_proportion_z_test
from .touchpoint_report import ChurnReport, TouchpointRow

# The measures the heat map can show: (key, label, unit, digits).
HEAT_MEASURES: tuple[tuple[str, object, str, int], ...] = (
    ("complaint_rate", _l("Complaints per 1,000 contacts"), " ‰", 1),
    ("negative_share", _l("Negative share"), " %", 1),
    ("nps", _l("NPS"), "", 1),
    ("csat", _l("CSAT (share satisfied)"), " %", 1),
    ("ces_mean", _l("CES mean (1–7)"), "", 2),
    ("churn_rate", _l("Churn rate"), " %", 1),
    ("churn_lift", _l("Churn lift"), "", 2),
    ("attributed_churn", _l("Attributed churn (customers)"), "", 1),
    ("value_at_risk", _l("Value at risk"), "", 0),
)
MEASURE_KEYS = tuple(key for key, *_rest in HEAT_MEASURES)
CHANGE_PREFIX = "change_"
DEFAULT_HEAT_MEASURE = "complaint_rate"
# Significance of a change between the windows (two-sided, 95 %).
SIGNIFICANCE = 0.05


def heat_measure_choices() -> list[tuple[str, str]]:
    """(key, label) of every level measure and of its change against the comparison."""
    levels = [(key, str(label)) for key, label, _unit, _digits in HEAT_MEASURES]
    changes = [
        (CHANGE_PREFIX + key, _("Change of %(measure)s vs comparison", measure=label))
        for key, label in levels
    ]
    return levels + changes


def is_heat_measure(key: str) -> bool:
    return key.removeprefix(CHANGE_PREFIX) in MEASURE_KEYS


def quantile_colouring(values: dict[str, float | None], unit: str, missing: str) -> Colouring:
    """Fills by rank: the distinct values split into up to five equally populated bins of
    the viridis steps, so that one outlier does not paint every other node alike; the
    legend gives each bin's range."""
    numbers = sorted({v for v in values.values() if v is not None})
    steps = len(SEQUENTIAL)
    bins = min(steps, len(numbers))
    step_of = {v: (i * bins // len(numbers)) for i, v in enumerate(numbers)}
    # Spread the used bins over the whole palette, light (low) to dark (high).
    colour_of = [SEQUENTIAL[round(b * (steps - 1) / max(1, bins - 1))] for b in range(bins)]
    fills = {
        key: MISSING if value is None else colour_of[step_of[value]]
        for key, value in values.items()
    }
    legend = []
    for b in range(bins):
        members = [v for v in numbers if step_of[v] == b]
        low, high = members[0], members[-1]
        label = f"{low:g}" if low == high else f"{low:g} – {high:g}"
        legend.append((colour_of[b], label + unit))
    if any(v is None for v in values.values()):
        legend.append((MISSING, missing))
    return Colouring(fills, {k: text_on(f) for k, f in fills.items()}, legend)


@dataclass(frozen=True)
class HeatMap:
    svg: Markup
    measure: str
    label: str
    values: dict[str, float | None]  # key → shown value (rounded as displayed)
    legend: list[LegendEntry]


def _values(
    report: ChurnReport, compare: ChurnReport | None, measure: str
) -> dict[str, float | None]:
    base = measure.removeprefix(CHANGE_PREFIX)
    digits = next(d for key, _label, _unit, d in HEAT_MEASURES if key == base)
    before = {row.key: getattr(row, base) for row in compare.rows} if compare else {}
    values: dict[str, float | None] = {}
    for row in report.rows:
        value = getattr(row, base)
        if measure.startswith(CHANGE_PREFIX):
            previous = before.get(row.key)
            value = None if value is None or previous is None else value - previous
        values[row.key] = None if value is None else round(float(value), digits)
    return values


def build_heat_map(
    session: Session,
    report: ChurnReport,
    compare: ChurnReport | None,
    measure: str,
    *,
    id_prefix: str = "heat-map",
) -> HeatMap:
    """The heat map of ``report`` coloured by ``measure`` (a key of ``heat_measure_choices``;
    a change needs ``compare``)."""
    labels = dict(heat_measure_choices())
    base = measure.removeprefix(CHANGE_PREFIX)
    unit = next(u for key, _label, u, _d in HEAT_MEASURES if key == base)
    label = labels[measure]
    values = _values(report, compare, measure)
    colouring = quantile_colouring(values, unit, _("no value"))
    stages = journey_services.list_stages(session)
    touchpoints = journey_services.list_touchpoints(session)
    rows = {row.key: row for row in report.rows}
    position = {s.id: s.position for s in stages}
    stage_of = {tp.key: position[tp.stage_id] for tp in touchpoints}

    def value_label(key: str) -> str:
        value = values.get(key)
        shown = _("no value") if value is None else f"{value:g}{unit}"
        row = rows.get(key)
        if row is not None and row.hotspot:
            return _("%(label)s: %(value)s (hotspot)", label=label, value=shown)
        return f"{label}: {shown}"

    nodes = [
        MapNode(
            key=tp.key,
            name=tp.name,
            stage_key=tp.stage.key,
            url=url_for("journey.touchpoint", key=tp.key),
            fill=colouring.fills.get(tp.key, "#d9d9d9"),
            text_colour=colouring.text_colours.get(tp.key, "#1a1a1a"),
            value_label=value_label(tp.key),
            exit=tp.exit,
        )
        for tp in touchpoints
    ]
    designed = [
        MapEdge(source=s, target=t, backward=stage_of[t] < stage_of[s])
        for s, t in journey_services.list_designed_pairs(session)
        if s in stage_of and t in stage_of
    ]
    designed_pairs = {(e.source, e.target) for e in designed}
    # Drift of fewer than 1 % of the churn population is left off the map (it is in the
    # transitions' counts all the same); the legend says from how many on it is drawn.
    min_drift = max(1, -(-report.customers // 100))
    heat = HeatOverlay(
        flows=[
            FlowEdge(a, b, n, (a, b) in designed_pairs)
            for (a, b), n in sorted(report.observed.items())
        ],
        hotspots=frozenset(report.hotspots),
        clusters=[list(c.touchpoints) for c in report.clusters],
        hotspot_label=_("Hotspot"),
        cluster_label=_("Cluster %(n)s"),
        drift_label=_("Observed, not designed (map drift, from %(n)s customers)", n=min_drift),
        unobserved_label=_("Designed, not observed"),
        flow_label=_("Observed transitions (width: customers)"),
        min_drift=min_drift,
    )
    legend = [LegendEntry(fill, text) for fill, text in colouring.legend]
    svg = render_map(
        [MapLane(s.key, s.name, s.position) for s in stages],
        nodes,
        designed,
        legend,
        MapLabels(
            title=_("Heat map of the customer journey"),
            description=_(
                "Colour: %(measure)s. Hotspots: %(hotspots)s. Clusters: %(clusters)d.",
                measure=label,
                hotspots=", ".join(report.hotspots) or _("none"),
                clusters=len(report.clusters),
            ),
            legend_title=_("Colour: %(measure)s", measure=label),
            forward_edge=_("Transition"),
            backward_edge=_("Transition back to an earlier stage"),
            exit_node=_("Exit touchpoint"),
        ),
        id_prefix=id_prefix,
        heat=heat,
    )
    return HeatMap(svg, measure, label, values, legend)


# --- period comparison ----------------------------------------------------------------------

Direction = Literal["up", "down"]


@dataclass(frozen=True)
class SignificantChange:
    key: str
    name: str
    measure: str  # complaint_rate | negative_share | churn_rate
    value: float
    compare: float
    direction: Direction
    p_value: float


def _proportions(row: TouchpointRow, measure: str) -> tuple[int, int] | None:
    if measure == "complaint_rate":
        return min(row.complaints, row.contacts), row.contacts
    if measure == "negative_share":
        return row.negative, row.responses
    if row.customers is None or row.churned is None:
        return None
    return row.churned, row.customers


def significant_changes(report: ChurnReport, compare: ChurnReport) -> list[SignificantChange]:
    """Touchpoints whose complaint rate, negative share or churn rate changed significantly
    between the windows (two-proportion z-test, pooled, two-sided, at 95 %)."""
    before = {row.key: row for row in compare.rows}
    found = []
    for row in report.rows:
        other = before.get(row.key)
        if other is None:
            continue
        for measure in ("complaint_rate", "negative_share", "churn_rate"):
            now, then = _proportions(row, measure), _proportions(other, measure)
            if now is None or then is None:
                continue
            test = two_proportion_z_test(now[0], now[1], then[0], then[1])
            value, previous = getattr(row, measure), getattr(other, measure)
            if test is None or value is None or previous is None:
                continue
            if test.p_value < SIGNIFICANCE:
                found.append(
                    SignificantChange(
                        row.key,
                        row.name,
                        measure,
                        value,
                        previous,
                        "up" if value > previous else "down",
                        test.p_value,
                    )
                )
    return sorted(found, key=lambda c: (c.p_value, c.key, c.measure))
