"""The journey document: GET/PUT /api/v1/journey and ``cxjourney journey export|import``."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints.models import RoutingRule, SlaPolicy
from cxjourney.demo.services import DemoOptions, load_demo, wipe_database
from cxjourney.journey.document import export_journey, import_journey
from cxjourney.journey.models import Stage, Touchpoint, Transition

from .conftest import make_user
from .factories import T0, small_journey


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _counts(session: Session) -> tuple[int, int, int]:
    session.expire_all()
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(model))
        for model in (Stage, Touchpoint, Transition)
    )


def test_get_returns_the_document_with_validation(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    small_journey(db_session)
    response = client.get("/api/v1/journey", headers=_auth(api_token(Role.VIEWER)))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"stages", "touchpoints", "transitions", "validation"}
    assert [s["key"] for s in body["stages"]] == ["purchase", "usage", "support"]
    hotline = next(t for t in body["touchpoints"] if t["key"] == "hotline")
    assert hotline == {
        "key": "hotline",
        "name": "Hotline",
        "stage": "support",
        "owner_team": "Kundenservice",
        "manager": None,
        "description": "",
        "channel": None,
        "exit": False,
        "archived": False,
    }
    assert {"source": "hotline", "target": "app"} in body["transitions"]
    assert body["validation"] == {
        "entries": ["island", "website"],
        "unreachable": [],
        "dead_ends": ["island"],
        "backward": [["hotline", "app"]],
    }


def test_export_import_into_an_empty_database_export_is_identical(db_session: Session) -> None:
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    first = export_journey(db_session)
    # an empty journey: same accounts, no stages/touchpoints/transitions
    db_session.execute(RoutingRule.__table__.delete())  # the demo's rules and policies
    db_session.execute(SlaPolicy.__table__.delete())  # refer to touchpoints
    db_session.execute(Transition.__table__.delete())
    db_session.execute(Touchpoint.__table__.delete())
    db_session.execute(Stage.__table__.delete())
    db_session.commit()
    assert _counts(db_session) == (0, 0, 0)
    import_journey(db_session, json.loads(json.dumps(first)), actor=None, at=T0)
    db_session.commit()
    second = export_journey(db_session)
    assert json.dumps(second, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert _counts(db_session) == (7, 36, 70)


def test_import_into_a_fresh_database_creates_missing_teams(db_session: Session) -> None:
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    document = export_journey(db_session)
    for tp in document["touchpoints"]:
        tp["manager"] = None  # accounts cannot come from a journey document
    wipe_database(db_session)
    db_session.commit()
    summary = import_journey(db_session, document, actor=None, at=T0)
    db_session.commit()
    assert len(summary.teams_created) == 5
    assert export_journey(db_session) == document


def _bad_document() -> dict:
    return {
        "stages": [
            {"key": "purchase", "name": "Kauf", "position": 1},
            {"key": "usage", "name": "Nutzung", "position": 2},
        ],
        "touchpoints": [
            {"key": "website", "name": "Website", "stage": "purchase", "owner_team": "Online"},
            {"key": "app", "name": "App", "stage": "nowhere", "owner_team": "Online"},
            {"key": "website", "name": "Website 2", "stage": "usage", "owner_team": "Online"},
        ],
        "transitions": [
            {"source": "website", "target": "ghost"},
            {"source": "app", "target": "app"},
        ],
    }


def test_put_with_four_problems_is_one_422_naming_all_and_changes_nothing(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    small_journey(db_session)
    token = api_token(Role.TOUCHPOINT_MANAGER)
    before = client.get("/api/v1/journey", headers=_auth(token)).get_json()
    counts = _counts(db_session)
    response = client.put("/api/v1/journey", json=_bad_document(), headers=_auth(token))
    assert response.status_code == 422
    error = response.get_json()["error"]
    fields = error["fields"]
    assert (
        "stage" in fields["touchpoints[1].stage"].lower()
        or "phase" in fields["touchpoints[1].stage"].lower()
    )
    assert "nowhere" in fields["touchpoints[1].stage"]
    assert "website" in fields["touchpoints[2].key"]  # duplicate key
    assert "ghost" in fields["transitions[0].target"]  # missing touchpoint
    assert "transitions[1]" in fields  # self-loop
    assert len(fields) == 4, fields
    assert _counts(db_session) == counts
    assert client.get("/api/v1/journey", headers=_auth(token)).get_json() == before


def test_put_replaces_the_journey_and_archives_what_is_missing(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    small_journey(db_session)
    token = api_token(Role.TOUCHPOINT_MANAGER)
    document = client.get("/api/v1/journey", headers=_auth(token)).get_json()
    new = copy.deepcopy(document)
    new["touchpoints"] = [t for t in new["touchpoints"] if t["key"] != "island"]
    new["touchpoints"][0]["name"] = "Neue Website"
    new["transitions"] = [t for t in new["transitions"] if t["source"] != "hotline"]
    response = client.put("/api/v1/journey", json=new, headers=_auth(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["summary"]["touchpoints_archived"] == 1
    assert body["summary"]["transitions_removed"] == 2
    island = next(t for t in body["touchpoints"] if t["key"] == "island")
    assert island["archived"] is True  # archived, never deleted
    assert body["touchpoints"][0]["name"] == "Neue Website"


def test_put_requires_edit_permission(client: FlaskClient, db_session: Session, api_token) -> None:
    small_journey(db_session)
    response = client.put(
        "/api/v1/journey", json=_bad_document(), headers=_auth(api_token(Role.AGENT))
    )
    assert response.status_code == 403


def test_unknown_manager_and_fields_are_named(db_session: Session) -> None:
    small_journey(db_session)
    document = export_journey(db_session)
    document["touchpoints"][0]["manager"] = "nobody@example.org"
    document["touchpoints"][1]["colour"] = "red"
    document["extra"] = 1
    with pytest.raises(Exception) as err:  # noqa: PT011 - the type is checked below
        import_journey(db_session, document, actor=None, at=T0)
    fields = err.value.fields  # type: ignore[attr-defined]
    assert set(fields) == {"touchpoints[0].manager", "touchpoints[1].colour", "extra"}


def _cli(app: Flask, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "cxjourney.cli", "journey", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_cli_export_and_failed_import(app: Flask, db_session: Session, tmp_path: Path) -> None:
    small_journey(db_session)
    make_user(db_session, Role.ADMIN)
    exported = _cli(app, "export")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout) == export_journey(db_session)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_bad_document()), encoding="utf-8")
    counts = _counts(db_session)
    result = _cli(app, "import", str(bad))
    assert result.returncode == 1
    for path in (
        "touchpoints[1].stage",
        "touchpoints[2].key",
        "transitions[0].target",
        "transitions[1]",
    ):
        assert path in result.stderr
    assert _counts(db_session) == counts
    good = tmp_path / "good.json"
    good.write_text(exported.stdout, encoding="utf-8")
    assert _cli(app, "import", str(good)).returncode == 0
    assert _counts(db_session) == counts
