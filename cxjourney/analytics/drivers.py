"""Service drivers of satisfaction: how the CSAT of the survey after a resolved complaint
varies with the service the complaint got.

The population is the complaints received in the window (narrowed by ``touchpoint``,
``stage``, ``channel`` and ``segment`` as in the KPI report) that have a survey answer: a
CSAT feedback response of source ``survey`` tied to the complaint. A complaint answered
more than once counts with its first answer (by ``submitted_at``, then id), whenever it
was given. The drivers follow the resolution measures' definitions (``resolution.py``):

- ``first_response_hours``: ``first_response_at − received_at``, wall-clock hours;
- ``resolution_hours``: first resolution (the earliest resolve entry of the timeline,
  ``resolved_at`` as a fallback) − ``received_at``;
- ``reopened``: ``reopen_count > 0`` or a ``reopened`` entry;
- ``sla_breached``: some clock breached at ``now`` (``complaints/queues.breached_condition``);
- ``channel``: the channel the complaint came in through.

One query fetches per complaint only its score and the few columns the drivers come from
(no ORM objects); bins, means and Spearman's rho are taken in Python. See docs/analytics.md,
"Service drivers".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased

from ..complaints.models import Complaint, ComplaintEvent
from ..complaints.queues import breached_condition
from ..feedback.models import FeedbackKind, FeedbackResponse, FeedbackSource
from ..journey.models import Channel
from .intervals import spearman_with_ci
from .kpis import KpiFilters, complaint_conditions
from .resolution import HOUR, _is_resolve, _reopened
from .windows import Window

SATISFIED = 4  # CSAT 4 and 5 count as satisfied, as in the KPI report's csat

# Every driver, in the order that breaks ties of the ranking.
DRIVERS = ("first_response_hours", "resolution_hours", "reopened", "sla_breached", "channel")

DRIVER_NAMES: dict[str, LazyString] = {
    "first_response_hours": _l("Hours to first response"),
    "resolution_hours": _l("Hours to resolution"),
    "reopened": _l("Reopened"),
    "sla_breached": _l("SLA breached"),
    "channel": _l("Channel"),
}


class HourBin(NamedTuple):
    """A bin of hours: from the previous bin's upper bound (included) to ``upper``
    (excluded; None: open-ended)."""

    key: str
    label: LazyString
    upper: float | None


FIRST_RESPONSE_BINS = (
    HourBin("lt_1h", _l("< 1 h"), 1.0),
    HourBin("1_4h", _l("1–4 h"), 4.0),
    HourBin("4_8h", _l("4–8 h"), 8.0),
    HourBin("8_24h", _l("8–24 h"), 24.0),
    HourBin("24_72h", _l("24–72 h"), 72.0),
    HourBin("ge_72h", _l("≥ 72 h"), None),
)
RESOLUTION_BINS = (
    HourBin("lt_1d", _l("< 24 h"), 24.0),
    HourBin("1_3d", _l("1–3 days"), 72.0),
    HourBin("3_7d", _l("3–7 days"), 168.0),
    HourBin("7_14d", _l("7–14 days"), 336.0),
    HourBin("ge_14d", _l("≥ 14 days"), None),
)
BOOLEAN_BINS = (("no", _l("No")), ("yes", _l("Yes")))

# The channel vocabulary's names (the same messages as the journey forms').
CHANNEL_NAMES: dict[Channel, LazyString] = {
    Channel.PHONE: _l("Phone"),
    Channel.EMAIL: _l("Email"),
    Channel.LETTER: _l("Letter"),
    Channel.FAX: _l("Fax"),
    Channel.SMS: _l("SMS"),
    Channel.CHAT: _l("Chat"),
    Channel.SOCIAL_MEDIA: _l("Social media"),
    Channel.WEB: _l("Web"),
    Channel.APP: _l("App"),
    Channel.IN_PERSON: _l("In person"),
}


@dataclass(frozen=True)
class DriverBin:
    """The survey answers of one bin of a driver."""

    key: str
    label: LazyString
    n: int
    csat_mean: float | None
    satisfied_pct: float | None  # CSAT 4–5 ÷ n × 100


@dataclass(frozen=True)
class Driver:
    """One driver: its bins and Spearman's rho with CSAT (null for ``channel``, with fewer
    than 4 pairs, or when either side is constant)."""

    key: str
    rho: float | None
    low: float | None  # 95 % interval (Fisher z)
    high: float | None
    n: int  # complaints with a value for the driver: the pairs of rho, the bins' total
    bins: tuple[DriverBin, ...]

    @property
    def name(self) -> LazyString:
        return DRIVER_NAMES[self.key]


@dataclass(frozen=True)
class DriverReport:
    window: Window
    complaints: int  # received in the window, with a survey answer
    drivers: tuple[Driver, ...]  # ranked by |rho|, descending, nulls last


class _Answer(NamedTuple):
    score: int
    channel: Channel
    first_response_h: float | None
    resolution_h: float | None
    reopened: int
    breached: int


def _hours(later: datetime | None, received_at: datetime) -> float | None:
    return None if later is None else (later - received_at).total_seconds() / HOUR


def _answers(
    session: Session, window: Window, filters: KpiFilters, *, now: datetime
) -> list[_Answer]:
    """Per complaint of the population: its first survey score and its drivers' columns."""
    survey = aliased(FeedbackResponse)
    first_score = (
        select(survey.score)
        .where(
            survey.complaint_id == Complaint.id,
            survey.kind == FeedbackKind.CSAT,
            survey.source == FeedbackSource.SURVEY,
        )
        .order_by(survey.submitted_at, survey.id)
        .limit(1)
        .correlate(Complaint)
        .scalar_subquery()
    )
    resolve = aliased(ComplaintEvent)
    first_resolved_at = (
        select(func.min(resolve.at))
        .where(resolve.complaint_id == Complaint.id, _is_resolve(resolve))
        .correlate(Complaint)
        .scalar_subquery()
    )
    complaints = (
        select(
            first_score.label("score"),
            Complaint.channel,
            Complaint.received_at,
            Complaint.first_response_at,
            func.coalesce(first_resolved_at, Complaint.resolved_at).label("resolved_at"),
            case((_reopened(), 1), else_=0).label("reopened"),
            case((breached_condition(now), 1), else_=0).label("breached"),
        )
        .where(*complaint_conditions(window, filters))
        .subquery()
    )
    c = complaints.c
    rows = session.execute(
        select(
            c.score,
            c.channel,
            c.received_at,
            c.first_response_at,
            c.resolved_at,
            c.reopened,
            c.breached,
        ).where(c.score.is_not(None))
    )
    return [
        _Answer(
            int(score),
            channel,
            _hours(first_response_at, received_at),
            _hours(resolved_at, received_at),
            int(reopened),
            int(breached),
        )
        for score, channel, received_at, first_response_at, resolved_at, reopened, breached in rows
    ]


def _bin(key: str, label: LazyString, scores: Sequence[int]) -> DriverBin:
    n = len(scores)
    if n == 0:
        return DriverBin(key, label, 0, None, None)
    satisfied = sum(1 for score in scores if score >= SATISFIED)
    return DriverBin(key, label, n, sum(scores) / n, satisfied / n * 100)


def _hour_bin(hours: float, bins: Sequence[HourBin]) -> int:
    return next(i for i, b in enumerate(bins) if b.upper is None or hours < b.upper)


def _correlated(
    key: str, pairs: Sequence[tuple[float, int]], bins: tuple[DriverBin, ...]
) -> Driver:
    spearman = spearman_with_ci([x for x, _ in pairs], [float(y) for _, y in pairs])
    if spearman is None:
        return Driver(key, None, None, None, len(pairs), bins)
    return Driver(key, spearman.rho, spearman.low, spearman.high, len(pairs), bins)


def _hours_driver(
    key: str, pairs: Sequence[tuple[float | None, int]], bins: Sequence[HourBin]
) -> Driver:
    known = [(hours, score) for hours, score in pairs if hours is not None]
    grouped: list[list[int]] = [[] for _ in bins]
    for hours, score in known:
        grouped[_hour_bin(hours, bins)].append(score)
    table = tuple(_bin(b.key, b.label, scores) for b, scores in zip(bins, grouped, strict=True))
    return _correlated(key, known, table)


def _boolean_driver(key: str, pairs: Sequence[tuple[int, int]]) -> Driver:
    table = tuple(
        _bin(bin_key, label, [score for flag, score in pairs if flag == value])
        for value, (bin_key, label) in enumerate(BOOLEAN_BINS)
    )
    return _correlated(key, [(float(flag), score) for flag, score in pairs], table)


def _channel_driver(answers: Sequence[_Answer]) -> Driver:
    # Categorical: no order to rank, so no Spearman – a table per channel instead.
    table = tuple(
        _bin(channel.value, label, [a.score for a in answers if a.channel is channel])
        for channel, label in CHANNEL_NAMES.items()
    )
    return Driver("channel", None, None, None, len(answers), table)


def _ranked(drivers: Sequence[Driver]) -> tuple[Driver, ...]:
    """By |rho| descending, nulls last; ties keep the order of ``DRIVERS``."""
    return tuple(
        sorted(drivers, key=lambda d: (d.rho is None, 0.0 if d.rho is None else -abs(d.rho)))
    )


def driver_report(
    session: Session, window: Window, filters: KpiFilters, *, now: datetime
) -> DriverReport:
    """How the survey CSAT of the complaints received in ``window`` varies with each driver.

    Outcomes (breached or not) are judged at ``now``. One query, whatever the data; on an
    empty population every mean, share and rho is None and every count 0.
    """
    answers = _answers(session, window, filters, now=now)
    drivers = [
        _hours_driver(
            "first_response_hours",
            [(a.first_response_h, a.score) for a in answers],
            FIRST_RESPONSE_BINS,
        ),
        _hours_driver(
            "resolution_hours", [(a.resolution_h, a.score) for a in answers], RESOLUTION_BINS
        ),
        _boolean_driver("reopened", [(a.reopened, a.score) for a in answers]),
        _boolean_driver("sla_breached", [(a.breached, a.score) for a in answers]),
        _channel_driver(answers),
    ]
    return DriverReport(window=window, complaints=len(answers), drivers=_ranked(drivers))
