"""Journey events from source systems: ``POST /events`` stores a batch, all or nothing."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..auth.permissions import Permission, requires
from ..customers import events as services
from ..extensions import db, utcnow
from .errors import ErrorSchema
from .fields import local_zone
from .schemas import CHANNELS, StrictSchema

blp = Blueprint("api_events", __name__, description="Journey events from source systems")

TOO_MANY = f"Send between 1 and {services.MAX_BATCH:,} events."


class EventItemSchema(StrictSchema):
    """Shape only: references, times and channels are checked by the service, so that one
    answer lists every problem of the batch by index."""

    customer_ref = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The customer's external_ref"},
    )
    touchpoint = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "A touchpoint key (not archived)"},
    )
    occurred_at = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={
            "format": "date-time",
            "description": "ISO 8601; without an offset: the configured timezone",
        },
    )
    channel = fields.String(
        required=True, validate=validate.Length(min=1, max=32), metadata={"enum": CHANNELS}
    )


class EventBatchSchema(StrictSchema):
    events = fields.List(
        fields.Nested(EventItemSchema),
        required=True,
        validate=validate.Length(min=1, max=services.MAX_BATCH, error=TOO_MANY),
        metadata={"description": "Stored in list order: ids follow it"},
    )

    @ma.pre_load
    def _refuse_oversized(self, data: Any, **kwargs: Any) -> Any:
        # Refuse before deserializing tens of thousands of items only to count them.
        if isinstance(data, dict):
            events = data.get("events")
            if isinstance(events, list) and len(events) > services.MAX_BATCH:
                raise ma.ValidationError({"events": [TOO_MANY]})
        return data


class EventBatchResultSchema(StrictSchema):
    created = fields.Integer()


@blp.post("/events")
@requires(Permission.IMPORT_DATA)
@blp.arguments(EventBatchSchema)
@blp.response(201, EventBatchResultSchema)
@blp.alt_response(422, schema=ErrorSchema)
def post_events(data: dict[str, Any]) -> Any:
    """Store up to 10,000 events in list order; one bad event rejects the whole batch, and
    the answer names every problem as ``events[i].field``."""
    created = services.record_events(
        db.session,
        [services.EventInput(**item) for item in data["events"]],
        source="api",
        at=utcnow(),
        zone=local_zone(),
        actor=current_user,
    )
    db.session.commit()
    return {"created": created}
