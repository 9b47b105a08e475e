"""Feedback: scores with comments per touchpoint (NPS, CSAT, CES), public links, surveys."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..customers.models import BigId, Customer
from ..extensions import db
from ..journey.models import Channel, Touchpoint


class FeedbackKind(enum.StrEnum):
    NPS = "nps"  # 0–10: would you recommend us?
    CSAT = "csat"  # 1–5: how satisfied were you?
    CES = "ces"  # 1–7: how easy was it? (higher = easier)

    @property
    def scores(self) -> range:
        return {"nps": range(0, 11), "csat": range(1, 6), "ces": range(1, 8)}[self.value]

    def is_negative(self, score: int) -> bool:
        """NPS 0–6 (detractor), CSAT 1–2, CES 1–2: the negative share and the closed loop."""
        return score <= 6 if self is FeedbackKind.NPS else score <= 2


class FeedbackSource(enum.StrEnum):
    AGENT = "agent"  # recorded by an agent
    API = "api"
    LINK = "link"  # a public feedback link (/f/<token>)
    SURVEY = "survey"  # the survey after a resolved complaint
    IMPORT = "import"


class FeedbackResponse(db.Model):
    __tablename__ = "feedback_response"
    __table_args__ = (
        Index("ix_feedback_touchpoint_time", "touchpoint_id", "submitted_at"),
        Index("ix_feedback_customer_time", "customer_id", "submitted_at"),
        Index("ix_feedback_submitted_at", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoint.id"))
    kind: Mapped[FeedbackKind]
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text, info={"personal": True})
    channel: Mapped[Channel]
    submitted_at: Mapped[datetime]
    # None: anonymous.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    # The complaint this is about (the survey after resolution), if any.
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"), index=True)
    # The customer agreed to be contacted about it (closed loop).
    contact_consent: Mapped[bool] = mapped_column(default=False)
    # The follow-up complaint a negative score with consent opened (closed loop).
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"))
    source: Mapped[FeedbackSource]
    link_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_link.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime]

    touchpoint: Mapped[Touchpoint] = relationship(lazy="joined")
    customer: Mapped[Customer | None] = relationship(lazy="select")


class FeedbackLink(db.Model):
    """A public link (and QR code) inviting feedback or a complaint at one touchpoint."""

    __tablename__ = "feedback_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoint.id"), index=True)
    kind: Mapped[FeedbackKind]
    # Unguessable: secrets.token_urlsafe; the URL is /f/<token>.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    touchpoint: Mapped[Touchpoint] = relationship(lazy="joined")


class SurveyInvitation(db.Model):
    """A one-time survey link sent after a complaint was resolved (at most one per complaint).

    Also the record of when a customer was last asked at a touchpoint (suppression window).
    """

    __tablename__ = "survey_invitation"
    __table_args__ = (Index("ix_survey_customer_touchpoint", "customer_id", "touchpoint_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    touchpoint_id: Mapped[int] = mapped_column(ForeignKey("touchpoint.id"))
    # SHA-256 of the token in the link; the token itself is only in the mail.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    response_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("feedback_response.id"))
