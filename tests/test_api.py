"""The API base: /me, touchpoints, transitions, teams, pagination, OpenAPI."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.journey import services as journey

from .factories import make_team, small_journey


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_me_returns_the_token_owner_and_permissions(client: FlaskClient, api_token) -> None:
    body = client.get("/api/v1/me", headers=_h(api_token(Role.VIEWER))).get_json()
    assert body["email"] == "api-viewer@example.org"
    assert body["role"] == "viewer"
    assert "edit_journey" not in body["permissions"]
    assert "view_journey" in body["permissions"]


def test_touchpoint_lifecycle_over_the_api(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    small_journey(db_session)
    token = api_token(Role.TOUCHPOINT_MANAGER)
    created = client.post(
        "/api/v1/touchpoints",
        json={
            "key": "fax-inbox",
            "name": "Fax-Eingang",
            "stage": "support",
            "owner_team": "Kundenservice",
            "channel": "fax",
        },
        headers=_h(token),
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["channel"] == "fax"
    assert created.get_json()["archived"] is False
    patched = client.patch(
        "/api/v1/touchpoints/fax-inbox", json={"name": "Faxeingang"}, headers=_h(token)
    )
    assert patched.status_code == 200
    assert patched.get_json()["name"] == "Faxeingang"
    link = client.post(
        "/api/v1/transitions",
        json={"source": "fax-inbox", "target": "hotline"},
        headers=_h(token),
    )
    assert link.status_code == 201
    archived = client.patch(
        "/api/v1/touchpoints/fax-inbox", json={"archived": True}, headers=_h(token)
    )
    assert archived.get_json()["archived"] is True
    ids = [
        t["id"] for t in client.get("/api/v1/transitions", headers=_h(token)).get_json()["items"]
    ]
    assert link.get_json()["id"] not in ids  # archiving removed its transitions
    restored = client.patch(
        "/api/v1/touchpoints/fax-inbox", json={"archived": False, "name": "Fax"}, headers=_h(token)
    )
    assert restored.get_json()["archived"] is False
    assert restored.get_json()["name"] == "Fax"


def test_creating_a_touchpoint_names_every_bad_field(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    small_journey(db_session)
    response = client.post(
        "/api/v1/touchpoints",
        json={
            "key": "Bad Key",
            "name": "",
            "stage": "support",
            "owner_team": None,
            "channel": "pigeon",
            "colour": "red",
        },
        headers=_h(api_token(Role.ADMIN)),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"key", "name", "channel", "colour"}
    unknown = client.post(
        "/api/v1/touchpoints",
        json={"key": "new", "name": "Neu", "stage": "nowhere", "owner_team": "Nobody"},
        headers=_h(api_token(Role.ADMIN)),
    )
    assert unknown.status_code == 422
    assert set(unknown.get_json()["error"]["fields"]) == {"stage", "owner_team"}


def test_transition_rules_hold_over_the_api(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    small_journey(db_session)
    token = api_token(Role.ADMIN)
    loop = client.post(
        "/api/v1/transitions", json={"source": "app", "target": "app"}, headers=_h(token)
    )
    assert loop.status_code == 422
    duplicate = client.post(
        "/api/v1/transitions", json={"source": "app", "target": "hotline"}, headers=_h(token)
    )
    assert duplicate.status_code == 422
    transitions = client.get("/api/v1/transitions", headers=_h(token)).get_json()["items"]
    back = next(t for t in transitions if t["source"] == "hotline" and t["target"] == "app")
    assert back["backward"] is True
    assert client.delete(f"/api/v1/transitions/{back['id']}", headers=_h(token)).status_code == 204
    assert client.delete(f"/api/v1/transitions/{back['id']}", headers=_h(token)).status_code == 404


def test_lists_are_paginated_with_a_cursor(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    small_journey(db_session)
    token = api_token(Role.VIEWER)
    first = client.get("/api/v1/touchpoints?limit=2", headers=_h(token)).get_json()
    assert len(first["items"]) == 2
    assert first["next"]
    keys = [t["key"] for t in first["items"]]
    cursor = first["next"]
    while cursor:
        page = client.get(f"/api/v1/touchpoints?limit=2&cursor={cursor}", headers=_h(token))
        body = page.get_json()
        keys += [t["key"] for t in body["items"]]
        cursor = body["next"]
    assert sorted(keys) == sorted(tp.key for tp in journey.list_touchpoints(db_session))
    bad = client.get("/api/v1/touchpoints?cursor=%%%", headers=_h(token))
    assert bad.status_code == 422
    too_many = client.get("/api/v1/touchpoints?limit=100000", headers=_h(token))
    assert too_many.status_code == 422


def test_teams_list_for_everyone_create_for_admins(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    make_team(db_session, "Abrechnung")
    db_session.commit()
    listing = client.get("/api/v1/teams", headers=_h(api_token(Role.AGENT))).get_json()
    assert [t["name"] for t in listing["items"]] == ["Abrechnung"]
    refused = client.post("/api/v1/teams", json={"name": "X"}, headers=_h(api_token(Role.AGENT)))
    assert refused.status_code == 403
    created = client.post(
        "/api/v1/teams", json={"name": "Vertrieb"}, headers=_h(api_token(Role.ADMIN))
    )
    assert created.status_code == 201
    assert created.get_json()["name"] == "Vertrieb"
    taken = client.post(
        "/api/v1/teams", json={"name": "vertrieb"}, headers=_h(api_token(Role.ADMIN))
    )
    assert taken.status_code == 422
    assert "name" in taken.get_json()["error"]["fields"]


def test_openapi_document_describes_every_endpoint_from_the_schemas(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    expected = {
        "/api/v1/me": {"get"},
        "/api/v1/journey": {"get", "put"},
        "/api/v1/touchpoints": {"get", "post"},
        "/api/v1/touchpoints/{key}": {"get", "patch"},
        "/api/v1/transitions": {"get", "post"},
        "/api/v1/transitions/{transition_id}": {"delete"},
        "/api/v1/teams": {"get", "post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    schemas = spec["components"]["schemas"]
    assert "TouchpointCreate" in schemas
    assert set(schemas["TouchpointCreate"]["required"]) == {"key", "name", "stage", "owner_team"}
    put_body = paths["/api/v1/journey"]["put"]["requestBody"]["content"]["application/json"]
    assert put_body["schema"]["$ref"].endswith("/JourneyDocument")
    assert "bearerAuth" in spec["components"]["securitySchemes"]
