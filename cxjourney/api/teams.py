"""Teams: list (everyone), create (admins)."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from ..auth import services
from ..auth.models import Team
from ..auth.permissions import Permission, requires
from ..extensions import db, utcnow
from .errors import ErrorSchema
from .pagination import PageArgsSchema, paginate
from .schemas import TeamPageSchema, TeamSchema

blp = Blueprint("api_teams", __name__, description="Teams that own touchpoints")


def dump_team(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "active": team.active}


@blp.get("/teams")
@requires(Permission.VIEW_TEAMS)
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, TeamPageSchema)
def list_teams(args: dict[str, Any]) -> Any:
    return paginate(services.list_teams(db.session), args, dump_team)


@blp.post("/teams")
@requires(Permission.MANAGE_TEAMS)
@blp.arguments(TeamSchema)
@blp.response(201, TeamSchema)
@blp.alt_response(422, schema=ErrorSchema, description="Empty or taken name")
def create_team(data: dict[str, Any]) -> Any:
    team = services.create_team(db.session, name=data["name"], actor=current_user, at=utcnow())
    db.session.commit()
    return dump_team(team)
