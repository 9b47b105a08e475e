"""The JSON API under /api/v1: bearer tokens, marshmallow schemas, OpenAPI from flask-smorest."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api as SmorestApi

from ..auth.login import authenticate_api_request
from ..auth.permissions import is_api_request
from ..extensions import csrf
from .errors import ErrorSchema


class Api(SmorestApi):  # type: ignore[misc]
    """flask-smorest, minus its app-wide error handler: web.py answers JSON under /api only."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None


def init_api(app: Flask) -> Api:
    from . import (
        catalogues,
        churn_reports,
        complaints,
        customer_values,
        customers,
        drivers,
        events,
        feedback,
        journey,
        me,
        reports,
        teams,
        touchpoints,
        transitions,
    )

    api = Api(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "Customer journey, complaints and feedback. Authenticate with "
                    "`Authorization: Bearer <token>`; `cxjourney users token EMAIL` issues one. "
                    'Errors: {"error": {"code", "message", "fields"}}.'
                )
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "API token"}
    )
    for module in (
        me,
        journey,
        touchpoints,
        transitions,
        teams,
        customers,
        catalogues,
        complaints,
        reports,
        churn_reports,
        drivers,
        events,
        customer_values,
        feedback,
    ):
        blueprint: Any = module.blp
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")

    @app.before_request
    def _api_authentication() -> None:
        # Blueprints are module-level objects shared by every app built in this process,
        # so the hook is registered on the app rather than on them.
        if is_api_request():
            authenticate_api_request()

    return api
