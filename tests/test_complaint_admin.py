"""Admin pages for complaints: routing rules and their preview, categories, SLA policies."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxjourney.audit.models import AuditLog
from cxjourney.auth.models import Role
from cxjourney.complaints import routing
from cxjourney.complaints.categories import find_category
from cxjourney.complaints.models import AssignmentStrategy, RoutingRule, Severity, SlaPolicy
from cxjourney.complaints.routing import RoutingInput, RuleInput, decide, save_rule
from cxjourney.complaints.sla_policies import PolicyInput, save_policy
from cxjourney.errors import ValidationError
from cxjourney.journey.models import Channel

from .conftest import make_user, post_form
from .factories import (
    T0,
    make_category,
    make_policy,
    make_team,
    make_touchpoint,
    small_journey,
)

NOT_ADMINS = [Role.AGENT, Role.TOUCHPOINT_MANAGER, Role.TEAM_LEAD, Role.VIEWER]


@pytest.fixture
def seed(db_session: Session) -> dict[str, Any]:
    tps = small_journey(db_session)
    tps["kiosk"] = make_touchpoint(db_session, "kiosk", stage="usage", owner_team=None)
    billing_team = make_team(db_session, "Abrechnung")
    category = make_category(db_session)
    anna = make_user(db_session, Role.AGENT, email="anna@example.org", team="Abrechnung")
    ben = make_user(db_session, Role.AGENT, email="ben@example.org", team="Abrechnung")
    outsider = make_user(db_session, Role.AGENT, email="olga@example.org", team="Online")
    db_session.commit()
    return {
        "tps": tps,
        "team": billing_team,
        "category": category,
        "anna": anna,
        "ben": ben,
        "outsider": outsider,
    }


@pytest.fixture
def admin(login_as) -> Any:  # type: ignore[no-untyped-def]
    return login_as(Role.ADMIN, language="en")


def _rule_form(seed: dict[str, Any], **overrides: str) -> dict[str, str]:
    data = {
        "name": "Billing letters",
        "priority": "10",
        "active": "y",
        "touchpoint": "",
        "stage": "support",
        "category": "billing",
        "channel": "letter",
        "min_severity": "high",
        "segment": "premium",
        "team": str(seed["team"].id),
        "user": "",
        "strategy": "round_robin",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _policy_form(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Critical at the hotline",
        "severity": "critical",
        "touchpoint": "hotline",
        "stage": "",
        "segment": "",
        "first_response_minutes": "60",
        "next_update_minutes": "240",
        "resolution_minutes": "1440",
        "business_hours": None,  # unchecked: not sent
        "warning_percent": "75",
        "active": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _errors(html: str) -> dict[str, str]:
    """Field name → its error text, as the form macro renders them."""
    found = re.findall(r'<p class="error" id="([\w-]+)-error">(.*?)</p>', html, re.S)
    return {name: " ".join(text.split()) for name, text in found}


def _dd(html: str, dd_id: str) -> str:
    match = re.search(rf'<dd id="{dd_id}">(.*?)</dd>', html, re.S)
    assert match, f"no {dd_id} in the page"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def _audit(session: Session, action: str) -> list[AuditLog]:
    session.expire_all()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


# --- routing rules ------------------------------------------------------------------------


def test_admin_creates_and_edits_a_routing_rule_through_the_form(
    client: FlaskClient, db_session: Session, seed: dict[str, Any], admin: Any
) -> None:
    response = post_form(client, "/admin/routing-rules/new", None, _rule_form(seed))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/routing-rules")
    db_session.expire_all()
    rule = db_session.scalar(select(RoutingRule))
    assert rule.name == "Billing letters"
    assert rule.priority == 10
    assert rule.active is True
    assert rule.touchpoint is None
    assert rule.stage.key == "support"
    assert rule.category.key == "billing"
    assert rule.channel is Channel.LETTER
    assert rule.min_severity is Severity.HIGH
    assert rule.segment == "premium"
    assert rule.team.name == "Abrechnung"
    assert rule.user is None
    assert rule.strategy is AssignmentStrategy.ROUND_ROBIN
    assert len(_audit(db_session, "routing_rule.created")) == 1

    page = client.get("/admin/routing-rules").get_data(as_text=True)
    assert "Billing letters" in page
    for phrase in (
        "stage is Service",
        "category is Rechnung",
        "channel is Letter",
        "severity is High or higher",
        "customer segment is premium",
        "Round robin",
    ):
        assert phrase in page, phrase

    edit_url = f"/admin/routing-rules/{rule.id}"
    form_page = client.get(edit_url).get_data(as_text=True)
    assert 'value="Billing letters"' in form_page
    assert '<option selected value="support">' in form_page
    assert "<optgroup" in form_page  # touchpoints and people are grouped
    response = post_form(
        client,
        edit_url,
        None,
        _rule_form(
            seed,
            priority="5",
            active=None,
            stage="",
            touchpoint="hotline",
            user=str(seed["ben"].id),
            strategy="team_queue",
        ),
    )
    assert response.status_code == 302
    db_session.expire_all()
    rule = db_session.get(RoutingRule, rule.id)
    assert (rule.priority, rule.active, rule.stage, rule.touchpoint.key) == (
        5,
        False,
        None,
        "hotline",
    )
    assert rule.user.email == "ben@example.org"
    assert rule.strategy is AssignmentStrategy.TEAM_QUEUE
    [updated] = _audit(db_session, "routing_rule.updated")
    assert updated.after["active"] is False
    assert updated.after["user"] == "ben@example.org"
    assert "deactivated" in client.get("/admin/routing-rules").get_data(as_text=True)


def test_routing_rule_errors_keep_what_was_typed(
    client: FlaskClient, db_session: Session, seed: dict[str, Any], admin: Any
) -> None:
    # the person belongs to another team: the service refuses it
    typed = _rule_form(seed, name="Premium escalations", user=str(seed["outsider"].id))
    response = post_form(client, "/admin/routing-rules/new", None, typed)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _errors(page) == {"user": "The person must belong to the target team."}
    assert 'value="Premium escalations"' in page
    assert 'value="premium"' in page
    assert '<option selected value="letter">' in page
    assert f'<option selected value="{seed["outsider"].id}">' in page

    # shape errors from the form: an empty name and a priority that is not a number
    response = post_form(
        client, "/admin/routing-rules/new", None, _rule_form(seed, name="", priority="ten")
    )
    assert response.status_code == 422
    assert set(_errors(response.get_data(as_text=True))) == {"name", "priority"}
    assert 'value="ten"' in response.get_data(as_text=True)

    # range checks of the service
    response = post_form(client, "/admin/routing-rules/new", None, _rule_form(seed, priority="-1"))
    assert response.status_code == 422
    assert set(_errors(response.get_data(as_text=True))) == {"priority"}
    db_session.expire_all()
    assert db_session.scalars(select(RoutingRule)).all() == []
    assert client.get("/admin/routing-rules/999").status_code == 404


def _preview(client: FlaskClient, **attrs: str) -> Any:
    query = {"category": "", "segment": "", **attrs}
    return client.get("/admin/routing-rules/preview", query_string=query)


@pytest.mark.parametrize(
    "attrs",
    [
        # the letters rule, with a named person
        {"touchpoint": "hotline", "category": "billing", "channel": "letter", "severity": "high"},
        # round robin in the billing team for premium customers
        {"touchpoint": "app", "channel": "email", "severity": "low", "segment": "premium"},
        # no rule: the owner team of the touchpoint
        {"touchpoint": "website", "channel": "email", "severity": "medium"},
        # no rule and no owner: the triage team
        {"touchpoint": "kiosk", "channel": "phone", "severity": "critical"},
    ],
)
def test_preview_shows_the_same_decision_as_decide(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    seed: dict[str, Any],
    admin: Any,
    attrs: dict[str, str],
) -> None:
    team = seed["team"]
    save_rule(
        db_session,
        None,
        RuleInput(
            name="Letters", priority=10, team=team, channel=Channel.LETTER, user=seed["anna"]
        ),
        actor=None,
        at=T0,
    )
    turns = save_rule(
        db_session,
        None,
        RuleInput(
            name="Premium turns",
            priority=20,
            team=team,
            segment="premium",
            strategy=AssignmentStrategy.ROUND_ROBIN,
        ),
        actor=None,
        at=T0,
    )
    save_rule(
        db_session,
        None,
        RuleInput(name="Switched off", priority=1, team=team, active=False),
        actor=None,
        at=T0,
    )
    db_session.commit()

    response = _preview(client, **attrs)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    db_session.expire_all()
    expected = decide(
        db_session,
        RoutingInput(
            touchpoint=seed["tps"][attrs["touchpoint"]],
            category=find_category(db_session, attrs["category"]) if "category" in attrs else None,
            channel=Channel(attrs["channel"]),
            severity=Severity(attrs["severity"]),
            segment=attrs.get("segment"),
        ),
        triage_team=app.config["TRIAGE_TEAM"],
        commit_turn=False,
    )
    if expected.rule is not None:
        assert expected.rule.name in _dd(page, "preview-rule")
        assert "decides the preview" in page
    elif expected.reason == "owner":
        assert _dd(page, "preview-rule") == "No rule matches: the touchpoint's owner team"
    else:
        assert _dd(page, "preview-rule") == (
            "No rule matches and the touchpoint has no active owner team: the triage team"
        )
    assert _dd(page, "preview-team") == expected.team.name
    person = _dd(page, "preview-person")
    if expected.assignee is None:
        assert person == "nobody yet: it waits in the team queue"
    else:
        assert person == f"{expected.assignee.name} {expected.assignee.email}"

    # the preview takes nobody's turn: asking again gives the same answer
    assert _dd(_preview(client, **attrs).get_data(as_text=True), "preview-person") == person
    db_session.expire_all()
    assert db_session.get(RoutingRule, turns.id).last_assignee_id is None


def test_preview_explains_the_expected_fallbacks(
    app: Flask, client: FlaskClient, db_session: Session, seed: dict[str, Any], admin: Any
) -> None:
    owner = _preview(client, touchpoint="website", channel="email", severity="medium")
    assert _dd(owner.get_data(as_text=True), "preview-team") == "Online"
    triage = _preview(client, touchpoint="kiosk", channel="fax", severity="low")
    assert _dd(triage.get_data(as_text=True), "preview-team") == app.config["TRIAGE_TEAM"]


def test_preview_shows_the_conflict_and_checks_its_input(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    seed: dict[str, Any],
    admin: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "TRIAGE_TEAM", "No such team")
    response = _preview(client, touchpoint="kiosk", channel="fax", severity="low")
    assert response.status_code == 200
    assert 'id="preview-conflict"' in response.get_data(as_text=True)
    assert "no triage team is set up" in response.get_data(as_text=True)

    response = _preview(client, touchpoint="", channel="smoke-signal", severity="low")
    assert response.status_code == 422
    assert set(_errors(response.get_data(as_text=True))) == {"touchpoint", "channel"}
    assert client.get("/admin/routing-rules/preview").status_code == 200


# --- who may see these pages -------------------------------------------------------------


@pytest.mark.parametrize("role", NOT_ADMINS)
def test_only_admins_reach_the_complaint_admin_pages(
    client: FlaskClient, db_session: Session, seed: dict[str, Any], login_as, role: Role
) -> None:
    rule = save_rule(
        db_session,
        None,
        RuleInput(name="Any", priority=1, team=seed["team"]),
        actor=None,
        at=T0,
    )
    policy = make_policy(db_session)
    db_session.commit()
    category_id, rule_id, policy_id = seed["category"].id, rule.id, policy.id
    login_as(role)
    pages = [
        "/admin/routing-rules",
        "/admin/routing-rules/new",
        f"/admin/routing-rules/{rule_id}",
        "/admin/routing-rules/preview",
        "/admin/routing-rules/preview?touchpoint=hotline&channel=phone&severity=low",
        "/admin/categories",
        f"/admin/categories/{category_id}",
        "/admin/sla-policies",
        "/admin/sla-policies/new",
        f"/admin/sla-policies/{policy_id}",
    ]
    for url in pages:
        assert client.get(url).status_code == 403, url
    writes = {
        "/admin/routing-rules/new": _rule_form(seed),
        f"/admin/routing-rules/{rule_id}": _rule_form(seed),
        "/admin/categories": {"key": "fraud", "name": "Betrug"},
        f"/admin/categories/{category_id}": {"name": "Umbenannt"},
        "/admin/sla-policies/new": _policy_form(),
        f"/admin/sla-policies/{policy_id}": _policy_form(),
    }
    for url, data in writes.items():
        assert post_form(client, "/account", url, data).status_code == 403, url
    db_session.expire_all()
    assert [r.name for r in routing.list_rules(db_session)] == ["Any"]
    assert find_category(db_session, "fraud") is None
    assert find_category(db_session, "billing").active is True
    assert len(db_session.scalars(select(SlaPolicy)).all()) == 1


def test_signed_out_visitors_are_sent_to_the_login(client: FlaskClient, seed: Any) -> None:
    for url in ("/admin/routing-rules", "/admin/categories", "/admin/sla-policies"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


# --- categories ---------------------------------------------------------------------------


def test_admin_creates_renames_and_deactivates_a_category(
    client: FlaskClient, db_session: Session, seed: dict[str, Any], admin: Any
) -> None:
    response = post_form(
        client, "/admin/categories", None, {"key": "billing-error", "name": "  Falsche  Rechnung "}
    )
    assert response.status_code == 302
    db_session.expire_all()
    category = find_category(db_session, "billing-error")
    assert (category.name, category.active) == ("Falsche Rechnung", True)
    assert "Falsche Rechnung" in client.get("/admin/categories").get_data(as_text=True)

    # a taken key and a bad key: 422, typed values kept, nothing saved
    response = post_form(
        client, "/admin/categories", None, {"key": "billing-error", "name": "Zweite"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert _errors(page) == {"key": "This key exists already."}
    assert 'value="Zweite"' in page
    response = post_form(client, "/admin/categories", None, {"key": "Bad Key", "name": "X"})
    assert response.status_code == 422
    assert set(_errors(response.get_data(as_text=True))) == {"key"}

    url = f"/admin/categories/{category.id}"
    assert "billing-error" in client.get(url).get_data(as_text=True)
    response = post_form(client, url, None, {"name": "Rechnungsfehler", "active": "y"})
    assert response.status_code == 302
    response = post_form(client, url, None, {"name": "Rechnungsfehler"})  # box unchecked
    assert response.status_code == 302
    db_session.expire_all()
    category = find_category(db_session, "billing-error")
    assert (category.key, category.name, category.active) == (
        "billing-error",
        "Rechnungsfehler",
        False,
    )
    # a key sent along is ignored: the key never changes
    response = post_form(client, url, None, {"name": "Rechnungsfehler", "key": "other"})
    assert response.status_code == 302
    db_session.expire_all()
    assert find_category(db_session, "other") is None
    assert len(_audit(db_session, "category.updated")) == 2

    response = post_form(client, url, None, {"name": " "})
    assert response.status_code == 422
    assert set(_errors(response.get_data(as_text=True))) == {"name"}
    assert client.get("/admin/categories/999").status_code == 404


# --- SLA policies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        (
            {
                "first_response_minutes": "0",
                "next_update_minutes": "-30",
                "resolution_minutes": "100000000",
                "warning_percent": "0",
            },
            {
                "first_response_minutes",
                "next_update_minutes",
                "resolution_minutes",
                "warning_percent",
            },
        ),
        ({"warning_percent": "101"}, {"warning_percent"}),
        ({"resolution_minutes": "525601", "name": " "}, {"resolution_minutes", "name"}),
    ],
)
def test_sla_policy_with_bad_values_is_refused_naming_every_field(
    client: FlaskClient,
    db_session: Session,
    seed: dict[str, Any],
    admin: Any,
    bad: dict[str, str],
    fields: set[str],
) -> None:
    response = post_form(client, "/admin/sla-policies/new", None, _policy_form(**bad))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert set(_errors(page)) == fields
    for name, value in bad.items():
        if value.strip():
            assert f'name="{name}"' in page
            assert f'value="{value}"' in page, name
    assert 'value="Critical at the hotline"' in page or "name" in fields
    db_session.expire_all()
    assert db_session.scalars(select(SlaPolicy)).all() == []
    assert _audit(db_session, "sla_policy.created") == []


def test_valid_sla_policy_is_saved_audited_and_listed(
    client: FlaskClient, db_session: Session, seed: dict[str, Any], admin: Any
) -> None:
    response = post_form(client, "/admin/sla-policies/new", None, _policy_form())
    assert response.status_code == 302
    db_session.expire_all()
    policy = db_session.scalar(select(SlaPolicy))
    assert policy.name == "Critical at the hotline"
    assert policy.severity is Severity.CRITICAL
    assert policy.touchpoint.key == "hotline"
    assert (policy.stage, policy.segment) == (None, None)
    assert (
        policy.first_response_minutes,
        policy.next_update_minutes,
        policy.resolution_minutes,
    ) == (60, 240, 1440)
    assert (policy.business_hours, policy.warning_percent, policy.active) == (False, 75, True)
    [entry] = _audit(db_session, "sla_policy.created")
    assert entry.entity_id == policy.id
    assert entry.actor_label == admin.email
    assert entry.after["resolution_minutes"] == 1440
    assert entry.after["touchpoint"] == "hotline"

    page = client.get("/admin/sla-policies").get_data(as_text=True)
    for text in ("Critical at the hotline", "Critical", "1 h", "4 h", "24 h", "around the clock"):
        assert text in page, text
    assert "75 %" in page

    url = f"/admin/sla-policies/{policy.id}"
    assert 'value="1440"' in client.get(url).get_data(as_text=True)
    response = post_form(
        client,
        url,
        None,
        _policy_form(business_hours="y", first_response_minutes="90", touchpoint=""),
    )
    assert response.status_code == 302
    [entry] = _audit(db_session, "sla_policy.updated")
    assert entry.before == {
        "business_hours": False,
        "first_response_minutes": 60,
        "touchpoint": "hotline",
    }
    assert entry.after == {"business_hours": True, "first_response_minutes": 90, "touchpoint": None}
    page = client.get("/admin/sla-policies").get_data(as_text=True)
    assert "1 h 30 min" in page
    assert "business hours" in page


def test_save_policy_refuses_a_shadowed_scope_and_a_touchpoint_outside_its_stage(
    db_session: Session, seed: dict[str, Any]
) -> None:
    tps = seed["tps"]
    data = PolicyInput(
        name="Hotline high",
        severity=Severity.HIGH,
        first_response_minutes=60,
        next_update_minutes=120,
        resolution_minutes=480,
        touchpoint=tps["hotline"],
    )
    first = save_policy(db_session, None, data, actor=None, at=T0)
    with pytest.raises(ValidationError) as exc:
        save_policy(db_session, None, data, actor=None, at=T0)
    assert set(exc.value.fields) == {"severity"}
    # inactive, or another segment, is fine; and a policy may be saved again unchanged
    save_policy(db_session, None, replace(data, active=False), actor=None, at=T0)
    save_policy(db_session, None, replace(data, segment="premium"), actor=None, at=T0)
    save_policy(db_session, first, data, actor=None, at=T0)

    stage_of_app = tps["app"].stage
    with pytest.raises(ValidationError) as exc:
        save_policy(
            db_session,
            None,
            replace(data, severity=Severity.LOW, stage=stage_of_app),
            actor=None,
            at=T0,
        )
    assert set(exc.value.fields) == {"stage"}
    with pytest.raises(ValidationError) as exc:
        save_policy(
            db_session,
            None,
            PolicyInput(
                name="",
                severity=None,
                first_response_minutes=None,
                next_update_minutes=True,  # type: ignore[arg-type]
                resolution_minutes=1.5,  # type: ignore[arg-type]
                warning_percent=None,
                segment="x" * 65,
            ),
            actor=None,
            at=T0,
        )
    assert set(exc.value.fields) == {
        "name",
        "severity",
        "segment",
        "first_response_minutes",
        "next_update_minutes",
        "resolution_minutes",
        "warning_percent",
    }
