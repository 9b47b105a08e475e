"""Customers: list and search, create, read, upsert (PUT), change (PATCH)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from ..auth.permissions import Permission, requires
from ..customers import services
from ..customers.models import Customer
from ..errors import ValidationError
from ..extensions import db, utcnow
from .errors import ErrorSchema
from .pagination import decode_cursor, encode_cursor
from .schemas import (
    CustomerListArgsSchema,
    CustomerPageSchema,
    CustomerPatchSchema,
    CustomerSchema,
)

blp = Blueprint("api_customers", __name__, description="Customers (personal data)")


def dump_customer(customer: Customer) -> dict[str, Any]:
    return {
        "external_ref": customer.external_ref,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "segment": customer.segment,
        "acquired_at": customer.acquired_at,
        "churned_at": customer.churned_at,
        "churn_reason": customer.churn_reason.key if customer.churn_reason else None,
        "referred_by": customer.referred_by.external_ref if customer.referred_by else None,
        "contact_consent": customer.contact_consent,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


@blp.get("/customers")
@requires(Permission.VIEW_CUSTOMERS)
@blp.arguments(CustomerListArgsSchema, location="query")
@blp.response(200, CustomerPageSchema)
def list_customers(args: dict[str, Any]) -> Any:
    """Customers in creation order; with ``q``, the best matches of a search."""
    if args.get("q"):
        found = services.search_customers(db.session, args["q"])
        if args.get("segment"):
            found = [c for c in found if c.segment == args["segment"]]
        return {"items": [dump_customer(c) for c in found], "next": None}
    after = decode_cursor(args.get("cursor"))
    limit = args["limit"]
    page = services.list_customers(
        db.session, after_id=after, limit=limit + 1, segment=args.get("segment")
    )
    more = len(page) > limit
    page = page[:limit]
    return {
        "items": [dump_customer(c) for c in page],
        "next": encode_cursor(page[-1].id) if more and page else None,
    }


@blp.post("/customers")
@requires(Permission.EDIT_CUSTOMERS)
@blp.arguments(CustomerSchema)
@blp.response(201, CustomerSchema)
@blp.alt_response(422, schema=ErrorSchema)
def create_customer(data: dict[str, Any]) -> Any:
    customer = services.create_customer(
        db.session, services.CustomerInput(**data), actor=current_user, at=utcnow()
    )
    db.session.commit()
    return dump_customer(customer)


@blp.get("/customers/<external_ref>")
@requires(Permission.VIEW_CUSTOMERS)
@blp.response(200, CustomerSchema)
@blp.alt_response(404, schema=ErrorSchema)
def get_customer(external_ref: str) -> Any:
    return dump_customer(services.get_customer(db.session, external_ref))


@blp.put("/customers/<external_ref>")
@requires(Permission.EDIT_CUSTOMERS)
@blp.arguments(CustomerSchema)
@blp.response(200, CustomerSchema)
@blp.alt_response(201, schema=CustomerSchema, description="Created")
@blp.alt_response(422, schema=ErrorSchema)
def put_customer(data: dict[str, Any], external_ref: str) -> Any:
    """Upsert by reference: 201 when created, 200 when replaced."""
    if data["external_ref"] != external_ref:
        raise ValidationError(
            {"external_ref": _("Must equal the reference in the URL (%(ref)s).", ref=external_ref)}
        )
    existing = services.find_customer(db.session, external_ref)
    now = utcnow()
    if existing is None:
        customer = services.create_customer(
            db.session, services.CustomerInput(**data), actor=current_user, at=now
        )
        status = 201
    else:
        customer = services.update_customer(
            db.session, existing, services.CustomerInput(**data), actor=current_user, at=now
        )
        status = 200
    db.session.commit()
    return dump_customer(customer), status


@blp.patch("/customers/<external_ref>")
@requires(Permission.EDIT_CUSTOMERS)
@blp.arguments(CustomerPatchSchema)
@blp.response(200, CustomerSchema)
@blp.alt_response(422, schema=ErrorSchema)
def patch_customer(data: dict[str, Any], external_ref: str) -> Any:
    customer = services.get_customer(db.session, external_ref)
    changed = services.customer_input_from(customer, **data)
    services.update_customer(db.session, customer, changed, actor=current_user, at=utcnow())
    db.session.commit()
    return dump_customer(customer)
