"""Feedback: record an NPS/CSAT/CES answer; a bad one given with consent opens a follow-up."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..auth.permissions import Permission, requires
from ..extensions import db, utcnow
from ..feedback import services
from ..feedback.checks import COMMENT_MAX
from ..feedback.models import FeedbackKind, FeedbackResponse, FeedbackSource
from .errors import ErrorSchema
from .fields import Timestamp
from .schemas import CHANNELS, StrictSchema

blp = Blueprint("api_feedback", __name__, description="Feedback (comments are personal data)")

KINDS = [k.value for k in FeedbackKind]


class FeedbackCreateSchema(StrictSchema):
    touchpoint = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A touchpoint key"},
    )
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    score = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=10),
        metadata={"description": "nps 0–10, csat 1–5, ces 1–7"},
    )
    comment = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=COMMENT_MAX)
    )
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    submitted_at = Timestamp(
        allow_none=True, load_default=None, metadata={"description": "Defaults to now"}
    )
    customer_ref = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=64),
        metadata={"description": "A customer's external_ref; absent: anonymous"},
    )
    complaint_ref = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=32),
        metadata={"description": "The complaint this answer is about (CX-…)"},
    )
    contact_consent = fields.Boolean(
        load_default=False,
        metadata={"description": "With a bad score, opens a follow-up complaint"},
    )


class FeedbackSchema(StrictSchema):
    id = fields.Integer()
    touchpoint = fields.String()
    kind = fields.String()
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    channel = fields.String()
    submitted_at = Timestamp()
    customer_ref = fields.String(allow_none=True)
    complaint_ref = fields.String(allow_none=True)
    contact_consent = fields.Boolean()
    follow_up = fields.String(
        allow_none=True, metadata={"description": "The follow-up complaint's reference"}
    )
    source = fields.String()
    created_at = Timestamp()


def dump_feedback(response: FeedbackResponse, references: dict[int, str]) -> dict[str, Any]:
    return {
        "id": response.id,
        "touchpoint": response.touchpoint.key,
        "kind": response.kind.value,
        "score": response.score,
        "comment": response.comment,
        "channel": response.channel.value,
        "submitted_at": response.submitted_at,
        "customer_ref": response.customer.external_ref if response.customer else None,
        "complaint_ref": references.get(response.complaint_id) if response.complaint_id else None,
        "contact_consent": response.contact_consent,
        "follow_up": references.get(response.follow_up_id) if response.follow_up_id else None,
        "source": response.source.value,
        "created_at": response.created_at,
    }


@blp.post("/feedback")
@requires(Permission.RECORD_FEEDBACK)
@blp.arguments(FeedbackCreateSchema)
@blp.response(201, FeedbackSchema)
@blp.alt_response(422, schema=ErrorSchema)
def create_feedback(data: dict[str, Any]) -> Any:
    """Record an answer. A negative score with ``contact_consent`` from a known customer
    opens one follow-up complaint for the touchpoint's team (``follow_up``)."""
    recorded = services.record_feedback(
        db.session,
        services.FeedbackInput(**data, source=FeedbackSource.API),
        actor=current_user,
        at=utcnow(),
        settings=services.FeedbackSettings.from_config(current_app.config),
    )
    db.session.commit()
    response = recorded.response
    return dump_feedback(response, services.follow_up_references(db.session, [response]))
