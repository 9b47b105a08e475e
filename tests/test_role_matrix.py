"""Every role, and anonymous, against every page, form action and API endpoint.

``MATRIX`` is the expectation, written out by hand (not derived from ``ROLE_PERMISSIONS``):
(method, URL rule) → the roles allowed, or ``PUBLIC``. Pages: anonymous → 302 to /login,
lacking permission → 403. API: anonymous → 401, lacking permission → 403, both as JSON
errors. Allowed roles send valid input and must get the success status, and every write
is checked in the database: done for allowed roles, not done for everyone else.

A new route without a row here fails ``test_every_route_and_method_is_in_the_matrix``.
Each test signs in one role once (argon2 makes accounts slow) and walks the whole table,
seeding the journey afresh after each write.
"""

from __future__ import annotations

import copy
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role, Team, User
from cxjourney.auth.permissions import ROLE_PERMISSIONS
from cxjourney.auth.services import find_user_by_token
from cxjourney.complaints import attachments as attachment_services
from cxjourney.complaints.categories import find_category
from cxjourney.complaints.models import (
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    RoutingRule,
    SlaPolicy,
)
from cxjourney.complaints.routing import RuleInput, save_rule
from cxjourney.complaints.services import Settings, timeline
from cxjourney.customers.models import (
    ChurnReason,
    Customer,
    CustomerMerge,
    CustomerValue,
    JourneyEvent,
)
from cxjourney.customers.services import create_churn_reason, find_churn_reason
from cxjourney.feedback import links as feedback_links
from cxjourney.feedback import survey as feedback_survey
from cxjourney.feedback.models import FeedbackLink, FeedbackResponse, SurveyInvitation
from cxjourney.journey import services as journey
from cxjourney.journey.document import export_journey
from cxjourney.journey.models import Channel, Stage, Touchpoint, Transition

from .conftest import PASSWORD, csrf_from, make_user
from .factories import (
    T0,
    make_complaint,
    make_customer,
    make_policy,
    make_stage,
    make_touchpoint,
    small_journey,
)

PUBLIC = "public"
ANONYMOUS = "anonymous"
EVERYONE = frozenset(Role)
EDITORS = frozenset({Role.TOUCHPOINT_MANAGER, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})
SERVICE = frozenset({Role.AGENT, Role.TOUCHPOINT_MANAGER, Role.TEAM_LEAD, Role.ADMIN})
FRONT_LINE = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.ADMIN})
LEADS = frozenset({Role.TEAM_LEAD, Role.ADMIN})
WHO = [*Role, ANONYMOUS]


@dataclass(frozen=True)
class Probe:
    """What a check may look at after a request."""

    client: FlaskClient
    session: Session
    seed: dict[str, Any]


@dataclass(frozen=True)
class Case:
    method: str
    rule: str
    allowed: frozenset[Role] | str
    status: int  # for allowed roles (signed in, for PUBLIC rows)
    path: str = ""  # the URL, formatted with the seed; defaults to the rule
    anonymous_status: int | None = None  # PUBLIC rows only
    location: str | None = None  # the redirect an allowed role gets starts with this
    data: Callable[[dict[str, Any]], Any] | None = None
    done: Callable[[Probe], bool] | None = None
    # False where "done" cannot tell a denied request apart (logout: anonymous is signed out)
    check_denied: bool = True

    @property
    def is_api(self) -> bool:
        return self.rule.startswith("/api/")

    def url(self, seed: dict[str, Any]) -> str:
        return (self.path or self.rule).format_map(seed)


def _touchpoint(probe: Probe, key: str) -> Touchpoint | None:
    return probe.session.scalar(select(Touchpoint).where(Touchpoint.key == key))


def _stage(probe: Probe, key: str) -> Stage | None:
    return probe.session.scalar(select(Stage).where(Stage.key == key))


def _team(probe: Probe, name: str) -> Team | None:
    return probe.session.scalar(select(Team).where(Team.name == name))


def _has_transition(probe: Probe, source: str, target: str) -> bool:
    return any(
        (t.source.key, t.target.key) == (source, target)
        for t in journey.list_transitions(probe.session)
    )


def _customer(probe: Probe, ref: str) -> Customer | None:
    probe.session.expire_all()
    return probe.session.scalar(select(Customer).where(Customer.external_ref == ref))


def _complaint(probe: Probe) -> Complaint:
    probe.session.expire_all()
    return probe.session.scalar(
        select(Complaint).where(Complaint.reference == probe.seed["complaint"])
    )


def _complaints(probe: Probe) -> int:
    return len(probe.session.scalars(select(Complaint.id)).all())


def _events(probe: Probe, kind: str) -> int:
    complaint = _complaint(probe)
    return sum(e.kind.value == kind for e in timeline(probe.session, complaint))


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _attachments(probe: Probe) -> int:
    return len(probe.session.scalars(select(Attachment.id)).all())


def _seed_attachment(session: Session, complaint: Complaint) -> int:
    storage = attachment_services.Storage(
        Path(current_app.instance_path) / "attachments", 10 * 1024 * 1024
    )
    attachment = attachment_services.add_attachment(
        session,
        complaint,
        filename="brief.pdf",
        stream=io.BytesIO(PDF),
        content_type="application/pdf",
        actor=None,
        at=T0,
        storage=storage,
    )
    session.commit()
    return attachment.id


def _rule_form(seed: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "name": name,
        "priority": "5",
        "active": "y",
        "touchpoint": "",
        "stage": "",
        "category": "",
        "channel": "letter",
        "min_severity": "",
        "segment": "",
        "team": str(seed["team_online"]),
        "user": "",
        "strategy": "team_queue",
    }


def _policy_form(name: str, severity: str) -> dict[str, Any]:
    return {
        "name": name,
        "severity": severity,
        "touchpoint": "",
        "stage": "",
        "segment": "",
        "first_response_minutes": "60",
        "next_update_minutes": "120",
        "resolution_minutes": "480",
        "business_hours": "y",
        "warning_percent": "80",
        "active": "y",
    }


def _rule(probe: Probe, name: str) -> RoutingRule | None:
    probe.session.expire_all()
    return probe.session.scalar(select(RoutingRule).where(RoutingRule.name == name))


def _policy(probe: Probe, name: str) -> SlaPolicy | None:
    probe.session.expire_all()
    return probe.session.scalar(select(SlaPolicy).where(SlaPolicy.name == name))


def _category_name(probe: Probe) -> str:
    probe.session.expire_all()
    return probe.session.get(Category, probe.seed["category_id"]).name


def _feedback_count(probe: Probe) -> int:
    return len(probe.session.scalars(select(FeedbackResponse.id)).all())


def _link_active(probe: Probe, seed_key: str) -> bool:
    probe.session.expire_all()
    return probe.session.get(FeedbackLink, probe.seed[seed_key]).active


FEEDBACK = {"touchpoint": "hotline", "kind": "nps", "score": 9, "channel": "phone"}


def _survey_answered(probe: Probe) -> bool:
    probe.session.expire_all()
    invitation = probe.session.scalar(select(SurveyInvitation))
    return invitation is not None and invitation.answered_at is not None


def _signed_in(probe: Probe) -> bool:
    return probe.client.get("/account").status_code == 200


def _renamed_document(seed: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(seed["document"])
    for tp in document["touchpoints"]:
        if tp["key"] == "hotline":
            tp["name"] = "Hotline (24/7)"
    return document


TOUCHPOINT_FORM = {
    "name": "Chat",
    "key": "chat",
    "stage": "support",
    "channel": "chat",
    "owner_team": "Kundenservice",
    "manager": "",
    "description": "Live chat on the website",
}


def _cases() -> list[Case]:
    return [
        # --- public -------------------------------------------------------------------
        Case("GET", "/login", PUBLIC, 302, anonymous_status=200, location="/journey/"),
        Case(
            "POST",
            "/login",
            PUBLIC,
            302,
            anonymous_status=302,
            location="/journey/",
            data=lambda s: {"email": s["email"], "password": PASSWORD},
            done=_signed_in,
        ),
        Case("GET", "/api/v1/openapi.json", PUBLIC, 200, anonymous_status=200),
        # --- one's own account ------------------------------------------------------------
        Case("GET", "/", EVERYONE, 302, location="/journey/"),
        Case("GET", "/account", EVERYONE, 200),
        Case(
            "POST",
            "/account",
            EVERYONE,
            302,
            location="/account",
            data=lambda s: {"lang-language": "en"},
            done=lambda p: p.session.get(User, p.seed["user_id"]).language == "en",
        ),
        Case(
            "POST",
            "/logout",
            EVERYONE,
            302,
            location="/login",
            done=lambda p: not _signed_in(p),
            check_denied=False,
        ),
        # --- admin pages ----------------------------------------------------------------
        Case("GET", "/admin/users", ADMINS, 200),
        Case("GET", "/admin/users/new", ADMINS, 200),
        Case(
            "POST",
            "/admin/users/new",
            ADMINS,
            302,
            location="/admin/users",
            data=lambda s: {
                "email": "new.agent@example.org",
                "name": "New Agent",
                "role": "agent",
                "team": "",
                "language": "",
                "active": "y",
                "password": "another-long-password",
            },
            done=lambda p: (
                p.session.scalar(select(User).where(User.email == "new.agent@example.org"))
                is not None
            ),
        ),
        Case("GET", "/admin/users/<int:user_id>", ADMINS, 200, path="/admin/users/{user_id}"),
        Case(
            "POST",
            "/admin/users/<int:user_id>",
            ADMINS,
            302,
            path="/admin/users/{user_id}",
            location="/admin/users",
            data=lambda s: {
                "email": s["email"],
                "name": "Renamed Person",
                "role": s["role"],
                "team": "",
                "language": "",
                "active": "y",
                "password": "",
            },
            done=lambda p: p.session.get(User, p.seed["user_id"]).name == "Renamed Person",
        ),
        Case("GET", "/admin/teams", ADMINS, 200),
        Case("GET", "/admin/teams/new", ADMINS, 200),
        Case(
            "POST",
            "/admin/teams/new",
            ADMINS,
            302,
            location="/admin/teams",
            data=lambda s: {"name": "Backoffice", "active": "y"},
            done=lambda p: _team(p, "Backoffice") is not None,
        ),
        Case("GET", "/admin/teams/<int:team_id>", ADMINS, 200, path="/admin/teams/{team_online}"),
        Case(
            "POST",
            "/admin/teams/<int:team_id>",
            ADMINS,
            302,
            path="/admin/teams/{team_online}",
            location="/admin/teams",
            data=lambda s: {"name": "Online Sales", "active": "y"},
            done=lambda p: _team(p, "Online Sales") is not None,
        ),
        Case("GET", "/admin/audit/", ADMINS, 200),
        Case("GET", "/admin/outbox/", ADMINS, 200),
        # --- journey pages ----------------------------------------------------------------
        Case("GET", "/journey/", EVERYONE, 200),
        Case("GET", "/journey/touchpoints", EVERYONE, 200),
        Case("GET", "/journey/touchpoints/<key>", EVERYONE, 200, path="/journey/touchpoints/app"),
        Case("GET", "/journey/touchpoints/new", EDITORS, 200),
        Case(
            "POST",
            "/journey/touchpoints/new",
            EDITORS,
            302,
            location="/journey/touchpoints/chat",
            data=lambda s: TOUCHPOINT_FORM,
            done=lambda p: _touchpoint(p, "chat") is not None,
        ),
        Case(
            "GET",
            "/journey/touchpoints/<key>/edit",
            EDITORS,
            200,
            path="/journey/touchpoints/hotline/edit",
        ),
        Case(
            "POST",
            "/journey/touchpoints/<key>/edit",
            EDITORS,
            302,
            path="/journey/touchpoints/hotline/edit",
            location="/journey/touchpoints/hotline",
            data=lambda s: {**TOUCHPOINT_FORM, "key": "hotline", "name": "Hotline 24/7"},
            done=lambda p: _touchpoint(p, "hotline").name == "Hotline 24/7",
        ),
        Case(
            "POST",
            "/journey/touchpoints/<key>/archive",
            EDITORS,
            302,
            path="/journey/touchpoints/island/archive",
            location="/journey/touchpoints/island",
            done=lambda p: _touchpoint(p, "island").archived,
        ),
        Case(
            "POST",
            "/journey/touchpoints/<key>/restore",
            EDITORS,
            302,
            path="/journey/touchpoints/fax-line/restore",
            location="/journey/touchpoints/fax-line",
            done=lambda p: not _touchpoint(p, "fax-line").archived,
        ),
        Case(
            "POST",
            "/journey/transitions",
            EDITORS,
            302,
            location="/journey/touchpoints/website",
            data=lambda s: {"source": "website", "target": "hotline", "back": "website"},
            done=lambda p: _has_transition(p, "website", "hotline"),
        ),
        Case(
            "POST",
            "/journey/transitions/<int:transition_id>/delete",
            EDITORS,
            302,
            path="/journey/transitions/{transition_id}/delete",
            location="/journey/touchpoints/website",
            done=lambda p: not _has_transition(p, "website", "app"),
        ),
        Case("GET", "/journey/stages", EVERYONE, 200),
        Case(
            "POST",
            "/journey/stages",
            EDITORS,
            302,
            location="/journey/stages",
            data=lambda s: {"key": "onboarding", "name": "Onboarding"},
            done=lambda p: _stage(p, "onboarding") is not None,
        ),
        Case(
            "POST",
            "/journey/stages/<int:stage_id>/rename",
            EDITORS,
            302,
            path="/journey/stages/{stage_usage}/rename",
            location="/journey/stages",
            data=lambda s: {f"s{s['stage_usage']}-name": "Nutzung und Pflege"},
            done=lambda p: _stage(p, "usage").name == "Nutzung und Pflege",
        ),
        Case(
            "POST",
            "/journey/stages/<int:stage_id>/move",
            EDITORS,
            302,
            path="/journey/stages/{stage_support}/move",
            location="/journey/stages",
            data=lambda s: {"direction": "up"},
            done=lambda p: _stage(p, "support").position == 2,
        ),
        Case(
            "POST",
            "/journey/stages/<int:stage_id>/delete",
            EDITORS,
            302,
            path="/journey/stages/{stage_renewal}/delete",
            location="/journey/stages",
            done=lambda p: _stage(p, "renewal") is None,
        ),
        # --- complaint administration ---------------------------------------------------
        Case("GET", "/admin/routing-rules", ADMINS, 200),
        Case(
            "GET",
            "/admin/routing-rules/preview",
            ADMINS,
            200,
            path="/admin/routing-rules/preview?touchpoint=hotline&channel=letter&severity=low",
        ),
        Case("GET", "/admin/routing-rules/new", ADMINS, 200),
        Case(
            "POST",
            "/admin/routing-rules/new",
            ADMINS,
            302,
            location="/admin/routing-rules",
            data=lambda s: _rule_form(s, "Briefe"),
            done=lambda p: _rule(p, "Briefe") is not None,
        ),
        Case(
            "GET",
            "/admin/routing-rules/<int:rule_id>",
            ADMINS,
            200,
            path="/admin/routing-rules/{rule_id}",
        ),
        Case(
            "POST",
            "/admin/routing-rules/<int:rule_id>",
            ADMINS,
            302,
            path="/admin/routing-rules/{rule_id}",
            location="/admin/routing-rules",
            data=lambda s: _rule_form(s, "Umbenannt"),
            done=lambda p: _rule(p, "Umbenannt") is not None,
        ),
        Case("GET", "/admin/categories", ADMINS, 200),
        Case(
            "POST",
            "/admin/categories",
            ADMINS,
            302,
            location="/admin/categories",
            data=lambda s: {"key": "delivery", "name": "Lieferung"},
            done=lambda p: find_category(p.session, "delivery") is not None,
        ),
        Case(
            "GET",
            "/admin/categories/<int:category_id>",
            ADMINS,
            200,
            path="/admin/categories/{category_id}",
        ),
        Case(
            "POST",
            "/admin/categories/<int:category_id>",
            ADMINS,
            302,
            path="/admin/categories/{category_id}",
            location="/admin/categories",
            data=lambda s: {"name": "Abrechnung", "active": "y"},
            done=lambda p: _category_name(p) == "Abrechnung",
        ),
        Case("GET", "/admin/sla-policies", ADMINS, 200),
        Case("GET", "/admin/sla-policies/new", ADMINS, 200),
        Case(
            "POST",
            "/admin/sla-policies/new",
            ADMINS,
            302,
            location="/admin/sla-policies",
            data=lambda s: _policy_form("Kritisch", "critical"),
            done=lambda p: _policy(p, "Kritisch") is not None,
        ),
        Case(
            "GET",
            "/admin/sla-policies/<int:policy_id>",
            ADMINS,
            200,
            path="/admin/sla-policies/{policy_id}",
        ),
        Case(
            "POST",
            "/admin/sla-policies/<int:policy_id>",
            ADMINS,
            302,
            path="/admin/sla-policies/{policy_id}",
            location="/admin/sla-policies",
            data=lambda s: _policy_form("Mittel neu", "medium"),
            done=lambda p: _policy(p, "Mittel neu") is not None,
        ),
        # --- queues and the dashboard -------------------------------------------------------
        Case("GET", "/queue", SERVICE, 200),
        Case("GET", "/team-queue", LEADS, 200),
        Case("GET", "/team-queue.csv", LEADS, 200, path="/team-queue.csv?dialect=excel-de"),
        Case("GET", "/dashboard", LEADS, 200),
        Case(
            "POST",
            "/team-queue/reassign",
            LEADS,
            302,
            location="/team-queue",
            data=lambda s: {
                "complaint": str(s["complaint_id"]),
                f"version-{s['complaint_id']}": str(s["complaint_version"]),
                "assignee": str(s["agent_id"]),
                "team": str(s["team_kundenservice"]),
            },
            done=lambda p: _complaint(p).assignee_id == p.seed["agent_id"],
        ),
        # --- customers and complaints (pages) ------------------------------------------------
        Case("GET", "/customers/", SERVICE, 200, path="/customers/?q=K-1000"),
        Case("GET", "/customers/<external_ref>", SERVICE, 200, path="/customers/K-1000"),
        Case("GET", "/customers/new", FRONT_LINE, 200),
        Case(
            "POST",
            "/customers/new",
            FRONT_LINE,
            302,
            location="/customers/K-3000",
            data=lambda s: {
                "external_ref": "K-3000",
                "name": "Neu",
                "acquired_on": "2025-01-01",
            },
            done=lambda p: _customer(p, "K-3000") is not None,
        ),
        Case(
            "GET", "/customers/<external_ref>/edit", FRONT_LINE, 200, path="/customers/K-1000/edit"
        ),
        Case(
            "POST",
            "/customers/<external_ref>/edit",
            FRONT_LINE,
            302,
            path="/customers/K-1000/edit",
            data=lambda s: {
                "external_ref": "K-1000",
                "name": "Max Neu",
                "acquired_on": "2024-01-01",
            },
            done=lambda p: _customer(p, "K-1000").name == "Max Neu",
        ),
        Case(
            "POST",
            "/customers/<external_ref>/churn",
            FRONT_LINE,
            302,
            path="/customers/K-1000/churn",
            location="/customers/K-1000",
            data=lambda s: {"churned_on": "2026-01-15", "churn_reason": "moved", "save": "y"},
            done=lambda p: _customer(p, "K-1000").churned_at is not None,
        ),
        Case(
            "GET",
            "/customers/<external_ref>/merge",
            LEADS,
            200,
            path="/customers/K-1000/merge",
        ),
        Case(
            "POST",
            "/customers/<external_ref>/merge",
            LEADS,
            302,
            path="/customers/K-1000/merge",
            location="/customers/K-1000",
            data=lambda s: {"duplicate": "K-1000-dup", "confirm": "y"},
            done=lambda p: _customer(p, "K-1000-dup") is None,
        ),
        Case("GET", "/complaints/new", FRONT_LINE, 200),
        Case(
            "POST",
            "/complaints/new",
            FRONT_LINE,
            302,
            location="/complaints/CX-",
            data=lambda s: {
                "customer_ref": "K-1000",
                "touchpoint": "app",
                "channel": "letter",
                "category": "billing",
                "severity": "low",
                "subject": "Brief",
                "description": "Per Brief",
            },
            done=lambda p: _complaints(p) == 2,
        ),
        Case(
            "GET",
            "/complaints/<reference>",
            SERVICE,
            200,
            path="/complaints/{complaint}",
        ),
        Case(
            "POST",
            "/complaints/<reference>/status",
            FRONT_LINE,
            302,
            path="/complaints/{complaint}/status",
            data=lambda s: {"to": "in_progress", "version": s["complaint_version"]},
            done=lambda p: _complaint(p).status.value == "in_progress",
        ),
        Case(
            "POST",
            "/complaints/<reference>/reply",
            FRONT_LINE,
            302,
            path="/complaints/{complaint}/reply",
            data=lambda s: {
                "text": "Antwort",
                "channel": "letter",
                "version": s["complaint_version"],
            },
            done=lambda p: _events(p, "reply") == 1,
        ),
        Case(
            "POST",
            "/complaints/<reference>/note",
            FRONT_LINE,
            302,
            path="/complaints/{complaint}/note",
            data=lambda s: {"text": "Notiz", "version": s["complaint_version"]},
            done=lambda p: _events(p, "note") == 1,
        ),
        Case(
            "POST",
            "/complaints/<reference>/assign",
            FRONT_LINE,
            302,
            path="/complaints/{complaint}/assign",
            data=lambda s: {"assignee": s["email"], "version": s["complaint_version"]},
            done=lambda p: (
                p.seed["user_id"] is not None and _complaint(p).assignee_id == p.seed["user_id"]
            ),
        ),
        Case(
            "POST",
            "/complaints/<reference>/attachments",
            FRONT_LINE,
            302,
            path="/complaints/{complaint}/attachments",
            data=lambda s: {"attachments": (io.BytesIO(PDF), "brief.pdf", "application/pdf")},
            done=lambda p: _attachments(p) == 2,
        ),
        Case(
            "GET",
            "/complaints/<reference>/attachments/<int:attachment_id>",
            SERVICE,
            200,
            path="/complaints/{complaint}/attachments/{attachment_id}",
        ),
        Case(
            "POST",
            "/complaints/<reference>/severity",
            FRONT_LINE,
            302,
            path="/complaints/{complaint}/severity",
            data=lambda s: {"severity": "critical", "version": s["complaint_version"]},
            done=lambda p: _complaint(p).severity.value == "critical",
        ),
        # --- API --------------------------------------------------------------------------
        Case("GET", "/api/v1/me", EVERYONE, 200),
        Case("GET", "/api/v1/journey", EVERYONE, 200),
        Case(
            "PUT",
            "/api/v1/journey",
            EDITORS,
            200,
            data=_renamed_document,
            done=lambda p: _touchpoint(p, "hotline").name == "Hotline (24/7)",
        ),
        Case("GET", "/api/v1/touchpoints", EVERYONE, 200),
        Case(
            "POST",
            "/api/v1/touchpoints",
            EDITORS,
            201,
            data=lambda s: {
                "key": "chat",
                "name": "Chat",
                "stage": "support",
                "owner_team": "Kundenservice",
                "channel": "chat",
            },
            done=lambda p: _touchpoint(p, "chat") is not None,
        ),
        Case("GET", "/api/v1/touchpoints/<key>", EVERYONE, 200, path="/api/v1/touchpoints/app"),
        Case(
            "PATCH",
            "/api/v1/touchpoints/<key>",
            EDITORS,
            200,
            path="/api/v1/touchpoints/hotline",
            data=lambda s: {"name": "Hotline 24/7"},
            done=lambda p: _touchpoint(p, "hotline").name == "Hotline 24/7",
        ),
        Case("GET", "/api/v1/transitions", EVERYONE, 200),
        Case(
            "POST",
            "/api/v1/transitions",
            EDITORS,
            201,
            data=lambda s: {"source": "website", "target": "hotline"},
            done=lambda p: _has_transition(p, "website", "hotline"),
        ),
        Case(
            "DELETE",
            "/api/v1/transitions/<int:transition_id>",
            EDITORS,
            204,
            path="/api/v1/transitions/{transition_id}",
            done=lambda p: not _has_transition(p, "website", "app"),
        ),
        Case("GET", "/api/v1/teams", EVERYONE, 200),
        Case(
            "POST",
            "/api/v1/teams",
            ADMINS,
            201,
            data=lambda s: {"name": "Backoffice"},
            done=lambda p: _team(p, "Backoffice") is not None,
        ),
        Case("GET", "/api/v1/customers", SERVICE, 200),
        Case(
            "POST",
            "/api/v1/customers",
            FRONT_LINE,
            201,
            data=lambda s: {
                "external_ref": "K-2000",
                "name": "Erika Mustermann",
                "acquired_at": "2025-01-01T00:00:00+01:00",
            },
            done=lambda p: _customer(p, "K-2000") is not None,
        ),
        Case(
            "GET",
            "/api/v1/customers/<external_ref>",
            SERVICE,
            200,
            path="/api/v1/customers/K-1000",
        ),
        Case(
            "PUT",
            "/api/v1/customers/<external_ref>",
            FRONT_LINE,
            200,
            path="/api/v1/customers/K-1000",
            data=lambda s: {
                "external_ref": "K-1000",
                "name": "Max Mustermann-Neu",
                "acquired_at": "2024-05-01T00:00:00Z",
            },
            done=lambda p: _customer(p, "K-1000").name == "Max Mustermann-Neu",
        ),
        Case(
            "PATCH",
            "/api/v1/customers/<external_ref>",
            FRONT_LINE,
            200,
            path="/api/v1/customers/K-1000",
            data=lambda s: {"segment": "gewerbe"},
            done=lambda p: _customer(p, "K-1000").segment == "gewerbe",
        ),
        Case("GET", "/api/v1/categories", SERVICE, 200),
        Case(
            "POST",
            "/api/v1/categories",
            ADMINS,
            201,
            data=lambda s: {"key": "billing-error", "name": "Rechnungsfehler"},
            done=lambda p: find_category(p.session, "billing-error") is not None,
        ),
        Case("GET", "/api/v1/complaints", SERVICE, 200),
        Case(
            "POST",
            "/api/v1/complaints",
            FRONT_LINE,
            201,
            data=lambda s: {
                "customer_ref": "K-1000",
                "touchpoint": "hotline",
                "channel": "fax",
                "category": "billing",
                "severity": "low",
                "subject": "Fax",
                "description": "Per Fax eingegangen",
            },
            done=lambda p: _complaints(p) == 2,
        ),
        Case(
            "GET",
            "/api/v1/complaints/<reference>",
            SERVICE,
            200,
            path="/api/v1/complaints/{complaint}",
        ),
        Case(
            "POST",
            "/api/v1/complaints/<reference>/transition",
            FRONT_LINE,
            200,
            path="/api/v1/complaints/{complaint}/transition",
            data=lambda s: {"to": "in_progress", "version": s["complaint_version"]},
            done=lambda p: _complaint(p).status.value == "in_progress",
        ),
        Case(
            "POST",
            "/api/v1/complaints/<reference>/notes",
            FRONT_LINE,
            201,
            path="/api/v1/complaints/{complaint}/notes",
            data=lambda s: {"text": "Notiz"},
            done=lambda p: _events(p, "note") == 1,
        ),
        Case(
            "POST",
            "/api/v1/complaints/<reference>/replies",
            FRONT_LINE,
            201,
            path="/api/v1/complaints/{complaint}/replies",
            data=lambda s: {"text": "Antwort", "channel": "letter"},
            done=lambda p: _events(p, "reply") == 1,
        ),
        Case(
            "POST",
            "/api/v1/complaints/<reference>/assign",
            FRONT_LINE,
            200,
            path="/api/v1/complaints/{complaint}/assign",
            data=lambda s: {"assignee": s["email"]},
            done=lambda p: (
                p.seed["user_id"] is not None and _complaint(p).assignee_id == p.seed["user_id"]
            ),
        ),
        Case("GET", "/api/v1/churn-reasons", SERVICE, 200),
        Case(
            "POST",
            "/api/v1/churn-reasons",
            ADMINS,
            201,
            data=lambda s: {"key": "price", "name": "Preis"},
            done=lambda p: find_churn_reason(p.session, "price") is not None,
        ),
        Case(
            "GET",
            "/api/v1/reports/kpis",
            EVERYONE,
            200,
            path="/api/v1/reports/kpis?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/api/v1/reports/touchpoints",
            EVERYONE,
            200,
            path="/api/v1/reports/touchpoints?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/api/v1/reports/attribution",
            EVERYONE,
            200,
            path="/api/v1/reports/attribution?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/api/v1/reports/hotspots",
            EVERYONE,
            200,
            path="/api/v1/reports/hotspots?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/api/v1/reports/paths",
            EVERYONE,
            200,
            path="/api/v1/reports/paths?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/api/v1/reports/drivers",
            EVERYONE,
            200,
            path="/api/v1/reports/drivers?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/reports/journey",
            EVERYONE,
            200,
            path="/reports/journey?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/reports/journey/touchpoints.csv",
            EVERYONE,
            200,
            path="/reports/journey/touchpoints.csv?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/reports/kpis",
            EVERYONE,
            200,
            path="/reports/kpis?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "GET",
            "/reports/kpis/touchpoints.csv",
            EVERYONE,
            200,
            path="/reports/kpis/touchpoints.csv?from=2026-01-01&to=2026-02-01",
        ),
        Case(
            "POST",
            "/api/v1/events",
            ADMINS,
            201,
            data=lambda s: {
                "events": [
                    {
                        "customer_ref": "K-1000",
                        "touchpoint": "hotline",
                        "occurred_at": "2026-03-01T10:00:00+01:00",
                        "channel": "letter",
                    }
                ]
            },
            done=lambda p: len(p.session.scalars(select(JourneyEvent.id)).all()) == 1,
        ),
        Case(
            "POST",
            "/api/v1/customers/<external_ref>/values",
            ADMINS,
            201,
            path="/api/v1/customers/K-1000/values",
            data=lambda s: {"kind": "revenue", "amount": "12.50", "occurred_on": "2026-03-01"},
            done=lambda p: len(p.session.scalars(select(CustomerValue.id)).all()) == 1,
        ),
        # --- feedback -----------------------------------------------------------------------
        Case("GET", "/feedback/", EVERYONE, 200),
        Case("GET", "/feedback/new", FRONT_LINE, 200),
        Case(
            "POST",
            "/feedback/new",
            FRONT_LINE,
            302,
            location="/feedback/new",
            data=lambda s: {**FEEDBACK, "score": "9"},
            done=lambda p: _feedback_count(p) == 1,
        ),
        Case(
            "POST",
            "/api/v1/feedback",
            FRONT_LINE,
            201,
            data=lambda s: dict(FEEDBACK),
            done=lambda p: _feedback_count(p) == 1,
        ),
        Case("GET", "/admin/feedback-links/", EDITORS, 200),
        Case(
            "POST",
            "/admin/feedback-links/",
            EDITORS,
            302,
            location="/admin/feedback-links/",
            data=lambda s: {"touchpoint": "app", "kind": "csat", "label": "Matrix"},
            done=lambda p: any(
                link.label == "Matrix" for link in feedback_links.list_links(p.session)
            ),
        ),
        Case(
            "GET",
            "/admin/feedback-links/<int:link_id>",
            EDITORS,
            200,
            path="/admin/feedback-links/{feedback_link_id}",
        ),
        Case(
            "POST",
            "/admin/feedback-links/<int:link_id>/disable",
            EDITORS,
            302,
            path="/admin/feedback-links/{feedback_link_id}/disable",
            location="/admin/feedback-links/",
            done=lambda p: not _link_active(p, "feedback_link_id"),
        ),
        Case(
            "POST",
            "/admin/feedback-links/<int:link_id>/enable",
            EDITORS,
            302,
            path="/admin/feedback-links/{disabled_link_id}/enable",
            location="/admin/feedback-links/",
            done=lambda p: _link_active(p, "disabled_link_id"),
        ),
        # the public page behind a feedback link: no sign-in, same for everyone
        Case("GET", "/f/<token>", PUBLIC, 200, path="/f/{feedback_token}", anonymous_status=200),
        Case(
            "POST",
            "/f/<token>",
            PUBLIC,
            302,
            path="/f/{feedback_token}",
            anonymous_status=302,
            location="/f/",
            data=lambda s: {"score": "9", "comment": "Gut"},
            done=lambda p: _feedback_count(p) == 1,
        ),
        Case(
            "GET",
            "/f/<token>/thanks",
            PUBLIC,
            200,
            path="/f/{feedback_token}/thanks",
            anonymous_status=200,
        ),
        # the survey after a resolved complaint: no sign-in, the token is the key
        Case("GET", "/s/<token>", PUBLIC, 200, path="/s/{survey_token}", anonymous_status=200),
        Case(
            "POST",
            "/s/<token>",
            PUBLIC,
            302,
            path="/s/{survey_token}",
            anonymous_status=302,
            location="/s/",
            data=lambda s: {"score": "4", "comment": "Gut gelöst"},
            done=_survey_answered,
        ),
        Case(
            "GET",
            "/s/<token>/thanks",
            PUBLIC,
            200,
            path="/s/{survey_token}/thanks",
            anonymous_status=200,
        ),
    ]


def _build_matrix() -> dict[tuple[str, str], Case]:
    matrix: dict[tuple[str, str], Case] = {}
    for case in _cases():
        assert (case.method, case.rule) not in matrix, f"two rows for {case.method} {case.rule}"
        matrix[case.method, case.rule] = case
    return matrix


MATRIX = _build_matrix()
SKIPPED_ENDPOINTS = ("static", "api-docs.")  # Flask's static files; flask-smorest's own docs
UNGUARDED_ENDPOINTS = {
    "static",
    "auth.login",
    "api-docs.openapi_json",
    "public_feedback.respond",  # customers answer on feedback links without signing in
    "public_feedback.thanks",
    "survey.respond",  # the survey after a resolved complaint: the token is the key
    "survey.thanks",
}


def _seed_agent(session: Session, team_id: int) -> int:
    """An agent of the seeded complaint's team (created once; argon2 is slow)."""
    agent = session.scalar(select(User).where(User.email == "queue-agent@example.org"))
    if agent is None:
        agent = make_user(session, Role.AGENT, email="queue-agent@example.org")
    agent.team_id = team_id
    session.commit()
    return agent.id


def _seed_rule(session: Session) -> int:
    rule = save_rule(
        session,
        None,
        RuleInput(
            name="Faxe",
            priority=10,
            team=session.scalar(select(Team).where(Team.name == "Online")),
            channel=Channel.FAX,
        ),
        actor=None,
        at=T0,
    )
    session.commit()
    return rule.id


def _seed_policy(session: Session) -> int:
    policy = make_policy(session, "medium", name="Mittel")
    session.commit()
    return policy.id


def _seed_feedback_links(session: Session) -> dict[str, Any]:
    """An active and a disabled feedback link at the hotline."""
    active = feedback_links.create_link(
        session, touchpoint_key="hotline", kind="nps", label="Aktiv", actor=None, at=T0
    )
    disabled = feedback_links.create_link(
        session, touchpoint_key="hotline", kind="nps", label="Aus", actor=None, at=T0
    )
    feedback_links.set_link_active(session, disabled, active=False, actor=None, at=T0)
    session.commit()
    return {
        "feedback_token": active.token,
        "feedback_link_id": active.id,
        "disabled_link_id": disabled.id,
    }


def _seed_survey(session: Session, complaint: Complaint) -> dict[str, Any]:
    """An open survey invitation for the seeded complaint, with a token we know."""
    token = "matrix-survey-token"
    feedback_survey.store_invitation(session, complaint, token=token, at=T0, valid_days=36500)
    session.commit()
    return {"survey_token": token}


def _seed(session: Session, user: User | None, role: Role | None) -> dict[str, Any]:
    """A fresh journey: the small one, plus an empty stage and an archived touchpoint."""
    session.rollback()
    for model in (
        SurveyInvitation,
        FeedbackResponse,
        FeedbackLink,
        Attachment,
        ComplaintEvent,
        Complaint,
        RoutingRule,
        SlaPolicy,
        JourneyEvent,
        CustomerValue,
        CustomerMerge,
        Customer,
        Category,
        ChurnReason,
        Transition,
        Touchpoint,
        Stage,
    ):
        session.execute(delete(model))
    session.execute(update(User).values(team_id=None))
    session.execute(delete(Team))
    session.commit()
    small_journey(session)
    if user is not None:  # a member of the team that owns the seeded complaint
        session.execute(
            update(User)
            .where(User.id == user.id)
            .values(team_id=session.scalar(select(Team.id).where(Team.name == "Kundenservice")))
        )
        session.commit()
    complaint = make_complaint(
        session, Settings.from_config(current_app.config), customer=make_customer(session, "K-1000")
    )
    make_stage(session, "renewal", "Verlängerung")
    fax = make_touchpoint(session, "fax-line", stage="support")
    journey.archive_touchpoint(session, fax, actor=None, at=T0)
    make_customer(session, "K-1000-dup", name="Max Doppelt")  # a duplicate to merge
    create_churn_reason(session, key="moved", name="Umzug", actor=None, at=T0)
    session.commit()
    website_to_app = next(
        t
        for t in journey.list_transitions(session)
        if (t.source.key, t.target.key) == ("website", "app")
    )
    seed: dict[str, Any] = {f"stage_{s.key}": s.id for s in session.scalars(select(Stage))}
    seed.update(
        team_online=session.scalar(select(Team.id).where(Team.name == "Online")),
        transition_id=website_to_app.id,
        complaint=complaint.reference,
        complaint_id=complaint.id,
        complaint_version=complaint.version,
        team_kundenservice=complaint.team_id,
        agent_id=_seed_agent(session, complaint.team_id),
        category_id=complaint.category_id,
        attachment_id=_seed_attachment(session, complaint),
        rule_id=_seed_rule(session),
        policy_id=_seed_policy(session),
        user_id=user.id if user else None,
        email=user.email if user else None,
        role=role.value if role else "agent",
        document=export_journey(session),
    )
    seed.update(_seed_feedback_links(session))
    seed.update(_seed_survey(session, complaint))
    return seed


def _expected(case: Case, who: Role | str) -> tuple[int, str | None]:
    """Status and redirect prefix that ``who`` must get for ``case``."""
    if case.allowed == PUBLIC:
        if who == ANONYMOUS:
            return case.anonymous_status or 200, case.location
        return case.status, case.location
    if who == ANONYMOUS:
        return (401, None) if case.is_api else (302, "/login")
    if who in case.allowed:
        return case.status, case.location
    return 403, None


def _is_allowed(case: Case, who: Role | str) -> bool:
    return case.allowed == PUBLIC or who in case.allowed


def _send(
    client: FlaskClient, case: Case, seed: dict[str, Any], csrf: str, token: str | None
) -> Any:
    url = case.url(seed)
    data = case.data(seed) if case.data else None
    if case.is_api:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.open(url, method=case.method, json=data, headers=headers)
    if case.method == "GET":
        return client.get(url)
    return client.post(url, data={**(data or {}), "csrf_token": csrf})


def _problems_with(response: Any, case: Case, who: Role | str) -> list[str]:
    status, location = _expected(case, who)
    label = f"{case.method} {case.rule} as {who}"
    problems = []
    if response.status_code != status:
        problems.append(f"{label}: got {response.status_code}, expected {status}")
    elif status == 302 and location and not response.headers["Location"].startswith(location):
        problems.append(f"{label}: redirected to {response.headers['Location']}, not {location}")
    if case.is_api and response.status_code in {401, 403}:
        body = response.get_json(silent=True) or {}
        error = body.get("error") or {}
        if set(error) != {"code", "message", "fields"}:
            problems.append(f"{label}: {response.status_code} is not a JSON error: {body!r}")
        if response.status_code == 401 and "Bearer" not in response.headers.get(
            "WWW-Authenticate", ""
        ):
            problems.append(f"{label}: 401 without a WWW-Authenticate: Bearer challenge")
    return problems


def _walk(
    client: FlaskClient,
    session: Session,
    who: Role | str,
    cases: list[Case],
    *,
    user: User | None,
    csrf: str = "",
    token: str | None = None,
) -> list[str]:
    """Send every case as ``who``; return every deviation from the matrix."""
    role = who if isinstance(who, Role) else None
    seed = _seed(session, user, role)
    problems: list[str] = []
    for case in cases:
        response = _send(client, case, seed, csrf, token)
        problems += _problems_with(response, case, who)
        if case.done is not None:
            session.rollback()  # see what the request committed
            probe = Probe(client, session, seed)
            if _is_allowed(case, who) and not case.done(probe):
                problems.append(f"{case.method} {case.rule} as {who}: allowed, but not done")
            if not _is_allowed(case, who) and case.check_denied and case.done(probe):
                problems.append(f"{case.method} {case.rule} as {who}: denied, but done anyway")
        if case.method != "GET":
            seed = _seed(session, user, role)
    return problems


def _last_the_session_changers(case: Case) -> int:
    """Signing out and in change who the client is, so those rows go last, in that order."""
    return {"/logout": 1, "/login": 2}.get(case.rule, 0) if case.method == "POST" else 0


HTML_CASES = sorted((c for c in MATRIX.values() if not c.is_api), key=_last_the_session_changers)
API_CASES = [c for c in MATRIX.values() if c.is_api]


@pytest.mark.parametrize("who", WHO, ids=str)
def test_pages_and_form_actions_answer_each_role_as_the_matrix_says(
    app: Flask, client: FlaskClient, db_session: Session, login_as, who: Role | str
) -> None:
    if who == ANONYMOUS:
        # someone to sign in as (POST /login) and to point /admin/users/<id> at
        user = make_user(db_session, Role.AGENT, email="someone@example.org")
        csrf = csrf_from(client.get("/login").get_data(as_text=True))
    else:
        user = login_as(who)
        csrf = csrf_from(client.get("/account").get_data(as_text=True))
    problems = _walk(client, db_session, who, HTML_CASES, user=user, csrf=csrf)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", WHO, ids=str)
def test_api_endpoints_answer_each_role_as_the_matrix_says(
    client: FlaskClient, db_session: Session, api_token, who: Role | str
) -> None:
    token = None if who == ANONYMOUS else api_token(who)
    # The token's owner, so seeded complaints belong to their team (agents see only their own).
    user = None if who == ANONYMOUS else find_user_by_token(db_session, token)
    problems = _walk(client, db_session, who, API_CASES, user=user, token=token)
    assert not problems, "\n".join(problems)


def test_an_unknown_bearer_token_is_anonymous(client: FlaskClient, db_session: Session) -> None:
    for case in (c for c in API_CASES if c.allowed != PUBLIC):
        response = client.open(
            case.url(defaultdict(lambda: "1")),
            method=case.method,
            json={},
            headers={"Authorization": "Bearer cxj_not-a-token"},
        )
        assert response.status_code == 401, f"{case.method} {case.rule}"
        assert response.get_json()["error"]["code"] == "unauthorized"


def _routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith(SKIPPED_ENDPOINTS)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_and_method_is_in_the_matrix(app: Flask) -> None:
    missing = sorted(_routes(app) - set(MATRIX))
    assert missing == [], "add these routes to MATRIX in tests/test_role_matrix.py"


def test_the_matrix_names_no_route_that_does_not_exist(app: Flask) -> None:
    existing = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert sorted(set(MATRIX) - existing) == []


def test_every_view_is_guarded_by_requires(app: Flask) -> None:
    unguarded = sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint not in UNGUARDED_ENDPOINTS and not hasattr(view, "required_permissions")
    )
    assert unguarded == []


def test_the_permissions_on_each_view_grant_exactly_the_roles_in_the_matrix(app: Flask) -> None:
    """A cross-check that names the decorator to fix when a matrix test fails."""
    by_rule = {
        (method, rule.rule): app.view_functions[rule.endpoint]
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    wrong = []
    for key, case in MATRIX.items():
        if case.allowed == PUBLIC:
            continue
        needed = set(getattr(by_rule[key], "required_permissions", ()))
        granted = frozenset(r for r in Role if needed <= ROLE_PERMISSIONS[r])
        if granted != case.allowed:
            wrong.append(f"{key}: {sorted(needed)} grants {sorted(granted)}")
    assert wrong == []


def test_methods_an_api_endpoint_lacks_answer_405_as_json(
    app: Flask, client: FlaskClient, db_session: Session, api_token
) -> None:
    token = api_token(Role.ADMIN)
    methods_by_rule: dict[str, set[str]] = defaultdict(set)
    for method, rule in _routes(app):
        if rule.startswith("/api/"):
            methods_by_rule[rule].add(method)
    for rule, methods in methods_by_rule.items():
        url = MATRIX[next(iter(methods)), rule].url(defaultdict(lambda: "1"))
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - methods):
            response = client.open(
                url, method=method, json={}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 405, f"{method} {rule}"
            assert response.get_json()["error"]["code"] == "method_not_allowed"
            assert set(response.headers["Allow"].replace(" ", "").split(",")) >= methods
