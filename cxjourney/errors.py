"""Domain errors raised by services. No HTTP here: web.py and api/errors.py translate them."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"

    def __init__(self, message: str = "", *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.fields: dict[str, str] = {k: str(v) for k, v in (fields or {}).items()}

    def __str__(self) -> str:
        if not self.fields:
            return self.message
        details = "; ".join(f"{name}: {text}" for name, text in self.fields.items())
        return f"{self.message} ({details})" if self.message else details


class ValidationError(DomainError):
    """Input breaks a rule; ``fields`` maps each field (or JSON path) to its problem."""

    code = "validation_error"

    def __init__(self, fields: Mapping[str, str], message: str = "") -> None:
        super().__init__(message or str(_l("The input is not valid.")), fields=fields)


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PermissionDenied(DomainError):
    code = "forbidden"
