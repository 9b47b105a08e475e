"""The demo's customers and complaints: realistic, consistent, reproducible from the seed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role, User
from cxjourney.auth.services import find_team_by_name
from cxjourney.complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    EventKind,
    ResolutionCode,
    SlaPolicy,
)
from cxjourney.customers.models import Customer
from cxjourney.demo.complaints import DEMO_AGENTS, PLANTED
from cxjourney.demo.services import DemoOptions, DemoResult, load_demo
from cxjourney.extensions import db
from cxjourney.journey.models import Channel

from .conftest import _empty_tables
from .factories import T0

AT = T0
CUSTOMERS, COMPLAINTS = 60, 80
BERLIN = ZoneInfo("Europe/Berlin")
CLOCKS = ("first_response", "next_update", "resolution")
_LOADED: dict[str, DemoResult] = {}


def _load(session: Session, *, seed: int = 2026, customers: int, complaints: int) -> DemoResult:
    _empty_tables()
    options = DemoOptions(at=AT, seed=seed, customers=customers, complaints=complaints)
    result = load_demo(session, options)
    session.commit()
    return result


@pytest.fixture(scope="module", autouse=True)
def _empty_afterwards(app: Flask) -> Iterator[None]:
    """The demo is shared by the tests of this module; the next module starts empty."""
    yield
    with app.app_context():
        _empty_tables()
        db.session.remove()
    _LOADED.clear()


@pytest.fixture
def demo(app: Flask) -> Iterator[tuple[Session, DemoResult]]:
    """The small demo (60 customers, 80 complaints), loaded once for the read-only tests and
    again only when a test in between emptied the database."""
    with app.app_context():
        session = db.session
        loaded = session.scalar(select(func.count()).select_from(Complaint))
        if "result" not in _LOADED or loaded != COMPLAINTS:
            _LOADED["result"] = _load(session, customers=CUSTOMERS, complaints=COMPLAINTS)
        yield session, _LOADED["result"]
        session.rollback()
        session.remove()


def _complaints(session: Session) -> list[Complaint]:
    return list(session.scalars(select(Complaint).order_by(Complaint.id)))


def _events(session: Session, complaint: Complaint) -> list[ComplaintEvent]:
    return list(
        session.scalars(
            select(ComplaintEvent)
            .where(ComplaintEvent.complaint_id == complaint.id)
            .order_by(ComplaintEvent.at, ComplaintEvent.id)
        )
    )


# --- destructive tests first: each loads its own data -------------------------------------


def _fingerprint(session: Session) -> set[tuple[str | None, str, str]]:
    return {(c.reference, c.subject, c.status.value) for c in _complaints(session)}


def test_the_same_seed_gives_the_same_complaints(app: Flask) -> None:
    with app.app_context():
        session = db.session
        _load(session, seed=7, customers=30, complaints=40)
        first = _fingerprint(session)
        _load(session, seed=7, customers=30, complaints=40)
        again = _fingerprint(session)
        _load(session, seed=8, customers=30, complaints=40)
        other = _fingerprint(session)
        _empty_tables()
        session.remove()
    assert len(first) == 40
    assert again == first
    assert other != first


def test_demo_command_takes_the_seed_and_the_sizes(app: Flask) -> None:
    with app.app_context():
        _empty_tables()
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "cxjourney.cli", "demo"),
            *("--seed", "11", "--customers", "25", "--complaints", "12"),
        ],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=180,
    )
    with app.app_context():
        complaints = db.session.scalar(select(func.count()).select_from(Complaint))
        customers = db.session.scalar(select(func.count()).select_from(Customer))
        _empty_tables()
        db.session.remove()
    assert completed.returncode == 0, completed.stderr
    summary = next(line for line in completed.stdout.splitlines() if line.startswith("Loaded"))
    assert "25 customers" in summary
    assert "12 complaints" in summary
    assert (customers, complaints) == (25, 12)
    for agent in DEMO_AGENTS:  # the extra accounts are not printed
        assert agent.email not in completed.stdout


# --- read-only tests on the shared small demo ----------------------------------------------


def test_demo_adds_customers_complaints_and_their_set_up(
    demo: tuple[Session, DemoResult],
) -> None:
    session, result = demo
    assert result.counts["customers"] == CUSTOMERS
    assert result.counts["complaints"] == COMPLAINTS
    assert len(_complaints(session)) == COMPLAINTS
    policies = list(session.scalars(select(SlaPolicy)))
    assert sorted(p.severity.value for p in policies if p.touchpoint is None) == [
        "critical",
        "high",
        "low",
        "medium",
    ]
    assert [p.touchpoint.key for p in policies if p.touchpoint is not None] == ["hotline"]
    for team in ("Kundenservice", "Abrechnung", "Beschwerdemanagement"):
        found = find_team_by_name(session, team)
        assert found is not None
        agents = session.scalars(
            select(User).where(User.team_id == found.id, User.role == Role.AGENT)
        ).all()
        assert 2 <= len(agents) <= 4, team
    assert not {a.email for a in DEMO_AGENTS} & {a.email for a in result.accounts}
    churned = session.scalars(select(Customer).where(Customer.churned_at.is_not(None))).all()
    assert churned
    assert all(c.churn_reason is not None for c in churned)


def test_every_complaint_has_a_reference_of_its_year(demo: tuple[Session, DemoResult]) -> None:
    session, _result = demo
    for complaint in _complaints(session):
        year = complaint.created_at.astimezone(BERLIN).year
        assert re.fullmatch(rf"CX-{year}-\d{{6}}", complaint.reference or ""), complaint.reference


def test_letters_and_faxes_are_among_the_channels(demo: tuple[Session, DemoResult]) -> None:
    session, _result = demo
    channels = Counter(c.channel for c in _complaints(session))
    assert channels[Channel.LETTER] >= 1
    assert channels[Channel.FAX] >= 1
    assert len(channels) >= 6


def test_complaints_concentrate_at_the_planted_touchpoints(
    demo: tuple[Session, DemoResult],
) -> None:
    session, _result = demo
    touchpoints = Counter(c.touchpoint.key for c in _complaints(session))
    planted = sum(touchpoints[key] for key in PLANTED)
    assert planted / COMPLAINTS >= 0.5
    assert {key for key, _n in touchpoints.most_common(3)} <= set(PLANTED)


def test_timelines_start_with_created_and_routed(demo: tuple[Session, DemoResult]) -> None:
    session, _result = demo
    for complaint in _complaints(session):
        events = _events(session, complaint)
        assert [e.kind for e in events[:2]] == [EventKind.CREATED, EventKind.ROUTED]
        assert events[0].at == complaint.created_at
        assert complaint.received_at <= complaint.created_at


def test_resolved_complaints_have_a_resolution_code_and_a_reply(
    demo: tuple[Session, DemoResult],
) -> None:
    session, _result = demo
    done = [
        c
        for c in _complaints(session)
        if c.status in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED)
    ]
    assert len(done) >= COMPLAINTS // 2
    for complaint in done:
        assert complaint.resolution_code is not None, complaint.reference
        assert complaint.resolution
        assert complaint.resolved_at is not None
        assert complaint.first_response_at is not None
        assert complaint.first_response_at <= complaint.resolved_at
        if complaint.compensation is not None:
            assert complaint.resolution_code in (
                ResolutionCode.CREDIT,
                ResolutionCode.REFUND,
                ResolutionCode.APOLOGY,
            )
    assert any(c.compensation for c in done)
    assert any(c.reopen_count for c in _complaints(session))


def test_waits_on_the_customer_pause_the_clocks(demo: tuple[Session, DemoResult]) -> None:
    session, _result = demo
    waited = [c for c in _complaints(session) if c.paused_seconds > 0]
    assert waited
    for complaint in waited:
        moves = [e.data for e in _events(session, complaint) if e.kind is EventKind.STATUS_CHANGED]
        assert {"from": "in_progress", "to": "waiting_on_customer"} in moves


def _breaches(complaint: Complaint) -> dict[str, datetime]:
    return {
        clock: getattr(complaint, f"{clock}_breached_at")
        for clock in CLOCKS
        if getattr(complaint, f"{clock}_breached_at") is not None
    }


def test_missed_clocks_are_marked_breached_and_escalated(
    demo: tuple[Session, DemoResult],
) -> None:
    session, _result = demo
    complaints = _complaints(session)
    assert any(_breaches(c) for c in complaints)
    for complaint in complaints:
        breaches = _breaches(complaint)
        escalations = {
            e.data["clock"]: e.at
            for e in _events(session, complaint)
            if e.kind is EventKind.ESCALATED and e.data
        }
        assert escalations == breaches, complaint.reference
        assert complaint.escalated_at == (min(breaches.values()) if breaches else None)
        # A clock is breached exactly when it was missed (judged when it stopped, or now).
        for clock, done in (
            ("first_response", complaint.first_response_at),
            ("resolution", complaint.resolved_at),
        ):
            due = getattr(complaint, f"{clock}_due_at")
            judged_at = done or complaint.paused_since or AT  # a wait stops the clock
            missed = due < judged_at if done is None else done > due
            assert (clock in breaches) == missed, (complaint.reference, clock)
            if clock in breaches:
                # marked by the next run of the sweep (every 5 minutes) once it was logged
                swept = max(due, complaint.created_at) + timedelta(minutes=5)
                assert due <= breaches[clock] <= min(swept, done or AT)


def test_nothing_happens_after_the_load_time(demo: tuple[Session, DemoResult]) -> None:
    session, _result = demo
    for complaint in _complaints(session):
        happened = [
            complaint.received_at,
            complaint.created_at,
            complaint.updated_at,
            complaint.first_response_at,
            complaint.resolved_at,
            complaint.closed_at,
            complaint.escalated_at,
            *_breaches(complaint).values(),
            *(e.at for e in _events(session, complaint)),
        ]
        assert max(t for t in happened if t is not None) <= AT, complaint.reference
    customers = session.scalars(select(Customer)).all()
    assert max(c.acquired_at for c in customers) <= AT
    assert max(c.churned_at for c in customers if c.churned_at) <= AT
    assert min(c.acquired_at for c in customers) >= AT - timedelta(days=5 * 366)


def test_old_complaints_are_done_and_recent_ones_open(demo: tuple[Session, DemoResult]) -> None:
    session, _result = demo
    complaints = _complaints(session)
    assert min(c.received_at for c in complaints) >= AT - timedelta(days=550)
    old = [c for c in complaints if c.received_at < AT - timedelta(days=60)]
    done = (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED)
    assert sum(c.status in done for c in old) >= 0.9 * len(old)
    newest = max(complaints, key=lambda c: c.received_at)
    assert newest.status not in done
