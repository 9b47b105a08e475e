"""Revenue and cost records of a customer: ``POST /customers/<ref>/values``."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_smorest import Blueprint
from marshmallow import fields, validate

from ..auth.permissions import Permission, requires
from ..customers import services as customers
from ..customers import values as services
from ..customers.models import CustomerValue, ValueKind
from ..extensions import db, utcnow
from .errors import ErrorSchema
from .fields import Money, Timestamp
from .schemas import StrictSchema

blp = Blueprint("api_customer_values", __name__, description="Customer revenue and cost")

KINDS = [k.value for k in ValueKind]
DAYS = validate.Range(
    min=date(1900, 1, 1), max=date(2199, 12, 31), error="The date must lie between 1900 and 2199."
)


class ValueCreateSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    amount = Money(
        required=True,
        metadata={"description": 'A decimal string ("12.50") or a number; at most 2 decimals'},
    )
    occurred_on = fields.Date(
        required=True,
        validate=DAYS,
        metadata={"description": "Counts for the lifetime value from 00:00 local on this day"},
    )


class ValueSchema(StrictSchema):
    id = fields.Integer()
    customer_ref = fields.String()
    kind = fields.String()
    amount = Money()
    occurred_on = fields.Date()
    source = fields.String()
    created_at = Timestamp()


def _dump(value: CustomerValue, customer_ref: str) -> dict[str, Any]:
    return {
        "id": value.id,
        "customer_ref": customer_ref,
        "kind": value.kind.value,
        "amount": value.amount,
        "occurred_on": value.occurred_on,
        "source": value.source,
        "created_at": value.created_at,
    }


@blp.post("/customers/<external_ref>/values")
@requires(Permission.IMPORT_DATA)
@blp.arguments(ValueCreateSchema)
@blp.response(201, ValueSchema)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def post_value(data: dict[str, Any], external_ref: str) -> Any:
    """Add a revenue or cost record; the lifetime value is derived from these."""
    customer = customers.get_customer(db.session, external_ref)
    value = services.record_value(
        db.session,
        customer,
        kind=data["kind"],
        amount=data["amount"],
        occurred_on=data["occurred_on"],
        source="api",
        at=utcnow(),
    )
    db.session.commit()
    return _dump(value, customer.external_ref)
