"""Customers: the company's own customer number, contact data (personal), segment, tenure."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..journey.models import Channel

# 64-bit ids where rows are many (events); SQLite's rowid alias must be INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ChurnReason(db.Model):
    """Managed list of reasons a customer left (Kündigungsgrund)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)


class Customer(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    # The company's own customer number; unique, used by imports and the API.
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), info={"personal": True})
    # Stored lower-cased for search; None when unknown.
    email: Mapped[str | None] = mapped_column(String(254), index=True, info={"personal": True})
    phone: Mapped[str | None] = mapped_column(String(64), info={"personal": True})
    # Digits only, for search regardless of how the number was typed.
    phone_digits: Mapped[str | None] = mapped_column(
        String(64), index=True, info={"personal": True}
    )
    segment: Mapped[str | None] = mapped_column(String(64), index=True)
    acquired_at: Mapped[datetime] = mapped_column(index=True)
    churned_at: Mapped[datetime | None] = mapped_column(index=True)
    churn_reason_id: Mapped[int | None] = mapped_column(ForeignKey("churn_reason.id"))
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    # Consent to be contacted about feedback and complaints (surveys, follow-ups).
    contact_consent: Mapped[bool] = mapped_column(default=False)
    # The language to write to them in (de/en); None: the configured default.
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    churn_reason: Mapped[ChurnReason | None] = relationship(lazy="joined")
    referred_by: Mapped[Customer | None] = relationship(remote_side=[id], lazy="select")


class JourneyEvent(db.Model):
    """One observed contact of one customer with one touchpoint (from any source system).

    A customer's events in (occurred_at, id) order are their observed journey; ids follow
    insertion order, so events at the same instant keep the order they were posted in.

    Built for bulk loading (docs/imports.md, "The events table"): no foreign-key
    constraints – the only writers resolve both references in the same transaction
    (``customers.events``) under ``lock_for_event_writes``, customers are only ever deleted
    by a merge, which moves their events first under ``lock_out_event_writes``, and
    touchpoints are archived, never deleted – and two secondary indexes only.
    ``info={"refers_to": ...}`` marks the references for the merge.
    """

    __tablename__ = "journey_event"
    __table_args__ = (
        # A customer's timeline (the few hundred events of one customer, sorted on read).
        Index("ix_journey_event_customer_id", "customer_id"),
        # Windows of time. BRIN on PostgreSQL: a few pages, nearly free to maintain, and
        # precise where rows arrive roughly in time order (live feeds, sorted history).
        Index("ix_journey_event_occurred_at", "occurred_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(info={"refers_to": "customer"})
    touchpoint_id: Mapped[int] = mapped_column(info={"refers_to": "touchpoint"})
    occurred_at: Mapped[datetime]
    channel: Mapped[Channel]
    # Where it came from: "api", "csv:<file name>", "demo", …
    source: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class ValueKind(enum.StrEnum):
    REVENUE = "revenue"
    COST = "cost"


class CustomerValue(db.Model):
    """A revenue or cost entry of a customer; the lifetime value is derived from these."""

    __tablename__ = "customer_value"
    __table_args__ = (Index("ix_customer_value_customer_day", "customer_id", "occurred_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    kind: Mapped[ValueKind]
    amount: Mapped[Decimal]
    # Counts for the lifetime value at t when 00:00 local time of this day is before t.
    occurred_on: Mapped[date]
    source: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]


class CustomerMerge(db.Model):
    """A duplicate customer merged into a survivor: who, when, and what moved over."""

    __tablename__ = "customer_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    # The merged customer's number and name as they were (the row itself is gone).
    merged_ref: Mapped[str] = mapped_column(String(64))
    merged_name: Mapped[str] = mapped_column(String(200), info={"personal": True})
    moved: Mapped[dict[str, int]] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime]
