"""Where dissatisfaction and churn cluster: the touchpoint report, the Markov attribution,
hotspots and clusters of a window (DESIGN.md, Metrics; the API contract's report shapes).

Everything comes from GROUP BY aggregates – ``touchpoint_kpis`` for contacts, complaints and
feedback, ``churn_paths`` for the churn population – and is then computed in Python on
those counts: Wilson bounds, the exact Markov chain (numpy), the clusters (networkx). Paths,
journey-wide values and clusters are always the whole journey's (narrowed by ``segment``
and ``channel``); ``touchpoint`` and ``stage`` only select the rows listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import networkx as nx
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..customers.models import Customer
from ..errors import ValidationError
from ..journey.models import Stage, Touchpoint, Transition
from .churn_paths import ChurnPaths, churn_paths, value_at_risk_of_groups
from .intervals import wilson_interval
from .kpis import KpiFilters
from .markov import CHURN, START, STAY, MarkovResult, markov_attribution
from .touchpoint_kpis import TouchpointKpis, touchpoint_kpis
from .windows import Window

# The longest window a churn report takes: ten years (with their leap days).
MAX_WINDOW = timedelta(days=3653)

HotspotReason = Literal["complaint_rate", "negative_share", "churn_rate"]
HOTSPOT_REASONS: tuple[HotspotReason, ...] = ("complaint_rate", "negative_share", "churn_rate")


@dataclass(frozen=True)
class TouchpointRow:
    """Every per-touchpoint measure of the contract; None where the population is empty
    (and, for an exit touchpoint, every churn measure)."""

    id: int
    key: str
    name: str
    stage: str
    stage_name: str
    exit: bool
    contacts: int
    complaints: int
    complaint_rate: float | None
    complaint_low95: float | None
    responses: int
    negative: int  # responses that are NPS 0–6, CSAT 1–2 or CES 1–2
    nps: float | None
    csat: float | None
    ces_mean: float | None
    negative_share: float | None
    negative_low95: float | None
    customers: int | None
    churned: int | None
    churn_rate: float | None
    churn_low95: float | None
    churn_lift: float | None
    value_at_risk: float | None
    removal_effect: float | None
    attributed_churn: float | None
    hotspot: bool
    hotspot_reasons: tuple[HotspotReason, ...]

    @property
    def visits(self) -> int | None:
        """Paths that contain it: the customers who passed it."""
        return self.customers


@dataclass(frozen=True)
class Cluster:
    touchpoints: tuple[str, ...]  # keys, in journey order
    attributed_churn: float
    value_at_risk: float


@dataclass(frozen=True)
class JourneyValues:
    """The journey-wide values a hotspot is measured against."""

    complaint_rate: float | None
    negative_share: float | None
    churn_rate: float | None


@dataclass(frozen=True)
class ChurnReport:
    """The touchpoint, attribution and hotspot reports of one window."""

    window: Window
    customers: int  # the churn population
    churned: int
    p_churn: float | None
    journey: JourneyValues
    rows: tuple[TouchpointRow, ...]  # the rows selected by touchpoint/stage, journey order
    clusters: tuple[Cluster, ...]  # ranked; always over the whole journey
    observed: dict[tuple[str, str], int]  # observed transitions (keys) with their counts

    @property
    def hotspots(self) -> list[str]:
        return [row.key for row in self.rows if row.hotspot]


def _low(successes: int, n: int, scale: float) -> float | None:
    interval = wilson_interval(min(successes, n), n)
    return None if interval is None else interval[0] * scale


def _above(low: float | None, journey: float | None) -> bool:
    return low is not None and journey is not None and low > journey


def _journey_values(all_rows: list[TouchpointKpis], paths: ChurnPaths) -> JourneyValues:
    contacts = sum(r.contacts for r in all_rows)
    complaints = sum(r.complaints for r in all_rows)
    responses = sum(r.responses for r in all_rows)
    negative = sum(r.negative for r in all_rows)
    return JourneyValues(
        complaint_rate=complaints / contacts * 1000 if contacts else None,
        negative_share=negative / responses * 100 if responses else None,
        churn_rate=paths.churn_rate,
    )


def _attribution(
    paths: ChurnPaths, keys: dict[int, str], scored: list[str]
) -> tuple[MarkovResult, dict[tuple[str, str], int]]:
    counts: dict[tuple[str, str], float] = {}
    for tp, n in paths.starts.items():
        counts[(START, keys[tp])] = n
    observed: dict[tuple[str, str], int] = {}
    for (a, b), n in paths.steps.items():
        counts[(keys[a], keys[b])] = n
        observed[(keys[a], keys[b])] = n
    for tp, (churned, stayed) in paths.ends.items():
        if churned:
            counts[(keys[tp], CHURN)] = churned
        if stayed:
            counts[(keys[tp], STAY)] = stayed
    # Every touchpoint of the chain shares Σ RE, the archived ones included (their history
    # is part of the paths), so that attributed churn sums to the churned customers.
    in_paths = {keys[tp] for tp in paths.visits}
    result = markov_attribution(counts, sorted(in_paths | set(scored)), churned=paths.churned)
    return result, observed


def check_report_scope(session: Session, windows: list[Window], filters: KpiFilters) -> None:
    """Refuse windows longer than ten years and a segment no customer belongs to.

    Raises ValidationError naming ``to`` (or ``compare_to``) and ``segment``.
    """
    problems: dict[str, str] = {}
    for name, window in zip(("to", "compare_to"), windows, strict=False):
        if window.end - window.start > MAX_WINDOW:
            problems[name] = str(_l("A report window can span ten years at most."))
    if filters.segment is not None and (
        session.scalar(select(Customer.id).where(Customer.segment == filters.segment).limit(1))
        is None
    ):
        problems["segment"] = str(_l("No customer belongs to this segment."))
    if problems:
        raise ValidationError(problems)


def churn_report(
    session: Session, window: Window, filters: KpiFilters, *, zone: ZoneInfo
) -> ChurnReport:
    """The touchpoint, attribution and hotspot figures of ``window``.

    Lists every touchpoint that is not archived (``touchpoint``/``stage`` select among
    them); a fixed number of queries whatever the data.
    """
    whole = KpiFilters(segment=filters.segment, channel=filters.channel)
    all_rows = touchpoint_kpis(session, window, whole)
    figures = {row.key: row for row in all_rows}
    paths = churn_paths(session, window, whole, zone=zone)
    touchpoints = session.execute(
        select(
            Touchpoint.id,
            Touchpoint.key,
            Touchpoint.name,
            Touchpoint.exit,
            Touchpoint.archived,
            Touchpoint.stage_id,
            Stage.key.label("stage_key"),
            Stage.name.label("stage_name"),
        )
        .join(Stage, Stage.id == Touchpoint.stage_id)
        .order_by(Stage.position, Touchpoint.name, Touchpoint.id)
    ).all()
    keys = {tp.id: tp.key for tp in touchpoints}
    live = [tp for tp in touchpoints if not tp.archived]
    markov, observed = _attribution(paths, keys, [tp.key for tp in live if not tp.exit])
    journey = _journey_values(all_rows, paths)

    rows: list[TouchpointRow] = []
    for tp in live:
        kpis = figures[tp.key]
        complaint_low = _low(kpis.complaints, kpis.contacts, 1000)
        negative_low = _low(kpis.negative, kpis.responses, 100)
        if tp.exit:
            customers = churned = None
            churn_rate = churn_low = lift = at_risk = removal = attributed = None
        else:
            customers = paths.visits.get(tp.id, 0)
            churned = paths.churned_visits.get(tp.id, 0)
            churn_rate = churned / customers * 100 if customers else None
            churn_low = _low(churned, customers, 100)
            lift = (
                churn_rate / journey.churn_rate
                if churn_rate is not None and journey.churn_rate
                else None
            )
            at_risk = float(paths.value_at_risk.get(tp.id, Decimal(0)))
            removal = markov.removal_effects.get(tp.key, 0.0)
            attributed = markov.attributed_churn.get(tp.key, 0.0)
        reasons = tuple(
            reason
            for reason, low, value in (
                ("complaint_rate", complaint_low, journey.complaint_rate),
                ("negative_share", negative_low, journey.negative_share),
                ("churn_rate", churn_low, journey.churn_rate),
            )
            if _above(low, value)
        )
        rows.append(
            TouchpointRow(
                id=tp.id,
                key=tp.key,
                name=tp.name,
                stage=tp.stage_key,
                stage_name=tp.stage_name,
                exit=tp.exit,
                contacts=kpis.contacts,
                complaints=kpis.complaints,
                complaint_rate=kpis.complaint_rate,
                complaint_low95=complaint_low,
                responses=kpis.responses,
                negative=kpis.negative,
                nps=kpis.nps,
                csat=kpis.csat,
                ces_mean=kpis.ces_mean,
                negative_share=kpis.negative_share,
                negative_low95=negative_low,
                customers=customers,
                churned=churned,
                churn_rate=churn_rate,
                churn_low95=churn_low,
                churn_lift=lift,
                value_at_risk=at_risk,
                removal_effect=removal,
                attributed_churn=attributed,
                hotspot=bool(reasons),
                hotspot_reasons=reasons,  # type: ignore[arg-type]
            )
        )

    clusters = _clusters(session, window, whole, rows, observed, zone=zone)
    selected = {
        tp.id
        for tp in live
        if (filters.touchpoint_id is None or tp.id == filters.touchpoint_id)
        and (filters.stage_id is None or tp.stage_id == filters.stage_id)
    }
    return ChurnReport(
        window=window,
        customers=paths.customers,
        churned=paths.churned,
        p_churn=markov.p_churn,
        journey=journey,
        rows=tuple(row for row in rows if row.id in selected),
        clusters=clusters,
        observed=observed,
    )


def _clusters(
    session: Session,
    window: Window,
    filters: KpiFilters,
    rows: list[TouchpointRow],
    observed: dict[tuple[str, str], int],
    *,
    zone: ZoneInfo,
) -> tuple[Cluster, ...]:
    """Connected components of the hotspots in the undirected union of designed and
    observed transitions, ranked by attributed churn, then value at risk."""
    hotspots = {row.key: row for row in rows if row.hotspot}
    if not hotspots:
        return ()
    graph = nx.Graph()
    graph.add_nodes_from(hotspots)
    ids = {row.key: row.id for row in rows}
    keys = {row.id: row.key for row in rows}
    designed = session.execute(select(Transition.source_id, Transition.target_id)).all()
    edges = [(keys.get(a), keys.get(b)) for a, b in designed] + list(observed)
    graph.add_edges_from(
        (a, b) for a, b in edges if a in hotspots and b in hotspots and a is not None
    )
    order = {row.key: index for index, row in enumerate(rows)}
    components = [sorted(c, key=order.__getitem__) for c in nx.connected_components(graph)]
    at_risk = value_at_risk_of_groups(
        session, window, filters, [{ids[k] for k in c} for c in components], zone=zone
    )
    clusters = [
        Cluster(
            touchpoints=tuple(members),
            attributed_churn=sum(hotspots[k].attributed_churn or 0.0 for k in members),
            value_at_risk=float(value),
        )
        for members, value in zip(components, at_risk, strict=True)
    ]
    return tuple(
        sorted(
            clusters,
            key=lambda c: (-c.attributed_churn, -c.value_at_risk, order[c.touchpoints[0]]),
        )
    )
