"""Complaints: intake, routing, lifecycle, SLA clocks, the append-only timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from ..auth.models import Team, User
from ..customers.models import Customer
from ..extensions import db
from ..journey.models import Channel, Stage, Touchpoint


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class ComplaintStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ResolutionCode(enum.StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    CREDIT = "credit"
    APOLOGY = "apology"
    EXPLANATION = "explanation"
    NO_ACTION = "no_action"
    OTHER = "other"


class AssignmentStrategy(enum.StrEnum):
    TEAM_QUEUE = "team_queue"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


class EventKind(enum.StrEnum):
    CREATED = "created"
    ROUTED = "routed"
    ASSIGNED = "assigned"
    STATUS_CHANGED = "status_changed"
    NOTE = "note"
    REPLY = "reply"
    ESCALATED = "escalated"
    LINKED = "linked"
    REOPENED = "reopened"
    SEVERITY_CHANGED = "severity_changed"
    ATTACHMENT_ADDED = "attachment_added"


class Category(db.Model):
    """Admin-managed complaint taxonomy."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)


class RoutingRule(db.Model):
    """First matching active rule (lowest ``priority``) decides the team and assignment."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    priority: Mapped[int] = mapped_column(index=True)
    active: Mapped[bool] = mapped_column(default=True)
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("touchpoint.id"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    channel: Mapped[Channel | None]
    min_severity: Mapped[Severity | None]
    segment: Mapped[str | None] = mapped_column(String(64))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    strategy: Mapped[AssignmentStrategy] = mapped_column(default=AssignmentStrategy.TEAM_QUEUE)
    # Round robin: the agent who got the previous complaint (the row is locked while routing).
    last_assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    touchpoint: Mapped[Touchpoint | None] = relationship(lazy="joined")
    stage: Mapped[Stage | None] = relationship(lazy="joined")
    category: Mapped[Category | None] = relationship(lazy="joined")
    team: Mapped[Team] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id], lazy="joined")


class SlaPolicy(db.Model):
    """Targets per severity; the most specific active policy for a complaint wins."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    severity: Mapped[Severity] = mapped_column(index=True)
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("touchpoint.id"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id"))
    segment: Mapped[str | None] = mapped_column(String(64))
    first_response_minutes: Mapped[int]
    next_update_minutes: Mapped[int]
    resolution_minutes: Mapped[int]
    # True: targets count business hours of the configured calendar; False: around the clock.
    business_hours: Mapped[bool] = mapped_column(default=True)
    warning_percent: Mapped[int] = mapped_column(default=80)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    touchpoint: Mapped[Touchpoint | None] = relationship(lazy="joined")
    stage: Mapped[Stage | None] = relationship(lazy="joined")


class Complaint(db.Model):
    __table_args__ = (
        UniqueConstraint("created_by_id", "idempotency_key"),
        Index("ix_complaint_team_status", "team_id", "status"),
        Index("ix_complaint_customer_touchpoint", "customer_id", "touchpoint_id"),
        # Open complaints per person (least-loaded routing, workload): counted from the index.
        Index("ix_complaint_assignee_status", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # CX-<year>-<6 digits>, derived from the id in the inserting transaction.
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    # Indexed by ix_complaint_customer_touchpoint (it leads with the customer).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoint.id"), index=True)
    channel: Mapped[Channel]
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    severity: Mapped[Severity]
    subject: Mapped[str] = mapped_column(String(200), info={"personal": True})
    description: Mapped[str] = mapped_column(Text, info={"personal": True})
    desired_outcome: Mapped[str] = mapped_column(Text, default="", info={"personal": True})
    status: Mapped[ComplaintStatus] = mapped_column(default=ComplaintStatus.NEW, index=True)
    # Indexed by ix_complaint_team_status (it leads with the team).
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    routing_rule_id: Mapped[int | None] = mapped_column(ForeignKey("routing_rule.id"))
    # Why it landed where it did, e.g. "rule:Billing letters" or "owner" or "triage".
    routed_by: Mapped[str] = mapped_column(String(200))
    linked_to_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))

    received_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    first_response_at: Mapped[datetime | None]
    last_update_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)

    resolution_code: Mapped[ResolutionCode | None]
    resolution: Mapped[str | None] = mapped_column(Text, info={"personal": True})
    compensation: Mapped[Decimal | None]

    sla_policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policy.id"))
    first_response_due_at: Mapped[datetime | None]
    next_update_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    # Set while waiting on the customer: the clocks stand still from here.
    paused_since: Mapped[datetime | None]
    paused_seconds: Mapped[int] = mapped_column(default=0)
    first_response_breached_at: Mapped[datetime | None]
    next_update_breached_at: Mapped[datetime | None]
    resolution_breached_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None] = mapped_column(index=True)

    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's protocol

    customer: Mapped[Customer] = relationship(lazy="joined")
    touchpoint: Mapped[Touchpoint] = relationship(lazy="joined")
    category: Mapped[Category] = relationship(lazy="joined")
    team: Mapped[Team] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    routing_rule: Mapped[RoutingRule | None] = relationship(lazy="select")
    sla_policy: Mapped[SlaPolicy | None] = relationship(lazy="select")
    events: WriteOnlyMapped[ComplaintEvent] = relationship(
        back_populates="complaint", order_by="ComplaintEvent.id"
    )


class ComplaintEvent(db.Model):
    """One entry of a complaint's timeline. Never updated, never deleted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    kind: Mapped[EventKind]
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor_label: Mapped[str] = mapped_column(String(254), info={"personal": True})
    channel: Mapped[Channel | None]
    # Note or reply text, written by staff about the customer.
    body: Mapped[str | None] = mapped_column(Text, info={"personal": True})
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    complaint: Mapped[Complaint] = relationship(back_populates="events", lazy="select")
    actor: Mapped[User | None] = relationship(lazy="joined")


class Attachment(db.Model):
    """A file of a complaint (scanned letter, photo, PDF), stored outside the database."""

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255), info={"personal": True})
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # Random name in the attachment directory; never derived from user input.
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_at: Mapped[datetime]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
