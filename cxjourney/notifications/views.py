"""The outbox page for admins: what was sent, what waits, what failed and why."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request

from ..auth.permissions import Permission, requires
from ..extensions import db
from . import services
from .models import OutboxStatus

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")


@bp.get("/")
@requires(Permission.VIEW_OUTBOX)
def index() -> Any:
    raw_status = request.args.get("status") or ""
    status = OutboxStatus(raw_status) if raw_status in set(OutboxStatus) else None
    page = request.args.get("page", 1, type=int) or 1
    result = services.list_messages(db.session, status=status, page=min(max(page, 1), 100_000))
    return render_template(
        "admin/outbox.html",
        result=result,
        status=status.value if status else "",
        statuses=list(OutboxStatus),
        mail_configured=bool(current_app.config.get("MAIL_SERVER")),
        pending=services.count_messages(db.session, OutboxStatus.PENDING),
    )
