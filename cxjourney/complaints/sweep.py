"""The SLA sweep: mark breached clocks, escalate, tell the team lead. Safe to run anywhere.

Each breach is claimed with one conditional UPDATE (``… WHERE <clock>_breached_at IS NULL``):
whichever sweep's update changes the row writes the timeline entry and the notification,
so running the sweep twice, or on several nodes at once, escalates exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from ..auth.models import User
from ..auth.permissions import Permission, can
from ..notifications.services import enqueue_message
from .models import Complaint, EventKind
from .routing import OPEN_STATUSES
from .services import Settings, record_event

# clock → (due column, done column or None, breached column)
CLOCK_COLUMNS = {
    "first_response": (
        Complaint.first_response_due_at,
        Complaint.first_response_at,
        Complaint.first_response_breached_at,
    ),
    "next_update": (Complaint.next_update_due_at, None, Complaint.next_update_breached_at),
    "resolution": (
        Complaint.resolution_due_at,
        Complaint.resolved_at,
        Complaint.resolution_breached_at,
    ),
}


@dataclass
class SweepReport:
    breaches: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOCK_COLUMNS, 0))
    escalated: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.breaches.values())


def _overdue(clock: str, now: datetime):  # type: ignore[no-untyped-def]
    due, done, breached = CLOCK_COLUMNS[clock]
    conditions = [due.is_not(None), due < now, breached.is_(None)]
    if done is not None:
        conditions.append(done.is_(None))
    return and_(*conditions)


def team_leads(session: Session, team_id: int) -> list[User]:
    """Who is told about escalations: active members of the team who assign complaints."""
    members = session.scalars(
        select(User).where(User.team_id == team_id, User.active.is_(True)).order_by(User.id)
    )
    return [u for u in members if can(u, Permission.ASSIGN_COMPLAINTS)]


def sweep_sla(session: Session, *, now: datetime, settings: Settings) -> SweepReport:
    """Mark every clock that ran out, escalate its complaint once, and commit per complaint."""
    report = SweepReport()
    candidates = (
        session.execute(
            select(Complaint.id)
            .where(
                Complaint.status.in_(OPEN_STATUSES),
                Complaint.paused_since.is_(None),  # waiting on the customer: the clocks stand still
                or_(*(_overdue(clock, now) for clock in CLOCK_COLUMNS)),
            )
            .order_by(Complaint.id)
        )
        .scalars()
        .all()
    )
    for complaint_id in candidates:
        for clock, (_due, _done, breached) in CLOCK_COLUMNS.items():
            claimed = session.execute(
                update(Complaint)
                .where(Complaint.id == complaint_id, _overdue(clock, now))
                .where(Complaint.status.in_(OPEN_STATUSES), Complaint.paused_since.is_(None))
                .values(
                    {
                        breached: now,
                        Complaint.escalated_at: func.coalesce(Complaint.escalated_at, now),
                    }
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            complaint = session.get(Complaint, complaint_id, populate_existing=True)
            assert complaint is not None  # noqa: S101 - we just updated it
            due = CLOCK_COLUMNS[clock][0]
            due_at = session.scalar(select(due).where(Complaint.id == complaint_id))
            record_event(
                session,
                complaint,
                EventKind.ESCALATED,
                actor=None,
                at=now,
                data={"clock": clock, "due_at": due_at.isoformat() if due_at else None},
            )
            for lead in team_leads(session, complaint.team_id):
                enqueue_message(
                    session,
                    kind="complaint_escalated",
                    recipient=lead,
                    template="complaint_escalated",
                    context={
                        "reference": complaint.reference,
                        "subject": complaint.subject,
                        "clock": clock,
                        "due_at": due_at,
                        "url": settings.complaint_url(complaint.reference or ""),
                    },
                    dedupe_key=f"complaint:{complaint.id}:escalated:{clock}:{lead.id}",
                    at=now,
                )
            report.breaches[clock] += 1
            if complaint.reference not in report.escalated:
                report.escalated.append(complaint.reference or "")
        session.commit()
    return report
