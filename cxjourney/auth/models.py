"""Accounts: teams, users with one role each, API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Role(enum.StrEnum):
    AGENT = "agent"
    TOUCHPOINT_MANAGER = "touchpoint_manager"
    TEAM_LEAD = "team_lead"
    VIEWER = "viewer"
    ADMIN = "admin"


class Team(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    members: Mapped[list[User]] = relationship(back_populates="team", lazy="raise_on_sql")


class User(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: unique regardless of how it was typed.
    email: Mapped[str] = mapped_column(String(254), unique=True, info={"personal": True})
    name: Mapped[str] = mapped_column(String(120), info={"personal": True})
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    # None: follow the browser's Accept-Language.
    language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the login cookie's id: changing it logs out every session of the user.
    session_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    team: Mapped[Team | None] = relationship(back_populates="members", lazy="joined")

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"


class ApiToken(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    # SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")
