"""Working a complaint: status moves, notes, replies, assignment, severity – each checked
against the version the user saw and written to the timeline."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..auth.models import Team, User
from ..errors import Conflict, ValidationError
from ..feedback.survey import invite_after_resolution
from ..journey.models import Channel
from . import sla
from .labels import status_labels
from .models import (
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    EventKind,
    ResolutionCode,
    Severity,
)
from .services import (
    TEXT_MAX,
    Settings,
    clean_text,
    notify_assignee,
    pause_intervals,
    record_event,
)

ALLOWED_MOVES: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    ComplaintStatus.NEW: frozenset(
        {ComplaintStatus.IN_PROGRESS, ComplaintStatus.WAITING_ON_CUSTOMER, ComplaintStatus.RESOLVED}
    ),
    ComplaintStatus.IN_PROGRESS: frozenset(
        {ComplaintStatus.WAITING_ON_CUSTOMER, ComplaintStatus.RESOLVED}
    ),
    ComplaintStatus.WAITING_ON_CUSTOMER: frozenset(
        {ComplaintStatus.IN_PROGRESS, ComplaintStatus.RESOLVED}
    ),
    # Moving a resolved or closed complaint back to work is a reopen.
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.CLOSED, ComplaintStatus.IN_PROGRESS}),
    ComplaintStatus.CLOSED: frozenset({ComplaintStatus.IN_PROGRESS}),
}
DONE = frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED})


def _check_version(complaint: Complaint, expected: int | None) -> None:
    if expected is not None and expected != complaint.version:
        raise Conflict(
            str(
                _l(
                    "Someone else changed this complaint in the meantime (version %(now)d, "
                    "you edited version %(yours)d). Check the current state and try again.",
                    now=complaint.version,
                    yours=expected,
                )
            )
        )


def _clock(complaint: Complaint, settings: Settings) -> Any:
    policy = sla.policy_of(complaint)
    return sla.clock_for(policy, settings.calendar) if policy else None


def transition_complaint(
    session: Session,
    complaint: Complaint,
    *,
    to: ComplaintStatus,
    actor: User | None,
    at: datetime,
    settings: Settings,
    note: str = "",
    resolution_code: ResolutionCode | None = None,
    resolution: str = "",
    compensation: Decimal | None = None,
    expected_version: int | None = None,
    survey: bool = True,
) -> ComplaintEvent:
    """Move a complaint to a new status and record who did it.

    Resolving it asks the customer once how it was handled (``feedback.survey``; ``survey``
    False skips that, for history such as the demo). Raises Conflict on a stale version,
    ValidationError (field ``to``) when the lifecycle forbids the move, and when a
    resolution lacks its code or text.
    """
    _check_version(complaint, expected_version)
    current = complaint.status
    if to not in ALLOWED_MOVES[current]:
        names = status_labels()
        raise ValidationError(
            {
                "to": str(
                    _l(
                        "A complaint cannot move from “%(old)s” to “%(new)s”.",
                        old=names[current.value],
                        new=names[to.value],
                    )
                )
            }
        )
    problems: dict[str, str] = {}
    note = clean_text(note, "note", TEXT_MAX, problems, required=False)
    if to is ComplaintStatus.RESOLVED:
        if resolution_code is None:
            problems["resolution_code"] = str(_l("Choose how the complaint was resolved."))
        resolution = clean_text(resolution, "resolution", TEXT_MAX, problems, required=True)
        if compensation is not None and not Decimal(0) <= compensation < Decimal("1e10"):
            problems["compensation"] = str(_l("Enter an amount of 0 or more."))
    if problems:
        raise ValidationError(problems)

    clock = _clock(complaint, settings)
    if current is ComplaintStatus.WAITING_ON_CUSTOMER and complaint.paused_since is not None:
        sla.shift_dues(complaint, clock, complaint.paused_since, at)
        complaint.paused_since = None
    if to is ComplaintStatus.WAITING_ON_CUSTOMER:
        complaint.paused_since = at
    reopening = current in DONE and to is ComplaintStatus.IN_PROGRESS
    if to is ComplaintStatus.RESOLVED:
        complaint.resolved_at = complaint.resolved_at or at
        complaint.resolution_code = resolution_code
        complaint.resolution = resolution
        complaint.compensation = compensation
        complaint.next_update_due_at = None
    elif to is ComplaintStatus.CLOSED:
        complaint.closed_at = at
        complaint.next_update_due_at = None
    if reopening:
        complaint.reopen_count += 1
        complaint.resolution_code = None
        complaint.resolution = None
        complaint.compensation = None
        complaint.closed_at = None
        policy = sla.policy_of(complaint)
        if clock is not None and policy is not None:
            # The customer is waiting again: a fresh next-update clock from now.
            complaint.next_update_due_at = clock.add(at, policy.next_update_minutes * 60)
    complaint.status = to
    complaint.updated_at = at
    data: dict[str, Any] = {"from": current.value, "to": to.value}
    if to is ComplaintStatus.RESOLVED:
        data.update(
            resolution_code=resolution_code.value if resolution_code else None,
            compensation=f"{compensation:.2f}" if compensation is not None else None,
        )
    if reopening:
        record_event(
            session,
            complaint,
            EventKind.REOPENED,
            actor=actor,
            at=at,
            body=note or None,
            data={"from": current.value},
        )
    event = record_event(
        session,
        complaint,
        EventKind.STATUS_CHANGED,
        actor=actor,
        at=at,
        body=(resolution if to is ComplaintStatus.RESOLVED else note) or None,
        data=data,
    )
    session.flush()
    if to is ComplaintStatus.RESOLVED and survey:
        invite_after_resolution(session, complaint, at=at)
    return event


def add_note(
    session: Session,
    complaint: Complaint,
    *,
    text: str,
    actor: User | None,
    at: datetime,
    expected_version: int | None = None,
) -> ComplaintEvent:
    """An internal note on the timeline (the customer never sees it)."""
    _check_version(complaint, expected_version)
    problems: dict[str, str] = {}
    body = clean_text(text, "text", TEXT_MAX, problems, required=True)
    if problems:
        raise ValidationError(problems)
    complaint.updated_at = at
    event = record_event(session, complaint, EventKind.NOTE, actor=actor, at=at, body=body)
    session.flush()
    return event


def add_reply(
    session: Session,
    complaint: Complaint,
    *,
    text: str,
    channel: Channel | None,
    actor: User | None,
    at: datetime,
    settings: Settings,
    expected_version: int | None = None,
) -> ComplaintEvent:
    """A reply to the customer, logged with its channel: the first one is the first response,
    and every one restarts the next-update clock."""
    _check_version(complaint, expected_version)
    problems: dict[str, str] = {}
    body = clean_text(text, "text", TEXT_MAX, problems, required=True)
    if channel is None:
        problems["channel"] = str(_l("Choose the channel."))
    if problems:
        raise ValidationError(problems)
    if complaint.first_response_at is None:
        complaint.first_response_at = at
    sla.restart_next_update(complaint, _clock(complaint, settings), at)
    if complaint.status is ComplaintStatus.NEW:
        complaint.status = ComplaintStatus.IN_PROGRESS
        record_event(
            session,
            complaint,
            EventKind.STATUS_CHANGED,
            actor=actor,
            at=at,
            data={"from": "new", "to": "in_progress"},
        )
    complaint.updated_at = at
    event = record_event(
        session, complaint, EventKind.REPLY, actor=actor, at=at, body=body, channel=channel
    )
    session.flush()
    return event


def assign_complaint(
    session: Session,
    complaint: Complaint,
    *,
    team: Team | None,
    assignee: User | None,
    actor: User | None,
    at: datetime,
    expected_version: int | None = None,
    settings: Settings | None = None,
) -> ComplaintEvent | None:
    """Give the complaint to a team and/or person (None: the team's queue).

    With ``settings``, the new assignee is notified (the links need the base URL).
    Raises ValidationError when the person is inactive or not in the team.
    """
    _check_version(complaint, expected_version)
    team = team or complaint.team
    problems: dict[str, str] = {}
    if not team.active:
        problems["team"] = str(_l("This team is deactivated."))
    if assignee is not None and (not assignee.active or assignee.team_id != team.id):
        problems["assignee"] = str(_l("Choose an active member of the team."))
    if problems:
        raise ValidationError(problems)
    if (
        team.id == complaint.team_id
        and (assignee.id if assignee else None) == complaint.assignee_id
    ):
        return None
    previous = {
        "team": complaint.team.name,
        "assignee": complaint.assignee.email if complaint.assignee else None,
    }
    complaint.team = team
    complaint.assignee = assignee
    complaint.updated_at = at
    event = record_event(
        session,
        complaint,
        EventKind.ASSIGNED,
        actor=actor,
        at=at,
        data={"to": assignee.email if assignee else None, "team": team.name, "previous": previous},
    )
    session.flush()
    if settings is not None:
        notify_assignee(session, complaint, actor=actor, at=at, settings=settings)
    return event


def change_severity(
    session: Session,
    complaint: Complaint,
    *,
    severity: Severity,
    actor: User | None,
    at: datetime,
    settings: Settings,
    expected_version: int | None = None,
) -> ComplaintEvent | None:
    """New severity → the policy may change and the dues are computed again from receipt."""
    _check_version(complaint, expected_version)
    if severity is complaint.severity:
        return None
    previous = complaint.severity
    complaint.severity = severity
    policy = sla.select_policy(
        session, severity=severity, touchpoint=complaint.touchpoint, customer=complaint.customer
    )
    clock = sla.clock_for(policy, settings.calendar) if policy else None
    sla.compute_dues(complaint, policy, clock, pauses=pause_intervals(session, complaint))
    complaint.updated_at = at
    event = record_event(
        session,
        complaint,
        EventKind.SEVERITY_CHANGED,
        actor=actor,
        at=at,
        data={"from": previous.value, "to": severity.value},
    )
    session.flush()
    return event
