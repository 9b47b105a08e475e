"""Customers: the company's own customer number, contact data (personal), segment, tenure."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


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
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    churn_reason: Mapped[ChurnReason | None] = relationship(lazy="joined")
    referred_by: Mapped[Customer | None] = relationship(remote_side=[id], lazy="select")
