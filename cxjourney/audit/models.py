"""The audit log: who changed what, when, with the values before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class AuditLog(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    # The actor as shown at the time (email, or "cli"/"system"): readable even after renames.
    actor_label: Mapped[str] = mapped_column(String(254), info={"personal": True})
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32), index=True)
    entity_id: Mapped[int | None]
    # May name a person (a user's email) and hold their name in the snapshots.
    entity_label: Mapped[str] = mapped_column(String(254), info={"personal": True})
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, info={"personal": True})
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, info={"personal": True})
