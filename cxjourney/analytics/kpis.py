"""The KPI report: every metric of DESIGN.md for a window and its comparison window.

Filters: ``touchpoint``, ``stage`` and ``channel`` narrow journey events, feedback and
complaints; ``segment`` narrows everything tied to a customer (anonymous feedback drops out
under it). The customer-population measures (churn, retention, referral, lifetime value,
value at risk) honour ``segment`` only. See docs/analytics.md for every reading taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from ..complaints.models import Complaint
from ..customers.models import Customer, JourneyEvent
from ..errors import ValidationError
from ..feedback.models import FeedbackKind, FeedbackResponse
from ..journey.models import Channel, Stage, Touchpoint
from .populations import (
    PopulationFigures,
    count_where,
    population_figures,
    population_figures_of,
)
from .resolution import ResolutionFigures, resolution_figures
from .windows import Window, resolve_windows

# Every metric of the report, in the order of the API contract.
METRICS = (
    "nps",
    "csat",
    "csat_mean",
    "ces_mean",
    "ces_easy_pct",
    "churn_rate",
    "retention_rate",
    "referral_rate",
    "complaint_rate",
    "clv_mean",
    "value_at_risk",
    "first_response_median_h",
    "first_response_p90_h",
    "resolution_median_h",
    "resolution_p90_h",
    "sla_compliance",
    "reopen_rate",
    "fcr_rate",
    "responses",
    "complaints",
    "contacts",
    "churned",
    "acquired",
    "active_start",
    "active_end",
)
COUNTS = frozenset(
    {"responses", "complaints", "contacts", "churned", "acquired", "active_start", "active_end"}
)

Number = int | float | None


@dataclass(frozen=True)
class KpiFilters:
    """Resolved filters: ids instead of keys."""

    touchpoint_id: int | None = None
    stage_id: int | None = None
    segment: str | None = None
    channel: Channel | None = None


@dataclass(frozen=True)
class MetricValue:
    value: Number
    compare: Number

    @property
    def change(self) -> Number:
        """value − compare; None when either is None."""
        if self.value is None or self.compare is None:
            return None
        return self.value - self.compare


@dataclass(frozen=True)
class KpiReport:
    window: Window
    compare: Window
    metrics: dict[str, MetricValue]


def resolve_filters(
    session: Session,
    *,
    touchpoint: str | None = None,
    stage: str | None = None,
    segment: str | None = None,
    channel: str | None = None,
) -> KpiFilters:
    """Turn the keys of a report request into ids.

    Raises ValidationError naming ``touchpoint``, ``stage`` or ``channel`` when unknown.
    Archived touchpoints are accepted: their history still counts.
    """
    problems: dict[str, str] = {}
    touchpoint_id = stage_id = None
    if touchpoint is not None:
        touchpoint_id = session.scalar(select(Touchpoint.id).where(Touchpoint.key == touchpoint))
        if touchpoint_id is None:
            problems["touchpoint"] = str(_l("No touchpoint has this key."))
    if stage is not None:
        stage_id = session.scalar(select(Stage.id).where(Stage.key == stage))
        if stage_id is None:
            problems["stage"] = str(_l("No stage has this key."))
    chosen = None
    if channel is not None:
        try:
            chosen = Channel(channel)
        except ValueError:
            problems["channel"] = str(_l("Unknown channel."))
    if problems:
        raise ValidationError(problems)
    return KpiFilters(touchpoint_id, stage_id, segment or None, chosen)


def narrowing(
    filters: KpiFilters,
    touchpoint_col: Any,
    channel_col: Any,
    customer_col: Any,
    *,
    rows: bool = True,
) -> list[ColumnElement[bool]]:
    """The KPI report's filter conditions for a table with touchpoint, channel and customer
    columns (``rows=False`` leaves out touchpoint and stage, which select table rows)."""
    conditions: list[ColumnElement[bool]] = []
    if rows and filters.touchpoint_id is not None:
        conditions.append(touchpoint_col == filters.touchpoint_id)
    if rows and filters.stage_id is not None:
        conditions.append(
            touchpoint_col.in_(select(Touchpoint.id).where(Touchpoint.stage_id == filters.stage_id))
        )
    if filters.channel is not None:
        conditions.append(channel_col == filters.channel)
    if filters.segment is not None:
        # A NULL customer (anonymous feedback) is never IN the list: it drops out.
        conditions.append(
            customer_col.in_(select(Customer.id).where(Customer.segment == filters.segment))
        )
    return conditions


@dataclass(frozen=True)
class FeedbackFigures:
    """Per kind: (responses, sum of scores, high-scoring, low-scoring) as the metric needs."""

    per_kind: dict[FeedbackKind, tuple[int, int, int, int]]

    @property
    def responses(self) -> int:
        return sum(n for n, *_ in self.per_kind.values())

    def _of(self, kind: FeedbackKind) -> tuple[int, int, int, int]:
        return self.per_kind.get(kind, (0, 0, 0, 0))

    @property
    def nps(self) -> float | None:
        """% promoters (9–10) − % detractors (0–6) of the NPS responses."""
        n, _total, promoters, detractors = self._of(FeedbackKind.NPS)
        return (promoters - detractors) / n * 100 if n else None

    @property
    def csat(self) -> float | None:
        """% of CSAT responses scoring 4 or 5."""
        n, _total, satisfied, _low = self._of(FeedbackKind.CSAT)
        return satisfied / n * 100 if n else None

    @property
    def csat_mean(self) -> float | None:
        n, total, *_ = self._of(FeedbackKind.CSAT)
        return total / n if n else None

    @property
    def ces_mean(self) -> float | None:
        n, total, *_ = self._of(FeedbackKind.CES)
        return total / n if n else None

    @property
    def ces_easy_pct(self) -> float | None:
        """% of CES responses scoring 5–7."""
        n, _total, easy, _low = self._of(FeedbackKind.CES)
        return easy / n * 100 if n else None


def feedback_figures(session: Session, window: Window, filters: KpiFilters) -> FeedbackFigures:
    """Feedback submitted in ``window``, aggregated per kind."""
    score = FeedbackResponse.score
    kind = FeedbackResponse.kind
    high = case(
        (kind == FeedbackKind.NPS, score >= 9),
        (kind == FeedbackKind.CSAT, score >= 4),
        else_=score >= 5,
    )
    rows = session.execute(
        select(
            kind,
            func.count(),
            func.coalesce(func.sum(score), 0),
            count_where(high),
            count_where(score <= 6),
        )
        .where(
            FeedbackResponse.submitted_at >= window.start,
            FeedbackResponse.submitted_at < window.end,
            *narrowing(
                filters,
                FeedbackResponse.touchpoint_id,
                FeedbackResponse.channel,
                FeedbackResponse.customer_id,
            ),
        )
        .group_by(kind)
    ).all()
    return FeedbackFigures({k: (int(n), int(t), int(h), int(lo)) for k, n, t, h, lo in rows})


def count_contacts(session: Session, window: Window, filters: KpiFilters) -> int:
    """Journey events that occurred in ``window`` (all of them, also after a churn)."""
    return int(
        session.scalar(
            select(func.count()).where(
                JourneyEvent.occurred_at >= window.start,
                JourneyEvent.occurred_at < window.end,
                *narrowing(
                    filters,
                    JourneyEvent.touchpoint_id,
                    JourneyEvent.channel,
                    JourneyEvent.customer_id,
                ),
            )
        )
        or 0
    )


def complaint_conditions(window: Window, filters: KpiFilters) -> list[ColumnElement[bool]]:
    """Complaints received in ``window`` and matching the filters."""
    return [
        Complaint.received_at >= window.start,
        Complaint.received_at < window.end,
        *narrowing(filters, Complaint.touchpoint_id, Complaint.channel, Complaint.customer_id),
    ]


def window_metrics(
    session: Session, window: Window, filters: KpiFilters, *, now: datetime, zone: ZoneInfo
) -> dict[str, Number]:
    """Every metric of ``METRICS`` for one window."""
    population = population_figures(session, window, segment=filters.segment, zone=zone)
    return _window_metrics(session, window, filters, population, now=now, zone=zone)


def _window_metrics(
    session: Session,
    window: Window,
    filters: KpiFilters,
    population: PopulationFigures,
    *,
    now: datetime,
    zone: ZoneInfo,
) -> dict[str, Number]:
    feedback = feedback_figures(session, window, filters)
    contacts = count_contacts(session, window, filters)
    resolution: ResolutionFigures = resolution_figures(
        session, complaint_conditions(window, filters), now=now, zone=zone
    )
    complaints = resolution.complaints
    return {
        "nps": feedback.nps,
        "csat": feedback.csat,
        "csat_mean": feedback.csat_mean,
        "ces_mean": feedback.ces_mean,
        "ces_easy_pct": feedback.ces_easy_pct,
        "churn_rate": population.churn_rate,
        "retention_rate": population.retention_rate,
        "referral_rate": population.referral_rate,
        "complaint_rate": complaints / contacts * 1000 if contacts else None,
        "clv_mean": population.clv_mean,
        "value_at_risk": float(population.value_at_risk),
        "first_response_median_h": resolution.first_response_median_h,
        "first_response_p90_h": resolution.first_response_p90_h,
        "resolution_median_h": resolution.resolution_median_h,
        "resolution_p90_h": resolution.resolution_p90_h,
        "sla_compliance": resolution.sla_compliance,
        "reopen_rate": resolution.reopen_rate,
        "fcr_rate": resolution.fcr_rate,
        "responses": feedback.responses,
        "complaints": complaints,
        "contacts": contacts,
        "churned": population.churned,
        "acquired": population.acquired,
        "active_start": population.active_start,
        "active_end": population.active_end,
    }


def kpi_report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    compare_start: datetime | None = None,
    compare_end: datetime | None = None,
    filters: KpiFilters | None = None,
    now: datetime,
    timezone: str,
) -> KpiReport:
    """The KPI report for ``[start, end)`` beside its comparison window.

    Raises ValidationError for an empty or reversed window, or a half-given comparison.
    """
    zone = ZoneInfo(timezone)
    window, compare = resolve_windows(start, end, compare_start, compare_end, zone)
    filters = filters or KpiFilters()
    # Both windows' customer populations in one pass over the customers.
    populations = population_figures_of(
        session, [window, compare], segment=filters.segment, zone=zone
    )
    current = _window_metrics(session, window, filters, populations[0], now=now, zone=zone)
    previous = _window_metrics(session, compare, filters, populations[1], now=now, zone=zone)
    return KpiReport(
        window=window,
        compare=compare,
        metrics={name: MetricValue(current[name], previous[name]) for name in METRICS},
    )
