"""Merging a duplicate customer into the survivor: everything moves, once, recorded."""

from __future__ import annotations

import os
import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.audit.models import AuditLog
from cxjourney.auth.models import Role
from cxjourney.complaints.models import Complaint
from cxjourney.customers import services
from cxjourney.customers.events import CheckedBatch, EventInput, check_events, insert_events
from cxjourney.customers.merge import merge_customers
from cxjourney.customers.models import Customer, CustomerMerge, CustomerValue, JourneyEvent
from cxjourney.errors import ValidationError
from cxjourney.extensions import db
from cxjourney.feedback.models import FeedbackResponse, SurveyInvitation

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


def _count(session: Session, model: type, customer_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(model).where(model.customer_id == customer_id)
    )


def _duplicate_with_history(app: Flask, session: Session) -> tuple[Customer, Customer]:
    tps = small_journey(session)
    survivor = make_customer(session, "K-1", name="Max Mustermann", phone="030 1234")
    duplicate = make_customer(
        session,
        "K-1-dup",
        name="Max Musterman",
        email="max@example.org",
        phone="0170 999",
        segment="privat",
        acquired_at=T0 - timedelta(days=900),
    )
    make_event(session, survivor, tps["website"], T0 - timedelta(days=5))
    make_event(session, duplicate, tps["app"], T0 - timedelta(days=4))
    make_event(session, duplicate, tps["hotline"], T0 - timedelta(days=3))
    make_feedback(session, tps["app"], "nps", 4, T0, customer=duplicate)
    make_value(session, duplicate, "revenue", "30.00", date(2025, 5, 1))
    session.add(
        SurveyInvitation(
            customer_id=duplicate.id,
            touchpoint_id=tps["hotline"].id,
            token_hash="a" * 64,
            sent_at=T0,
            expires_at=T0 + timedelta(days=14),
        )
    )
    session.commit()
    make_complaint(session, settings_for(app.config), customer=duplicate)
    make_customer(session, "K-9", referred_by="K-1-dup")
    return survivor, duplicate


def test_merge_moves_everything_and_records_it(app: Flask, db_session: Session) -> None:
    survivor, duplicate = _duplicate_with_history(app, db_session)
    admin = make_user(db_session, Role.ADMIN)
    duplicate_id = duplicate.id
    merge = merge_customers(db_session, survivor, duplicate, actor=admin, at=T0)
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(Customer, duplicate_id) is None
    for model, n in (
        (JourneyEvent, 3),
        (Complaint, 1),
        (FeedbackResponse, 1),
        (CustomerValue, 1),
        (SurveyInvitation, 1),
    ):
        assert _count(db_session, model, survivor.id) == n, model.__name__
        assert _count(db_session, model, duplicate_id) == 0, model.__name__
    assert services.get_customer(db_session, "K-9").referred_by_id == survivor.id
    # Empty fields are filled, filled ones kept; the earlier acquisition counts.
    assert survivor.email == "max@example.org"
    assert survivor.phone == "030 1234"
    assert survivor.segment == "privat"
    assert survivor.name == "Max Mustermann"
    assert survivor.acquired_at == T0 - timedelta(days=900)
    stored = db_session.get(CustomerMerge, merge.id)
    assert (stored.survivor_id, stored.merged_ref, stored.merged_name) == (
        survivor.id,
        "K-1-dup",
        "Max Musterman",
    )
    assert stored.actor_id == admin.id
    assert {
        k: v
        for k, v in stored.moved.items()
        if k
        in {
            "journey_event",
            "complaint",
            "feedback_response",
            "customer_value",
            "survey_invitation",
            "customer.referred_by_id",
        }
    } == {
        "journey_event": 2,
        "complaint": 1,
        "feedback_response": 1,
        "customer_value": 1,
        "survey_invitation": 1,
        "customer.referred_by_id": 1,
    }
    audit = db_session.scalar(select(AuditLog).where(AuditLog.action == "customer.merged"))
    assert audit.entity_id == survivor.id
    assert audit.after["merged_ref"] == "K-1-dup"


def test_a_customer_cannot_be_merged_into_itself(db_session: Session) -> None:
    customer = make_customer(db_session, "K-1")
    with pytest.raises(ValidationError) as err:
        merge_customers(db_session, customer, customer, actor=None, at=T0)
    assert set(err.value.fields) == {"duplicate"}
    db_session.rollback()
    assert services.find_customer(db_session, "K-1") is not None


def test_survivor_referred_by_its_duplicate_takes_over_the_duplicates_referrer(
    db_session: Session,
) -> None:
    make_customer(db_session, "K-0")
    make_customer(db_session, "K-2", referred_by="K-0")
    survivor = make_customer(db_session, "K-1", referred_by="K-2")
    duplicate = services.get_customer(db_session, "K-2")
    merge_customers(db_session, survivor, duplicate, actor=None, at=T0)
    db_session.commit()
    db_session.expire_all()
    assert survivor.referred_by.external_ref == "K-0"


def test_earlier_merges_into_the_duplicate_move_to_the_survivor(db_session: Session) -> None:
    a = make_customer(db_session, "K-1")
    b = make_customer(db_session, "K-2")
    c = make_customer(db_session, "K-3")
    merge_customers(db_session, b, c, actor=None, at=T0)
    db_session.commit()
    merge_customers(db_session, a, b, actor=None, at=T0 + timedelta(hours=1))
    db_session.commit()
    refs = db_session.scalars(
        select(CustomerMerge.merged_ref).where(CustomerMerge.survivor_id == a.id)
    ).all()
    assert sorted(refs) == ["K-2", "K-3"]


def _merge_page(client: FlaskClient, data: dict) -> object:
    token = csrf_from(client.get("/customers/K-1/merge").get_data(as_text=True))
    return client.post("/customers/K-1/merge", data={**data, "csrf_token": token})


def test_merge_form_previews_then_merges_and_the_timeline_shows_it(
    app: Flask, client: FlaskClient, db_session: Session, login_as
) -> None:
    _duplicate_with_history(app, db_session)
    login_as(Role.TEAM_LEAD, language="en")
    preview = _merge_page(client, {"duplicate": "K-1-dup"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Merge K-1-dup into K-1?" in html
    assert "Journey events" in html
    assert services.find_customer(db_session, "K-1-dup") is not None  # nothing done yet
    done = _merge_page(client, {"duplicate": "K-1-dup", "confirm": "y"})
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/customers/K-1")
    db_session.expire_all()
    assert services.find_customer(db_session, "K-1-dup") is None
    page = client.get("/customers/K-1").get_data(as_text=True)
    assert "Duplicate K-1-dup merged into this customer" in page
    assert 'class="timeline-entry timeline-merge"' in page


@pytest.mark.parametrize(
    ("duplicate", "message"),
    [("K-1", "cannot be merged into itself"), ("K-404", "No customer with the reference")],
)
def test_merge_form_names_the_problem(
    client: FlaskClient, db_session: Session, login_as, duplicate: str, message: str
) -> None:
    make_customer(db_session, "K-1")
    login_as(Role.TEAM_LEAD, language="en")
    response = _merge_page(client, {"duplicate": duplicate, "confirm": "y"})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert services.find_customer(db_session, "K-1") is not None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TOUCHPOINT_MANAGER, Role.AGENT])
def test_only_team_leads_and_admins_may_merge(
    client: FlaskClient, db_session: Session, login_as, role: Role
) -> None:
    make_customer(db_session, "K-1")
    make_customer(db_session, "K-2")
    login_as(role)
    assert client.get("/customers/K-1/merge").status_code == 403
    token = csrf_from(client.get("/account").get_data(as_text=True))
    response = client.post(
        "/customers/K-1/merge", data={"duplicate": "K-2", "confirm": "y", "csrf_token": token}
    )
    assert response.status_code == 403
    assert services.find_customer(db_session, "K-2") is not None


def _event_input(ref: str, touchpoint: str = "website") -> EventInput:
    return EventInput(ref, touchpoint, "2026-01-05T10:00:00+01:00", "web")


@pytest.mark.skipif(
    "postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
    reason="the lock protocol of the events table is PostgreSQL's (SQLite serialises writers)",
)
def test_a_merge_waits_for_an_event_write_that_looked_up_the_duplicate(
    app: Flask, db_session: Session
) -> None:
    """journey_event has no foreign key: the table locks must keep events from pointing at
    a merged-away customer."""
    small_journey(db_session)
    survivor = make_customer(db_session, "K-1")
    duplicate = make_customer(db_session, "K-1-dup")
    survivor_id, duplicate_id = survivor.id, duplicate.id
    db_session.commit()
    writer = Session(db.engine)
    merged = threading.Event()
    errors: list[BaseException] = []
    try:
        batch = check_events(writer, [_event_input("K-1-dup")], zone=ZoneInfo("Europe/Berlin"))
        assert not batch.problems

        def merge() -> None:
            with app.app_context():
                try:
                    merger = Session(db.engine)
                    merge_customers(
                        merger,
                        merger.get(Customer, survivor_id),
                        merger.scalars(select(Customer).filter_by(external_ref="K-1-dup")).one(),
                        actor=None,
                        at=T0,
                    )
                    merger.commit()
                    merger.close()
                except BaseException as exc:  # reported by the test
                    errors.append(exc)
                finally:
                    merged.set()

        thread = threading.Thread(target=merge)
        thread.start()
        # The merge must wait for the writer that looked the duplicate up.
        assert not merged.wait(1.0)
        insert_events(writer, batch.accepted, source="api", at=T0)
        writer.commit()
        thread.join(10)
        assert merged.is_set()
        assert not errors
    finally:
        writer.close()
    db_session.expire_all()
    assert _count(db_session, JourneyEvent, survivor_id) == 1
    assert _count(db_session, JourneyEvent, duplicate_id) == 0


@pytest.mark.skipif(
    "postgresql" not in os.environ.get("TEST_DATABASE_URL", ""),
    reason="the lock protocol of the events table is PostgreSQL's (SQLite serialises writers)",
)
def test_an_event_write_after_a_merge_no_longer_finds_the_duplicate(
    app: Flask, db_session: Session
) -> None:
    small_journey(db_session)
    survivor = make_customer(db_session, "K-1")
    make_customer(db_session, "K-1-dup")
    db_session.commit()
    merger = Session(db.engine)
    merge_customers(
        merger,
        merger.get(Customer, survivor.id),
        merger.scalars(select(Customer).filter_by(external_ref="K-1-dup")).one(),
        actor=None,
        at=T0,
    )
    outcome: list[CheckedBatch] = []

    def write() -> None:
        with app.app_context():
            writer = Session(db.engine)
            outcome.append(
                check_events(writer, [_event_input("K-1-dup")], zone=ZoneInfo("Europe/Berlin"))
            )
            writer.rollback()
            writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive(), "the writer must wait for the merge"
    merger.commit()
    merger.close()
    thread.join(10)
    assert set(outcome[0].problems[0]) == {"customer_ref"}
