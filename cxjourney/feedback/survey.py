"""The survey after a resolved complaint: one mail with a one-time link, one CSAT answer.

When a complaint becomes resolved, its customer is asked once (``SurveyInvitation``, at
most one per complaint, also after a reopen) how the complaint was handled — if they have
an email address, agreed to be contacted and were not asked at that touchpoint within the
suppression window (``services.may_invite``). The mail goes through the outbox in the
customer's language with the link ``<base URL>/s/<token>``; only the token's SHA-256 is
stored. The answer is a CSAT feedback response (source ``survey``, channel ``email``) tied
to the complaint, recorded like every other answer (closed loop included). See
docs/feedback.md.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..complaints.models import Complaint
from ..customers.models import Customer
from ..errors import Conflict, ValidationError
from ..extensions import begin_real_transaction
from ..journey.models import Channel, Touchpoint
from ..notifications.models import OutboxMessage
from ..notifications.services import enqueue_message
from .checks import CheckedFeedback, check_score, clean_comment
from .models import FeedbackKind, FeedbackResponse, FeedbackSource, SurveyInvitation
from .services import FeedbackSettings, close_loop, may_invite, needs_follow_up, store_feedback

MAIL_TEMPLATE = "survey_invitation"
MAIL_KIND = "survey_invitation"
SURVEY_KIND = FeedbackKind.CSAT


@dataclass(frozen=True)
class SurveySettings:
    """What inviting needs from the configuration."""

    valid_days: int  # how long a link can be answered
    suppression_days: int  # not asked again at a touchpoint within this many days
    base_url: str  # links in mails start with it
    default_language: str
    languages: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Any) -> SurveySettings:
        return cls(
            valid_days=int(config.get("SURVEY_VALID_DAYS") or 30),
            suppression_days=int(config.get("FEEDBACK_SUPPRESSION_DAYS") or 0),
            base_url=str(config.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            default_language=str(config.get("BABEL_DEFAULT_LOCALE") or "de"),
            languages=tuple(config.get("LANGUAGES") or ("de", "en")),
        )

    def survey_url(self, token: str) -> str:
        return f"{self.base_url}/s/{token}"

    def language_of(self, customer: Customer) -> str:
        """The customer's language if we speak it, else the default."""
        if customer.language and customer.language in self.languages:
            return customer.language
        return self.default_language


@dataclass(frozen=True)
class SentSurvey:
    invitation: SurveyInvitation
    message: OutboxMessage | None
    token: str  # only ever in the mail; the database keeps its hash


class InvitationState(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"


@dataclass(frozen=True)
class SurveyAnswer:
    """A complaint's survey as its detail page shows it."""

    invitation: SurveyInvitation
    response: FeedbackResponse | None
    state: InvitationState
    follow_up_reference: str | None  # the complaint a negative answer opened, if any


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def state_of(invitation: SurveyInvitation, at: datetime) -> InvitationState:
    if invitation.answered_at is not None:
        return InvitationState.ANSWERED
    if invitation.expires_at <= at:
        return InvitationState.EXPIRED
    return InvitationState.OPEN


# --- inviting --------------------------------------------------------------------------------


def find_invitation_for_complaint(
    session: Session, complaint: Complaint
) -> SurveyInvitation | None:
    return session.scalar(
        select(SurveyInvitation).where(SurveyInvitation.complaint_id == complaint.id)
    )


def find_invitation(session: Session, token: str) -> SurveyInvitation | None:
    """The invitation behind a link's token, or None for an unknown one."""
    if not token or len(token) > 128:
        return None
    return session.scalar(
        select(SurveyInvitation).where(SurveyInvitation.token_hash == hash_token(token))
    )


def store_invitation(
    session: Session, complaint: Complaint, *, token: str, at: datetime, valid_days: int
) -> SurveyInvitation | None:
    """Insert the complaint's invitation inside a savepoint; None when it has one already.

    The unique ``complaint_id`` decides a race between two transactions resolving the same
    complaint: the loser's savepoint is rolled back and its transaction carries on.
    """
    invitation = SurveyInvitation(
        complaint_id=complaint.id,
        customer_id=complaint.customer_id,
        touchpoint_id=complaint.touchpoint_id,
        token_hash=hash_token(token),
        sent_at=at,
        expires_at=at + timedelta(days=valid_days),
        answered_at=None,
        response_id=None,
    )
    begin_real_transaction(session)
    try:
        with session.begin_nested():
            session.add(invitation)
    except IntegrityError:
        if find_invitation_for_complaint(session, complaint) is None:
            raise  # some other constraint: not the race we expect
        return None
    return invitation


def may_survey(
    session: Session, complaint: Complaint, *, at: datetime, settings: SurveySettings
) -> bool:
    """Email address, consent, not asked about this complaint, not within the window."""
    customer = complaint.customer
    if not customer.email or not customer.contact_consent:
        return False
    if find_invitation_for_complaint(session, complaint) is not None:
        return False
    return may_invite(session, customer, complaint.touchpoint, at, settings.suppression_days)


def invite_after_resolution(
    session: Session,
    complaint: Complaint,
    *,
    at: datetime,
    settings: SurveySettings | None = None,
) -> SentSurvey | None:
    """Ask the customer once how their just-resolved complaint was handled.

    Stores the invitation and enqueues the mail (both in the caller's transaction), or does
    nothing and returns None when the customer has no email address, did not agree to be
    contacted, was asked about this complaint already or at its touchpoint within the
    suppression window. Needs an app context (the mail is rendered now).
    """
    settings = settings or SurveySettings.from_config(current_app.config)
    if not may_survey(session, complaint, at=at, settings=settings):
        return None
    token = secrets.token_urlsafe(32)
    invitation = store_invitation(
        session, complaint, token=token, at=at, valid_days=settings.valid_days
    )
    if invitation is None:
        return None
    customer = complaint.customer
    context = {
        "reference": complaint.reference,
        "subject": complaint.subject,
        "expires_at": invitation.expires_at,
        "url": settings.survey_url(token),
    }
    message = enqueue_message(
        session,
        kind=MAIL_KIND,
        recipient=None,
        to_address=customer.email,
        template=MAIL_TEMPLATE,
        context=context,
        dedupe_key=f"survey:complaint:{complaint.id}",
        at=at,
        language=settings.language_of(customer),  # a customer has a language of their own
    )
    return SentSurvey(invitation, message, token)


# --- answering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveySubmission:
    """The public form as typed; nothing trusted."""

    score: Any  # an integer from 1 to 5
    comment: str | None


def check_submission(data: SurveySubmission) -> tuple[int, str | None]:
    """Score and comment, or ValidationError naming every bad field."""
    problems: dict[str, str] = {}
    score = None
    if data.score is None:
        problems["score"] = _choose_score()
    else:
        score = check_score(SURVEY_KIND, data.score, problems)
    comment = clean_comment(data.comment, problems)
    if problems or score is None:
        raise ValidationError(problems or {"score": _choose_score()})
    return score, comment


def _choose_score() -> str:
    return str(_l("Choose a score from 1 to 5."))


def answer_survey(
    session: Session,
    invitation: SurveyInvitation,
    data: SurveySubmission,
    *,
    at: datetime,
    settings: FeedbackSettings,
) -> FeedbackResponse:
    """Record the customer's answer to their survey, once.

    Raises ValidationError for a bad score or comment, Conflict when the survey was answered
    already or has expired (also when a parallel request answered it a moment ago). The
    answer is a CSAT response about the complaint's touchpoint, channel email, source
    survey; a negative one closes the loop like every answer given with consent.
    """
    score, comment = check_submission(data)
    if state_of(invitation, at) is not InvitationState.OPEN:
        raise Conflict(_closed_message())
    # Claim the invitation first: of two parallel answers exactly one changes the row.
    claimed = session.execute(
        update(SurveyInvitation)
        .where(
            SurveyInvitation.id == invitation.id,
            SurveyInvitation.answered_at.is_(None),
            SurveyInvitation.expires_at > at,
        )
        .values(answered_at=at)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(_closed_message())
    complaint = session.get(Complaint, invitation.complaint_id) if invitation.complaint_id else None
    customer = session.get(Customer, invitation.customer_id)
    # The complaint's touchpoint now (triage may have corrected it since the invitation).
    touchpoint = (
        complaint.touchpoint
        if complaint is not None
        else session.get(Touchpoint, invitation.touchpoint_id)
    )
    if touchpoint is None:  # a foreign key: cannot happen
        raise Conflict(_closed_message())
    checked = CheckedFeedback(
        touchpoint=touchpoint,
        kind=SURVEY_KIND,
        score=score,
        channel=Channel.EMAIL,
        comment=comment,
        submitted_at=at,
        customer=customer,
        complaint=complaint,
        # They were invited because they agreed to be contacted.
        contact_consent=bool(customer is not None and customer.contact_consent),
        source=FeedbackSource.SURVEY,
        link_id=None,
    )
    response = store_feedback(session, checked, actor=None, at=at)
    session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id)
        .values(response_id=response.id)
        .execution_options(synchronize_session=False)
    )
    session.refresh(invitation)
    if needs_follow_up(checked, settings):
        close_loop(session, checked, response, actor=None, at=at, settings=settings)
    return response


def _closed_message() -> str:
    return str(_l("This survey has been answered already or has expired."))


# --- reading ---------------------------------------------------------------------------------


def find_survey_answer(
    session: Session, complaint: Complaint, *, at: datetime
) -> SurveyAnswer | None:
    """The complaint's survey (invitation, answer if any), or None when none was sent."""
    invitation = find_invitation_for_complaint(session, complaint)
    if invitation is None:
        return None
    response = (
        session.get(FeedbackResponse, invitation.response_id)
        if invitation.response_id is not None
        else None
    )
    follow_up = None
    if response is not None and response.follow_up_id is not None:
        follow_up = session.scalar(
            select(Complaint.reference).where(Complaint.id == response.follow_up_id)
        )
    return SurveyAnswer(invitation, response, state_of(invitation, at), follow_up)
