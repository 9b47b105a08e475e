"""Flask-Login wiring: cookie sessions for pages, bearer tokens for the API."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l

from ..extensions import db, login_manager
from . import services
from .forms import role_label
from .models import User
from .permissions import Permission, can


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    return services.load_session_user(db.session, session_id)


def authenticate_api_request() -> None:
    """API requests authenticate by bearer token only; a session cookie does not count.

    Sets Flask-Login's per-request user, so ``current_user`` and ``requires`` work the same
    for pages and endpoints.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = None
    if scheme.lower() == "bearer" and token.strip():
        user = services.find_user_by_token(db.session, token.strip())
    g._login_user = user if user is not None else login_manager.anonymous_user()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @app.context_processor
    def _permissions_context() -> dict[str, object]:
        return {"can": can, "Permission": Permission, "role_label": role_label}
