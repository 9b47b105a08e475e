"""Feedback: record NPS/CSAT/CES answers, close the loop on bad ones, read them back.

Closed loop: a negative score (``FeedbackKind.is_negative``) with contact consent from a
known customer opens one follow-up complaint for the touchpoint's owners. The feedback is
the customer's voice and is always stored; the follow-up is all or nothing inside a
savepoint, and when it cannot be opened (category missing, no team) the reason goes to the
audit log and the response keeps ``follow_up_id`` empty (docs/feedback.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from ..audit.services import record_audit
from ..auth.models import User
from ..complaints import services as complaint_services
from ..complaints.categories import find_category
from ..complaints.models import Complaint, Severity
from ..customers.models import Customer
from ..errors import DomainError
from ..extensions import begin_real_transaction
from ..journey.models import Touchpoint
from .checks import CheckedFeedback, FeedbackInput, check_feedback
from .models import FeedbackKind, FeedbackResponse, SurveyInvitation

log = logging.getLogger(__name__)

LIST_PAGE_SIZE = 50


@dataclass(frozen=True)
class FeedbackSettings:
    """What recording feedback needs from the configuration."""

    follow_up_kinds: frozenset[FeedbackKind]
    follow_up_category: str
    follow_up_severity: Severity
    link_complaint_category: str
    suppression_days: int
    locale: str  # the language follow-up complaints are written in (the staff's)
    complaints: complaint_services.Settings

    @classmethod
    def from_config(cls, config: Any) -> FeedbackSettings:
        kinds = str(config.get("FEEDBACK_FOLLOW_UP_KINDS") or "")
        return cls(
            # An unknown kind is a configuration error: ValueError names it.
            follow_up_kinds=frozenset(
                FeedbackKind(k.strip().lower()) for k in kinds.split(",") if k.strip()
            ),
            follow_up_category=str(config.get("FEEDBACK_FOLLOW_UP_CATEGORY") or ""),
            follow_up_severity=Severity(config.get("FEEDBACK_FOLLOW_UP_SEVERITY") or "medium"),
            link_complaint_category=str(config.get("FEEDBACK_LINK_COMPLAINT_CATEGORY") or ""),
            suppression_days=int(config.get("FEEDBACK_SUPPRESSION_DAYS") or 0),
            locale=str(config.get("BABEL_DEFAULT_LOCALE") or "de"),
            complaints=complaint_services.Settings.from_config(config),
        )


@dataclass(frozen=True)
class RecordedFeedback:
    response: FeedbackResponse
    follow_up: Complaint | None
    # Why a follow-up was due but not opened (also in the audit log); None otherwise.
    follow_up_problem: str | None = None


# --- writing ---------------------------------------------------------------------------------


def store_feedback(
    session: Session, checked: CheckedFeedback, *, actor: User | None, at: datetime
) -> FeedbackResponse:
    """Write a checked answer as it is; no closed loop."""
    response = FeedbackResponse(
        touchpoint=checked.touchpoint,
        kind=checked.kind,
        score=checked.score,
        comment=checked.comment,
        channel=checked.channel,
        submitted_at=checked.submitted_at,
        customer_id=checked.customer.id if checked.customer else None,
        complaint_id=checked.complaint.id if checked.complaint else None,
        contact_consent=checked.contact_consent,
        source=checked.source,
        link_id=checked.link_id,
        created_by_id=actor.id if actor is not None else None,
        created_at=at,
    )
    session.add(response)
    session.flush()
    return response


def needs_follow_up(checked: CheckedFeedback, settings: FeedbackSettings) -> bool:
    """A negative score, for a configured kind, with consent, from a known customer."""
    return (
        checked.kind in settings.follow_up_kinds
        and checked.kind.is_negative(checked.score)
        and checked.contact_consent
        and checked.customer is not None
    )


def kind_label(kind: FeedbackKind) -> str:
    return kind.value.upper()


def open_complaint_safely(
    session: Session,
    data: complaint_services.ComplaintInput,
    *,
    actor: User | None,
    at: datetime,
    settings: FeedbackSettings,
) -> tuple[Complaint | None, str | None]:
    """Log a complaint inside a savepoint: (complaint, None), or (None, why it failed) with
    nothing of it left behind."""
    begin_real_transaction(session)
    try:
        with session.begin_nested():
            complaint, _created = complaint_services.log_complaint(
                session, data, actor=actor, at=at, settings=settings.complaints
            )
    except DomainError as exc:
        return None, str(exc)
    return complaint, None


def _follow_up_input(
    session: Session, checked: CheckedFeedback, settings: FeedbackSettings
) -> complaint_services.ComplaintInput:
    with force_locale(settings.locale):
        subject = str(
            _l(
                "Follow-up: %(kind)s %(score)d at %(touchpoint)s",
                kind=kind_label(checked.kind),
                score=checked.score,
                touchpoint=checked.touchpoint.name,
            )
        )
        description = checked.comment or str(
            _l(
                "The customer gave a negative score without a comment and agreed to be "
                "contacted about it."
            )
        )
    return complaint_services.ComplaintInput(
        customer=checked.customer,
        touchpoint=checked.touchpoint,
        channel=checked.channel,
        category=find_category(session, settings.follow_up_category),
        severity=settings.follow_up_severity,
        subject=subject[: complaint_services.SUBJECT_MAX],
        description=description,
        received_at=checked.submitted_at,
    )


def note_follow_up_failure(
    session: Session,
    response: FeedbackResponse,
    problem: str,
    *,
    actor: User | None,
    at: datetime,
) -> None:
    """Leave a trace an admin can find: the audit log (and the application log)."""
    log.warning("feedback %s: no follow-up complaint: %s", response.id, problem)
    record_audit(
        session,
        actor=actor,
        at=at,
        action="feedback.follow_up_failed",
        entity_type="feedback_response",
        entity_id=response.id,
        entity_label=f"{response.kind.value} {response.score} @ {response.touchpoint.key}",
        after={"problem": problem},
    )


def close_loop(
    session: Session,
    checked: CheckedFeedback,
    response: FeedbackResponse,
    *,
    actor: User | None,
    at: datetime,
    settings: FeedbackSettings,
) -> tuple[Complaint | None, str | None]:
    """Open the follow-up complaint of a stored answer, or note why it could not be."""
    data = _follow_up_input(session, checked, settings)
    if data.category is None or not data.category.active:
        problem = str(
            _l(
                "The follow-up category %(key)s does not exist or is not in use.",
                key=settings.follow_up_category,
            )
        )
        complaint = None
    else:
        complaint, problem = open_complaint_safely(
            session, data, actor=actor, at=at, settings=settings
        )
    if complaint is not None:
        response.follow_up_id = complaint.id
        session.flush()
    elif problem is not None:
        note_follow_up_failure(session, response, problem, actor=actor, at=at)
    return complaint, problem


def record_feedback(
    session: Session,
    data: FeedbackInput,
    *,
    actor: User | None,
    at: datetime,
    settings: FeedbackSettings,
) -> RecordedFeedback:
    """Record one answer and close the loop on a negative one given with consent.

    Raises ValidationError naming every bad field. A follow-up that cannot be opened does
    not reject the answer: it is stored, and the problem returned and audit-logged.
    """
    checked = check_feedback(session, data, actor=actor, at=at)
    response = store_feedback(session, checked, actor=actor, at=at)
    if not needs_follow_up(checked, settings):
        return RecordedFeedback(response, None)
    complaint, problem = close_loop(
        session, checked, response, actor=actor, at=at, settings=settings
    )
    return RecordedFeedback(response, complaint, problem)


# --- invitations -------------------------------------------------------------------------------


def may_invite(
    session: Session, customer: Customer, touchpoint: Touchpoint, at: datetime, days: int
) -> bool:
    """Whether the customer may be asked for feedback at the touchpoint now.

    No when they have not agreed to be contacted, or were invited there, or answered there,
    within the last ``days`` days. The window only governs asking: answers are never refused.
    """
    if not customer.contact_consent:
        return False
    since = at - timedelta(days=days)
    invited = exists().where(
        SurveyInvitation.customer_id == customer.id,
        SurveyInvitation.touchpoint_id == touchpoint.id,
        SurveyInvitation.sent_at > since,
        SurveyInvitation.sent_at <= at,
    )
    answered = exists().where(
        FeedbackResponse.customer_id == customer.id,
        FeedbackResponse.touchpoint_id == touchpoint.id,
        FeedbackResponse.submitted_at > since,
        FeedbackResponse.submitted_at <= at,
    )
    return not session.scalar(select(invited | answered))


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackFilter:
    touchpoint: Touchpoint | None = None
    kind: FeedbackKind | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class FeedbackPage:
    items: list[FeedbackResponse]
    page: int
    has_next: bool


def list_feedback(
    session: Session,
    where: FeedbackFilter,
    *,
    page: int = 1,
    per_page: int = LIST_PAGE_SIZE,
) -> FeedbackPage:
    """Answers matching the filter, newest first (by submission, then id)."""
    query = select(FeedbackResponse)
    if where.touchpoint is not None:
        query = query.where(FeedbackResponse.touchpoint_id == where.touchpoint.id)
    if where.kind is not None:
        query = query.where(FeedbackResponse.kind == where.kind)
    if where.since is not None:
        query = query.where(FeedbackResponse.submitted_at >= where.since)
    if where.until is not None:
        query = query.where(FeedbackResponse.submitted_at < where.until)
    rows = list(
        session.scalars(
            query.options(selectinload(FeedbackResponse.customer))
            .order_by(FeedbackResponse.submitted_at.desc(), FeedbackResponse.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return FeedbackPage(rows[:per_page], page, len(rows) > per_page)


def latest_comments(
    session: Session, touchpoint: Touchpoint, limit: int = 10
) -> list[FeedbackResponse]:
    """The newest answers with a comment at the touchpoint (the text behind a hot spot)."""
    return list(
        session.scalars(
            select(FeedbackResponse)
            .where(
                FeedbackResponse.touchpoint_id == touchpoint.id,
                FeedbackResponse.comment.is_not(None),
            )
            .order_by(FeedbackResponse.submitted_at.desc(), FeedbackResponse.id.desc())
            .limit(limit)
        )
    )


def comments_hidden_from(
    session: Session, user: User, responses: list[FeedbackResponse]
) -> set[int]:
    """Answers whose comment belongs to a complaint ``user`` may not see (another team's).

    A comment tied to a complaint (a survey answer, or the text of a follow-up or of a
    complaint made on a public link) is as private as that complaint.
    """
    ids = {r.follow_up_id for r in responses} | {r.complaint_id for r in responses}
    ids.discard(None)
    if not ids:
        return set()
    visible = set(
        session.scalars(
            select(Complaint.id).where(Complaint.id.in_(ids), complaint_services.visible_to(user))
        )
    )
    return {
        r.id
        for r in responses
        if (r.complaint_id is not None and r.complaint_id not in visible)
        or (r.follow_up_id is not None and r.follow_up_id not in visible)
    }


def follow_up_references(session: Session, responses: list[FeedbackResponse]) -> dict[int, str]:
    """Complaint references by id for the follow-ups and complaints the answers point to."""
    ids = {r.follow_up_id for r in responses} | {r.complaint_id for r in responses}
    ids.discard(None)
    if not ids:
        return {}
    rows = session.execute(select(Complaint.id, Complaint.reference).where(Complaint.id.in_(ids)))
    return {row.id: row.reference or "" for row in rows}
