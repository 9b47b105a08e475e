"""The SLA sweep: breaches marked once, escalation once, even with two sweeps at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints import lifecycle
from cxjourney.complaints.models import Complaint, ComplaintEvent, ComplaintStatus, EventKind
from cxjourney.complaints.sweep import sweep_sla
from cxjourney.extensions import db
from cxjourney.notifications.models import OutboxMessage

from .conftest import make_user
from .factories import (
    T0,
    make_category,
    make_complaint,
    make_customer,
    make_policy,
    make_touchpoint,
    settings_for,
)


@pytest.fixture
def settings(app: Flask):  # type: ignore[no-untyped-def]
    return settings_for(app.config)


@pytest.fixture
def overdue(db_session: Session, settings) -> Complaint:  # type: ignore[no-untyped-def]
    make_touchpoint(db_session, "hotline")
    make_category(db_session)
    make_customer(db_session)
    make_user(
        db_session, Role.TEAM_LEAD, email="lead@example.org", team="Kundenservice", language="en"
    )
    make_user(db_session, Role.AGENT, email="agent@example.org", team="Kundenservice")
    make_policy(
        db_session,
        "medium",
        business_hours=False,
        first_response_minutes=60,
        next_update_minutes=120,
        resolution_minutes=240,
    )
    db_session.commit()
    return make_complaint(db_session, settings, at=T0)


def _escalations(session: Session) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count())
        .select_from(ComplaintEvent)
        .where(ComplaintEvent.kind == EventKind.ESCALATED)
    )


def test_a_missed_first_response_is_marked_and_escalated_once(
    db_session: Session, settings, overdue: Complaint
) -> None:
    before = sweep_sla(db_session, now=T0 + timedelta(minutes=59), settings=settings)
    assert before.total == 0
    first = sweep_sla(db_session, now=T0 + timedelta(minutes=61), settings=settings)
    second = sweep_sla(db_session, now=T0 + timedelta(minutes=62), settings=settings)
    assert first.breaches["first_response"] == 1
    assert second.total == 0
    db_session.expire_all()
    complaint = db_session.get(Complaint, overdue.id)
    assert complaint.first_response_breached_at == T0 + timedelta(minutes=61)
    assert complaint.escalated_at == T0 + timedelta(minutes=61)
    assert _escalations(db_session) == 1
    mails = db_session.scalars(select(OutboxMessage)).all()
    assert [m.to_address for m in mails] == ["lead@example.org"]  # the lead, not the agent
    assert overdue.reference in mails[0].subject + mails[0].body


def test_later_clocks_escalate_again_but_each_only_once(
    db_session: Session, settings, overdue: Complaint
) -> None:
    sweep_sla(db_session, now=T0 + timedelta(hours=5), settings=settings)  # first + resolution
    sweep_sla(db_session, now=T0 + timedelta(hours=6), settings=settings)
    assert _escalations(db_session) == 2
    db_session.expire_all()
    assert db_session.get(Complaint, overdue.id).resolution_breached_at is not None


def test_waiting_on_the_customer_is_never_breached(
    db_session: Session, settings, overdue: Complaint
) -> None:
    lifecycle.transition_complaint(
        db_session,
        overdue,
        to=ComplaintStatus.WAITING_ON_CUSTOMER,
        actor=None,
        at=T0 + timedelta(minutes=30),
        settings=settings,
    )
    db_session.commit()
    assert sweep_sla(db_session, now=T0 + timedelta(days=3), settings=settings).total == 0


def test_two_sweeps_at_once_escalate_once(
    app: Flask, db_session: Session, settings, overdue: Complaint
) -> None:
    barrier = threading.Barrier(2)
    results = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            results.append(
                sweep_sla(db.session, now=T0 + timedelta(minutes=90), settings=settings).total
            )
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]
    assert _escalations(db_session) == 1
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_the_cli_sweeps(app: Flask, db_session: Session, overdue: Complaint) -> None:
    import subprocess
    import sys

    env = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.run(
            [sys.executable, "-m", "cxjourney.cli", "sla", "sweep"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert (
        "Breaches marked: 2" in runs[0].stdout
    )  # T0 lies months back: first response and resolution
    assert "Breaches marked: 0" in runs[1].stdout
    assert _escalations(db_session) == 2
