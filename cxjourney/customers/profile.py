"""The customer 360° view: header facts and one timeline of everything that happened.

Every list is read with a LIMIT (the latest ``limit + 1`` of each kind), as plain rows, never
all of a big customer's events as ORM objects; the kinds are interleaved in Python, newest
first. Personal data (complaint subjects, feedback comments, the names of merged
customers) is blanked here for viewers without VIEW_PERSONAL_DATA, so it never reaches a
template.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..auth.permissions import Permission, can
from ..complaints.models import Complaint
from ..complaints.services import visible_to
from ..feedback.models import FeedbackResponse
from ..journey.models import Touchpoint
from .events import customer_timeline_events
from .models import Customer, CustomerMerge, CustomerValue, ValueKind
from .values import CENT, clv_at, value_cutoff

DEFAULT_LIMIT = 50
LIMIT_STEP = 50
# The most entries of each kind one page shows ("show more" stops here).
MAX_LIMIT = 200


class EntryKind(enum.StrEnum):
    EVENT = "event"
    COMPLAINT = "complaint"
    FEEDBACK = "feedback"
    MERGE = "merge"


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline; fields not used by its kind stay None."""

    kind: EntryKind
    at: datetime
    touchpoint: str | None = None
    channel: str | None = None
    source: str | None = None  # events: where they came from
    reference: str | None = None  # complaints
    status: str | None = None
    subject: str | None = None  # personal: None when masked
    feedback_kind: str | None = None
    score: int | None = None
    comment: str | None = None  # personal: None when masked or empty
    merged_ref: str | None = None  # merges
    merged_name: str | None = None  # personal: None when masked
    moved: dict[str, int] | None = None
    actor: str | None = None


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    has_more: bool
    limit: int
    masked: bool


@dataclass(frozen=True)
class CustomerFacts:
    is_active: bool
    clv: Decimal
    revenue: Decimal
    cost: Decimal


def clamp_limit(value: object) -> int:
    """A timeline length from a query parameter: a step of 50 between 50 and 200."""
    try:
        number = int(str(value))
    except ValueError:
        return DEFAULT_LIMIT
    steps = max(1, min(number, MAX_LIMIT) // LIMIT_STEP)
    return steps * LIMIT_STEP


# --- facts -----------------------------------------------------------------------------------


def customer_facts(
    session: Session, customer: Customer, *, at: datetime, zone: ZoneInfo
) -> CustomerFacts:
    """Status, lifetime value and revenue/cost totals at ``at`` (records that count then)."""
    rows = session.execute(
        select(CustomerValue.kind, func.coalesce(func.sum(CustomerValue.amount), 0))
        .where(
            CustomerValue.customer_id == customer.id,
            CustomerValue.occurred_on < value_cutoff(at, zone),
        )
        .group_by(CustomerValue.kind)
    )
    totals = {ValueKind(kind): Decimal(total).quantize(CENT) for kind, total in rows}
    zero = Decimal(0).quantize(CENT)
    return CustomerFacts(
        is_active=customer.churned_at is None or customer.churned_at > at,
        clv=clv_at(session, customer, at, zone),
        revenue=totals.get(ValueKind.REVENUE, zero),
        cost=totals.get(ValueKind.COST, zero),
    )


# --- timeline --------------------------------------------------------------------------------


def _events(session: Session, customer: Customer, limit: int) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            EntryKind.EVENT,
            e.occurred_at,
            touchpoint=e.touchpoint_name,
            channel=e.channel.value,
            source=e.source,
        )
        for e in customer_timeline_events(session, customer, limit)
    ]


def _complaints(
    session: Session, customer: Customer, viewer: User, limit: int, personal: bool
) -> list[TimelineEntry]:
    rows = session.execute(
        select(
            Complaint.received_at,
            Touchpoint.name,
            Complaint.channel,
            Complaint.reference,
            Complaint.status,
            Complaint.subject,
        )
        .join(Touchpoint, Touchpoint.id == Complaint.touchpoint_id)
        .where(Complaint.customer_id == customer.id, visible_to(viewer))
        .order_by(Complaint.received_at.desc(), Complaint.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            EntryKind.COMPLAINT,
            at,
            touchpoint=name,
            channel=channel.value,
            reference=reference,
            status=status.value,
            subject=subject if personal else None,
        )
        for at, name, channel, reference, status, subject in rows
    ]


def _feedback(
    session: Session, customer: Customer, viewer: User, limit: int, personal: bool
) -> list[TimelineEntry]:
    rows = session.execute(
        select(
            FeedbackResponse.submitted_at,
            Touchpoint.name,
            FeedbackResponse.channel,
            FeedbackResponse.kind,
            FeedbackResponse.score,
            FeedbackResponse.comment,
            FeedbackResponse.complaint_id,
            FeedbackResponse.follow_up_id,
        )
        .join(Touchpoint, Touchpoint.id == FeedbackResponse.touchpoint_id)
        .where(FeedbackResponse.customer_id == customer.id)
        .order_by(FeedbackResponse.submitted_at.desc(), FeedbackResponse.id.desc())
        .limit(limit)
    ).all()
    # A comment tied to a complaint (survey answer, follow-up, link complaint) is as private
    # as that complaint: hidden when it belongs to a complaint the viewer may not see.
    tied = {i for row in rows for i in (row.complaint_id, row.follow_up_id) if i is not None}
    visible = (
        set(session.scalars(select(Complaint.id).where(Complaint.id.in_(tied), visible_to(viewer))))
        if tied
        else set()
    )
    return [
        TimelineEntry(
            EntryKind.FEEDBACK,
            at,
            touchpoint=name,
            channel=channel.value,
            feedback_kind=kind.value,
            score=score,
            comment=(comment or None)
            if personal and all(i is None or i in visible for i in (complaint_id, follow_up_id))
            else None,
        )
        for at, name, channel, kind, score, comment, complaint_id, follow_up_id in rows
    ]


def _merges(
    session: Session, customer: Customer, limit: int, personal: bool
) -> list[TimelineEntry]:
    rows = session.execute(
        select(
            CustomerMerge.at,
            CustomerMerge.merged_ref,
            CustomerMerge.merged_name,
            CustomerMerge.moved,
            User.name,
        )
        .outerjoin(User, User.id == CustomerMerge.actor_id)
        .where(CustomerMerge.survivor_id == customer.id)
        .order_by(CustomerMerge.at.desc(), CustomerMerge.id.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            EntryKind.MERGE,
            at,
            merged_ref=ref,
            merged_name=name if personal else None,
            moved=dict(moved or {}),
            actor=actor if personal else None,
        )
        for at, ref, name, moved, actor in rows
    ]


def customer_timeline(
    session: Session, customer: Customer, *, viewer: User, limit: int = DEFAULT_LIMIT
) -> Timeline:
    """The customer's latest ``limit`` entries of every kind, interleaved, newest first.

    Complaints are those ``viewer`` may see; personal text is blanked without
    VIEW_PERSONAL_DATA. At the same instant the order is: journey events, complaints,
    feedback, merges (each kind keeps its own order: the last recorded first).
    """
    limit = max(1, limit)
    personal = can(viewer, Permission.VIEW_PERSONAL_DATA)
    fetch = limit + 1
    entries = [
        *_events(session, customer, fetch),
        *_complaints(session, customer, viewer, fetch, personal),
        *_feedback(session, customer, viewer, fetch, personal),
        *_merges(session, customer, fetch, personal),
    ]
    # Stable: entries at the same instant keep the kind order above.
    entries.sort(key=lambda e: e.at, reverse=True)
    return Timeline(entries[:limit], len(entries) > limit, limit, not personal)
