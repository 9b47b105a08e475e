"""Routing: precedence, every condition, every strategy, both fallbacks, and the preview."""

from __future__ import annotations

import itertools
import time

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints import intake_tables, routing
from cxjourney.complaints.models import AssignmentStrategy, Complaint, ComplaintStatus, Severity
from cxjourney.complaints.routing import RoutingInput, RuleInput, decide, save_rule
from cxjourney.errors import Conflict
from cxjourney.extensions import db
from cxjourney.journey.models import Channel

from .conftest import make_user
from .factories import (
    T0,
    make_category,
    make_complaint,
    make_customer,
    make_team,
    settings_for,
    small_journey,
)


def _rule(session: Session, name: str, priority: int, team: str, **kwargs) -> object:  # type: ignore[no-untyped-def]
    return save_rule(
        session,
        None,
        RuleInput(name=name, priority=priority, team=make_team(session, team), **kwargs),
        actor=None,
        at=T0,
    )


def _input(
    tps,
    *,
    tp="hotline",
    category=None,
    channel=Channel.EMAIL,
    severity=Severity.MEDIUM,
    segment=None,
) -> RoutingInput:  # type: ignore[no-untyped-def]
    return RoutingInput(tps[tp], category, channel, severity, segment)


@pytest.fixture
def tps(db_session: Session) -> dict:
    journey = small_journey(db_session)
    make_team(db_session, "Abrechnung")
    make_team(db_session, "Beschwerdemanagement")
    db_session.commit()
    return journey


def test_first_matching_rule_by_priority_wins_and_inactive_rules_are_skipped(
    db_session: Session, tps: dict
) -> None:
    _rule(db_session, "broad", 20, "Abrechnung")
    narrow = _rule(db_session, "letters", 10, "Beschwerdemanagement", channel=Channel.LETTER)
    letter = _input(tps, channel=Channel.LETTER)
    assert decide(db_session, letter, triage_team=None).rule.name == "letters"
    assert decide(db_session, _input(tps), triage_team=None).rule.name == "broad"
    save_rule(
        db_session,
        narrow,
        RuleInput(
            name="letters", priority=10, team=narrow.team, channel=Channel.LETTER, active=False
        ),
        actor=None,
        at=T0,
    )
    assert decide(db_session, letter, triage_team=None).rule.name == "broad"


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        ("touchpoint", {"tp": "hotline"}, {"tp": "app"}),
        ("stage", {"tp": "hotline"}, {"tp": "website"}),
        ("category", {"category": "billing"}, {"category": "other"}),
        ("channel", {"channel": Channel.FAX}, {"channel": Channel.CHAT}),
        ("min_severity", {"severity": Severity.CRITICAL}, {"severity": Severity.MEDIUM}),
        ("segment", {"segment": "gewerbe"}, {"segment": "privat"}),
    ],
)
def test_each_condition_narrows_the_rule(
    db_session: Session, tps: dict, condition: str, matching: dict, other: dict
) -> None:
    categories = {k: make_category(db_session, k, k.title()) for k in ("billing", "other")}
    condition_value = {
        "touchpoint": {"touchpoint": tps["hotline"]},
        "stage": {"stage_id": tps["hotline"].stage_id},
        "category": {"category": categories["billing"]},
        "channel": {"channel": Channel.FAX},
        "min_severity": {"min_severity": Severity.HIGH},
        "segment": {"segment": "gewerbe"},
    }[condition]
    _rule(db_session, condition, 1, "Abrechnung", **condition_value)

    def attrs(values: dict) -> RoutingInput:
        values = dict(values)
        if "category" in values:
            values["category"] = categories[values["category"]]
        return _input(tps, **values)

    hit = decide(db_session, attrs(matching), triage_team=None)
    miss = decide(db_session, attrs(other), triage_team=None)
    assert (hit.team.name, hit.reason) == ("Abrechnung", "rule")
    assert miss.reason == "owner"


def _agents(session: Session, team: str, n: int) -> list:
    return [
        make_user(session, Role.AGENT, email=f"{team.lower()}-{i}@example.org", team=team)
        for i in range(n)
    ]


def test_team_queue_assigns_nobody(db_session: Session, tps: dict) -> None:
    _agents(db_session, "Abrechnung", 2)
    _rule(db_session, "queue", 1, "Abrechnung")
    decision = decide(db_session, _input(tps), triage_team=None)
    assert decision.assignee is None
    assert decision.routed_by.startswith("rule:")


def test_round_robin_takes_turns_in_order(db_session: Session, tps: dict) -> None:
    agents = _agents(db_session, "Abrechnung", 3)
    make_user(db_session, Role.TEAM_LEAD, email="lead@example.org", team="Abrechnung")
    _rule(db_session, "rr", 1, "Abrechnung", strategy=AssignmentStrategy.ROUND_ROBIN)
    chosen = [decide(db_session, _input(tps), triage_team=None).assignee for _ in range(7)]
    assert [u.id for u in chosen] == [a.id for a in itertools.islice(itertools.cycle(agents), 7)]


def test_least_loaded_picks_the_agent_with_fewest_open_complaints(
    app: Flask, db_session: Session, tps: dict
) -> None:
    a, b = _agents(db_session, "Abrechnung", 2)
    _rule(db_session, "fixed", 1, "Abrechnung", user=a)
    settings = settings_for(app.config)
    for _ in range(2):
        make_complaint(db_session, settings, touchpoint=tps["hotline"])
    rule = routing.list_rules(db_session)[0]
    save_rule(
        db_session,
        rule,
        RuleInput(name="ll", priority=1, team=rule.team, strategy=AssignmentStrategy.LEAST_LOADED),
        actor=None,
        at=T0,
    )
    assert decide(db_session, _input(tps), triage_team=None).assignee.id == b.id
    make_complaint(db_session, settings, touchpoint=tps["hotline"])  # goes to b
    make_complaint(db_session, settings, touchpoint=tps["hotline"])  # b has 1, a has 2 → b
    counts = dict(
        db_session.execute(
            select(Complaint.assignee_id, func.count())
            .where(Complaint.status.in_(routing.OPEN_STATUSES))
            .group_by(Complaint.assignee_id)
        ).all()
    )
    assert (counts[a.id], counts[b.id]) == (2, 2)
    done = db_session.scalars(select(Complaint).where(Complaint.assignee_id == a.id)).first()
    done.status = ComplaintStatus.RESOLVED
    db_session.commit()
    assert decide(db_session, _input(tps), triage_team=None).assignee.id == a.id


def test_a_fixed_person_wins_over_the_strategy(db_session: Session, tps: dict) -> None:
    _a, b = _agents(db_session, "Abrechnung", 2)
    _rule(db_session, "to b", 1, "Abrechnung", user=b, strategy=AssignmentStrategy.ROUND_ROBIN)
    assert decide(db_session, _input(tps), triage_team=None).assignee.id == b.id


def test_no_rule_goes_to_the_owner_team_then_to_triage(db_session: Session, tps: dict) -> None:
    owner = decide(db_session, _input(tps), triage_team="Beschwerdemanagement")
    assert (owner.team.name, owner.reason, owner.assignee) == ("Kundenservice", "owner", None)
    tps["hotline"].owner_team = None
    db_session.commit()
    triage = decide(db_session, _input(tps), triage_team="Beschwerdemanagement")
    assert (triage.team.name, triage.routed_by) == ("Beschwerdemanagement", "triage")
    with pytest.raises(Conflict):
        decide(db_session, _input(tps), triage_team="No Such Team")


def test_preview_agrees_with_real_routing(app: Flask, db_session: Session, tps: dict) -> None:
    _agents(db_session, "Abrechnung", 3)
    billing = make_category(db_session, "billing", "Rechnung")
    _rule(
        db_session,
        "critical letters",
        5,
        "Beschwerdemanagement",
        channel=Channel.LETTER,
        min_severity=Severity.CRITICAL,
    )
    _rule(
        db_session,
        "billing",
        10,
        "Abrechnung",
        category=billing,
        strategy=AssignmentStrategy.ROUND_ROBIN,
    )
    settings = settings_for(app.config)
    customer = make_customer(db_session, "K-1", segment="privat")
    for channel, severity, category in itertools.product(
        (Channel.LETTER, Channel.EMAIL), (Severity.LOW, Severity.CRITICAL), (billing, None)
    ):
        attrs = RoutingInput(tps["hotline"], category, channel, severity, "privat")
        preview = decide(db_session, attrs, triage_team=None, commit_turn=False)
        complaint = make_complaint(
            db_session,
            settings,
            touchpoint=tps["hotline"],
            channel=channel.value,
            severity=severity.value,
            customer=customer,
            category=category or make_category(db_session, "other", "Sonstiges"),
        )
        assert complaint.team.id == preview.team.id
        assert complaint.routed_by == preview.routed_by
        assert complaint.assignee_id == (preview.assignee.id if preview.assignee else None)


def test_a_rule_changed_by_another_process_routes_after_the_snapshot_age(
    app: Flask, db_session: Session, tps: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rules are read once per process: a change made elsewhere counts within the max age."""
    monkeypatch.setattr(intake_tables, "MAX_AGE_SECONDS", 0.3)
    rule = _rule(db_session, "billing", 1, "Abrechnung")
    db_session.commit()
    assert decide(db_session, _input(tps), triage_team=None).rule.name == "billing"
    # Another worker deactivates the rule: a plain UPDATE on a connection of its own.
    with db.engine.begin() as connection:
        connection.execute(
            routing.RoutingRule.__table__.update()
            .where(routing.RoutingRule.id == rule.id)
            .values(active=False)
        )
    db_session.rollback()
    assert decide(db_session, _input(tps), triage_team=None).rule.name == "billing"  # cached
    time.sleep(0.35)
    assert decide(db_session, _input(tps), triage_team=None).reason == "owner"


def test_a_rule_changed_in_this_process_routes_at_once(db_session: Session, tps: dict) -> None:
    rule = _rule(db_session, "billing", 1, "Abrechnung")
    db_session.commit()
    assert decide(db_session, _input(tps), triage_team=None).rule.name == "billing"
    rule.active = False
    db_session.commit()
    assert decide(db_session, _input(tps), triage_team=None).reason == "owner"
