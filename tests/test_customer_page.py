"""The customer 360° page: timeline, value, path on the map, masking, churn form."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxjourney.audit.models import AuditLog
from cxjourney.auth.models import Role
from cxjourney.customers import profile, services
from cxjourney.customers.models import Customer
from cxjourney.customers.path import customer_path
from cxjourney.errors import ValidationError
from cxjourney.extensions import utcnow
from cxjourney.journey.map_svg import render_map

from .conftest import csrf_from, make_user
from .factories import (
    T0,
    make_complaint,
    make_customer,
    make_event,
    make_feedback,
    make_value,
    settings_for,
    small_journey,
)


def _churn_reason(session: Session, key: str = "moved", name: str = "Umzug") -> None:
    services.create_churn_reason(session, key=key, name=name, actor=None, at=T0)
    session.commit()


def _walk(session: Session, customer: Customer, tps: dict, keys: list[str]) -> None:
    """Events one hour apart, in the order given."""
    for i, key in enumerate(keys):
        make_event(session, customer, tps[key], T0 - timedelta(days=30) + timedelta(hours=i))
    session.commit()


# --- timeline --------------------------------------------------------------------------------


def test_timeline_interleaves_events_complaints_and_feedback_newest_first(
    app: Flask, db_session: Session
) -> None:
    tps = small_journey(db_session)
    admin = make_user(db_session, Role.ADMIN)
    customer = make_customer(db_session, "K-1")
    make_event(db_session, customer, tps["website"], T0 - timedelta(days=3))
    make_event(db_session, customer, tps["app"], T0 - timedelta(days=1))
    make_feedback(db_session, tps["app"], "nps", 9, T0 - timedelta(hours=12), customer=customer)
    db_session.commit()
    complaint = make_complaint(
        db_session,
        settings_for(app.config),
        customer=customer,
        touchpoint="hotline",
        at=T0 - timedelta(days=2),
    )
    timeline = profile.customer_timeline(db_session, customer, viewer=admin)
    kinds = [e.kind.value for e in timeline.entries]
    assert kinds == ["feedback", "event", "complaint", "event"]
    assert [e.at for e in timeline.entries] == sorted(
        (e.at for e in timeline.entries), reverse=True
    )
    assert timeline.entries[2].reference == complaint.reference
    assert timeline.entries[2].status == "new"
    assert (timeline.entries[0].feedback_kind, timeline.entries[0].score) == ("nps", 9)
    assert not timeline.has_more
    assert not timeline.masked


def test_events_at_the_same_instant_show_the_last_recorded_first(db_session: Session) -> None:
    tps = small_journey(db_session)
    admin = make_user(db_session, Role.ADMIN)
    customer = make_customer(db_session, "K-1")
    make_event(db_session, customer, tps["website"], T0)
    make_event(db_session, customer, tps["app"], T0)
    db_session.commit()
    entries = profile.customer_timeline(db_session, customer, viewer=admin).entries
    assert [e.touchpoint for e in entries] == [tps["app"].name, tps["website"].name]


def test_timeline_is_limited_and_says_there_is_more(db_session: Session) -> None:
    tps = small_journey(db_session)
    admin = make_user(db_session, Role.ADMIN)
    customer = make_customer(db_session, "K-1")
    for day in range(3):
        make_event(db_session, customer, tps["app"], T0 - timedelta(days=day))
    make_feedback(db_session, tps["app"], "csat", 2, T0 - timedelta(days=10), customer=customer)
    db_session.commit()
    timeline = profile.customer_timeline(db_session, customer, viewer=admin, limit=2)
    assert [e.at for e in timeline.entries] == [T0, T0 - timedelta(days=1)]
    assert timeline.has_more


@pytest.mark.parametrize(
    ("raw", "limit"), [("x", 50), ("0", 50), ("100", 100), ("120", 100), ("999", 200)]
)
def test_the_limit_parameter_is_clamped_to_steps(raw: str, limit: int) -> None:
    assert profile.clamp_limit(raw) == limit


def test_show_more_link_extends_the_timeline(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    tps = small_journey(db_session)
    customer = make_customer(db_session, "K-1")
    for hour in range(60):
        make_event(db_session, customer, tps["app"], T0 - timedelta(hours=hour))
    db_session.commit()
    login_as(Role.AGENT)
    first = client.get("/customers/K-1").get_data(as_text=True)
    assert first.count('class="timeline-entry timeline-event"') == 50
    assert "/customers/K-1?limit=100" in first
    more = client.get("/customers/K-1?limit=100").get_data(as_text=True)
    assert more.count('class="timeline-entry timeline-event"') == 60
    assert "?limit=150" not in more


# --- the page --------------------------------------------------------------------------------


def test_page_shows_facts_clv_timeline_and_path(
    app: Flask, client: FlaskClient, db_session: Session, login_as
) -> None:
    tps = small_journey(db_session)
    customer = make_customer(db_session, "K-1", segment="privat", email="max@example.org")
    make_value(db_session, customer, "revenue", "200.00", date(2025, 1, 1))
    make_value(db_session, customer, "cost", "50.00", date(2025, 2, 1))
    make_value(db_session, customer, "revenue", "999.00", utcnow().date() + timedelta(days=5))
    _walk(db_session, customer, tps, ["website", "app", "hotline"])
    make_feedback(db_session, tps["app"], "nps", 3, T0, customer=customer)
    db_session.commit()
    user = login_as(Role.AGENT, language="en")
    complaint = make_complaint(db_session, settings_for(app.config), customer=customer, actor=user)
    response = client.get("/customers/K-1")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "€150.00" in html  # lifetime value: future records do not count yet
    assert "€200.00" in html
    assert "€50.00" in html
    assert "privat" in html
    assert "max@example.org" in html
    assert f'href="/complaints/{complaint.reference}"' in html
    assert "NPS 3" in html
    assert 'class="map-node map-node-visited" data-key="hotline"' in html
    assert "Website → App: 1 time<" in html


def test_complaint_form_links_to_the_customer_page(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    small_journey(db_session)
    make_customer(db_session, "K-1")
    login_as(Role.AGENT)
    html = client.get("/complaints/new?customer=K-1").get_data(as_text=True)
    assert 'href="/customers/K-1"' in html


def test_customer_facts_show_status_and_totals(db_session: Session) -> None:
    customer = make_customer(db_session, "K-1")
    make_value(db_session, customer, "revenue", "10.00", date(2025, 6, 1))
    make_value(db_session, customer, "cost", "2.50", date(2025, 6, 2))
    customer.churned_at = T0 - timedelta(days=1)
    db_session.commit()
    facts = profile.customer_facts(db_session, customer, at=T0, zone=_berlin())
    assert (facts.clv, facts.revenue, facts.cost) == (
        Decimal("7.50"),
        Decimal("10.00"),
        Decimal("2.50"),
    )
    assert facts.is_active is False


def _berlin():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


# --- the path --------------------------------------------------------------------------------


def test_path_counts_visits_and_transitions_in_event_order(db_session: Session) -> None:
    tps = small_journey(db_session)
    customer = make_customer(db_session, "K-1")
    other = make_customer(db_session, "K-2")
    _walk(
        db_session,
        customer,
        tps,
        ["website", "app", "hotline", "app", "hotline", "hotline", "cancellation"],
    )
    # Same instant: ordered by id, so app → website here, not website → app.
    make_event(db_session, other, tps["app"], T0)
    make_event(db_session, other, tps["website"], T0)
    db_session.commit()
    path = customer_path(db_session, customer)
    assert path.visit_counts == {"website": 1, "app": 2, "hotline": 3, "cancellation": 1}
    assert [v.key for v in path.visits] == ["website", "app", "hotline", "cancellation"]
    steps = {(s.source_key, s.target_key): s.count for s in path.steps}
    assert steps == {
        ("website", "app"): 1,
        ("app", "hotline"): 2,
        ("hotline", "app"): 1,
        ("hotline", "cancellation"): 1,
    }
    assert path.steps[0].count == 2  # most taken first
    assert {(s.source_key, s.target_key) for s in customer_path(db_session, other).steps} == {
        ("app", "website")
    }


def test_path_map_rings_visited_touchpoints_and_draws_the_counts(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    tps = small_journey(db_session)
    customer = make_customer(db_session, "K-1")
    _walk(db_session, customer, tps, ["app", "hotline", "app", "hotline"])
    login_as(Role.AGENT, language="en")
    html = client.get("/customers/K-1").get_data(as_text=True)
    assert 'class="map-node map-node-unvisited" data-key="island"' in html
    assert 'aria-label="Hotline: Visits: 2"' in html
    assert html.count('class="map-path-edge"') == 2 + 1  # two transitions plus the legend
    assert 'class="map-path-count"' in html
    assert "App → Hotline: 2 times" in html


def test_map_without_a_path_is_unchanged() -> None:
    from cxjourney.journey.map_svg import MapLabels, MapLane, MapNode

    labels = MapLabels("t", "d", "l", "f", "b", "e")
    node = MapNode("a", "A", "s", "/a", "#ffffff", "#000000", None)
    svg = str(render_map([MapLane("s", "S", 1)], [node], [], [], labels))
    assert "map-path" not in svg
    assert "visited" not in svg
    assert "arrow-path" not in svg


# --- personal data ---------------------------------------------------------------------------


def test_viewer_cannot_open_the_customer_page(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    make_customer(db_session, "K-1")
    login_as(Role.VIEWER)
    assert client.get("/customers/K-1").status_code == 403


def test_timeline_masks_personal_text_without_the_permission(db_session: Session) -> None:
    tps = small_journey(db_session)
    viewer = make_user(db_session, Role.VIEWER)
    customer = make_customer(db_session, "K-1")
    response = make_feedback(db_session, tps["app"], "nps", 2, T0, customer=customer)
    response.comment = "Sehr unzufrieden, Max"
    db_session.commit()
    timeline = profile.customer_timeline(db_session, customer, viewer=viewer)
    assert timeline.masked
    assert [(e.kind.value, e.comment) for e in timeline.entries] == [("feedback", None)]


def test_agents_see_comments_and_only_complaints_they_may_see(
    app: Flask, db_session: Session
) -> None:
    tps = small_journey(db_session)
    agent = make_user(db_session, Role.AGENT)  # no team, logged nothing
    customer = make_customer(db_session, "K-1")
    make_complaint(db_session, settings_for(app.config), customer=customer)
    response = make_feedback(db_session, tps["app"], "nps", 2, T0, customer=customer)
    response.comment = "Zu teuer"
    db_session.commit()
    entries = profile.customer_timeline(db_session, customer, viewer=agent).entries
    assert [(e.kind.value, e.comment) for e in entries] == [("feedback", "Zu teuer")]


# --- churn -----------------------------------------------------------------------------------


def test_set_churn_validates_date_and_reason(db_session: Session) -> None:
    customer = make_customer(db_session, "K-1", acquired_at=T0 - timedelta(days=10))
    _churn_reason(db_session)
    services.create_churn_reason(db_session, key="old", name="Alt", actor=None, at=T0)
    services.find_churn_reason(db_session, "old").active = False
    db_session.commit()
    cases = [
        (T0 - timedelta(days=11), "moved", {"churned_at"}),
        (T0 + timedelta(days=1), "moved", {"churned_at"}),
        (T0 - timedelta(days=1), None, {"churn_reason"}),
        (T0 - timedelta(days=1), "nope", {"churn_reason"}),
        (T0 - timedelta(days=1), "old", {"churn_reason"}),
    ]
    for churned_at, reason, fields in cases:
        with pytest.raises(ValidationError) as err:
            services.set_churn(
                db_session, customer, churned_at=churned_at, reason_key=reason, actor=None, at=T0
            )
        assert set(err.value.fields) == fields, (churned_at, reason)
    db_session.refresh(customer)
    assert customer.churned_at is None


def test_set_churn_and_undo_are_audited(db_session: Session) -> None:
    admin = make_user(db_session, Role.ADMIN)
    customer = make_customer(db_session, "K-1")
    _churn_reason(db_session)
    services.set_churn(db_session, customer, churned_at=T0, reason_key="moved", actor=admin, at=T0)
    services.set_churn(db_session, customer, churned_at=None, reason_key=None, actor=admin, at=T0)
    db_session.commit()
    entries = db_session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "customer").order_by(AuditLog.id)
    ).all()
    assert [e.action for e in entries][-2:] == ["customer.churned", "customer.churn_undone"]
    assert entries[-2].after["churn_reason"] == "moved"
    assert entries[-1].after["churned_at"] is None
    assert customer.churn_reason is None


def _post_churn(client: FlaskClient, data: dict) -> object:
    token = csrf_from(client.get("/customers/K-1").get_data(as_text=True))
    return client.post("/customers/K-1/churn", data={**data, "csrf_token": token})


def test_churn_form_marks_and_unmarks(client: FlaskClient, db_session: Session, login_as) -> None:
    make_customer(db_session, "K-1")
    _churn_reason(db_session)
    login_as(Role.AGENT, language="en")
    response = _post_churn(
        client, {"churned_on": "2026-01-15", "churn_reason": "moved", "save": "y"}
    )
    assert response.status_code == 302
    db_session.expire_all()
    customer = services.get_customer(db_session, "K-1")
    assert customer.churned_at.isoformat() == "2026-01-14T23:00:00+00:00"  # 00:00 Berlin
    html = client.get("/customers/K-1").get_data(as_text=True)
    assert "churned on" in html
    assert "Umzug" in html
    assert _post_churn(client, {"undo": "y"}).status_code == 302
    db_session.expire_all()
    assert services.get_customer(db_session, "K-1").churned_at is None


def test_churn_form_rejects_bad_input_and_saves_nothing(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    make_customer(db_session, "K-1", acquired_at=T0)
    _churn_reason(db_session)
    login_as(Role.AGENT, language="en")
    bad = [
        {"churned_on": "2026-03-01", "churn_reason": "moved", "save": "y"},  # before acquired
        {"churned_on": "2999-01-01", "churn_reason": "moved", "save": "y"},  # future
        {"churned_on": "2026-04-01", "churn_reason": "", "save": "y"},  # no reason
        {"churned_on": "", "churn_reason": "moved", "save": "y"},  # no date
    ]
    for data in bad:
        response = _post_churn(client, data)
        assert response.status_code == 422, data
        assert 'class="error"' in response.get_data(as_text=True)
    db_session.expire_all()
    assert services.get_customer(db_session, "K-1").churned_at is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TOUCHPOINT_MANAGER])
def test_only_customer_editors_may_set_churn(
    client: FlaskClient, db_session: Session, login_as, role: Role
) -> None:
    make_customer(db_session, "K-1")
    _churn_reason(db_session)
    login_as(role)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    response = client.post(
        "/customers/K-1/churn",
        data={"churned_on": "2026-01-15", "churn_reason": "moved", "csrf_token": token},
    )
    assert response.status_code == 403
    db_session.expire_all()
    assert services.get_customer(db_session, "K-1").churned_at is None


def test_managers_see_the_page_without_the_churn_form(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    make_customer(db_session, "K-1")
    login_as(Role.TOUCHPOINT_MANAGER)
    html = client.get("/customers/K-1").get_data(as_text=True)
    assert "/customers/K-1/churn" not in html
    assert "/customers/K-1/merge" not in html


def test_a_comment_tied_to_another_teams_complaint_is_hidden_on_the_timeline(
    app: Flask, db_session: Session
) -> None:
    tps = small_journey(db_session)
    customer = make_customer(db_session, "K-7")
    settings = settings_for(app.config)
    theirs = make_complaint(db_session, settings, touchpoint=tps["app"], customer=customer)
    ours = make_complaint(db_session, settings, touchpoint=tps["hotline"], customer=customer)
    for complaint, text in ((theirs, "Text of team Online"), (ours, "Text of our team")):
        answer = make_feedback(db_session, tps["hotline"], "csat", 1, T0, customer=customer)
        answer.comment, answer.complaint_id = text, complaint.id
    db_session.commit()
    assert theirs.team_id != ours.team_id
    agent = make_user(db_session, Role.AGENT, team=ours.team.name)

    timeline = profile.customer_timeline(db_session, customer, viewer=agent)

    comments = {e.comment for e in timeline.entries if e.kind is profile.EntryKind.FEEDBACK}
    assert comments == {"Text of our team", None}
