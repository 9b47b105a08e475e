"""Touchpoints: list, create, read, change (archive and restore by PATCH)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from ..auth import services as auth_services
from ..auth.permissions import Permission, can, requires
from ..errors import ValidationError
from ..extensions import db, utcnow
from ..journey import services
from ..journey.document import touchpoint_document
from ..journey.models import Channel, Touchpoint
from .errors import ErrorSchema
from .pagination import paginate
from .schemas import (
    TouchpointCreateSchema,
    TouchpointListArgsSchema,
    TouchpointPageSchema,
    TouchpointPatchSchema,
    TouchpointSchema,
)

blp = Blueprint("api_touchpoints", __name__, description="Touchpoints of the journey")


def _dump(tp: Touchpoint) -> dict[str, Any]:
    return touchpoint_document(tp, personal_data=can(current_user, Permission.VIEW_PERSONAL_DATA))


def _resolve(data: dict[str, Any], current: Touchpoint | None) -> services.TouchpointInput:
    """Turn references (stage key, team name, manager email) into objects, naming bad ones."""
    problems: dict[str, str] = {}

    def pick(name: str, default: Any) -> Any:
        return data.get(name, default)

    stage = current.stage if current else None
    if "stage" in data:
        stage = services.find_stage_by_key(db.session, data["stage"])
        if stage is None:
            problems["stage"] = _("Unknown stage %(key)s.", key=data["stage"])
    team = current.owner_team if current else None
    if "owner_team" in data:
        team = None
        if data["owner_team"] is not None:
            team = auth_services.find_team_by_name(db.session, data["owner_team"])
            if team is None:
                problems["owner_team"] = _("No team named %(name)s.", name=data["owner_team"])
    manager = current.manager if current else None
    if "manager" in data:
        manager = None
        if data["manager"] is not None:
            manager = auth_services.find_user_by_email(db.session, data["manager"])
            if manager is None:
                problems["manager"] = _("No user with this email.")
    channel = current.channel if current else None
    if "channel" in data:
        channel = Channel(data["channel"]) if data["channel"] else None
    if problems:
        raise ValidationError(problems)
    return services.TouchpointInput(
        key=pick("key", current.key if current else ""),
        name=pick("name", current.name if current else ""),
        stage=stage,
        description=pick("description", current.description if current else ""),
        channel=channel,
        owner_team=team,
        manager=manager,
        exit=pick("exit", current.exit if current else False),
    )


@blp.get("/touchpoints")
@requires(Permission.VIEW_JOURNEY)
@blp.arguments(TouchpointListArgsSchema, location="query")
@blp.response(200, TouchpointPageSchema)
def list_touchpoints(args: dict[str, Any]) -> Any:
    """Touchpoints in stage order; archived ones with ``include_archived=true``."""
    items = services.list_touchpoints(db.session, include_archived=args["include_archived"])
    if args.get("stage"):
        items = [tp for tp in items if tp.stage.key == args["stage"]]
    return paginate(items, args, _dump)


@blp.post("/touchpoints")
@requires(Permission.EDIT_JOURNEY)
@blp.arguments(TouchpointCreateSchema)
@blp.response(201, TouchpointSchema)
@blp.alt_response(422, schema=ErrorSchema)
def create_touchpoint(data: dict[str, Any]) -> Any:
    tp = services.create_touchpoint(
        db.session, _resolve(data, None), actor=current_user, at=utcnow()
    )
    db.session.commit()
    return _dump(tp)


@blp.get("/touchpoints/<key>")
@requires(Permission.VIEW_JOURNEY)
@blp.response(200, TouchpointSchema)
@blp.alt_response(404, schema=ErrorSchema)
def get_touchpoint(key: str) -> Any:
    return _dump(services.get_touchpoint_by_key(db.session, key))


@blp.patch("/touchpoints/<key>")
@requires(Permission.EDIT_JOURNEY)
@blp.arguments(TouchpointPatchSchema)
@blp.response(200, TouchpointSchema)
@blp.alt_response(422, schema=ErrorSchema)
def patch_touchpoint(data: dict[str, Any], key: str) -> Any:
    """Change some fields; ``archived: true`` archives, ``archived: false`` restores."""
    tp = services.get_touchpoint_by_key(db.session, key)
    at = utcnow()
    archived = data.pop("archived", None)
    if archived is False:
        services.restore_touchpoint(db.session, tp, actor=current_user, at=at)
    if data:
        if tp.archived:
            raise ValidationError({"archived": _("Restore the touchpoint before changing it.")})
        services.update_touchpoint(db.session, tp, _resolve(data, tp), actor=current_user, at=at)
    if archived is True:
        services.archive_touchpoint(db.session, tp, actor=current_user, at=at)
    db.session.commit()
    return _dump(tp)
