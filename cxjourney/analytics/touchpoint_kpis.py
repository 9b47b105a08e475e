"""Dashboard figures beside the KPI report: per-touchpoint KPIs and monthly trends.

Both are GROUP BY aggregates whose number of queries does not grow with the data: the
per-touchpoint table groups by touchpoint, the trends group by month through a ``CASE``
over the month boundaries (local months, computed in Python, so SQLite and PostgreSQL
agree). The formulas are the KPI engine's (``FeedbackFigures``; complaint rate per 1,000
contacts; the churn rate's average over the churn points), and the filters narrow the same
way as in ``kpis.py`` — a test holds every month of a trend to ``window_metrics``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.orm import Session

from ..complaints.models import Complaint
from ..customers.models import Customer, JourneyEvent
from ..feedback.models import FeedbackKind, FeedbackResponse
from ..journey.models import Stage, Touchpoint
from .kpis import FeedbackFigures, KpiFilters, narrowing
from .populations import active_at, count_where
from .windows import Window, local_midnight, month_starts_inside

# Months a trend shows at most (the newest ones of a longer window): the CASE stays small.
MAX_TREND_MONTHS = 60

SortKey = Literal[
    "touchpoint",
    "stage",
    "contacts",
    "complaints",
    "complaint_rate",
    "responses",
    "nps",
    "csat",
    "ces_mean",
    "negative_share",
]
SORT_KEYS: tuple[SortKey, ...] = (
    "touchpoint",
    "stage",
    "contacts",
    "complaints",
    "complaint_rate",
    "responses",
    "nps",
    "csat",
    "ces_mean",
    "negative_share",
)
TREND_METRICS = ("nps", "csat", "ces_mean", "complaint_rate", "churn_rate")


def _feedback_columns(kind: Any = FeedbackResponse.kind, score: Any = None) -> list[Any]:
    """count, Σ score, high-scoring, negative — the tuple ``FeedbackFigures`` reads per kind.

    The fourth column is the negative answers (NPS 0–6, CSAT 1–2, CES 1–2): for NPS these
    are the detractors the engine reads there; for CSAT and CES the engine does not read it.
    """
    score = FeedbackResponse.score if score is None else score
    high = case(
        (kind == FeedbackKind.NPS, score >= 9),
        (kind == FeedbackKind.CSAT, score >= 4),
        else_=score >= 5,
    )
    negative = case((kind == FeedbackKind.NPS, score <= 6), else_=score <= 2)
    total = func.coalesce(func.sum(score), 0)
    return [func.count(), total, count_where(high), count_where(negative)]


def _per_kind(rows: Sequence[Any]) -> dict[Any, dict[FeedbackKind, tuple[int, int, int, int]]]:
    """{group: {kind: (n, Σ, high, negative)}} from rows (group, kind, n, Σ, high, negative)."""
    result: dict[Any, dict[FeedbackKind, tuple[int, int, int, int]]] = {}
    for group, kind, n, total, high, negative in rows:
        result.setdefault(group, {})[FeedbackKind(kind)] = (
            int(n),
            int(total),
            int(high),
            int(negative),
        )
    return result


def _rate_per_1000(complaints: int, contacts: int) -> float | None:
    return complaints / contacts * 1000 if contacts else None


# --- per touchpoint -------------------------------------------------------------------------


@dataclass(frozen=True)
class TouchpointKpis:
    """One touchpoint's figures in a window."""

    key: str
    name: str
    stage_key: str
    stage_name: str
    stage_position: int
    archived: bool
    contacts: int
    complaints: int
    feedback: FeedbackFigures

    @property
    def complaint_rate(self) -> float | None:
        """Complaints ÷ contacts × 1,000."""
        return _rate_per_1000(self.complaints, self.contacts)

    @property
    def responses(self) -> int:
        return self.feedback.responses

    @property
    def nps(self) -> float | None:
        return self.feedback.nps

    @property
    def csat(self) -> float | None:
        return self.feedback.csat

    @property
    def ces_mean(self) -> float | None:
        return self.feedback.ces_mean

    @property
    def negative(self) -> int:
        return sum(negative for *_, negative in self.feedback.per_kind.values())

    @property
    def negative_share(self) -> float | None:
        """Negative answers (NPS 0–6, CSAT 1–2, CES 1–2) ÷ all answers × 100."""
        return self.negative / self.responses * 100 if self.responses else None

    def value(self, key: SortKey) -> Any:
        if key == "touchpoint":
            return self.name.casefold()
        if key == "stage":
            return self.stage_position
        return getattr(self, key)


def touchpoint_kpis(session: Session, window: Window, filters: KpiFilters) -> list[TouchpointKpis]:
    """Contacts, complaints and feedback per touchpoint in ``window``, in journey order.

    Lists the touchpoints that are not archived, and archived ones with figures in the
    window (their history still counts). ``touchpoint`` and ``stage`` select the rows;
    ``segment`` and ``channel`` narrow the figures. Four queries, whatever the data.
    """
    contacts = dict(
        session.execute(
            select(JourneyEvent.touchpoint_id, func.count())
            .where(
                JourneyEvent.occurred_at >= window.start,
                JourneyEvent.occurred_at < window.end,
                *narrowing(
                    filters,
                    JourneyEvent.touchpoint_id,
                    JourneyEvent.channel,
                    JourneyEvent.customer_id,
                ),
            )
            .group_by(JourneyEvent.touchpoint_id)
        ).all()
    )
    complaints = dict(
        session.execute(
            select(Complaint.touchpoint_id, func.count())
            .where(
                Complaint.received_at >= window.start,
                Complaint.received_at < window.end,
                *narrowing(
                    filters, Complaint.touchpoint_id, Complaint.channel, Complaint.customer_id
                ),
            )
            .group_by(Complaint.touchpoint_id)
        ).all()
    )
    feedback = _per_kind(
        session.execute(
            select(FeedbackResponse.touchpoint_id, FeedbackResponse.kind, *_feedback_columns())
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
            .group_by(FeedbackResponse.touchpoint_id, FeedbackResponse.kind)
        ).all()
    )
    with_figures = set(contacts) | set(complaints) | set(feedback)
    query = (
        select(
            Touchpoint.id,
            Touchpoint.key,
            Touchpoint.name,
            Touchpoint.archived,
            Stage.key.label("stage_key"),
            Stage.name.label("stage_name"),
            Stage.position,
        )
        .join(Stage, Stage.id == Touchpoint.stage_id)
        .order_by(Stage.position, Touchpoint.name, Touchpoint.id)
    )
    if filters.touchpoint_id is not None:
        query = query.where(Touchpoint.id == filters.touchpoint_id)
    if filters.stage_id is not None:
        query = query.where(Touchpoint.stage_id == filters.stage_id)
    return [
        TouchpointKpis(
            key=row.key,
            name=row.name,
            stage_key=row.stage_key,
            stage_name=row.stage_name,
            stage_position=row.position,
            archived=row.archived,
            contacts=int(contacts.get(row.id, 0)),
            complaints=int(complaints.get(row.id, 0)),
            feedback=FeedbackFigures(feedback.get(row.id, {})),
        )
        for row in session.execute(query)
        if not row.archived or row.id in with_figures
    ]


def sort_touchpoint_kpis(
    rows: list[TouchpointKpis], key: SortKey, *, descending: bool
) -> list[TouchpointKpis]:
    """``rows`` sorted by ``key``; rows without a value (null) come last either way, and
    ties keep journey order."""
    present = [r for r in rows if r.value(key) is not None]
    missing = [r for r in rows if r.value(key) is None]
    return sorted(present, key=lambda r: r.value(key), reverse=descending) + missing


# --- monthly trends -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    """One month (clipped to the window) of a trend."""

    window: Window
    contacts: int
    complaints: int
    feedback: FeedbackFigures
    churned: int
    active_start: int
    active_end: int

    @property
    def complaint_rate(self) -> float | None:
        return _rate_per_1000(self.complaints, self.contacts)

    @property
    def nps(self) -> float | None:
        return self.feedback.nps

    @property
    def csat(self) -> float | None:
        return self.feedback.csat

    @property
    def ces_mean(self) -> float | None:
        return self.feedback.ces_mean

    @property
    def churn_rate(self) -> float | None:
        """Churned ÷ mean of the active counts at the month's start and end × 100 (a month
        has no month start strictly inside, so these are its churn points)."""
        points = self.active_start + self.active_end
        return self.churned / (points / 2) * 100 if points else None

    def metric(self, name: str) -> float | None:
        value: float | None = getattr(self, name)
        return value


def last_full_months(now: datetime, zone: ZoneInfo, months: int = 12) -> Window:
    """The last ``months`` full local calendar months before ``now`` (the dashboard's and the
    map's default window)."""
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1
    first = index - months
    end = local_midnight(date(local.year, local.month, 1), zone)
    return Window(local_midnight(date(first // 12, first % 12 + 1, 1), zone), end)


def data_revision(session: Session) -> tuple[int, int, int]:
    """Changes when events, feedback or complaints are added: the newest id of each (one
    query; each is a primary-key lookup)."""
    row = session.execute(
        select(
            select(func.max(JourneyEvent.id)).scalar_subquery(),
            select(func.max(FeedbackResponse.id)).scalar_subquery(),
            select(func.max(Complaint.id)).scalar_subquery(),
        )
    ).one()
    return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


def month_windows(window: Window, zone: ZoneInfo) -> list[Window]:
    """``window`` cut at every local month start inside it (the newest ``MAX_TREND_MONTHS``)."""
    bounds = [window.start, *month_starts_inside(window, zone), window.end]
    months = [Window(a, b) for a, b in pairwise(bounds)]
    return months[-MAX_TREND_MONTHS:]


def _bucket(column: Any, months: list[Window]) -> Any:
    """The index of the month ``column`` falls in (callers keep it inside the months)."""
    if len(months) == 1:
        return literal_column("0")
    return case(
        *((column < m.end, literal_column(str(i))) for i, m in enumerate(months[:-1])),
        else_=literal_column(str(len(months) - 1)),
    )


def monthly_trend(
    session: Session, window: Window, filters: KpiFilters, *, zone: ZoneInfo
) -> list[TrendPoint]:
    """NPS, CSAT, CES mean, complaint rate and churn rate per local month of ``window``.

    Filters as in the KPI report (churn honours ``segment`` only). Five queries.
    """
    months = month_windows(window, zone)
    if not months:
        return []
    start, end = months[0].start, months[-1].end

    def grouped(column: Any, *conditions: ColumnElement[bool], kind: bool = False) -> Any:
        """Rows (bucket, [kind,] count…) — bucketed in a subquery, so PostgreSQL groups by a
        plain column rather than by an expression full of bound parameters."""
        inner = select(
            _bucket(column, months).label("bucket"),
            *([FeedbackResponse.kind, FeedbackResponse.score] if kind else []),
        ).where(column >= start, column < end, *conditions)
        sub = inner.subquery()
        if not kind:
            return session.execute(select(sub.c.bucket, func.count()).group_by(sub.c.bucket))
        return session.execute(
            select(sub.c.bucket, sub.c.kind, *_feedback_columns(sub.c.kind, sub.c.score)).group_by(
                sub.c.bucket, sub.c.kind
            )
        )

    contacts = dict(
        grouped(
            JourneyEvent.occurred_at,
            *narrowing(
                filters, JourneyEvent.touchpoint_id, JourneyEvent.channel, JourneyEvent.customer_id
            ),
        ).all()
    )
    complaints = dict(
        grouped(
            Complaint.received_at,
            *narrowing(filters, Complaint.touchpoint_id, Complaint.channel, Complaint.customer_id),
        ).all()
    )
    feedback = _per_kind(
        grouped(
            FeedbackResponse.submitted_at,
            *narrowing(
                filters,
                FeedbackResponse.touchpoint_id,
                FeedbackResponse.channel,
                FeedbackResponse.customer_id,
            ),
            kind=True,
        ).all()
    )
    segment = [] if filters.segment is None else [Customer.segment == filters.segment]
    churned = dict(grouped(Customer.churned_at, *segment).all())
    points = [months[0].start, *(m.end for m in months)]
    active = [
        int(v)
        for v in session.execute(
            select(*(count_where(active_at(t)) for t in points)).where(*segment)
        ).one()
    ]
    return [
        TrendPoint(
            window=month,
            contacts=int(contacts.get(i, 0)),
            complaints=int(complaints.get(i, 0)),
            feedback=FeedbackFigures(feedback.get(i, {})),
            churned=int(churned.get(i, 0)),
            active_start=active[i],
            active_end=active[i + 1],
        )
        for i, month in enumerate(months)
    ]


# --- comments ---------------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Six or more digits, possibly split by spaces, dashes, slashes, dots or brackets, with an
# optional leading "+": phone numbers in their usual spellings (also IBAN-like numbers).
_PHONE = re.compile(r"\+?\(?\d(?:[\d\s/().-]{4,}\d)")
MASK = "▒▒▒"


def _mask_phone(match: re.Match[str]) -> str:
    return MASK if sum(c.isdigit() for c in match.group()) >= 6 else match.group()


def mask_contact_data(text: str, names: Sequence[str] = ()) -> str:
    """``text`` with e-mail addresses, phone numbers and the given names blacked out.

    Names are matched case-insensitively as whole words (the full name, then each part of
    three letters or more), so "Frau Mustermann" loses "Mustermann".
    """
    masked = _EMAIL.sub(MASK, text)
    masked = _PHONE.sub(_mask_phone, masked)
    parts: list[str] = []
    for name in names:
        if name and name.strip():
            parts.append(name.strip())
            parts.extend(p for p in re.split(r"[\s,.-]+", name) if len(p) >= 3)
    for part in sorted(set(parts), key=len, reverse=True):
        masked = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", MASK, masked, flags=re.IGNORECASE)
    return masked


@dataclass(frozen=True)
class CommentView:
    """A feedback comment as the touchpoint page shows it."""

    submitted_at: Any
    kind: FeedbackKind
    score: int
    comment: str
    customer: str | None  # "K-1000 · Max Mustermann", or None (anonymous or masked)
    anonymous: bool


def comment_views(
    responses: Sequence[FeedbackResponse], *, show_personal: bool
) -> list[CommentView]:
    """Comments for display; without ``show_personal`` the customer is not named and names,
    e-mail addresses and phone numbers in the text are masked."""
    views: list[CommentView] = []
    for r in responses:
        customer = r.customer
        names = [customer.name, customer.email or "", customer.external_ref] if customer else []
        views.append(
            CommentView(
                submitted_at=r.submitted_at,
                kind=r.kind,
                score=r.score,
                comment=(r.comment or "")
                if show_personal
                else mask_contact_data(r.comment or "", names),
                customer=(
                    f"{customer.external_ref} · {customer.name}"
                    if customer is not None and show_personal
                    else None
                ),
                anonymous=customer is None,
            )
        )
    return views
