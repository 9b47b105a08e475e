"""The outbox: every notification is a row first, sent by ``cxjourney outbox send``."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..extensions import db


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry


class OutboxMessage(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    # Makes enqueueing idempotent: the same event never produces a second message.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254), info={"personal": True})
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(255), info={"personal": True})
    body: Mapped[str] = mapped_column(Text, info={"personal": True})
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    # Set while one sender works on the row, so parallel senders skip it.
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    recipient: Mapped[User | None] = relationship(lazy="joined")
