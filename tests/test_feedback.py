"""Feedback: recording answers, validation, the closed loop, suppression, API and pages."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.audit.models import AuditLog
from cxjourney.auth.models import Role
from cxjourney.complaints.models import Complaint, ComplaintEvent
from cxjourney.errors import ValidationError
from cxjourney.feedback import services
from cxjourney.feedback.models import (
    FeedbackKind,
    FeedbackResponse,
    FeedbackSource,
    SurveyInvitation,
)
from cxjourney.journey import services as journey

from .conftest import csrf_from, post_form
from .factories import (
    T0,
    make_category,
    make_complaint,
    make_customer,
    make_feedback,
    make_team,
    make_touchpoint,
    settings_for,
    small_journey,
)

MARKUP = "<script>alert(1)</script>"


@pytest.fixture
def world(app: Flask, db_session: Session) -> dict[str, Any]:
    """The small journey, the follow-up category and a customer who agreed to be contacted."""
    touchpoints = small_journey(db_session)
    make_category(db_session, "service-quality", "Servicequalität")
    customer = make_customer(db_session, "K-1", contact_consent=True)
    db_session.commit()
    return {"tp": touchpoints, "customer": customer}


def _settings(app: Flask, **changes: Any) -> services.FeedbackSettings:
    settings = services.FeedbackSettings.from_config(app.config)
    return dataclasses.replace(settings, **changes)


def _input(**overrides: Any) -> services.FeedbackInput:
    values: dict[str, Any] = {
        "touchpoint": "hotline",
        "kind": "nps",
        "score": 9,
        "channel": "phone",
    }
    values.update(overrides)
    return services.FeedbackInput(**values)


def _record(session: Session, app: Flask, **overrides: Any) -> services.RecordedFeedback:
    settings = overrides.pop("settings", None) or _settings(app)
    recorded = services.record_feedback(
        session, _input(**overrides), actor=None, at=T0, settings=settings
    )
    session.commit()
    return recorded


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- recording and validation ------------------------------------------------------------------


def test_an_answer_is_stored_with_every_field(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    complaint = make_complaint(db_session, settings_for(app.config), customer=world["customer"])
    recorded = _record(
        db_session,
        app,
        kind="csat",
        score=4,
        comment="  Freundlich und schnell.  ",
        submitted_at=T0 - timedelta(days=2),
        customer_ref="K-1",
        complaint_ref=complaint.reference,
        contact_consent=True,
    )
    response = recorded.response
    assert (response.kind, response.score, response.channel.value) == (
        FeedbackKind.CSAT,
        4,
        "phone",
    )
    assert response.comment == "Freundlich und schnell."
    assert response.submitted_at == T0 - timedelta(days=2)
    assert response.customer_id == world["customer"].id
    assert response.complaint_id == complaint.id
    assert response.contact_consent is True
    assert response.source is FeedbackSource.API
    assert response.follow_up_id is None
    assert recorded.follow_up is None


def test_submitted_at_defaults_to_now_and_an_empty_comment_is_none(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    response = _record(db_session, app, comment="   ").response
    assert response.submitted_at == T0
    assert response.comment is None
    assert response.customer_id is None  # anonymous


def test_every_bad_field_is_named_and_nothing_is_saved(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as err:
        services.record_feedback(
            db_session,
            _input(
                touchpoint="nowhere",
                kind="stars",
                score="9",
                channel="pigeon",
                comment="x" * 5001,
                submitted_at=T0 + timedelta(hours=1),
                customer_ref="K-404",
                complaint_ref="CX-2026-999999",
                contact_consent="maybe",
            ),
            actor=None,
            at=T0,
            settings=_settings(app),
        )
    assert set(err.value.fields) == {
        "touchpoint",
        "kind",
        "score",
        "channel",
        "comment",
        "submitted_at",
        "customer_ref",
        "complaint_ref",
        "contact_consent",
    }
    db_session.rollback()
    assert _count(db_session, FeedbackResponse) == 0


def test_an_archived_touchpoint_takes_no_feedback(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    journey.archive_touchpoint(db_session, world["tp"]["island"], actor=None, at=T0)
    db_session.commit()
    with pytest.raises(ValidationError) as err:
        _record(db_session, app, touchpoint="island")
    assert set(err.value.fields) == {"touchpoint"}


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [("nps", (0, 10), (-1, 11)), ("csat", (1, 5), (0, 6)), ("ces", (1, 7), (0, 8))],
)
def test_the_score_must_lie_on_the_kind_scale(
    app: Flask, db_session: Session, world: dict[str, Any], kind: str, good: tuple, bad: tuple
) -> None:
    for score in good:
        assert _record(db_session, app, kind=kind, score=score).response.score == score
    for score in bad:
        with pytest.raises(ValidationError) as err:
            _record(db_session, app, kind=kind, score=score)
        assert set(err.value.fields) == {"score"}
        db_session.rollback()
    for not_a_number in (True, 4.0, "4", None):
        with pytest.raises(ValidationError) as err:
            _record(db_session, app, kind=kind, score=not_a_number)
        assert set(err.value.fields) == {"score"}
        db_session.rollback()


def test_comment_limit_and_nul_bytes(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    assert len(_record(db_session, app, comment="x" * 5000).response.comment or "") == 5000
    for bad in ("x" * 5001, "a\x00b", 123):
        with pytest.raises(ValidationError) as err:
            _record(db_session, app, comment=bad)
        assert set(err.value.fields) == {"comment"}
        db_session.rollback()


def test_a_complaint_of_another_customer_is_refused(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    other = make_customer(db_session, "K-2")
    complaint = make_complaint(db_session, settings_for(app.config), customer=other)
    with pytest.raises(ValidationError) as err:
        _record(db_session, app, customer_ref="K-1", complaint_ref=complaint.reference)
    assert set(err.value.fields) == {"complaint_ref"}


# --- the closed loop -----------------------------------------------------------------------------


def test_a_bad_score_with_consent_opens_exactly_one_follow_up(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    recorded = _record(
        db_session,
        app,
        score=3,
        channel="email",
        comment="Niemand ruft zurück.",
        customer_ref="K-1",
        contact_consent=True,
    )
    follow_up = recorded.follow_up
    assert follow_up is not None
    assert recorded.response.follow_up_id == follow_up.id
    assert _count(db_session, Complaint) == 1
    assert follow_up.channel.value == "email"
    assert follow_up.category.key == "service-quality"
    assert follow_up.severity.value == "medium"
    assert follow_up.customer_id == world["customer"].id
    assert follow_up.team.name == world["tp"]["hotline"].owner_team.name
    assert "NPS 3" in follow_up.subject
    assert "Hotline" in follow_up.subject
    assert follow_up.description == "Niemand ruft zurück."
    assert follow_up.received_at == T0


def test_a_follow_up_without_comment_gets_a_fixed_description(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    recorded = _record(db_session, app, score=0, customer_ref="K-1", contact_consent=True)
    assert recorded.follow_up is not None
    assert recorded.follow_up.description.strip() != ""


@pytest.mark.parametrize(
    "overrides",
    [
        {"score": 3, "customer_ref": "K-1", "contact_consent": False},  # no consent
        {"score": 7, "customer_ref": "K-1", "contact_consent": True},  # passive, not negative
        {"score": 3, "contact_consent": True},  # anonymous: nobody to contact
        {"kind": "csat", "score": 3, "customer_ref": "K-1", "contact_consent": True},
        {"kind": "ces", "score": 3, "customer_ref": "K-1", "contact_consent": True},
    ],
)
def test_no_follow_up_without_consent_a_negative_score_and_a_customer(
    app: Flask, db_session: Session, world: dict[str, Any], overrides: dict[str, Any]
) -> None:
    recorded = _record(db_session, app, **overrides)
    assert recorded.follow_up is None
    assert recorded.follow_up_problem is None
    assert recorded.response.follow_up_id is None
    assert _count(db_session, Complaint) == 0


@pytest.mark.parametrize(("kind", "score"), [("csat", 2), ("ces", 1)])
def test_csat_and_ces_close_the_loop_at_1_and_2(
    app: Flask, db_session: Session, world: dict[str, Any], kind: str, score: int
) -> None:
    recorded = _record(
        db_session, app, kind=kind, score=score, customer_ref="K-1", contact_consent=True
    )
    assert recorded.follow_up is not None
    assert kind.upper() in recorded.follow_up.subject


def test_the_kinds_that_close_the_loop_are_configurable(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    only_nps = services.FeedbackSettings.from_config(
        {**app.config, "FEEDBACK_FOLLOW_UP_KINDS": " NPS "}
    )
    assert only_nps.follow_up_kinds == frozenset({FeedbackKind.NPS})
    csat = _record(
        db_session,
        app,
        kind="csat",
        score=1,
        customer_ref="K-1",
        contact_consent=True,
        settings=only_nps,
    )
    assert csat.follow_up is None
    nps = _record(
        db_session, app, score=2, customer_ref="K-1", contact_consent=True, settings=only_nps
    )
    assert nps.follow_up is not None
    none = services.FeedbackSettings.from_config({**app.config, "FEEDBACK_FOLLOW_UP_KINDS": ""})
    assert none.follow_up_kinds == frozenset()
    with pytest.raises(ValueError, match="stars"):
        services.FeedbackSettings.from_config({**app.config, "FEEDBACK_FOLLOW_UP_KINDS": "stars"})


def test_the_follow_up_category_and_severity_are_configurable(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    make_category(db_session, "feedback", "Feedback")
    settings = services.FeedbackSettings.from_config(
        {
            **app.config,
            "FEEDBACK_FOLLOW_UP_CATEGORY": "feedback",
            "FEEDBACK_FOLLOW_UP_SEVERITY": "high",
        }
    )
    recorded = _record(
        db_session, app, score=1, customer_ref="K-1", contact_consent=True, settings=settings
    )
    assert recorded.follow_up is not None
    assert (recorded.follow_up.category.key, recorded.follow_up.severity.value) == (
        "feedback",
        "high",
    )


def test_a_missing_category_stores_the_answer_without_follow_up_and_audits_it(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    settings = _settings(app, follow_up_category="no-such-category")
    recorded = _record(
        db_session, app, score=2, customer_ref="K-1", contact_consent=True, settings=settings
    )
    assert recorded.follow_up is None
    assert "no-such-category" in (recorded.follow_up_problem or "")
    assert _count(db_session, FeedbackResponse) == 1
    assert _count(db_session, Complaint) == 0
    entry = db_session.scalar(
        select(AuditLog).where(AuditLog.action == "feedback.follow_up_failed")
    )
    assert entry is not None
    assert entry.entity_id == recorded.response.id


def test_routing_without_a_team_leaves_no_half_complaint(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    make_touchpoint(db_session, "orphan", stage="support", owner_team=None)
    db_session.commit()
    settings = _settings(
        app,
        complaints=dataclasses.replace(settings_for(app.config), triage_team="No such team"),
    )
    recorded = _record(
        db_session,
        app,
        touchpoint="orphan",
        score=1,
        customer_ref="K-1",
        contact_consent=True,
        settings=settings,
    )
    assert recorded.follow_up is None
    assert recorded.follow_up_problem
    assert recorded.response.id is not None
    assert _count(db_session, FeedbackResponse) == 1
    assert (_count(db_session, Complaint), _count(db_session, ComplaintEvent)) == (0, 0)


# --- suppression ---------------------------------------------------------------------------------


def _invite(session: Session, customer: Any, touchpoint: Any, sent_at: Any, n: int) -> None:
    session.add(
        SurveyInvitation(
            customer_id=customer.id,
            touchpoint_id=touchpoint.id,
            token_hash=f"{n:064d}",
            sent_at=sent_at,
            expires_at=sent_at + timedelta(days=14),
        )
    )
    session.commit()


def test_may_invite_follows_invitations_and_answers_within_the_window(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    customer, hotline, app_tp = world["customer"], world["tp"]["hotline"], world["tp"]["app"]
    assert services.may_invite(db_session, customer, hotline, T0, 90)
    _invite(db_session, customer, hotline, T0 - timedelta(days=100), 1)
    assert services.may_invite(db_session, customer, hotline, T0, 90)  # longer ago
    _invite(db_session, customer, hotline, T0 - timedelta(days=30), 2)
    assert not services.may_invite(db_session, customer, hotline, T0, 90)
    assert services.may_invite(db_session, customer, hotline, T0, 20)  # a shorter window
    assert services.may_invite(db_session, customer, app_tp, T0, 90)  # per touchpoint
    _record(
        db_session, app, touchpoint="app", customer_ref="K-1", submitted_at=T0 - timedelta(days=5)
    )
    assert not services.may_invite(db_session, customer, app_tp, T0, 90)


def test_may_invite_needs_contact_consent(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    silent = make_customer(db_session, "K-9", contact_consent=False)
    assert not services.may_invite(db_session, silent, world["tp"]["hotline"], T0, 90)


def test_the_suppression_window_never_rejects_an_answer(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    _invite(db_session, world["customer"], world["tp"]["hotline"], T0 - timedelta(days=1), 1)
    for _ in range(3):
        _record(db_session, app, customer_ref="K-1")
    assert _count(db_session, FeedbackResponse) == 3


# --- reading -------------------------------------------------------------------------------------


def test_list_feedback_filters_and_latest_comments(
    app: Flask, db_session: Session, world: dict[str, Any]
) -> None:
    _record(db_session, app, comment="alt", submitted_at=T0 - timedelta(days=10))
    _record(db_session, app, comment="neu", submitted_at=T0 - timedelta(days=1))
    _record(db_session, app, kind="csat", score=5, submitted_at=T0 - timedelta(days=1))
    _record(db_session, app, touchpoint="app", comment="App", submitted_at=T0)
    hotline = world["tp"]["hotline"]
    where = services.FeedbackFilter(touchpoint=hotline, kind=FeedbackKind.NPS)
    assert [r.comment for r in services.list_feedback(db_session, where).items] == ["neu", "alt"]
    recent = services.FeedbackFilter(since=T0 - timedelta(days=2), until=T0)
    assert len(services.list_feedback(db_session, recent).items) == 2
    assert [r.comment for r in services.latest_comments(db_session, hotline, 5)] == ["neu", "alt"]
    page = services.list_feedback(db_session, services.FeedbackFilter(), per_page=3)
    assert page.has_next
    assert len(page.items) == 3


# --- API -----------------------------------------------------------------------------------------


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_records_feedback_and_answers_201(
    client: FlaskClient, db_session: Session, world: dict[str, Any], api_token
) -> None:
    response = client.post(
        "/api/v1/feedback",
        json={
            "touchpoint": "hotline",
            "kind": "nps",
            "score": 2,
            "comment": "Warteschleife",
            "channel": "phone",
            "submitted_at": "2026-03-01T10:00:00+01:00",
            "customer_ref": "K-1",
            "contact_consent": True,
        },
        headers=_h(api_token(Role.AGENT)),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    complaint = db_session.scalar(select(Complaint))
    assert body == {
        "id": body["id"],
        "touchpoint": "hotline",
        "kind": "nps",
        "score": 2,
        "comment": "Warteschleife",
        "channel": "phone",
        "submitted_at": "2026-03-01T09:00:00Z",
        "customer_ref": "K-1",
        "complaint_ref": None,
        "contact_consent": True,
        "follow_up": complaint.reference,
        "source": "api",
        "created_at": body["created_at"],
    }


def test_api_minimal_answer_is_anonymous_without_follow_up(
    client: FlaskClient, db_session: Session, world: dict[str, Any], api_token
) -> None:
    response = client.post(
        "/api/v1/feedback",
        json={"touchpoint": "app", "kind": "ces", "score": 1, "channel": "app"},
        headers=_h(api_token(Role.ADMIN)),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["customer_ref"], body["follow_up"], body["contact_consent"]) == (
        None,
        None,
        False,
    )


def test_api_names_every_bad_field(
    client: FlaskClient, db_session: Session, world: dict[str, Any], api_token
) -> None:
    shape = client.post(
        "/api/v1/feedback",
        json={"kind": "stars", "score": "3", "channel": "pigeon", "colour": "red"},
        headers=_h(api_token(Role.AGENT)),
    )
    assert shape.status_code == 422
    assert set(shape.get_json()["error"]["fields"]) >= {"touchpoint", "kind", "score", "channel"}
    rules = client.post(
        "/api/v1/feedback",
        json={
            "touchpoint": "nowhere",
            "kind": "csat",
            "score": 9,
            "channel": "web",
            "submitted_at": "2099-01-01T00:00:00Z",
            "customer_ref": "K-404",
            "complaint_ref": "CX-2026-000404",
        },
        headers=_h(api_token(Role.AGENT)),
    )
    assert rules.status_code == 422
    assert set(rules.get_json()["error"]["fields"]) == {
        "touchpoint",
        "score",
        "submitted_at",
        "customer_ref",
        "complaint_ref",
    }
    assert _count(db_session, FeedbackResponse) == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TOUCHPOINT_MANAGER])
def test_api_needs_record_feedback(
    client: FlaskClient, db_session: Session, world: dict[str, Any], api_token, role: Role
) -> None:
    body = {"touchpoint": "hotline", "kind": "nps", "score": 9, "channel": "phone"}
    response = client.post("/api/v1/feedback", json=body, headers=_h(api_token(role)))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert client.post("/api/v1/feedback", json=body).status_code == 401
    assert _count(db_session, FeedbackResponse) == 0


def test_openapi_documents_the_feedback_endpoint(client: FlaskClient, db_session: Session) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "post" in spec["paths"]["/api/v1/feedback"]


# --- pages ---------------------------------------------------------------------------------------


FORM = {
    "touchpoint": "hotline",
    "kind": "nps",
    "score": "4",
    "comment": "Lange gewartet",
    "channel": "phone",
    "customer_ref": "K-1",
    "contact_consent": "y",
}


def test_an_agent_records_feedback_on_the_page(
    client: FlaskClient, db_session: Session, world: dict[str, Any], login_as
) -> None:
    agent = login_as(Role.AGENT)
    page = client.get("/feedback/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<optgroup" in html  # touchpoints grouped by stage
    response = post_form(client, "/feedback/new", None, FORM)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/feedback/new")
    stored = db_session.scalar(select(FeedbackResponse))
    assert stored.source is FeedbackSource.AGENT
    assert stored.created_by_id == agent.id
    assert stored.follow_up_id is not None  # NPS 4 with consent
    follow_up = db_session.get(Complaint, stored.follow_up_id)
    assert follow_up.reference in client.get("/feedback/new").get_data(as_text=True)


def test_the_page_keeps_what_was_typed_and_names_the_problems(
    client: FlaskClient, db_session: Session, world: dict[str, Any], login_as
) -> None:
    login_as(Role.AGENT)
    response = post_form(
        client,
        "/feedback/new",
        None,
        {**FORM, "kind": "csat", "score": "9", "customer_ref": "K-404"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Lange gewartet" in html
    assert 'value="K-404"' in html
    assert 'value="9"' in html
    assert 'id="score-error"' in html
    assert 'id="customer_ref-error"' in html
    assert _count(db_session, FeedbackResponse) == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TOUCHPOINT_MANAGER])
def test_recording_on_the_page_needs_the_permission(
    client: FlaskClient, db_session: Session, world: dict[str, Any], login_as, role: Role
) -> None:
    login_as(role)
    assert client.get("/feedback/new").status_code == 403
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert client.post("/feedback/new", data={**FORM, "csrf_token": token}).status_code == 403


def test_the_list_masks_comments_and_customers_for_viewers(
    app: Flask, client: FlaskClient, db_session: Session, world: dict[str, Any], login_as
) -> None:
    _record(db_session, app, comment="Geheimer Kommentar", customer_ref="K-1")
    login_as(Role.VIEWER)
    html = client.get("/feedback/").get_data(as_text=True)
    assert "Geheimer Kommentar" not in html
    assert "Max Mustermann" not in html
    assert "K-1" not in html
    assert "Hotline" in html


def test_the_list_shows_comments_escaped_and_filters(
    app: Flask, client: FlaskClient, db_session: Session, world: dict[str, Any], login_as
) -> None:
    _record(db_session, app, comment=MARKUP, customer_ref="K-1", submitted_at=T0)
    _record(db_session, app, touchpoint="app", comment="Die App", submitted_at=T0)
    login_as(Role.AGENT)
    html = client.get("/feedback/").get_data(as_text=True)
    assert "&lt;script&gt;" in html
    assert "<script>alert" not in html
    assert "Max Mustermann" in html
    only_app = client.get("/feedback/?touchpoint=app").get_data(as_text=True)
    assert "Die App" in only_app
    assert "&lt;script&gt;" not in only_app
    day = T0.date().isoformat()
    assert "Die App" in client.get(f"/feedback/?from={day}&to={day}").get_data(as_text=True)
    later = (T0.date() + timedelta(days=1)).isoformat()
    assert "Die App" not in client.get(f"/feedback/?from={later}").get_data(as_text=True)
    assert client.get("/feedback/?kind=stars&from=nonsense&page=999999999999").status_code == 200


def test_the_list_hides_comments_tied_to_another_teams_complaint(
    app: Flask, client: FlaskClient, db_session: Session, login_as
) -> None:
    """A survey answer or a link complaint's text is as private as its complaint."""
    tps = small_journey(db_session)
    make_team(db_session, "Abrechnung")
    customer = make_customer(db_session, "K-7")
    settings = settings_for(app.config)
    theirs = make_complaint(db_session, settings, touchpoint=tps["app"], customer=customer)
    ours = make_complaint(db_session, settings, touchpoint=tps["hotline"], customer=customer)
    for complaint, text in ((theirs, "Text of team Online"), (ours, "Text of our team")):
        answer = make_feedback(db_session, tps["hotline"], "csat", 1, T0, customer=customer)
        answer.comment, answer.complaint_id = text, complaint.id
    db_session.commit()
    assert theirs.team.name != ours.team.name
    login_as(Role.AGENT, team=ours.team.name, language="en")

    page = client.get("/feedback/").get_data(as_text=True)

    assert "Text of our team" in page
    assert "Text of team Online" not in page
