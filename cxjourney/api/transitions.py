"""Designed transitions: list, add, remove."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from ..auth.permissions import Permission, requires
from ..extensions import db, utcnow
from ..journey import services
from ..journey.models import Transition
from .errors import ErrorSchema
from .pagination import PageArgsSchema, paginate
from .schemas import TransitionPageSchema, TransitionSchema

blp = Blueprint("api_transitions", __name__, description="Designed transitions between touchpoints")


def dump_transition(t: Transition) -> dict[str, Any]:
    return {
        "id": t.id,
        "source": t.source.key,
        "target": t.target.key,
        "backward": t.target.stage.position < t.source.stage.position,
    }


@blp.get("/transitions")
@requires(Permission.VIEW_JOURNEY)
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, TransitionPageSchema)
def list_transitions(args: dict[str, Any]) -> Any:
    return paginate(services.list_transitions(db.session), args, dump_transition)


@blp.post("/transitions")
@requires(Permission.EDIT_JOURNEY)
@blp.arguments(TransitionSchema)
@blp.response(201, TransitionSchema)
@blp.alt_response(422, schema=ErrorSchema, description="Self-loop, duplicate, archived or unknown")
def create_transition(data: dict[str, Any]) -> Any:
    transition = services.create_transition(
        db.session,
        source=services.find_touchpoint_by_key(db.session, data["source"]),
        target=services.find_touchpoint_by_key(db.session, data["target"]),
        actor=current_user,
        at=utcnow(),
    )
    db.session.commit()
    return dump_transition(transition)


@blp.delete("/transitions/<int:transition_id>")
@requires(Permission.EDIT_JOURNEY)
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema)
def delete_transition(transition_id: int) -> Any:
    transition = services.get_transition(db.session, transition_id)
    services.delete_transition(db.session, transition, actor=current_user, at=utcnow())
    db.session.commit()
    return ""
