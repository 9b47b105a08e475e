"""GET /api/v1/me: who the token belongs to."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from ..auth.permissions import ROLE_PERMISSIONS, requires
from .schemas import MeSchema

blp = Blueprint("api_me", __name__, description="The authenticated account")


@blp.get("/me")
@requires()
@blp.response(200, MeSchema)
def me() -> Any:
    user = current_user
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "team": user.team.name if user.team else None,
        "language": user.language,
        "permissions": sorted(p.value for p in ROLE_PERMISSIONS[user.role]),
    }
