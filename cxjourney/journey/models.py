"""The journey map: stages (lanes), touchpoints (nodes) and designed transitions (edges)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Team, User
from ..extensions import db


class Channel(enum.StrEnum):
    """One vocabulary for events, feedback and complaints. Letter and fax are first-class."""

    PHONE = "phone"
    EMAIL = "email"
    LETTER = "letter"
    FAX = "fax"
    SMS = "sms"
    CHAT = "chat"
    SOCIAL_MEDIA = "social_media"
    WEB = "web"
    APP = "app"
    IN_PERSON = "in_person"


class Stage(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(index=True)


class Touchpoint(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[Channel | None]
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    # The way out (cancellation, final invoice): an outcome for churn analysis, not a cause.
    exit: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False, index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    stage: Mapped[Stage] = relationship(lazy="joined")
    owner_team: Mapped[Team | None] = relationship(lazy="joined")
    manager: Mapped[User | None] = relationship(lazy="joined")


class Transition(db.Model):
    __table_args__ = (
        UniqueConstraint("source_id", "target_id"),
        CheckConstraint("source_id <> target_id", name="no_self_loop"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("touchpoint.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("touchpoint.id"), index=True)
    created_at: Mapped[datetime]

    source: Mapped[Touchpoint] = relationship(foreign_keys=[source_id], lazy="joined")
    target: Mapped[Touchpoint] = relationship(foreign_keys=[target_id], lazy="joined")
