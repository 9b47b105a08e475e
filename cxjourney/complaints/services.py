"""Complaints: log, route, work (status, notes, replies, assignment), and who may see what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Sequence,
    false,
    insert,
    inspect,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import MANYTOONE, Session, joinedload, lazyload, make_transient_to_detached

from ..auth.models import Role, User
from ..auth.permissions import Permission, can
from ..customers.models import Customer
from ..errors import NotFound, ValidationError
from ..extensions import begin_real_transaction
from ..journey.models import Channel, Touchpoint
from ..notifications.services import enqueue_message
from . import sla
from .models import (
    Category,
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    EventKind,
    Severity,
)
from .routing import OPEN_STATUSES, RoutingInput, decide

SUBJECT_MAX = 200
TEXT_MAX = 10_000
IDEMPOTENCY_KEY_MAX = 128
# The sequence behind complaint.id on PostgreSQL (a SERIAL column): taking the id before the
# INSERT lets the reference be written with the row instead of by a second statement.
COMPLAINT_ID_SEQUENCE = Sequence("complaint_id_seq")
# Offline channels: the form asks when the complaint was received (post, fax, counter).
OFFLINE_CHANNELS = frozenset({Channel.LETTER, Channel.FAX, Channel.IN_PERSON, Channel.PHONE})


def actor_label(actor: User | None) -> str:
    return actor.email if actor is not None else "system"


def event_row(
    complaint: Complaint,
    kind: EventKind,
    *,
    actor: User | None,
    at: datetime,
    body: str | None = None,
    channel: Channel | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one timeline entry."""
    return {
        "complaint_id": complaint.id,
        "kind": kind,
        "at": at,
        "actor_id": actor.id if actor is not None else None,
        "actor_label": actor_label(actor),
        "body": body,
        "channel": channel,
        "data": data,
    }


def record_event(
    session: Session,
    complaint: Complaint,
    kind: EventKind,
    *,
    actor: User | None,
    at: datetime,
    body: str | None = None,
    channel: Channel | None = None,
    data: dict[str, Any] | None = None,
) -> ComplaintEvent:
    """Append one timeline entry (never updated afterwards)."""
    event = ComplaintEvent(
        **event_row(complaint, kind, actor=actor, at=at, body=body, channel=channel, data=data)
    )
    session.add(event)
    return event


def timeline(session: Session, complaint: Complaint) -> list[ComplaintEvent]:
    return list(
        session.scalars(
            select(ComplaintEvent)
            .where(ComplaintEvent.complaint_id == complaint.id)
            .order_by(ComplaintEvent.at, ComplaintEvent.id)
        )
    )


def pause_intervals(session: Session, complaint: Complaint) -> list[tuple[datetime, datetime]]:
    """When the complaint waited on the customer (closed intervals), from its timeline."""
    intervals: list[tuple[datetime, datetime]] = []
    started: datetime | None = None
    for event in timeline(session, complaint):
        if event.kind is not EventKind.STATUS_CHANGED or not event.data:
            continue
        if event.data.get("to") == ComplaintStatus.WAITING_ON_CUSTOMER.value:
            started = event.at
        elif event.data.get("from") == ComplaintStatus.WAITING_ON_CUSTOMER.value and started:
            intervals.append((started, event.at))
            started = None
    return intervals


# --- visibility --------------------------------------------------------------------------


def visible_to(user: User) -> ColumnElement[bool]:
    """SQL condition: complaints ``user`` may see. Agents and team leads see their team's
    complaints and those they logged or hold; managers and admins see all."""
    if not can(user, Permission.VIEW_COMPLAINTS):
        return false()
    if user.role in (Role.ADMIN, Role.TOUCHPOINT_MANAGER):
        return true()
    conditions = [Complaint.assignee_id == user.id, Complaint.created_by_id == user.id]
    if user.team_id is not None:
        conditions.append(Complaint.team_id == user.team_id)
    return or_(*conditions)


def can_see(user: User, complaint: Complaint) -> bool:
    if not can(user, Permission.VIEW_COMPLAINTS):
        return False
    if user.role in (Role.ADMIN, Role.TOUCHPOINT_MANAGER):
        return True
    return user.id in (complaint.assignee_id, complaint.created_by_id) or (
        user.team_id is not None and complaint.team_id == user.team_id
    )


def get_complaint(session: Session, reference: str, *, viewer: User) -> Complaint:
    """The complaint with this reference, if ``viewer`` may see it; else NotFound (a guessed
    reference must not reveal that it exists)."""
    complaint = session.scalar(select(Complaint).where(Complaint.reference == reference))
    if complaint is None or not can_see(viewer, complaint):
        raise NotFound(str(_l("No complaint with the reference %(ref)s.", ref=reference)))
    return complaint


def likely_duplicates(
    session: Session, *, customer: Customer, touchpoint: Touchpoint, now: datetime, days: int
) -> list[Complaint]:
    """Open complaints of the same customer at the same touchpoint received recently."""
    return list(
        session.scalars(
            select(Complaint)
            .where(
                Complaint.customer_id == customer.id,
                Complaint.touchpoint_id == touchpoint.id,
                Complaint.status.in_(OPEN_STATUSES),
                Complaint.received_at >= now - timedelta(days=days),
            )
            .order_by(Complaint.received_at.desc())
        )
    )


def customer_complaints(session: Session, customer: Customer, *, viewer: User) -> list[Complaint]:
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.customer_id == customer.id, visible_to(viewer))
            .order_by(Complaint.received_at.desc())
        )
    )


# --- intake ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintInput:
    customer: Customer | None
    touchpoint: Touchpoint | None
    channel: Channel | None
    category: Category | None
    severity: Severity | None
    subject: str
    description: str
    desired_outcome: str = ""
    received_at: datetime | None = None
    idempotency_key: str | None = None
    complaint_id: int | None = None  # reserved beforehand (find_intake_references)


@dataclass(frozen=True)
class Settings:
    """What intake and the SLA clocks need from the configuration."""

    triage_team: str | None
    timezone: str
    calendar: dict[str, Any]
    base_url: str = "http://127.0.0.1:5000"

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        keys = (
            "SLA_TIMEZONE",
            "SLA_WORKDAYS",
            "SLA_HOURS",
            "SLA_HOLIDAY_COUNTRY",
            "SLA_HOLIDAY_SUBDIVISION",
        )
        return cls(
            triage_team=config.get("TRIAGE_TEAM"),
            timezone=config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Berlin"),
            calendar={k: config.get(k) for k in keys},
            base_url=config.get("BASE_URL") or "http://127.0.0.1:5000",
        )

    def complaint_url(self, reference: str) -> str:
        return f"{self.base_url}/complaints/{reference}"


def clean_text(
    value: str | None, field: str, limit: int, problems: dict[str, str], *, required: bool
) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        problems[field] = str(_l("This field is required."))
    elif len(cleaned) > limit:
        problems[field] = str(_l("Use at most %(n)d characters.", n=limit))
    return cleaned


def _check_intake(data: ComplaintInput, at: datetime) -> dict[str, Any]:
    problems: dict[str, str] = {}
    if data.customer is None:
        problems["customer"] = str(_l("Choose or create the customer."))
    if data.touchpoint is None:
        problems["touchpoint"] = str(_l("Choose the touchpoint."))
    elif data.touchpoint.archived:
        problems["touchpoint"] = str(_l("This touchpoint is archived."))
    if data.channel is None:
        problems["channel"] = str(_l("Choose the channel."))
    if data.category is None:
        problems["category"] = str(_l("Choose a category."))
    elif not data.category.active:
        problems["category"] = str(_l("This category is no longer in use."))
    if data.severity is None:
        problems["severity"] = str(_l("Choose the severity."))
    values = {
        "subject": clean_text(data.subject, "subject", SUBJECT_MAX, problems, required=True),
        "description": clean_text(
            data.description, "description", TEXT_MAX, problems, required=True
        ),
        "desired_outcome": clean_text(
            data.desired_outcome, "desired_outcome", TEXT_MAX, problems, required=False
        ),
    }
    received = data.received_at or at
    if received > at + timedelta(minutes=5):
        problems["received_at"] = str(_l("The date received cannot lie in the future."))
    values["received_at"] = min(received, at)
    if (
        data.idempotency_key is not None
        and not 0 < len(data.idempotency_key) <= IDEMPOTENCY_KEY_MAX
    ):
        problems["idempotency_key"] = str(
            _l("Use at most %(n)d characters.", n=IDEMPOTENCY_KEY_MAX)
        )
    if problems:
        raise ValidationError(problems)
    return values


@dataclass(frozen=True)
class IntakeReferences:
    customer: Customer | None
    touchpoint: Touchpoint | None
    category: Category | None
    # Reserved from the sequence in the same query (PostgreSQL), for ComplaintInput.
    complaint_id: int | None = None


def find_intake_references(
    session: Session, *, customer_ref: str, touchpoint_key: str, category_key: str
) -> IntakeReferences:
    """The customer, touchpoint and category an intake names by key, and the new id.

    One query when all three exist (the usual case: intake runs often and each lookup is a
    round trip); it also takes the complaint's id from the sequence where there is one (an
    id not used in the end is a gap, as after any rollback). When one is missing, each is
    looked up alone so the answer names which.
    """
    columns: list[Any] = [Customer, Touchpoint, Category]
    if session.get_bind().dialect.name == "postgresql":
        columns.append(COMPLAINT_ID_SEQUENCE.next_value())
    row = session.execute(
        select(*columns)
        .select_from(Customer)
        .join(Touchpoint, true())  # three unique-key lookups side by side, one row
        .join(Category, true())
        .where(
            Customer.external_ref == customer_ref,
            Touchpoint.key == touchpoint_key,
            Category.key == category_key,
        )
        # Only what routing reads: the owner team (the rest loads if ever used).
        .options(lazyload("*"), joinedload(Touchpoint.owner_team).lazyload("*"))
    ).first()
    if row is not None:
        return IntakeReferences(*row)
    return IntakeReferences(
        session.scalar(select(Customer).where(Customer.external_ref == customer_ref)),
        session.scalar(select(Touchpoint).where(Touchpoint.key == touchpoint_key)),
        session.scalar(select(Category).where(Category.key == category_key)),
    )


def find_by_idempotency_key(session: Session, actor: User | None, key: str) -> Complaint | None:
    return session.scalar(
        select(Complaint).where(
            Complaint.created_by_id == (actor.id if actor else None),
            Complaint.idempotency_key == key,
        )
    )


def reserve_complaint_id(session: Session) -> int | None:
    """The next complaint id from the database's sequence, or None where there is none.

    SQLite has no sequences: there the id comes from the INSERT and the reference follows in
    an UPDATE. Either way the number comes from the database, never from max() + 1.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.scalar(select(COMPLAINT_ID_SEQUENCE.next_value()))


def complaint_reference(complaint: Complaint, timezone: str) -> str:
    """``CX-<year>-<6 digits>``: the year it was logged (local time) and its id."""
    year = complaint.created_at.astimezone(ZoneInfo(timezone)).year
    return f"CX-{year}-{complaint.id:06d}"


def _insert_complaint(session: Session, complaint: Complaint, timezone: str) -> None:
    """Write a new complaint with one INSERT and attach it to the session as stored.

    Intake is the hot write path, and for one fresh row the unit of work costs several times
    the INSERT itself (docs/performance.md), so the row goes in as a plain statement: every
    column is set on the object first (unset ones get their column default), then the object
    joins the session as if loaded, and its relations load from the session when used.
    """
    table = Complaint.__table__
    for relation in inspect(Complaint).relationships:  # related objects set: copy their keys
        if relation.direction is MANYTOONE and relation.key in complaint.__dict__:
            target = complaint.__dict__[relation.key]
            for local, remote in relation.local_remote_pairs:
                value = getattr(target, remote.key) if target is not None else None
                setattr(complaint, local.key, value)
    for column in table.columns:
        if column.key not in complaint.__dict__:
            default = column.default
            value = default.arg if default is not None and default.is_scalar else None
            setattr(complaint, column.key, value)
    values = {column.key: complaint.__dict__[column.key] for column in table.columns}
    if complaint.id is not None:  # PostgreSQL: the id came from the sequence
        complaint.reference = values["reference"] = complaint_reference(complaint, timezone)
        session.execute(insert(table), values)
    else:  # SQLite: the INSERT gives the id, then the reference follows
        del values["id"]
        complaint.id = session.execute(insert(table).returning(table.c.id), values).scalar_one()
        complaint.reference = complaint_reference(complaint, timezone)
        session.execute(
            update(table).where(table.c.id == complaint.id), {"reference": complaint.reference}
        )
    make_transient_to_detached(complaint)
    session.add(complaint)


def log_complaint(
    session: Session,
    data: ComplaintInput,
    *,
    actor: User | None,
    at: datetime,
    settings: Settings,
) -> tuple[Complaint, bool]:
    """Log a complaint: validate, route, start the SLA clocks, write the timeline.

    Returns the complaint and whether it was created (False: the idempotency key was seen
    before, and the earlier complaint is returned). Raises ValidationError naming every bad
    field, Conflict when routing finds no team.
    """
    if data.idempotency_key:
        earlier = find_by_idempotency_key(session, actor, data.idempotency_key)
        if earlier is not None:
            return earlier, False
    values = _check_intake(data, at)
    customer, touchpoint, channel = data.customer, data.touchpoint, data.channel
    category, severity = data.category, data.severity
    if customer is None or touchpoint is None or channel is None or severity is None:
        raise ValidationError({"customer": "unreachable: checked above"})  # for the type checker
    decision = decide(
        session,
        RoutingInput(touchpoint, category, channel, severity, customer.segment),
        triage_team=settings.triage_team,
    )
    complaint = Complaint(
        id=data.complaint_id or reserve_complaint_id(session),
        # Keys, not related objects: the flush then handles this one row and nothing that
        # hangs off it (the related objects are in the session and load from there).
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        channel=data.channel,
        category_id=category.id if category is not None else None,
        severity=data.severity,
        status=ComplaintStatus.NEW,
        team_id=decision.team.id,
        assignee_id=decision.assignee.id if decision.assignee is not None else None,
        routing_rule_id=decision.rule.id if decision.rule is not None else None,
        routed_by=decision.routed_by,
        created_by_id=actor.id if actor else None,
        idempotency_key=data.idempotency_key,
        created_at=at,
        updated_at=at,
        **values,
    )
    policy = sla.select_policy(session, severity=severity, touchpoint=touchpoint, customer=customer)
    clock = sla.clock_for(policy, settings.calendar) if policy else None
    sla.compute_dues(complaint, policy, clock)
    if data.idempotency_key:
        begin_real_transaction(session)
        try:
            with session.begin_nested():
                _insert_complaint(session, complaint, settings.timezone)
        except IntegrityError:
            # The same idempotency key arrived twice at once: the other request won.
            earlier = find_by_idempotency_key(session, actor, data.idempotency_key)
            if earlier is None:
                raise
            return earlier, False
    else:
        _insert_complaint(session, complaint, settings.timezone)
    entries = [
        event_row(
            complaint,
            EventKind.CREATED,
            actor=actor,
            at=at,
            channel=data.channel,
            data={"received_at": values["received_at"].isoformat()},
        ),
        event_row(
            complaint,
            EventKind.ROUTED,
            actor=actor,
            at=at,
            data={
                "team": decision.team.name,
                "reason": decision.reason,
                "rule_id": decision.rule.id if decision.rule else None,
                "rule": decision.rule.name if decision.rule else None,
            },
        ),
    ]
    if decision.assignee is not None:
        entries.append(
            event_row(
                complaint,
                EventKind.ASSIGNED,
                actor=actor,
                at=at,
                data={"to": decision.assignee.email, "team": decision.team.name},
            )
        )
        notify_assignee(session, complaint, actor=actor, at=at, settings=settings)
    # The opening of the timeline in one INSERT.
    session.execute(insert(ComplaintEvent.__table__), entries)
    session.flush()
    return complaint, True


def notify_assignee(
    session: Session,
    complaint: Complaint,
    *,
    actor: User | None,
    at: datetime,
    settings: Settings,
) -> None:
    """Tell the new assignee (not someone who took it themselves), in their language."""
    assignee = complaint.assignee
    if assignee is None or (actor is not None and actor.id == assignee.id):
        return
    enqueue_message(
        session,
        kind="complaint_assigned",
        recipient=assignee,
        template="complaint_assigned",
        context={
            "reference": complaint.reference,
            "subject": complaint.subject,
            "touchpoint_name": complaint.touchpoint.name,
            "team_name": complaint.team.name,
            "url": settings.complaint_url(complaint.reference or ""),
        },
        # Each assignment event notifies once by construction: no dedupe key to check.
        dedupe_key=None,
        at=at,
    )


def link_contact(
    session: Session,
    complaint: Complaint,
    *,
    channel: Channel,
    text: str,
    actor: User | None,
    at: datetime,
) -> ComplaintEvent:
    """The customer got in touch again about an open complaint: add it there, no new one."""
    problems: dict[str, str] = {}
    body = clean_text(text, "description", TEXT_MAX, problems, required=True)
    if problems:
        raise ValidationError(problems)
    complaint.updated_at = at
    return record_event(
        session,
        complaint,
        EventKind.LINKED,
        actor=actor,
        at=at,
        body=body,
        channel=channel,
        data={"channel": channel.value},
    )
