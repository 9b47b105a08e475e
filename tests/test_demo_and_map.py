"""The demo company and the journey map page built from it."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.demo.services import DEMO_ACCOUNTS, DEMO_PASSWORD, DemoOptions, load_demo
from cxjourney.errors import Conflict
from cxjourney.journey import services as journey

from .conftest import login
from .factories import T0

SVG = "{http://www.w3.org/2000/svg}"


def test_demo_has_the_size_the_issue_asks_for(db_session: Session) -> None:
    result = load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    stages = journey.list_stages(db_session)
    touchpoints = journey.list_touchpoints(db_session)
    assert 6 <= len(stages) <= 8
    assert 25 <= len(touchpoints) <= 40
    assert len({tp.owner_team.name for tp in touchpoints}) in range(4, 7)
    assert len({tp.channel for tp in touchpoints}) >= 8  # letter and fax-style channels too
    assert {a.role for a in result.accounts} == set(Role)
    validation = journey.validate_journey(db_session)
    assert validation.unreachable == []
    assert validation.dead_ends == []
    backward = set(validation.backward)
    assert ("hotline", "app") in backward  # usage ↔ support
    assert ("first-invoice", "hotline") in {
        (t.source.key, t.target.key) for t in journey.list_transitions(db_session)
    }  # billing → support


def test_demo_refuses_a_non_empty_database_without_reset(db_session: Session) -> None:
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    with pytest.raises(Conflict):
        load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0), reset=True)
    db_session.commit()
    assert len(journey.list_touchpoints(db_session)) == 36


def _cli(app: Flask, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    base = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "cxjourney.cli", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        check=False,
        timeout=120,
    )


def test_demo_command_prints_logins_and_refuses_production(app: Flask, db_session: Session) -> None:
    result = _cli(app, "demo", "--customers", "30", "--complaints", "20")
    assert result.returncode == 0, result.stderr
    for account in DEMO_ACCOUNTS:
        assert account.email in result.stdout
    assert DEMO_PASSWORD in result.stdout
    again = _cli(app, "demo")
    assert again.returncode != 0
    assert "--reset" in again.stderr
    quiet = _cli(app, "demo", "--if-empty")
    assert quiet.returncode == 0
    assert DEMO_ACCOUNTS[0].email in quiet.stdout
    production = _cli(
        app, "demo", "--reset", env={"CXJOURNEY_ENV": "production", "SECRET_KEY": "k" * 40}
    )
    assert production.returncode != 0
    assert "production" in production.stderr


def test_map_renders_every_touchpoint_in_its_stage_lane(
    client: FlaskClient, db_session: Session
) -> None:
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    assert login(client, "manager@stadtwerke-lindenau.example", DEMO_PASSWORD).status_code == 302
    html = client.get("/journey/").get_data(as_text=True)
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))  # noqa: S314
    lanes = {}
    for lane in svg.iter(f"{SVG}g"):
        if "map-lane" in (lane.get("class") or "").split():
            rect = lane.find(f"{SVG}rect")
            x, width = float(rect.get("x")), float(rect.get("width"))
            lanes[lane.get("data-key")] = (x, x + width)
    stages = journey.list_stages(db_session)
    assert list(lanes) == [s.key for s in stages]  # lanes in stage order
    nodes = {a.get("data-key"): a for a in svg.iter(f"{SVG}a")}
    touchpoints = journey.list_touchpoints(db_session)
    assert set(nodes) == {tp.key for tp in touchpoints}
    for tp in touchpoints:
        box = nodes[tp.key].find(f"{SVG}rect")
        left, right = lanes[tp.stage.key]
        assert left <= float(box.get("x")) <= right - float(box.get("width")), tp.key
        assert nodes[tp.key].get("href") == f"/journey/touchpoints/{tp.key}"
    backward = [p for p in svg.iter(f"{SVG}path") if "map-edge-backward" in (p.get("class") or "")]
    assert len(backward) >= len(journey.validate_journey(db_session).backward)


def test_map_colour_measure_is_chosen_on_the_page(client: FlaskClient, db_session: Session) -> None:
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    login(client, "viewer@stadtwerke-lindenau.example", DEMO_PASSWORD)
    by_team = client.get("/journey/?measure=owner_team").get_data(as_text=True)
    by_degree = client.get("/journey/?measure=connections").get_data(as_text=True)
    assert "Kundenservice" in by_team
    assert 'aria-label="Service-Hotline: ' in by_degree
    hotline_degree = len(
        journey.list_transitions_of(
            db_session, journey.get_touchpoint_by_key(db_session, "hotline")
        )
    )
    assert f"Service-Hotline: {_label(by_degree)}: {hotline_degree}" in by_degree
    # an unknown measure falls back to the default instead of failing
    assert client.get("/journey/?measure=nonsense").status_code == 200


def _label(html: str) -> str:
    match = re.search(r'<option value="connections" selected>([^<]+)</option>', html)
    assert match
    return match.group(1)


def test_map_shows_a_change_at_once_although_it_is_cached(
    client: FlaskClient, db_session: Session
) -> None:
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    login(client, "viewer@stadtwerke-lindenau.example", DEMO_PASSWORD)
    assert "Service-Hotline" in client.get("/journey/").get_data(as_text=True)
    hotline = journey.get_touchpoint_by_key(db_session, "hotline")
    data = journey.TouchpointInput(
        key="hotline", name="Kundenhotline 24/7", stage=hotline.stage, owner_team=None
    )
    journey.update_touchpoint(db_session, hotline, data, actor=None, at=T0)
    db_session.commit()
    html = client.get("/journey/").get_data(as_text=True)
    assert "Kundenhotline 24/7" in html
    assert "Service-Hotline" not in html
