"""What customers send on a public feedback link: an answer, a complaint, or both.

Answers are anonymous unless the customer gives their name and email and agrees to be
contacted; then the customer is found or created, and a complaint goes through the normal
intake (channel web, routed as usual). See docs/feedback.md.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..complaints import services as complaint_services
from ..complaints.categories import find_category
from ..complaints.models import Complaint
from ..customers import services as customer_services
from ..customers.models import Customer
from ..errors import Conflict, ValidationError
from ..journey.models import Channel
from .checks import CheckedFeedback, check_score, clean_comment
from .models import FeedbackKind, FeedbackLink, FeedbackResponse, FeedbackSource
from .services import (
    FeedbackSettings,
    close_loop,
    needs_follow_up,
    note_follow_up_failure,
    open_complaint_safely,
    store_feedback,
)

NAME_MAX = 200
EMAIL_MAX = 254
WEB_REF_PREFIX = "WEB-"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkSubmission:
    """The public form as typed; nothing trusted."""

    score: Any  # an integer on the link's scale, or None (only a complaint)
    comment: str | None
    wants_complaint: Any
    contact_consent: Any
    name: str | None = None
    email: str | None = None
    customer_number: str | None = None
    language: str | None = None  # the page's language, kept for new customers


@dataclass(frozen=True)
class LinkOutcome:
    response: FeedbackResponse | None
    complaint: Complaint | None
    customer: Customer | None
    # Why a complaint or follow-up was due but not opened (audit-logged); None otherwise.
    problem: str | None = None


@dataclass(frozen=True)
class _Contact:
    name: str
    email: str
    number: str | None


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _check_contact(data: LinkSubmission, problems: dict[str, str]) -> _Contact | None:
    name = _text(data.name)
    if not name or len(name) > NAME_MAX:
        problems["name"] = str(_l("Enter your name (at most %(n)d characters).", n=NAME_MAX))
    email = _text(data.email)
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        problems["email"] = str(_l("Enter a valid email address."))
    if len(email) > EMAIL_MAX:
        problems["email"] = str(_l("Enter a valid email address."))
    number = _text(data.customer_number) or None
    if number is not None and not customer_services.REF_PATTERN.match(number):
        problems["customer_number"] = str(_l("This is not a customer number of ours."))
    if {"name", "email", "customer_number"} & problems.keys():
        return None
    return _Contact(name, email, number)


def _check_submission(
    link: FeedbackLink, data: LinkSubmission
) -> tuple[int | None, str | None, _Contact | None]:
    problems: dict[str, str] = {}
    if not isinstance(data.wants_complaint, bool) or not isinstance(data.contact_consent, bool):
        problems["contact_consent"] = str(_l("Answer yes or no."))
        raise ValidationError(problems)
    score = None
    if data.score is not None:
        score = check_score(link.kind, data.score, problems)
    elif not data.wants_complaint:
        problems["score"] = str(_l("Choose a score, or make a complaint."))
    comment = clean_comment(data.comment, problems)
    if data.wants_complaint and not comment and "comment" not in problems:
        problems["comment"] = str(_l("Tell us what went wrong."))
    if data.wants_complaint and not data.contact_consent:
        problems["contact_consent"] = str(
            _l("To handle your complaint we need to contact you. Please agree to it.")
        )
    contact = _check_contact(data, problems) if data.contact_consent else None
    if problems:
        raise ValidationError(problems)
    return score, comment, contact


def _new_web_ref(session: Session) -> str:
    for _attempt in range(5):
        ref = WEB_REF_PREFIX + secrets.token_hex(5).upper()
        if customer_services.find_customer(session, ref) is None:
            return ref
    raise RuntimeError("no free WEB- customer number after 5 attempts")


def identify_customer(
    session: Session, contact: _Contact, *, language: str | None, at: datetime
) -> Customer:
    """The customer behind a contact given on a public page, or a new one.

    An existing customer is taken when number and email both match theirs, or, without a
    matching number, when exactly one customer has that email. Nothing typed here changes
    an existing customer; a new one gets a ``WEB-`` number and the consent just given.
    """
    if contact.number:
        known = customer_services.find_customer(session, contact.number)
        if known is not None and known.email == contact.email:
            return known
    by_email = list(
        session.scalars(select(Customer).where(Customer.email == contact.email).limit(2))
    )
    if len(by_email) == 1:
        return by_email[0]
    customer = customer_services.create_customer(
        session,
        customer_services.CustomerInput(
            external_ref=_new_web_ref(session),
            name=contact.name,
            email=contact.email,
            acquired_at=at,
            contact_consent=True,
        ),
        actor=None,
        at=at,
    )
    if language:
        customer.language = language
    return customer


def _complaint_input(
    session: Session,
    link: FeedbackLink,
    customer: Customer,
    comment: str,
    contact: _Contact,
    *,
    at: datetime,
    settings: FeedbackSettings,
) -> complaint_services.ComplaintInput:
    with force_locale(settings.locale):
        subject = str(
            _l("Complaint via feedback link at %(touchpoint)s", touchpoint=link.touchpoint.name)
        )
        description = comment
        if contact.number and contact.number != customer.external_ref:
            # Kept for the agent (a merge may be due), not trusted to pick the customer.
            description += "\n\n" + str(
                _l("Customer number given on the form: %(ref)s", ref=contact.number)
            )
    return complaint_services.ComplaintInput(
        customer=customer,
        touchpoint=link.touchpoint,
        channel=Channel.WEB,
        category=find_category(session, settings.link_complaint_category),
        severity=settings.follow_up_severity,
        subject=subject[: complaint_services.SUBJECT_MAX],
        description=description,
        received_at=at,
    )


def _open_link_complaint(
    session: Session,
    data: complaint_services.ComplaintInput,
    *,
    at: datetime,
    settings: FeedbackSettings,
) -> tuple[Complaint | None, str | None]:
    if data.category is None or not data.category.active:
        return None, str(
            _l(
                "The category %(key)s for complaints from feedback links does not exist or is "
                "not in use.",
                key=settings.link_complaint_category,
            )
        )
    return open_complaint_safely(session, data, actor=None, at=at, settings=settings)


def submit_link_response(
    session: Session,
    link: FeedbackLink,
    data: LinkSubmission,
    *,
    at: datetime,
    settings: FeedbackSettings,
) -> LinkOutcome:
    """Take an answer, a complaint or both from a public link.

    Raises ValidationError naming every bad field. With consent the customer is found or
    created; a complaint goes through the normal intake (channel web, routed as usual) and
    is the answer's follow-up. A complaint that cannot be opened does not lose the answer:
    the problem is audit-logged and returned.
    """
    score, comment, contact = _check_submission(link, data)
    customer = (
        identify_customer(session, contact, language=data.language, at=at) if contact else None
    )
    complaint, problem = None, None
    if data.wants_complaint and customer is not None and contact is not None and comment:
        complaint_input = _complaint_input(
            session, link, customer, comment, contact, at=at, settings=settings
        )
        complaint, problem = _open_link_complaint(
            session, complaint_input, at=at, settings=settings
        )
        if complaint is None and score is None:
            # Nothing else would keep the customer's words: refuse, so they keep their text.
            log.error("feedback link %s: complaint not opened: %s", link.id, problem)
            raise Conflict(
                str(_l("We could not take your complaint just now. Please try again later."))
            )
    response = None
    if score is not None:
        checked = CheckedFeedback(
            touchpoint=link.touchpoint,
            kind=FeedbackKind(link.kind),
            score=score,
            channel=Channel.WEB,
            comment=comment,
            submitted_at=at,
            customer=customer,
            complaint=None,
            contact_consent=bool(data.contact_consent),
            source=FeedbackSource.LINK,
            link_id=link.id,
        )
        response = store_feedback(session, checked, actor=None, at=at)
        if complaint is not None:  # the complaint asked for is the answer's follow-up
            response.follow_up_id = complaint.id
            session.flush()
        elif problem is not None:
            note_follow_up_failure(session, response, problem, actor=None, at=at)
        elif needs_follow_up(checked, settings):
            complaint, problem = close_loop(
                session, checked, response, actor=None, at=at, settings=settings
            )
    return LinkOutcome(response, complaint, customer, problem)
