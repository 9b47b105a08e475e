"""Complaint and customer pages: intake, duplicate hint, work on a complaint, conflicts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints import services
from cxjourney.complaints.models import Complaint, ComplaintStatus, EventKind
from cxjourney.customers.models import Customer

from .conftest import csrf_from, post_form
from .factories import make_category, make_customer, make_team, make_touchpoint

INTAKE = {
    "customer_ref": "K-1",
    "touchpoint": "hotline",
    "channel": "letter",
    "category": "billing",
    "severity": "high",
    "subject": "Brief wegen Abbuchung",
    "description": "Der Kunde schreibt, es wurde doppelt abgebucht.",
    "received_at": "2026-11-20T10:00",
}


@pytest.fixture
def journey(db_session: Session) -> None:
    make_touchpoint(db_session, "hotline")
    make_category(db_session, "billing", "Rechnung")
    make_customer(db_session, "K-1", name="Max Mustermann")
    db_session.commit()


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_an_agent_logs_a_letter_and_sees_where_it_went(
    client: FlaskClient, db_session: Session, login_as, journey
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    response = post_form(client, "/complaints/new?customer=K-1", "/complaints/new", INTAKE)
    assert response.status_code == 302
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    assert re.fullmatch(r"CX-\d{4}-\d{6}", reference)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert reference in page
    assert "Kundenservice" in page  # the owning team, with the reason
    complaint = db_session.scalar(select(Complaint).where(Complaint.reference == reference))
    assert complaint.received_at.isoformat() == "2026-11-20T09:00:00+00:00"  # Berlin → UTC


def test_a_likely_duplicate_is_pointed_out_and_can_be_linked(
    client: FlaskClient, db_session: Session, login_as, journey
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    # Received two days ago: inside the 14-day window of the hint, whatever today is.
    recent = (datetime.now(ZoneInfo("Europe/Berlin")) - timedelta(days=2)).strftime(
        "%Y-%m-%dT10:00"
    )
    intake = {**INTAKE, "received_at": recent}
    first = post_form(client, "/complaints/new?customer=K-1", "/complaints/new", intake)
    reference = first.headers["Location"].rsplit("/", 1)[-1]
    again = post_form(
        client,
        "/complaints/new?customer=K-1",
        "/complaints/new",
        {**intake, "channel": "fax", "description": "Jetzt auch per Fax"},
    )
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert reference in html
    assert 'value="Jetzt auch per Fax"' in html or "Jetzt auch per Fax" in html  # kept
    assert _count(db_session, Complaint) == 1
    linked = client.post(
        "/complaints/new",
        data={
            **INTAKE,
            "channel": "fax",
            "description": "Jetzt auch per Fax",
            "confirm_new": "1",
            "link_to": reference,
            "csrf_token": csrf_from(html),
        },
    )
    assert linked.status_code == 302
    assert _count(db_session, Complaint) == 1
    complaint = db_session.scalar(select(Complaint).where(Complaint.reference == reference))
    assert [e.kind for e in services.timeline(db_session, complaint)][-1] is EventKind.LINKED
    created = client.post(
        "/complaints/new",
        data={
            **INTAKE,
            "confirm_new": "1",
            "csrf_token": csrf_from(html),
        },
    )
    assert created.status_code == 302
    assert _count(db_session, Complaint) == 2


def test_a_new_customer_is_created_inside_the_form(
    client: FlaskClient, db_session: Session, login_as, journey
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    response = post_form(
        client,
        "/complaints/new",
        None,
        {
            **INTAKE,
            "customer_ref": "K-77",
            "new_customer_name": "Neue Kundin",
            "new_customer_email": "neu@example.org",
        },
    )
    assert response.status_code == 302
    customer = db_session.scalar(select(Customer).where(Customer.external_ref == "K-77"))
    assert customer is not None
    assert customer.email == "neu@example.org"


def test_bad_intake_keeps_what_was_typed_and_saves_nothing(
    client: FlaskClient, db_session: Session, login_as, journey
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    response = post_form(
        client,
        "/complaints/new",
        None,
        {
            **INTAKE,
            "customer_ref": "K-404",
            "subject": "Mein <b>Betreff</b>",
            "received_at": "2099-01-01T10:00",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Mein &lt;b&gt;Betreff&lt;/b&gt;" in html
    assert _count(db_session, Complaint) == 0
    assert _count(db_session, Customer) == 1


def _log(client: FlaskClient) -> str:
    response = post_form(client, "/complaints/new?customer=K-1", "/complaints/new", INTAKE)
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_reply_status_and_the_version_conflict(
    client: FlaskClient, db_session: Session, login_as, journey
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    reference = _log(client)
    page = client.get(f"/complaints/{reference}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    token = csrf_from(page)
    reply = client.post(
        f"/complaints/{reference}/reply",
        data={
            "csrf_token": token,
            "version": version,
            "channel": "letter",
            "text": "Wir prüfen das.",
        },
    )
    assert reply.status_code == 302
    stale = client.post(
        f"/complaints/{reference}/status",
        data={
            "csrf_token": token,
            "version": version,
            "to": "waiting_on_customer",
            "note": "Rückfrage zur Kontonummer",
        },
    )
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Rückfrage zur Kontonummer" in html  # what the user typed is kept
    complaint = db_session.scalar(select(Complaint).where(Complaint.reference == reference))
    assert complaint.status is ComplaintStatus.IN_PROGRESS
    fresh = re.search(r'name="version" value="(\d+)"', html).group(1)
    resolve = client.post(
        f"/complaints/{reference}/status",
        data={
            "csrf_token": token,
            "version": fresh,
            "to": "resolved",
            "note": "",
        },
    )
    assert resolve.status_code == 422
    ok = client.post(
        f"/complaints/{reference}/status",
        data={
            "csrf_token": token,
            "version": fresh,
            "to": "resolved",
            "resolution_code": "credit",
            "resolution": "Gutschrift",
            "compensation": "10.00",
        },
    )
    assert ok.status_code == 302
    db_session.expire_all()
    assert complaint.status is ComplaintStatus.RESOLVED


def test_an_agent_of_another_team_cannot_open_it(
    client: FlaskClient, db_session: Session, login_as, journey
) -> None:
    from cxjourney.complaints.services import Settings  # noqa: F401 - imported for the factory

    from .factories import make_complaint, settings_for

    complaint = make_complaint(db_session, settings_for(client.application.config))
    make_team(db_session, "Abrechnung")
    db_session.commit()
    login_as(Role.AGENT, team="Abrechnung")
    assert client.get(f"/complaints/{complaint.reference}").status_code == 404


def test_markup_in_a_complaint_is_shown_escaped(
    client: FlaskClient, db_session: Session, login_as, journey
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    response = post_form(
        client,
        "/complaints/new?customer=K-1",
        "/complaints/new",
        {
            **INTAKE,
            "subject": "<script>alert(1)</script>",
            "description": "<img src=x onerror=1>",
        },
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
