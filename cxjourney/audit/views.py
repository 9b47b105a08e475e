"""The audit log page for admins."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from ..auth.permissions import Permission, requires
from ..extensions import db
from . import services

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@requires(Permission.VIEW_AUDIT)
def index() -> Any:
    entity_type = request.args.get("entity_type") or None
    page = request.args.get("page", 1, type=int) or 1
    result = services.list_audit(
        db.session, entity_type=entity_type, page=min(max(page, 1), 100_000)
    )
    return render_template(
        "admin/audit.html",
        result=result,
        entity_type=entity_type,
        entity_types=services.list_audit_entity_types(db.session),
    )
