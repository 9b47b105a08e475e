"""The one permission mechanism: roles grant permissions; views and endpoints require them.

``@requires(Permission.X)`` guards every view and API endpoint; ``can(user, Permission.X)``
answers the same question in services and templates. Nothing else looks at ``user.role``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, request
from flask_login import current_user

from .models import Role


class Permission(enum.StrEnum):
    VIEW_JOURNEY = "view_journey"
    EDIT_JOURNEY = "edit_journey"
    VIEW_TEAMS = "view_teams"
    MANAGE_TEAMS = "manage_teams"
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"
    VIEW_OUTBOX = "view_outbox"  # the notification outbox (messages hold personal data)
    VIEW_PERSONAL_DATA = "view_personal_data"
    VIEW_CUSTOMERS = "view_customers"
    EDIT_CUSTOMERS = "edit_customers"
    MANAGE_CATALOGUES = "manage_catalogues"  # complaint categories, churn reasons
    VIEW_COMPLAINTS = "view_complaints"
    LOG_COMPLAINTS = "log_complaints"
    WORK_COMPLAINTS = "work_complaints"  # status, notes, replies on complaints one may see
    ASSIGN_COMPLAINTS = "assign_complaints"  # give complaints to others, see team queues
    MANAGE_ROUTING = "manage_routing"
    MANAGE_SLA = "manage_sla"
    VIEW_REPORTS = "view_reports"  # KPIs and analytics (comments masked without personal data)
    RECORD_FEEDBACK = "record_feedback"  # agents record NPS/CSAT/CES answers
    MANAGE_FEEDBACK_LINKS = "manage_feedback_links"  # public links and QR codes
    # Merge duplicate customers: moves complaints of every team, cannot be undone.
    MERGE_CUSTOMERS = "merge_customers"
    IMPORT_DATA = "import_data"  # journey events and value records from source systems


_EVERYONE = {Permission.VIEW_JOURNEY, Permission.VIEW_TEAMS, Permission.VIEW_REPORTS}

_SERVICE = {
    Permission.VIEW_PERSONAL_DATA,
    Permission.VIEW_CUSTOMERS,
    Permission.VIEW_COMPLAINTS,
}
_FRONT_LINE = _SERVICE | {
    Permission.EDIT_CUSTOMERS,
    Permission.LOG_COMPLAINTS,
    Permission.WORK_COMPLAINTS,
    Permission.RECORD_FEEDBACK,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_EVERYONE),
    Role.AGENT: frozenset(_EVERYONE | _FRONT_LINE),
    Role.TEAM_LEAD: frozenset(
        _EVERYONE | _FRONT_LINE | {Permission.ASSIGN_COMPLAINTS, Permission.MERGE_CUSTOMERS}
    ),
    Role.TOUCHPOINT_MANAGER: frozenset(
        _EVERYONE | _SERVICE | {Permission.EDIT_JOURNEY, Permission.MANAGE_FEEDBACK_LINKS}
    ),
    Role.ADMIN: frozenset(Permission),
}


def can(user: Any, permission: Permission) -> bool:
    """Whether ``user`` (a User, or anonymous) holds ``permission``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not getattr(user, "is_active", False):
        return False
    return permission in ROLE_PERMISSIONS.get(user.role, frozenset())


def is_api_request() -> bool:
    return request.blueprint is not None and request.blueprint.startswith("api")


F = TypeVar("F", bound=Callable[..., Any])


def requires(*permissions: Permission) -> Callable[[F], F]:
    """Guard a view or endpoint: anonymous → login (HTML) or 401 (API); lacking → 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if is_api_request():
                    abort(401)
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not all(can(current_user, p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permissions = permissions  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def login_required(view: F) -> F:
    """Any signed-in, active user: pages about one's own account."""
    return requires()(view)
