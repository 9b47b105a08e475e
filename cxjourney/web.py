"""HTTP plumbing shared by every page: error pages, JSON errors under /api, security headers,
and the base form that shows domain errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from .errors import DomainError, ValidationError

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Messages per status for JSON errors (HTML pages have their own templates).
_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def json_error(
    status: int, message: str, *, code: str | None = None, fields: dict[str, Any] | None = None
) -> Response:
    response = jsonify(
        {
            "error": {
                "code": code or _ERROR_CODES.get(status, "error"),
                "message": message,
                "fields": fields or {},
            }
        }
    )
    response.status_code = status
    return response


def _status_message(status: int) -> str:
    messages = {
        400: _l("The request could not be understood."),
        401: _l("Authentication required: send a valid bearer token."),
        403: _l("You do not have permission for this."),
        404: _l("Not found."),
        405: _l("This method is not allowed here."),
        409: _l("Conflict with the current state."),
        413: _l("The request is too large."),
        415: _l("Unsupported content type."),
        422: _l("The input is not valid."),
        429: _l("Too many requests. Please wait a moment and try again."),
        500: _l("Something went wrong on our side. The error was logged."),
    }
    return str(messages.get(status, _l("Request failed.")))


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """webargs/marshmallow nest errors by location and field; flatten to "a.b[0].c" paths."""
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if prefix == "" and key in {"json", "query", "form", "view_args", "files", "headers"}:
                flat.update(_flatten(value, ""))
                continue
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten(value, path))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = " ".join(messages)
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            flat.update(_flatten(value, f"{prefix}[{index}]"))
    else:
        flat[prefix or "_schema"] = str(messages)
    return flat


def handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    if wants_json():
        data = getattr(error, "data", None) or {}
        fields = _flatten(data.get("messages") or data.get("errors") or {})
        message = data.get("message") or _status_message(status)
        response = json_error(status, str(message), fields=fields)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="cxjourney"'
        if isinstance(error, HTTPException) and error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
    template = f"errors/{status}.html" if status in {403, 404, 429, 500} else "errors/generic.html"
    return (
        render_template(template, status=status, message=_status_message(status)),
        status,
    )


def handle_csrf_error(error: CSRFError) -> Any:
    if wants_json():
        return json_error(400, _("The CSRF token is missing or invalid."), code="csrf")
    return (
        render_template(
            "errors/generic.html",
            status=400,
            message=_("Your form expired or was sent from elsewhere. Please try again."),
        ),
        400,
    )


def handle_concurrent_change(error: Exception) -> Any:
    """Two requests raced for the same row (a unique key, a version): the loser gets 409."""
    from .extensions import db

    db.session.rollback()
    message = _("Someone else changed the same data at the same moment. Please try again.")
    if wants_json():
        return json_error(409, message, code="conflict")
    return render_template("errors/generic.html", status=409, message=message), 409


def handle_unexpected(error: Exception) -> Any:
    # Log the type and the route, not the path or body: a path may carry a one-time token
    # (/s/<token>) and a body personal data.
    rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
    log.exception("unhandled error on %s %s", request.method, rule)
    return handle_http_exception(InternalServerError())


def handle_domain_error(error: DomainError) -> Any:
    """A domain error that escaped a view: map it to its status."""
    from .errors import Conflict, NotFound, PermissionDenied, ValidationError

    status = {ValidationError: 422, NotFound: 404, Conflict: 409, PermissionDenied: 403}.get(
        type(error), 400
    )
    if wants_json():
        return json_error(status, error.message, code=error.code, fields=error.fields)
    template = f"errors/{status}.html" if status in {403, 404} else "errors/generic.html"
    return render_template(template, status=status, message=str(error)), status


def set_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure or current_app.config.get("ENV_NAME") == "production":
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
        )
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


T = TypeVar("T")


def save_form(form: FlaskForm, save: Callable[[], T]) -> T | None:
    """For a valid submitted form: run ``save`` (a service call returning what it saved) and
    commit. A ValidationError rolls back and lands on the form. None: not saved."""
    from .extensions import db

    if not form.validate_on_submit():
        return None
    try:
        result = save()
    except ValidationError as exc:
        db.session.rollback()
        form.add_errors(exc)  # type: ignore[attr-defined]
        return None
    db.session.commit()
    return result


def form_status() -> int:
    """200 for a form shown, 422 for one sent back with problems."""
    return 422 if request.method == "POST" else 200


class BaseForm(FlaskForm):
    """Every HTML form: CSRF on, and domain errors land on the fields they name."""

    def add_errors(self, error: DomainError) -> None:
        """Put a service's field messages on the matching fields, the rest above the form."""
        unplaced: list[str] = []
        for name, message in error.fields.items():
            field = self._fields.get(name)
            if field is not None:
                field.errors = [*list(field.errors or []), message]
            else:
                unplaced.append(message)
        if not error.fields or unplaced:
            self.form_errors.extend(unplaced or [error.message])


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_concurrent_change)
    app.register_error_handler(StaleDataError, handle_concurrent_change)
    app.register_error_handler(Exception, handle_unexpected)
    app.after_request(set_security_headers)
