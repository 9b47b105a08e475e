"""The complaints API: intake, idempotency, filters, detail, transitions, notes, replies, assign."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints.models import Complaint

from .conftest import make_user
from .factories import make_category, make_customer, make_team, make_touchpoint


def _h(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def _setup(session: Session) -> None:
    make_touchpoint(session, "hotline")
    make_category(session, "billing", "Rechnung")
    make_customer(session, "K-1")
    session.commit()


BODY = {
    "customer_ref": "K-1",
    "touchpoint": "hotline",
    "channel": "letter",
    "category": "billing",
    "severity": "high",
    "subject": "Doppelte Abbuchung",
    "description": "Im März wurde zweimal abgebucht.",
    "received_at": "2026-03-02T09:00:00+01:00",
}


def test_create_returns_the_contract_shape(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    _setup(db_session)
    response = client.post("/api/v1/complaints", json=BODY, headers=_h(api_token(Role.AGENT)))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    contract = {
        "reference",
        "status",
        "touchpoint",
        "team",
        "assignee",
        "version",
        "routed_by",
        "created_at",
        "received_at",
        "sla",
    }
    assert contract <= set(body)
    assert body["touchpoint"] == "hotline"
    assert body["team"] == "Kundenservice"
    assert body["assignee"] is None
    assert body["routed_by"] == "owner"
    assert body["status"] == "new"
    assert body["received_at"] == "2026-03-02T08:00:00Z"
    assert {"first_response_due", "next_update_due", "resolution_due", "state"} <= set(body["sla"])
    assert body["sla"]["state"] in {"ok", "at_risk", "breached"}


def test_unknown_references_are_named(client: FlaskClient, db_session: Session, api_token) -> None:
    _setup(db_session)
    response = client.post(
        "/api/v1/complaints",
        json={**BODY, "customer_ref": "K-404", "touchpoint": "nowhere", "category": "x"},
        headers=_h(api_token(Role.AGENT)),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"customer_ref", "touchpoint", "category"}


def test_the_same_idempotency_key_twice_gives_one_complaint(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    _setup(db_session)
    token = api_token(Role.AGENT)
    first = client.post(
        "/api/v1/complaints", json=BODY, headers=_h(token, **{"Idempotency-Key": "k1"})
    )
    again = client.post(
        "/api/v1/complaints", json=BODY, headers=_h(token, **{"Idempotency-Key": "k1"})
    )
    other = client.post(
        "/api/v1/complaints", json=BODY, headers=_h(token, **{"Idempotency-Key": "k2"})
    )
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.get_json()["reference"] == again.get_json()["reference"]
    assert other.get_json()["reference"] != first.get_json()["reference"]
    assert db_session.scalar(select(func.count()).select_from(Complaint)) == 2


def test_invalid_transition_is_a_422_and_stale_version_a_409(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    _setup(db_session)
    token = api_token(Role.AGENT)
    created = client.post("/api/v1/complaints", json=BODY, headers=_h(token)).get_json()
    ref, version = created["reference"], created["version"]
    closed = client.post(
        f"/api/v1/complaints/{ref}/transition",
        json={"to": "closed", "version": version},
        headers=_h(token),
    )
    assert closed.status_code == 422
    assert "to" in closed.get_json()["error"]["fields"]
    unresolved = client.post(
        f"/api/v1/complaints/{ref}/transition",
        json={"to": "resolved", "version": version},
        headers=_h(token),
    )
    assert unresolved.status_code == 422
    assert set(unresolved.get_json()["error"]["fields"]) == {"resolution_code", "resolution"}
    moved = client.post(
        f"/api/v1/complaints/{ref}/transition",
        json={"to": "in_progress", "version": version},
        headers=_h(token),
    )
    assert moved.status_code == 200
    stale = client.post(
        f"/api/v1/complaints/{ref}/transition",
        json={"to": "waiting_on_customer", "version": version},
        headers=_h(token),
    )
    assert stale.status_code == 409
    assert stale.get_json()["error"]["code"] == "conflict"
    resolved = client.post(
        f"/api/v1/complaints/{ref}/transition",
        json={
            "to": "resolved",
            "version": moved.get_json()["version"],
            "resolution_code": "credit",
            "resolution": "Gutschrift erteilt",
            "compensation": "15.50",
        },
        headers=_h(token),
    )
    assert resolved.status_code == 200
    assert resolved.get_json()["compensation"] == "15.50"
    kinds = [e["kind"] for e in resolved.get_json()["timeline"]]
    assert kinds.count("status_changed") == 2


def test_notes_replies_and_the_first_response(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    _setup(db_session)
    token = api_token(Role.AGENT)
    ref = client.post("/api/v1/complaints", json=BODY, headers=_h(token)).get_json()["reference"]
    note = client.post(
        f"/api/v1/complaints/{ref}/notes", json={"text": "Intern: prüfen"}, headers=_h(token)
    )
    assert note.status_code == 201
    assert note.get_json()["first_response_at"] is None
    reply = client.post(
        f"/api/v1/complaints/{ref}/replies",
        json={"text": "Wir prüfen das.", "channel": "letter"},
        headers=_h(token),
    )
    assert reply.status_code == 201
    body = reply.get_json()
    assert body["first_response_at"] is not None
    assert body["status"] == "in_progress"
    assert [e["kind"] for e in body["timeline"]][-2:] == ["status_changed", "reply"]
    assert body["timeline"][-1]["channel"] == "letter"


def test_assigning_to_others_needs_a_team_lead(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    _setup(db_session)
    make_team(db_session, "Kundenservice")
    colleague = make_user(
        db_session, Role.AGENT, email="colleague@example.org", team="Kundenservice"
    )
    agent_token = api_token(Role.AGENT)
    ref = client.post("/api/v1/complaints", json=BODY, headers=_h(agent_token)).get_json()[
        "reference"
    ]
    lead = make_user(db_session, Role.TEAM_LEAD, email="lead@example.org", team="Kundenservice")
    from cxjourney.auth.services import issue_token

    from .factories import T0

    lead_token = issue_token(db_session, lead, actor=None, at=T0)
    db_session.commit()
    refused = client.post(
        f"/api/v1/complaints/{ref}/assign",
        json={"assignee": colleague.email},
        headers=_h(agent_token),
    )
    assert refused.status_code in {403, 404}
    assigned = client.post(
        f"/api/v1/complaints/{ref}/assign",
        json={"assignee": colleague.email},
        headers=_h(lead_token),
    )
    assert assigned.status_code == 200
    assert assigned.get_json()["assignee"] == colleague.email


def test_list_filters_and_visibility(client: FlaskClient, db_session: Session, api_token) -> None:
    _setup(db_session)
    make_touchpoint(db_session, "app", owner_team="Online")
    token = api_token(Role.ADMIN)
    for touchpoint in ("hotline", "hotline", "app"):
        client.post(
            "/api/v1/complaints", json={**BODY, "touchpoint": touchpoint}, headers=_h(token)
        )
    everything = client.get("/api/v1/complaints", headers=_h(token)).get_json()["items"]
    assert len(everything) == 3
    by_tp = client.get("/api/v1/complaints?touchpoint=app", headers=_h(token)).get_json()["items"]
    assert [c["touchpoint"] for c in by_tp] == ["app"]
    by_team = client.get("/api/v1/complaints?team=Online", headers=_h(token)).get_json()["items"]
    assert len(by_team) == 1
    page = client.get("/api/v1/complaints?limit=2", headers=_h(token)).get_json()
    rest = client.get(
        f"/api/v1/complaints?limit=2&cursor={page['next']}", headers=_h(token)
    ).get_json()
    assert len(page["items"]) + len(rest["items"]) == 3
    assert rest["next"] is None
    make_team(db_session, "Abrechnung")
    outsider = make_user(db_session, Role.AGENT, email="out@example.org", team="Abrechnung")
    from cxjourney.auth.services import issue_token

    from .factories import T0

    outsider_token = issue_token(db_session, outsider, actor=None, at=T0)
    db_session.commit()
    assert client.get("/api/v1/complaints", headers=_h(outsider_token)).get_json()["items"] == []
    ref = everything[0]["reference"]
    assert client.get(f"/api/v1/complaints/{ref}", headers=_h(outsider_token)).status_code == 404


def test_assignment_notifies_the_assignee_in_their_language(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    from cxjourney.notifications.models import OutboxMessage

    _setup(db_session)
    colleague = make_user(
        db_session, Role.AGENT, email="kollegin@example.org", team="Kundenservice", language="de"
    )
    token = api_token(Role.ADMIN)
    ref = client.post("/api/v1/complaints", json=BODY, headers=_h(token)).get_json()["reference"]
    response = client.post(
        f"/api/v1/complaints/{ref}/assign", json={"assignee": colleague.email}, headers=_h(token)
    )
    assert response.status_code == 200
    mails = db_session.scalars(select(OutboxMessage)).all()
    assert [m.to_address for m in mails] == [colleague.email]
    assert mails[0].language == "de"
    assert ref in mails[0].subject
    assert f"/complaints/{ref}" in mails[0].body


def test_the_sla_state_filter(client: FlaskClient, db_session: Session, api_token) -> None:
    from .factories import make_policy

    _setup(db_session)
    make_policy(db_session, "high", business_hours=False, first_response_minutes=60)
    db_session.commit()
    token = api_token(Role.ADMIN)
    late = client.post("/api/v1/complaints", json=BODY, headers=_h(token)).get_json()  # 2026-03
    fresh = client.post(
        "/api/v1/complaints", json={**BODY, "received_at": None}, headers=_h(token)
    ).get_json()
    assert late["sla"]["state"] == "breached"
    assert fresh["sla"]["state"] == "ok"

    def refs(state: str) -> list[str]:
        body = client.get(f"/api/v1/complaints?sla_state={state}", headers=_h(token)).get_json()
        return [c["reference"] for c in body["items"]]

    assert refs("breached") == [late["reference"]]
    assert refs("ok") == [fresh["reference"]]
    assert refs("at_risk") == []
