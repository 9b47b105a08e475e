"""Complaint lifecycle: intake, references, allowed moves, resolution, reopen, versions, SLA."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints import lifecycle, services
from cxjourney.complaints.lifecycle import ALLOWED_MOVES, transition_complaint
from cxjourney.complaints.models import (
    Complaint,
    ComplaintStatus,
    EventKind,
    ResolutionCode,
    Severity,
)
from cxjourney.complaints.sla import SlaState, sla_status
from cxjourney.errors import Conflict, NotFound, ValidationError

from .conftest import make_user
from .factories import (
    make_category,
    make_complaint,
    make_customer,
    make_policy,
    make_team,
    make_touchpoint,
    settings_for,
)

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def settings(app: Flask):  # type: ignore[no-untyped-def]
    return settings_for(app.config)


@pytest.fixture
def setup(db_session: Session) -> dict:
    make_touchpoint(db_session, "hotline")
    make_category(db_session)
    make_customer(db_session)
    db_session.commit()
    return {}


def _resolve_kwargs() -> dict:
    return {"resolution_code": ResolutionCode.REFUND, "resolution": "Betrag erstattet."}


def test_logging_routes_references_and_writes_the_timeline(
    db_session: Session, settings, setup
) -> None:
    agent = make_user(db_session, Role.AGENT, team="Kundenservice")
    at = berlin(2026, 3, 2, 10, 0)
    complaint = make_complaint(db_session, settings, actor=agent, at=at)
    assert re.fullmatch(r"CX-2026-\d{6}", complaint.reference)
    assert complaint.reference.endswith(f"{complaint.id:06d}")
    assert complaint.team.name == "Kundenservice"
    assert complaint.routed_by == "owner"
    assert complaint.status is ComplaintStatus.NEW
    kinds = [e.kind for e in services.timeline(db_session, complaint)]
    assert kinds == [EventKind.CREATED, EventKind.ROUTED]
    assert all(e.actor_id == agent.id for e in services.timeline(db_session, complaint))


def test_received_at_may_lie_before_logging_but_not_in_the_future(
    db_session: Session, settings, setup
) -> None:
    at = berlin(2026, 3, 5, 9, 0)
    earlier = make_complaint(db_session, settings, at=at, received_at=berlin(2026, 3, 2, 12, 0))
    assert earlier.received_at == berlin(2026, 3, 2, 12, 0)
    with pytest.raises(ValidationError) as err:
        make_complaint(db_session, settings, at=at, received_at=at + timedelta(days=1))
    assert set(err.value.fields) == {"received_at"}


def test_every_bad_intake_field_is_named(db_session: Session, settings) -> None:
    data = services.ComplaintInput(
        customer=None,
        touchpoint=None,
        channel=None,
        category=None,
        severity=None,
        subject=" ",
        description="x" * (services.TEXT_MAX + 1),
    )
    with pytest.raises(ValidationError) as err:
        services.log_complaint(
            db_session, data, actor=None, at=datetime.now(UTC), settings=settings
        )
    assert set(err.value.fields) == {
        "customer",
        "touchpoint",
        "channel",
        "category",
        "severity",
        "subject",
        "description",
    }
    assert db_session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_the_same_idempotency_key_returns_the_same_complaint(
    db_session: Session, settings, setup
) -> None:
    agent = make_user(db_session, Role.AGENT)
    first = make_complaint(db_session, settings, actor=agent, idempotency_key="abc-1")
    second = make_complaint(db_session, settings, actor=agent, idempotency_key="abc-1")
    assert first.id == second.id
    assert db_session.scalar(select(func.count()).select_from(Complaint)) == 1


@pytest.mark.parametrize("start", list(ComplaintStatus))
@pytest.mark.parametrize("target", list(ComplaintStatus))
def test_only_the_allowed_moves_are_possible(
    db_session: Session, settings, setup, start: ComplaintStatus, target: ComplaintStatus
) -> None:
    complaint = make_complaint(db_session, settings)
    complaint.status = start
    db_session.commit()
    kwargs = _resolve_kwargs() if target is ComplaintStatus.RESOLVED else {}
    at = complaint.received_at + timedelta(hours=1)
    if target in ALLOWED_MOVES[start]:
        transition_complaint(
            db_session, complaint, to=target, actor=None, at=at, settings=settings, **kwargs
        )
        db_session.commit()
        assert complaint.status is target
    else:
        with pytest.raises(ValidationError) as err:
            transition_complaint(
                db_session, complaint, to=target, actor=None, at=at, settings=settings, **kwargs
            )
        assert set(err.value.fields) == {"to"}
        db_session.rollback()
        assert complaint.status is start


def test_resolving_needs_a_code_and_a_text(db_session: Session, settings, setup) -> None:
    complaint = make_complaint(db_session, settings)
    with pytest.raises(ValidationError) as err:
        transition_complaint(
            db_session,
            complaint,
            to=ComplaintStatus.RESOLVED,
            actor=None,
            at=complaint.received_at,
            settings=settings,
        )
    assert set(err.value.fields) == {"resolution_code", "resolution"}
    transition_complaint(
        db_session,
        complaint,
        to=ComplaintStatus.RESOLVED,
        actor=None,
        at=complaint.received_at + timedelta(hours=2),
        settings=settings,
        compensation=Decimal("25.00"),
        **_resolve_kwargs(),
    )
    db_session.commit()
    assert complaint.compensation == Decimal("25.00")
    assert complaint.resolved_at == complaint.received_at + timedelta(hours=2)


def test_reopening_counts_and_keeps_the_first_resolution_time(
    db_session: Session, settings, setup
) -> None:
    complaint = make_complaint(db_session, settings)
    t = complaint.received_at
    transition_complaint(
        db_session,
        complaint,
        to=ComplaintStatus.RESOLVED,
        actor=None,
        at=t + timedelta(hours=1),
        settings=settings,
        **_resolve_kwargs(),
    )
    transition_complaint(
        db_session,
        complaint,
        to=ComplaintStatus.CLOSED,
        actor=None,
        at=t + timedelta(hours=2),
        settings=settings,
    )
    transition_complaint(
        db_session,
        complaint,
        to=ComplaintStatus.IN_PROGRESS,
        actor=None,
        at=t + timedelta(hours=3),
        settings=settings,
        note="Kunde meldet sich",
    )
    db_session.commit()
    assert complaint.reopen_count == 1
    assert complaint.resolved_at == t + timedelta(hours=1)
    assert complaint.resolution_code is None
    assert EventKind.REOPENED in [e.kind for e in services.timeline(db_session, complaint)]


def test_a_stale_version_is_a_conflict(db_session: Session, settings, setup) -> None:
    complaint = make_complaint(db_session, settings)
    version = complaint.version
    lifecycle.add_note(
        db_session,
        complaint,
        text="erste Notiz",
        actor=None,
        at=complaint.received_at + timedelta(minutes=5),
        expected_version=version,
    )
    db_session.commit()
    assert complaint.version == version + 1
    with pytest.raises(Conflict):
        lifecycle.add_note(
            db_session,
            complaint,
            text="zweite",
            actor=None,
            at=complaint.received_at,
            expected_version=version,
        )


def test_replies_start_and_restart_the_clocks(db_session: Session, settings, setup) -> None:
    make_policy(
        db_session,
        "medium",
        business_hours=False,
        first_response_minutes=60,
        next_update_minutes=120,
        resolution_minutes=600,
    )
    complaint = make_complaint(db_session, settings, at=berlin(2026, 3, 2, 9, 0))
    assert complaint.first_response_due_at == berlin(2026, 3, 2, 10, 0)
    assert complaint.next_update_due_at is None
    lifecycle.add_reply(
        db_session,
        complaint,
        text="Wir kümmern uns.",
        channel=complaint.channel,
        actor=None,
        at=berlin(2026, 3, 2, 9, 30),
        settings=settings,
    )
    db_session.commit()
    assert complaint.first_response_at == berlin(2026, 3, 2, 9, 30)
    assert complaint.next_update_due_at == berlin(2026, 3, 2, 11, 30)
    assert complaint.status is ComplaintStatus.IN_PROGRESS
    status = sla_status(complaint, settings.calendar, berlin(2026, 3, 2, 11, 10))
    assert status.first_response is SlaState.OK
    assert status.next_update is SlaState.AT_RISK  # 100 of 120 minutes used
    assert status.overall is SlaState.AT_RISK


def test_waiting_on_the_customer_stops_the_clock(db_session: Session, settings, setup) -> None:
    make_policy(
        db_session,
        "medium",
        business_hours=True,
        first_response_minutes=240,
        resolution_minutes=600,
    )
    complaint = make_complaint(db_session, settings, at=berlin(2026, 3, 2, 9, 0))  # Monday
    assert complaint.resolution_due_at == berlin(2026, 3, 2, 19, 0) or (
        complaint.resolution_due_at == berlin(2026, 3, 3, 9, 0)
    )
    due = complaint.resolution_due_at
    transition_complaint(
        db_session,
        complaint,
        to=ComplaintStatus.WAITING_ON_CUSTOMER,
        actor=None,
        at=berlin(2026, 3, 2, 10, 0),
        settings=settings,
    )
    paused = sla_status(complaint, settings.calendar, berlin(2026, 3, 9, 10, 0))
    assert paused.resolution is SlaState.OK  # a week later, but the clock stood still
    transition_complaint(
        db_session,
        complaint,
        to=ComplaintStatus.IN_PROGRESS,
        actor=None,
        at=berlin(2026, 3, 2, 13, 0),
        settings=settings,
    )
    db_session.commit()
    assert complaint.resolution_due_at == settings_clock(settings).add(due, 3 * 3600)
    assert complaint.paused_seconds == 3 * 3600


def settings_clock(settings):  # type: ignore[no-untyped-def]
    from cxjourney.complaints.sla import business_calendar

    return business_calendar(settings.calendar)


def test_the_acceptance_example_due_after_christmas(db_session: Session, settings, setup) -> None:
    make_policy(db_session, "high", business_hours=True, first_response_minutes=240)
    complaint = make_complaint(
        db_session, settings, severity="high", at=berlin(2026, 12, 24, 17, 0)
    )
    assert complaint.first_response_due_at == berlin(2026, 12, 28, 11, 0)


def test_severity_change_recomputes_the_dues(db_session: Session, settings, setup) -> None:
    make_policy(db_session, "low", business_hours=False, first_response_minutes=480)
    make_policy(db_session, "critical", business_hours=False, first_response_minutes=30)
    complaint = make_complaint(db_session, settings, severity="low", at=berlin(2026, 3, 2, 9, 0))
    assert complaint.first_response_due_at == berlin(2026, 3, 2, 17, 0)
    lifecycle.change_severity(
        db_session,
        complaint,
        severity=Severity.CRITICAL,
        actor=None,
        at=berlin(2026, 3, 2, 9, 10),
        settings=settings,
    )
    db_session.commit()
    assert complaint.first_response_due_at == berlin(2026, 3, 2, 9, 30)


def test_the_most_specific_policy_wins(db_session: Session, settings, setup) -> None:
    from cxjourney.journey.services import get_touchpoint_by_key

    tp = get_touchpoint_by_key(db_session, "hotline")
    make_policy(
        db_session, "medium", name="general", business_hours=False, first_response_minutes=600
    )
    make_policy(
        db_session,
        "medium",
        name="stage",
        business_hours=False,
        first_response_minutes=300,
        stage_id=tp.stage_id,
    )
    make_policy(
        db_session,
        "medium",
        name="touchpoint",
        business_hours=False,
        first_response_minutes=60,
        touchpoint_id=tp.id,
    )
    complaint = make_complaint(db_session, settings, at=berlin(2026, 3, 2, 9, 0))
    assert complaint.sla_policy.name == "touchpoint"


def test_other_teams_cannot_see_a_complaint(db_session: Session, settings, setup) -> None:
    make_team(db_session, "Abrechnung")
    complaint = make_complaint(db_session, settings)
    own = make_user(db_session, Role.AGENT, email="own@example.org", team="Kundenservice")
    other = make_user(db_session, Role.AGENT, email="other@example.org", team="Abrechnung")
    manager = make_user(db_session, Role.TOUCHPOINT_MANAGER)
    viewer = make_user(db_session, Role.VIEWER)
    assert services.get_complaint(db_session, complaint.reference, viewer=own).id == complaint.id
    assert services.get_complaint(db_session, complaint.reference, viewer=manager)
    for outsider in (other, viewer):
        with pytest.raises(NotFound):
            services.get_complaint(db_session, complaint.reference, viewer=outsider)
