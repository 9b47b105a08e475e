"""Customers: the API contract, validation, search."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.customers import services
from cxjourney.customers.models import Customer

from .factories import T0, make_customer


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_read_and_times_in_utc(client: FlaskClient, db_session: Session, api_token) -> None:
    token = api_token(Role.AGENT)
    created = client.post(
        "/api/v1/customers",
        json={
            "external_ref": "K-4711",
            "name": "  Erika   Mustermann ",
            "email": "Erika@Example.org",
            "phone": "+49 (0)30 123-456",
            "segment": "privat",
            "acquired_at": "2025-07-01T00:00:00",  # naive: Europe/Berlin (CEST)
        },
        headers=_h(token),
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["name"] == "Erika Mustermann"
    assert body["email"] == "erika@example.org"
    assert body["acquired_at"] == "2025-06-30T22:00:00Z"
    assert body["churned_at"] is None
    read = client.get("/api/v1/customers/K-4711", headers=_h(token)).get_json()
    assert read == body


def test_every_bad_field_is_named(client: FlaskClient, db_session: Session, api_token) -> None:
    make_customer(db_session, "K-1")
    response = client.post(
        "/api/v1/customers",
        json={
            "external_ref": "K-1",
            "name": "X",
            "email": "not-an-email",
            "phone": "call me maybe",
            "acquired_at": "2025-07-01T00:00:00Z",
            "churned_at": "2024-01-01T00:00:00Z",
            "churn_reason": "unknown-reason",
            "referred_by": "K-404",
        },
        headers=_h(api_token(Role.ADMIN)),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {
        "external_ref",
        "email",
        "phone",
        "churned_at",
        "churn_reason",
        "referred_by",
    }
    assert db_session.scalar(select(func.count()).select_from(Customer)) == 1


def test_shape_errors_come_from_the_schema(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    response = client.post(
        "/api/v1/customers",
        json={"external_ref": "bad ref!", "acquired_at": "yesterday", "colour": "red"},
        headers=_h(api_token(Role.ADMIN)),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {
        "external_ref",
        "name",
        "acquired_at",
        "colour",
    }


def test_put_upserts_and_patch_changes_some_fields(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    token = api_token(Role.TEAM_LEAD)
    document = {"external_ref": "K-9", "name": "Neu", "acquired_at": "2025-01-01T00:00:00Z"}
    first = client.put("/api/v1/customers/K-9", json=document, headers=_h(token))
    assert first.status_code == 201
    second = client.put(
        "/api/v1/customers/K-9", json={**document, "name": "Neuer Name"}, headers=_h(token)
    )
    assert second.status_code == 200
    assert second.get_json()["name"] == "Neuer Name"
    mismatch = client.put(
        "/api/v1/customers/K-9", json={**document, "external_ref": "K-8"}, headers=_h(token)
    )
    assert mismatch.status_code == 422
    assert "external_ref" in mismatch.get_json()["error"]["fields"]
    patched = client.patch(
        "/api/v1/customers/K-9",
        json={"churned_at": "2026-02-01T10:00:00+01:00", "segment": "gewerbe"},
        headers=_h(token),
    )
    assert patched.status_code == 200
    assert patched.get_json()["churned_at"] == "2026-02-01T09:00:00Z"
    assert patched.get_json()["name"] == "Neuer Name"  # untouched


def test_churn_reason_and_referrer_are_resolved(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    make_customer(db_session, "K-1")
    admin = api_token(Role.ADMIN)
    reason = client.post(
        "/api/v1/churn-reasons", json={"key": "price", "name": "Preis"}, headers=_h(admin)
    )
    assert reason.status_code == 201
    body = client.post(
        "/api/v1/customers",
        json={
            "external_ref": "K-2",
            "name": "Geworben",
            "acquired_at": "2025-01-01T00:00:00Z",
            "churned_at": "2026-01-01T00:00:00Z",
            "churn_reason": "price",
            "referred_by": "K-1",
        },
        headers=_h(admin),
    ).get_json()
    assert body["churn_reason"] == "price"
    assert body["referred_by"] == "K-1"


def test_search_by_reference_name_email_and_phone(db_session: Session) -> None:
    make_customer(
        db_session, "K-100", name="Anna Schmidt", email="anna@example.org", phone="030 / 123 456 78"
    )
    make_customer(db_session, "K-200", name="Bernd Schmidt")
    make_customer(db_session, "K-1000", name="Carla Weber")

    def refs(text: str) -> list[str]:
        return [c.external_ref for c in services.search_customers(db_session, text)]

    assert refs("schmidt") == ["K-100", "K-200"]
    assert refs("ANNA@example") == ["K-100"]
    assert refs("+49 30 12345678") == []  # the stored number has no country code
    assert refs("12345678") == ["K-100"]
    assert refs("k-100")[0] == "K-100"  # the exact reference first
    assert refs("   ") == []


def test_viewer_cannot_read_customers(client: FlaskClient, db_session: Session, api_token) -> None:
    make_customer(db_session, "K-1")
    response = client.get("/api/v1/customers/K-1", headers=_h(api_token(Role.VIEWER)))
    assert response.status_code == 403


def test_list_is_paginated_and_searchable(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    for i in range(5):
        make_customer(db_session, f"K-{i}", name=f"Kunde {i}", acquired_at=T0)
    token = api_token(Role.AGENT)
    page = client.get("/api/v1/customers?limit=2", headers=_h(token)).get_json()
    refs = [c["external_ref"] for c in page["items"]]
    while page["next"]:
        page = client.get(
            f"/api/v1/customers?limit=2&cursor={page['next']}", headers=_h(token)
        ).get_json()
        refs += [c["external_ref"] for c in page["items"]]
    assert refs == [f"K-{i}" for i in range(5)]
    found = client.get("/api/v1/customers?q=kunde%203", headers=_h(token)).get_json()
    assert [c["external_ref"] for c in found["items"]] == ["K-3"]
