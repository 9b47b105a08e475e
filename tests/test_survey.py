"""The survey after a resolved complaint: one mail, one link, one answer, shown on the complaint."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints import lifecycle
from cxjourney.complaints.models import Complaint, ComplaintStatus, ResolutionCode
from cxjourney.extensions import utcnow
from cxjourney.feedback import survey
from cxjourney.feedback.models import (
    FeedbackKind,
    FeedbackResponse,
    FeedbackSource,
    SurveyInvitation,
)
from cxjourney.journey.models import Channel
from cxjourney.notifications.models import OutboxMessage

from .conftest import csrf_from
from .factories import (
    make_category,
    make_complaint,
    make_customer,
    settings_for,
    small_journey,
)

MARKUP = "<script>alert(1)</script>"
LINK = re.compile(r"http://127\.0\.0\.1:5000/s/([A-Za-z0-9_-]+)")


@pytest.fixture
def settings(app: Flask) -> Any:
    return settings_for(app.config)


@pytest.fixture
def world(db_session: Session) -> None:
    small_journey(db_session)  # the hotline belongs to Kundenservice
    make_category(db_session)
    make_category(db_session, "service-quality", "Servicequalität")
    db_session.commit()


def _customer(session: Session, ref: str = "K-2000", **overrides: Any) -> Any:
    data = {"email": "erika@example.org", "contact_consent": True, **overrides}
    language = data.pop("language", None)
    customer = make_customer(session, ref, name="Erika Musterfrau", **data)
    customer.language = language
    session.commit()
    return customer


def _complaint(session: Session, settings: Any, customer: Any, at: datetime, **kw: Any) -> Any:
    return make_complaint(session, settings, customer=customer, at=at - timedelta(hours=2), **kw)


def _resolve(session: Session, settings: Any, complaint: Complaint, at: datetime, **kw: Any) -> Any:
    lifecycle.transition_complaint(
        session,
        complaint,
        to=ComplaintStatus.RESOLVED,
        actor=None,
        at=at,
        settings=settings,
        resolution_code=ResolutionCode.REFUND,
        resolution="Betrag erstattet.",
        **kw,
    )
    session.commit()


def _survey_mails(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(
        session.scalars(select(OutboxMessage).where(OutboxMessage.kind == survey.MAIL_KIND))
    )


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def _resolved_with_survey(
    session: Session, settings: Any, at: datetime | None = None, **customer: Any
) -> tuple[Complaint, str]:
    """A complaint resolved at ``at`` (default: now) and the token of its survey link."""
    at = at or utcnow()
    complaint = _complaint(session, settings, _customer(session, **customer), at)
    _resolve(session, settings, complaint, at)
    (mail,) = _survey_mails(session)
    match = LINK.search(mail.body)
    assert match is not None
    return complaint, match.group(1)


def _answer(client: FlaskClient, token: str, data: dict[str, str], query: str = "") -> Any:
    page = client.get(f"/s/{token}{query}")
    csrf = csrf_from(page.get_data(as_text=True))
    return client.post(f"/s/{token}{query}", data={**data, "csrf_token": csrf})


# --- sending -------------------------------------------------------------------------------------


def test_resolving_sends_one_survey_mail_with_a_one_time_link(
    db_session: Session, settings: Any, world: None
) -> None:
    at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    complaint = _complaint(db_session, settings, _customer(db_session, language="en"), at)
    _resolve(db_session, settings, complaint, at)
    (mail,) = _survey_mails(db_session)
    assert mail.to_address == "erika@example.org"
    assert mail.recipient_id is None
    assert mail.language == "en"
    assert complaint.reference in mail.subject
    assert mail.body.startswith("Hello,")
    assert "How satisfied are you with how we handled it?" in mail.body
    token = LINK.search(mail.body).group(1)  # type: ignore[union-attr]
    assert len(token) == 43  # token_urlsafe(32): 256 random bits
    invitation = db_session.scalar(select(SurveyInvitation))
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    assert (invitation.complaint_id, invitation.customer_id, invitation.touchpoint_id) == (
        complaint.id,
        complaint.customer_id,
        complaint.touchpoint_id,
    )
    assert invitation.sent_at == at
    assert invitation.expires_at == at + timedelta(days=30)
    assert (invitation.answered_at, invitation.response_id) == (None, None)
    assert "April 1, 2026" in mail.body  # valid until, in English


@pytest.mark.parametrize(
    ("language", "expected", "greeting"),
    [("de", "de", "Guten Tag,"), ("en", "en", "Hello,"), (None, "de", "Guten Tag,")],
)
def test_the_mail_is_in_the_customers_language_else_the_default(
    db_session: Session,
    settings: Any,
    world: None,
    language: str | None,
    expected: str,
    greeting: str,
) -> None:
    complaint = _complaint(db_session, settings, _customer(db_session, language=language), utcnow())
    _resolve(db_session, settings, complaint, utcnow())
    (mail,) = _survey_mails(db_session)
    assert mail.language == expected
    assert mail.body.startswith(greeting)


@pytest.mark.parametrize(
    "customer",
    [{"contact_consent": False}, {"email": None}],
    ids=["without consent", "without email"],
)
def test_no_survey_without_consent_or_email(
    db_session: Session, settings: Any, world: None, customer: dict[str, Any]
) -> None:
    complaint = _complaint(db_session, settings, _customer(db_session, **customer), utcnow())
    _resolve(db_session, settings, complaint, utcnow())
    assert _survey_mails(db_session) == []
    assert _count(db_session, SurveyInvitation) == 0


def test_not_sent_twice_after_reopen_and_resolve_again(
    db_session: Session, settings: Any, world: None
) -> None:
    at = utcnow() - timedelta(days=2)
    complaint = _complaint(db_session, settings, _customer(db_session), at)
    _resolve(db_session, settings, complaint, at)
    lifecycle.transition_complaint(
        db_session,
        complaint,
        to=ComplaintStatus.IN_PROGRESS,
        actor=None,
        at=at + timedelta(hours=1),
        settings=settings,
    )
    _resolve(db_session, settings, complaint, at + timedelta(days=1))
    assert len(_survey_mails(db_session)) == 1
    assert _count(db_session, SurveyInvitation) == 1


def test_the_suppression_window_holds_per_touchpoint(
    db_session: Session, settings: Any, world: None
) -> None:
    customer = _customer(db_session)
    first_at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    first = _complaint(db_session, settings, customer, first_at)
    _resolve(db_session, settings, first, first_at)
    # asked at the hotline 10 days ago: not again there within 90 days …
    soon = first_at + timedelta(days=10)
    second = _complaint(db_session, settings, customer, soon, subject="Wieder falsch")
    _resolve(db_session, settings, second, soon)
    assert len(_survey_mails(db_session)) == 1
    # … but about a complaint at another touchpoint
    elsewhere = _complaint(db_session, settings, customer, soon, touchpoint="website")
    _resolve(db_session, settings, elsewhere, soon)
    assert len(_survey_mails(db_session)) == 2
    # and at the hotline again once the window has passed
    later = first_at + timedelta(days=91)
    third = _complaint(db_session, settings, customer, later, subject="Noch einmal")
    _resolve(db_session, settings, third, later)
    assert len(_survey_mails(db_session)) == 3
    assert {i.complaint_id for i in db_session.scalars(select(SurveyInvitation))} == {
        first.id,
        elsewhere.id,
        third.id,
    }


def test_a_lost_race_for_the_invitation_leaves_the_transaction_intact(
    db_session: Session, settings: Any, world: None
) -> None:
    complaint, _token = _resolved_with_survey(db_session, settings)
    # A second transaction that checked a moment before the first one committed:
    again = survey.store_invitation(
        db_session, complaint, token="another-token", at=utcnow(), valid_days=30
    )
    assert again is None
    complaint.subject = "Still writable"  # the surrounding transaction carries on
    db_session.commit()
    assert _count(db_session, SurveyInvitation) == 1
    assert db_session.get(Complaint, complaint.id).subject == "Still writable"


def test_history_can_be_resolved_without_a_survey(
    db_session: Session, settings: Any, world: None
) -> None:
    complaint = _complaint(db_session, settings, _customer(db_session), utcnow())
    _resolve(db_session, settings, complaint, utcnow(), survey=False)
    assert _survey_mails(db_session) == []
    assert _count(db_session, SurveyInvitation) == 0


# --- answering -----------------------------------------------------------------------------------


def test_the_survey_page_asks_about_the_complaint(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    complaint, token = _resolved_with_survey(db_session, settings, language="en")
    page = client.get(f"/s/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="en">' in html  # the customer's language
    assert complaint.reference in html
    assert html.count('type="radio"') == 5
    assert 'name="csrf_token"' in html
    assert 'name="robots" content="noindex' in html
    assert "style=" not in html
    assert "<script" not in html
    german = client.get(f"/s/{token}?lang=de").get_data(as_text=True)
    assert '<html lang="de">' in german
    assert f'action="/s/{token}?lang=de"' in german


def test_an_answer_through_the_link_is_stored_with_the_complaint(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    complaint, token = _resolved_with_survey(db_session, settings)
    response = _answer(client, token, {"score": "4", "comment": "Schnell erledigt."})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/s/{token}/thanks"
    db_session.expire_all()
    answer = db_session.scalar(select(FeedbackResponse))
    assert (answer.kind, answer.score, answer.comment) == (
        FeedbackKind.CSAT,
        4,
        "Schnell erledigt.",
    )
    assert (answer.source, answer.channel) == (FeedbackSource.SURVEY, Channel.EMAIL)
    assert (answer.complaint_id, answer.customer_id, answer.touchpoint_id) == (
        complaint.id,
        complaint.customer_id,
        complaint.touchpoint_id,
    )
    assert answer.follow_up_id is None  # 4 is not negative
    invitation = db_session.scalar(select(SurveyInvitation))
    assert invitation.answered_at is not None
    assert invitation.response_id == answer.id
    thanks = client.get(f"/s/{token}/thanks?lang=en")
    assert thanks.status_code == 200
    assert "Thank you" in thanks.get_data(as_text=True)


def test_a_second_answer_is_refused_with_410(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    _complaint, token = _resolved_with_survey(db_session, settings)
    csrf = csrf_from(client.get(f"/s/{token}").get_data(as_text=True))
    assert client.post(f"/s/{token}", data={"score": "5", "csrf_token": csrf}).status_code == 302
    again = client.post(f"/s/{token}?lang=en", data={"score": "1", "csrf_token": csrf})
    assert again.status_code == 410
    assert "You have answered this survey already" in again.get_data(as_text=True)
    assert client.get(f"/s/{token}").status_code == 410
    assert _count(db_session, FeedbackResponse) == 1
    assert db_session.scalar(select(FeedbackResponse.score)) == 5


def test_an_expired_link_is_refused_with_410(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    _complaint, token = _resolved_with_survey(
        db_session, settings, at=utcnow() - timedelta(days=31)
    )
    page = client.get(f"/s/{token}?lang=en")
    assert page.status_code == 410
    assert "This survey has ended" in page.get_data(as_text=True)
    csrf = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post(f"/s/{token}", data={"score": "5", "csrf_token": csrf}).status_code == 410
    assert _count(db_session, FeedbackResponse) == 0


def test_an_answer_after_expiry_is_refused_by_the_service(
    db_session: Session, settings: Any, world: None, app: Flask
) -> None:
    from cxjourney.errors import Conflict
    from cxjourney.feedback.services import FeedbackSettings

    at = utcnow()
    _resolved_with_survey(db_session, settings, at=at)
    invitation = db_session.scalar(select(SurveyInvitation))
    with pytest.raises(Conflict):
        survey.answer_survey(
            db_session,
            invitation,
            survey.SurveySubmission(5, None),
            at=at + timedelta(days=30),  # expires_at is excluded
            settings=FeedbackSettings.from_config(app.config),
        )
    db_session.rollback()
    assert _count(db_session, FeedbackResponse) == 0


def test_unknown_tokens_are_404(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    _complaint, token = _resolved_with_survey(db_session, settings)
    for url in ("/s/not-a-token", f"/s/{token[:-1]}", "/s/not-a-token/thanks"):
        response = client.get(url + "?lang=en")
        assert response.status_code == 404, url
        assert "This link does not work" in response.get_data(as_text=True)


def test_a_score_off_the_scale_is_named_and_the_comment_kept(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    _complaint, token = _resolved_with_survey(db_session, settings)
    response = _answer(client, token, {"score": "9", "comment": MARKUP}, "?lang=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="score-error"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert _answer(client, token, {"comment": "ohne Wertung"}).status_code == 422
    assert _count(db_session, FeedbackResponse) == 0
    assert db_session.scalar(select(SurveyInvitation.answered_at)) is None


def test_the_honeypot_answers_like_success_and_saves_nothing(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    _complaint, token = _resolved_with_survey(db_session, settings)
    response = _answer(client, token, {"score": "5", "homepage": "http://spam"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/s/{token}/thanks"
    assert _count(db_session, FeedbackResponse) == 0
    assert client.get(f"/s/{token}").status_code == 200  # the customer can still answer


def test_submissions_are_rate_limited_per_address(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    _complaint, token = _resolved_with_survey(db_session, settings)
    csrf = csrf_from(client.get(f"/s/{token}").get_data(as_text=True))
    statuses = [
        client.post(f"/s/{token}", data={"score": "x", "csrf_token": csrf}).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [422] * 30
    assert statuses[30] == 429
    assert client.get(f"/s/{token}").status_code == 200  # reading is not limited


def test_a_negative_answer_closes_the_loop(
    client: FlaskClient, db_session: Session, settings: Any, world: None
) -> None:
    complaint, token = _resolved_with_survey(db_session, settings)
    assert _answer(client, token, {"score": "1", "comment": "Nichts erstattet."}).status_code == 302
    db_session.expire_all()
    answer = db_session.scalar(select(FeedbackResponse))
    follow_up = db_session.get(Complaint, answer.follow_up_id)
    assert follow_up is not None
    assert follow_up.id != complaint.id
    assert follow_up.customer_id == complaint.customer_id
    assert follow_up.description == "Nichts erstattet."


# --- on the complaint page ----------------------------------------------------------------------


def test_the_answer_is_shown_on_the_complaint_page(
    client: FlaskClient, db_session: Session, settings: Any, world: None, login_as
) -> None:
    complaint, token = _resolved_with_survey(db_session, settings)
    login_as(Role.AGENT, team="Kundenservice", language="en")
    before = client.get(f"/complaints/{complaint.reference}").get_data(as_text=True)
    assert "Customer survey" in before
    assert "not yet" in before
    other = client.application.test_client()
    assert _answer(other, token, {"score": "4", "comment": MARKUP}).status_code == 302
    html = client.get(f"/complaints/{complaint.reference}").get_data(as_text=True)
    section = re.search(r'<section aria-labelledby="survey-title".*?</section>', html, re.S)
    assert section is not None
    assert "4 of 5" in section.group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section.group(0)
    assert "<script>alert" not in html


def test_a_complaint_without_a_survey_shows_no_survey_block(
    client: FlaskClient, db_session: Session, settings: Any, world: None, login_as
) -> None:
    complaint = _complaint(db_session, settings, _customer(db_session, email=None), utcnow())
    login_as(Role.AGENT, team="Kundenservice", language="en")
    html = client.get(f"/complaints/{complaint.reference}").get_data(as_text=True)
    assert "Customer survey" not in html


def test_a_viewer_sees_neither_the_complaint_nor_the_comment(
    client: FlaskClient, db_session: Session, settings: Any, world: None, login_as
) -> None:
    complaint, token = _resolved_with_survey(db_session, settings)
    other = client.application.test_client()
    assert _answer(other, token, {"score": "2", "comment": "Privat"}).status_code == 302
    login_as(Role.VIEWER)  # no view_complaints, no view_personal_data
    response = client.get(f"/complaints/{complaint.reference}")
    assert response.status_code == 403
    assert "Privat" not in response.get_data(as_text=True)
