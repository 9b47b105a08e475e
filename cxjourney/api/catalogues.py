"""Managed lists: complaint categories and churn reasons (read by all, created by admins)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from ..auth.permissions import Permission, requires
from ..complaints import categories
from ..customers import services as customers
from ..extensions import db, utcnow
from .errors import ErrorSchema
from .schemas import CatalogueEntrySchema, CatalogueListSchema

blp = Blueprint("api_catalogues", __name__, description="Complaint categories, churn reasons")


def _dump(entry: Any) -> dict[str, Any]:
    return {"key": entry.key, "name": entry.name, "active": entry.active}


@blp.get("/categories")
@requires(Permission.VIEW_COMPLAINTS)
@blp.response(200, CatalogueListSchema)
def list_categories() -> Any:
    return {"items": [_dump(c) for c in categories.list_categories(db.session)], "next": None}


@blp.post("/categories")
@requires(Permission.MANAGE_CATALOGUES)
@blp.arguments(CatalogueEntrySchema)
@blp.response(201, CatalogueEntrySchema)
@blp.alt_response(422, schema=ErrorSchema)
def create_category(data: dict[str, Any]) -> Any:
    category = categories.create_category(
        db.session, key=data["key"], name=data["name"], actor=current_user, at=utcnow()
    )
    db.session.commit()
    return _dump(category)


@blp.get("/churn-reasons")
@requires(Permission.VIEW_CUSTOMERS)
@blp.response(200, CatalogueListSchema)
def list_churn_reasons() -> Any:
    return {"items": [_dump(r) for r in customers.list_churn_reasons(db.session)], "next": None}


@blp.post("/churn-reasons")
@requires(Permission.MANAGE_CATALOGUES)
@blp.arguments(CatalogueEntrySchema)
@blp.response(201, CatalogueEntrySchema)
@blp.alt_response(422, schema=ErrorSchema)
def create_churn_reason(data: dict[str, Any]) -> Any:
    reason = customers.create_churn_reason(
        db.session, key=data["key"], name=data["name"], actor=current_user, at=utcnow()
    )
    db.session.commit()
    return _dump(reason)
