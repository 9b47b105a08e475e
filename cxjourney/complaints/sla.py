"""Service levels: which policy applies, when each clock is due, and where a complaint stands.

Three clocks: first response (from receipt to the first reply to the customer), next update
(from each reply to the next, while open) and resolution (from receipt to resolved). While a
complaint waits on the customer the clocks stand still, and the dues move on by the paused
(counted) time when it resumes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from ..customers.models import Customer
from ..journey.models import Touchpoint
from .intake_tables import PolicyRef, intake_tables
from .models import Complaint, ComplaintStatus, Severity, SlaPolicy
from .sla_clock import AroundTheClock, BusinessCalendar, Clock, calendar_from_settings


class SlaState(enum.StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"


CLOCKS = ("first_response", "next_update", "resolution")
_WORST = {SlaState.OK: 0, SlaState.AT_RISK: 1, SlaState.BREACHED: 2}


Policy = SlaPolicy | PolicyRef


def select_policy(
    session: Session, *, severity: Severity, touchpoint: Touchpoint, customer: Customer
) -> PolicyRef | None:
    """The most specific active policy for this severity: touchpoint over stage over segment."""
    candidates = [
        p
        for p in intake_tables(session).policies.values()
        if p.active
        and p.severity == severity
        and p.touchpoint_id in (None, touchpoint.id)
        and p.stage_id in (None, touchpoint.stage_id)
        and p.segment in (None, customer.segment)
    ]

    def specificity(policy: PolicyRef) -> tuple[int, int]:
        score = (
            4 * (policy.touchpoint_id is not None)
            + 2 * (policy.stage_id is not None)
            + (policy.segment is not None)
        )
        return (score, -policy.id)

    return max(candidates, key=specificity, default=None)


def policy_of(complaint: Complaint) -> Policy | None:
    """The complaint's policy: as loaded with it, else from the snapshot (no query)."""
    if "sla_policy" in complaint.__dict__ or complaint.sla_policy_id is None:
        return complaint.sla_policy
    session = inspect(complaint).session
    if session is not None:
        snapshot = intake_tables(session).policies.get(complaint.sla_policy_id)
        if snapshot is not None:
            return snapshot
    return complaint.sla_policy


def _set_policy(complaint: Complaint, policy: Policy | None) -> None:
    if policy is None or isinstance(policy, SlaPolicy):
        complaint.sla_policy = policy
        return
    state = inspect(complaint)
    if state.persistent and state.session is not None:
        # A stored complaint keeps its related object in step with the key.
        complaint.sla_policy = state.session.get(SlaPolicy, policy.id)
    else:
        complaint.sla_policy_id = policy.id


def clock_for(policy: Policy, settings: Any) -> Clock:
    if not policy.business_hours:
        return AroundTheClock()
    return business_calendar(settings)


_CALENDARS: dict[tuple[Any, ...], BusinessCalendar] = {}


def business_calendar(settings: Any) -> BusinessCalendar:
    key = tuple(
        settings.get(k)
        for k in (
            "SLA_TIMEZONE",
            "SLA_WORKDAYS",
            "SLA_HOURS",
            "SLA_HOLIDAY_COUNTRY",
            "SLA_HOLIDAY_SUBDIVISION",
        )
    )
    if key not in _CALENDARS:
        _CALENDARS[key] = calendar_from_settings(settings)
    return _CALENDARS[key]


def _paused_counted(
    clock: Clock, intervals: list[tuple[datetime, datetime]], since: datetime
) -> float:
    return sum(clock.between(max(a, since), b) for a, b in intervals if b > since)


def compute_dues(
    complaint: Complaint,
    policy: Policy | None,
    clock: Clock | None,
    *,
    pauses: list[tuple[datetime, datetime]] = (),  # type: ignore[assignment]
) -> None:
    """Set the three due times from receipt (and the last reply), moved on by past pauses."""
    _set_policy(complaint, policy)
    if policy is None or clock is None:
        complaint.first_response_due_at = None
        complaint.next_update_due_at = None
        complaint.resolution_due_at = None
        return
    start = complaint.received_at
    paused = _paused_counted(clock, list(pauses), start)
    complaint.first_response_due_at = clock.add(start, policy.first_response_minutes * 60 + paused)
    complaint.resolution_due_at = clock.add(start, policy.resolution_minutes * 60 + paused)
    if complaint.last_update_at is not None and complaint.status not in (
        ComplaintStatus.RESOLVED,
        ComplaintStatus.CLOSED,
    ):
        since = complaint.last_update_at
        complaint.next_update_due_at = clock.add(
            since,
            policy.next_update_minutes * 60 + _paused_counted(clock, list(pauses), since),
        )
    else:
        complaint.next_update_due_at = None


def restart_next_update(complaint: Complaint, clock: Clock | None, at: datetime) -> None:
    """A reply to the customer was logged at ``at``: the next update is due a target later."""
    complaint.last_update_at = at
    policy = policy_of(complaint)
    if policy is None or clock is None:
        return
    if complaint.status in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED):
        complaint.next_update_due_at = None
    else:
        complaint.next_update_due_at = clock.add(at, policy.next_update_minutes * 60)


def shift_dues(
    complaint: Complaint, clock: Clock | None, paused_from: datetime, until: datetime
) -> None:
    """The complaint waited on the customer from ``paused_from`` to ``until``: move open dues."""
    complaint.paused_seconds += max(0, int((until - paused_from).total_seconds()))
    if clock is None:
        return
    counted = clock.between(paused_from, until)
    if counted <= 0:
        return
    if complaint.first_response_at is None and complaint.first_response_due_at is not None:
        complaint.first_response_due_at = clock.add(complaint.first_response_due_at, counted)
    if complaint.resolved_at is None and complaint.resolution_due_at is not None:
        complaint.resolution_due_at = clock.add(complaint.resolution_due_at, counted)
    if complaint.next_update_due_at is not None:
        complaint.next_update_due_at = clock.add(complaint.next_update_due_at, counted)


@dataclass(frozen=True)
class SlaStatus:
    first_response: SlaState
    next_update: SlaState
    resolution: SlaState

    @property
    def overall(self) -> SlaState:
        return max((self.first_response, self.next_update, self.resolution), key=_WORST.get)

    def as_dict(self) -> dict[str, str]:
        return {
            "first_response": self.first_response.value,
            "next_update": self.next_update.value,
            "resolution": self.resolution.value,
            "overall": self.overall.value,
        }


def _clock_state(
    *,
    clock: Clock | None,
    due: datetime | None,
    done_at: datetime | None,
    breached_at: datetime | None,
    target_seconds: float,
    warning_percent: int,
    now: datetime,
) -> SlaState:
    if breached_at is not None:
        return SlaState.BREACHED
    if due is None or clock is None:
        return SlaState.OK
    if done_at is not None:
        return SlaState.BREACHED if done_at > due else SlaState.OK
    if now >= due:
        return SlaState.BREACHED
    remaining = clock.between(now, due)
    used = (target_seconds - remaining) / target_seconds if target_seconds > 0 else 1.0
    return SlaState.AT_RISK if used * 100 >= warning_percent else SlaState.OK


def sla_status(complaint: Complaint, settings: Any, now: datetime) -> SlaStatus:
    """Each clock's state at ``now`` (a paused complaint is judged at its pause)."""
    policy = policy_of(complaint)
    if policy is None:
        return SlaStatus(SlaState.OK, SlaState.OK, SlaState.OK)
    clock = clock_for(policy, settings)
    at = complaint.paused_since or now
    closed = complaint.status in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED)
    common = {"clock": clock, "warning_percent": policy.warning_percent, "now": at}
    return SlaStatus(
        first_response=_clock_state(
            due=complaint.first_response_due_at,
            done_at=complaint.first_response_at,
            breached_at=complaint.first_response_breached_at,
            target_seconds=policy.first_response_minutes * 60,
            **common,  # type: ignore[arg-type]
        ),
        next_update=_clock_state(
            due=None if closed else complaint.next_update_due_at,
            done_at=None,
            breached_at=complaint.next_update_breached_at,
            target_seconds=policy.next_update_minutes * 60,
            **common,  # type: ignore[arg-type]
        ),
        resolution=_clock_state(
            due=complaint.resolution_due_at,
            done_at=complaint.resolved_at,
            breached_at=complaint.resolution_breached_at,
            target_seconds=policy.resolution_minutes * 60,
            **common,  # type: ignore[arg-type]
        ),
    )


def due_within(complaint: Complaint, horizon: timedelta, now: datetime) -> bool:
    """Whether an open clock falls due before ``now + horizon`` (the "due today" list)."""
    limit = now + horizon
    dues = [
        complaint.first_response_due_at if complaint.first_response_at is None else None,
        complaint.next_update_due_at,
        complaint.resolution_due_at if complaint.resolved_at is None else None,
    ]
    return any(d is not None and d <= limit for d in dues)
