"""Checking one feedback answer: every field, every problem named at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..complaints import services as complaint_services
from ..complaints.models import Complaint
from ..customers.models import Customer
from ..errors import ValidationError
from ..journey.models import Channel, Touchpoint
from ..journey.services import find_touchpoint_by_key
from .models import FeedbackKind, FeedbackSource

COMMENT_MAX = 5_000
# A submission time this far ahead of the server clock is a clock skew, not the future.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class FeedbackInput:
    """One answer as a form or API request gives it; references still unresolved."""

    touchpoint: str | None  # a touchpoint key
    kind: str | None  # "nps", "csat" or "ces"
    score: Any  # an integer within the kind's scale
    channel: str | None
    comment: str | None = None
    submitted_at: datetime | None = None  # None: now
    customer_ref: str | None = None
    complaint_ref: str | None = None
    contact_consent: Any = False
    source: FeedbackSource = FeedbackSource.API
    link_id: int | None = None


@dataclass(frozen=True)
class CheckedFeedback:
    """Every value of a valid answer, resolved."""

    touchpoint: Touchpoint
    kind: FeedbackKind
    score: int
    channel: Channel
    comment: str | None
    submitted_at: datetime
    customer: Customer | None
    complaint: Complaint | None
    contact_consent: bool
    source: FeedbackSource
    link_id: int | None


# --- validation ------------------------------------------------------------------------------


def clean_comment(value: Any, problems: dict[str, str], field: str = "comment") -> str | None:
    """The comment stripped, or None when empty; too long, NUL bytes or not text: a problem."""
    if value is None:
        return None
    if not isinstance(value, str):
        problems[field] = str(_l("Enter text."))
        return None
    cleaned = value.strip()
    if "\x00" in cleaned:
        problems[field] = str(_l("Text must not contain NUL characters."))
    elif len(cleaned) > COMMENT_MAX:
        problems[field] = str(_l("Use at most %(n)d characters.", n=COMMENT_MAX))
    return cleaned or None


def _check_touchpoint(
    session: Session, key: str | None, problems: dict[str, str]
) -> Touchpoint | None:
    if not key or not isinstance(key, str):
        problems["touchpoint"] = str(_l("Choose the touchpoint."))
        return None
    touchpoint = find_touchpoint_by_key(session, key)
    if touchpoint is None:
        problems["touchpoint"] = str(_l("No touchpoint with the key %(key)s.", key=key))
    elif touchpoint.archived:
        problems["touchpoint"] = str(_l("This touchpoint is archived."))
    return touchpoint


def parse_kind(value: Any) -> FeedbackKind | None:
    try:
        return FeedbackKind(value)
    except ValueError:
        return None


def check_score(kind: FeedbackKind | None, score: Any, problems: dict[str, str]) -> int | None:
    """The score if it is an integer on the kind's scale (0–10, 1–5 or 1–7)."""
    if isinstance(score, bool) or not isinstance(score, int):
        problems["score"] = str(_l("Enter a whole number."))
        return None
    if kind is not None and score not in kind.scores:
        problems["score"] = str(
            _l(
                "Use a score from %(low)d to %(high)d.",
                low=kind.scores.start,
                high=kind.scores.stop - 1,
            )
        )
        return None
    return score


def _check_channel(value: Any, problems: dict[str, str]) -> Channel | None:
    try:
        return Channel(value)
    except ValueError:
        problems["channel"] = str(_l("Choose the channel."))
        return None


def _check_submitted_at(value: datetime | None, at: datetime, problems: dict[str, str]) -> datetime:
    if value is None:
        return at
    if value.tzinfo is None:
        problems["submitted_at"] = str(_l("Give the time with its offset."))
        return at
    if value > at + CLOCK_SKEW:
        problems["submitted_at"] = str(_l("The time of the answer cannot lie in the future."))
    return min(value, at)


def _check_customer(session: Session, ref: str | None, problems: dict[str, str]) -> Customer | None:
    if ref is None or ref == "":
        return None
    customer = session.scalar(select(Customer).where(Customer.external_ref == ref))
    if customer is None:
        problems["customer_ref"] = str(_l("No customer with the reference %(ref)s.", ref=ref))
    return customer


def _check_complaint(
    session: Session,
    ref: str | None,
    customer: Customer | None,
    actor: User | None,
    problems: dict[str, str],
) -> Complaint | None:
    if ref is None or ref == "":
        return None
    complaint = session.scalar(select(Complaint).where(Complaint.reference == ref))
    # Someone who may not see a complaint must not learn that it exists.
    if complaint is None or (
        actor is not None and not complaint_services.can_see(actor, complaint)
    ):
        problems["complaint_ref"] = str(_l("No complaint with the reference %(ref)s.", ref=ref))
        return None
    if customer is not None and complaint.customer_id != customer.id:
        problems["complaint_ref"] = str(_l("This complaint belongs to another customer."))
    return complaint


def check_feedback(
    session: Session, data: FeedbackInput, *, actor: User | None, at: datetime
) -> CheckedFeedback:
    """Validate every field of an answer. Raises ValidationError naming every bad field."""
    problems: dict[str, str] = {}
    touchpoint = _check_touchpoint(session, data.touchpoint, problems)
    kind = parse_kind(data.kind)
    if kind is None:
        problems["kind"] = str(_l("Choose NPS, CSAT or CES."))
    score = check_score(kind, data.score, problems)
    channel = _check_channel(data.channel, problems)
    comment = clean_comment(data.comment, problems)
    submitted_at = _check_submitted_at(data.submitted_at, at, problems)
    customer = _check_customer(session, data.customer_ref, problems)
    complaint = _check_complaint(session, data.complaint_ref, customer, actor, problems)
    if not isinstance(data.contact_consent, bool):
        problems["contact_consent"] = str(_l("Answer yes or no."))
    if problems or touchpoint is None or kind is None or score is None or channel is None:
        raise ValidationError(problems or {"touchpoint": "unreachable: checked above"})
    return CheckedFeedback(
        touchpoint=touchpoint,
        kind=kind,
        score=score,
        channel=channel,
        comment=comment,
        submitted_at=submitted_at,
        customer=customer,
        complaint=complaint,
        contact_consent=bool(data.contact_consent),
        source=data.source,
        link_id=data.link_id,
    )
