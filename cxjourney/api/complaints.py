"""Complaints: intake (idempotent), lists with filters, detail with timeline, and work on one."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from ..auth import services as auth_services
from ..auth.permissions import Permission, can, requires
from ..complaints import lifecycle, services
from ..complaints.models import Complaint, ComplaintStatus, ResolutionCode, Severity
from ..complaints.sla import sla_status
from ..errors import PermissionDenied, ValidationError
from ..extensions import db, utcnow
from ..journey.models import Channel
from ..journey.services import find_touchpoint_by_key
from .errors import ErrorSchema
from .pagination import decode_cursor, encode_cursor
from .schemas import (
    AssignRequestSchema,
    ComplaintCreateSchema,
    ComplaintListArgsSchema,
    ComplaintPageSchema,
    ComplaintSchema,
    NoteRequestSchema,
    ReplyRequestSchema,
    TransitionRequestSchema,
)

blp = Blueprint("api_complaints", __name__, description="Complaints (personal data)")


def settings() -> services.Settings:
    return services.Settings.from_config(current_app.config)


def dump_complaint(complaint: Complaint, *, with_timeline: bool = False) -> dict[str, Any]:
    status = sla_status(complaint, settings().calendar, utcnow())
    body: dict[str, Any] = {
        "reference": complaint.reference,
        "status": complaint.status.value,
        "touchpoint": complaint.touchpoint.key,
        "team": complaint.team.name,
        "assignee": complaint.assignee.email if complaint.assignee else None,
        "version": complaint.version,
        "routed_by": complaint.routed_by,
        "created_at": complaint.created_at,
        "received_at": complaint.received_at,
        "sla": {
            "first_response_due": complaint.first_response_due_at,
            "next_update_due": complaint.next_update_due_at,
            "resolution_due": complaint.resolution_due_at,
            "state": status.overall.value,
            "clocks": {k: v for k, v in status.as_dict().items() if k != "overall"},
        },
        "customer_ref": complaint.customer.external_ref,
        "channel": complaint.channel.value,
        "category": complaint.category.key,
        "severity": complaint.severity.value,
        "subject": complaint.subject,
        "description": complaint.description,
        "desired_outcome": complaint.desired_outcome,
        "updated_at": complaint.updated_at,
        "first_response_at": complaint.first_response_at,
        "resolved_at": complaint.resolved_at,
        "closed_at": complaint.closed_at,
        "reopen_count": complaint.reopen_count,
        "resolution_code": complaint.resolution_code.value if complaint.resolution_code else None,
        "resolution": complaint.resolution,
        "compensation": complaint.compensation,
        "escalated_at": complaint.escalated_at,
    }
    if with_timeline:
        body["timeline"] = [
            {
                "kind": e.kind.value,
                "at": e.at,
                "actor": e.actor_label,
                "channel": e.channel.value if e.channel else None,
                "body": e.body,
                "data": e.data,
            }
            for e in services.timeline(db.session, complaint)
        ]
    return body


@blp.post("/complaints")
@requires(Permission.LOG_COMPLAINTS)
@blp.arguments(ComplaintCreateSchema)
@blp.response(201, ComplaintSchema)
@blp.alt_response(200, schema=ComplaintSchema, description="Replayed Idempotency-Key")
@blp.alt_response(422, schema=ErrorSchema)
@blp.doc(
    parameters=[
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "maxLength": 128},
            "description": "The same key again returns the same complaint (no second one)",
        }
    ]
)
def create_complaint(data: dict[str, Any]) -> Any:
    """Log a complaint; it is routed and its SLA clocks start at ``received_at``."""
    problems: dict[str, str] = {}
    found = services.find_intake_references(
        db.session,
        customer_ref=data["customer_ref"],
        touchpoint_key=data["touchpoint"],
        category_key=data["category"],
    )
    customer, touchpoint, category = found.customer, found.touchpoint, found.category
    if customer is None:
        problems["customer_ref"] = _(
            "No customer with the reference %(ref)s.", ref=data["customer_ref"]
        )
    if touchpoint is None:
        problems["touchpoint"] = _("No touchpoint with the key %(key)s.", key=data["touchpoint"])
    if category is None:
        problems["category"] = _("Unknown category %(key)s.", key=data["category"])
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key.strip()) <= services.IDEMPOTENCY_KEY_MAX:
        problems["Idempotency-Key"] = _("Use 1–128 characters.")
    if problems:
        raise ValidationError(problems)
    complaint, created = services.log_complaint(
        db.session,
        services.ComplaintInput(
            customer=customer,
            touchpoint=touchpoint,
            channel=Channel(data["channel"]),
            category=category,
            severity=Severity(data["severity"]),
            subject=data["subject"],
            description=data["description"],
            desired_outcome=data["desired_outcome"],
            received_at=data["received_at"],
            idempotency_key=key.strip() if key else None,
            complaint_id=found.complaint_id,
        ),
        actor=current_user,
        at=utcnow(),
        settings=settings(),
    )
    db.session.flush()
    body = dump_complaint(complaint)  # before the commit expires what we just wrote
    db.session.commit()
    return body, 201 if created else 200


@blp.get("/complaints")
@requires(Permission.VIEW_COMPLAINTS)
@blp.arguments(ComplaintListArgsSchema, location="query")
@blp.response(200, ComplaintPageSchema)
def list_complaints(args: dict[str, Any]) -> Any:
    """Complaints you may see, newest first; filters combine."""
    query = select(Complaint).where(services.visible_to(current_user))
    if args.get("status"):
        query = query.where(Complaint.status == ComplaintStatus(args["status"]))
    if args.get("team"):
        team = auth_services.find_team_by_name(db.session, args["team"])
        query = query.where(Complaint.team_id == (team.id if team else -1))
    if args.get("assignee"):
        user = auth_services.find_user_by_email(db.session, args["assignee"])
        query = query.where(Complaint.assignee_id == (user.id if user else -1))
    if args.get("touchpoint"):
        tp = find_touchpoint_by_key(db.session, args["touchpoint"])
        query = query.where(Complaint.touchpoint_id == (tp.id if tp else -1))
    if args.get("updated_since"):
        query = query.where(Complaint.updated_at >= args["updated_since"])
    before = decode_cursor(args.get("cursor"))
    if before:
        query = query.where(Complaint.id < before)
    query = query.order_by(Complaint.id.desc())
    limit, wanted = args["limit"], args.get("sla_state")
    now, config = utcnow(), settings().calendar
    items: list[Complaint] = []
    # The SLA state is computed per complaint (business calendars), so filter while reading.
    for chunk_start in range(0, 100_000, 500):
        chunk = db.session.scalars(query.offset(chunk_start).limit(500)).all()
        for complaint in chunk:
            if wanted is None or sla_status(complaint, config, now).overall.value == wanted:
                items.append(complaint)
                if len(items) > limit:
                    break
        if len(items) > limit or len(chunk) < 500:
            break
    more = len(items) > limit
    items = items[:limit]
    return {
        "items": [dump_complaint(c) for c in items],
        "next": encode_cursor(items[-1].id) if more and items else None,
    }


@blp.get("/complaints/<reference>")
@requires(Permission.VIEW_COMPLAINTS)
@blp.response(200, ComplaintSchema)
@blp.alt_response(404, schema=ErrorSchema)
def get_complaint(reference: str) -> Any:
    complaint = services.get_complaint(db.session, reference, viewer=current_user)
    return dump_complaint(complaint, with_timeline=True)


@blp.post("/complaints/<reference>/transition")
@requires(Permission.WORK_COMPLAINTS)
@blp.arguments(TransitionRequestSchema)
@blp.response(200, ComplaintSchema)
@blp.alt_response(409, schema=ErrorSchema, description="Stale version")
@blp.alt_response(422, schema=ErrorSchema, description="Move not allowed, or resolution missing")
def transition(data: dict[str, Any], reference: str) -> Any:
    complaint = services.get_complaint(db.session, reference, viewer=current_user)
    lifecycle.transition_complaint(
        db.session,
        complaint,
        to=ComplaintStatus(data["to"]),
        actor=current_user,
        at=utcnow(),
        settings=settings(),
        note=data["note"],
        resolution_code=ResolutionCode(data["resolution_code"])
        if data["resolution_code"]
        else None,
        resolution=data["resolution"] or "",
        compensation=data["compensation"],
        expected_version=data["version"],
    )
    db.session.commit()
    return dump_complaint(complaint, with_timeline=True)


@blp.post("/complaints/<reference>/notes")
@requires(Permission.WORK_COMPLAINTS)
@blp.arguments(NoteRequestSchema)
@blp.response(201, ComplaintSchema)
@blp.alt_response(409, schema=ErrorSchema)
def add_note(data: dict[str, Any], reference: str) -> Any:
    """An internal note (never shown to the customer)."""
    complaint = services.get_complaint(db.session, reference, viewer=current_user)
    lifecycle.add_note(
        db.session,
        complaint,
        text=data["text"],
        actor=current_user,
        at=utcnow(),
        expected_version=data["version"],
    )
    db.session.commit()
    return dump_complaint(complaint, with_timeline=True)


@blp.post("/complaints/<reference>/replies")
@requires(Permission.WORK_COMPLAINTS)
@blp.arguments(ReplyRequestSchema)
@blp.response(201, ComplaintSchema)
@blp.alt_response(409, schema=ErrorSchema)
def add_reply(data: dict[str, Any], reference: str) -> Any:
    """A reply to the customer through a channel; the first one is the first response."""
    complaint = services.get_complaint(db.session, reference, viewer=current_user)
    lifecycle.add_reply(
        db.session,
        complaint,
        text=data["text"],
        channel=Channel(data["channel"]),
        actor=current_user,
        at=utcnow(),
        settings=settings(),
        expected_version=data["version"],
    )
    db.session.commit()
    return dump_complaint(complaint, with_timeline=True)


@blp.post("/complaints/<reference>/assign")
@requires(Permission.WORK_COMPLAINTS)
@blp.arguments(AssignRequestSchema)
@blp.response(200, ComplaintSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def assign(data: dict[str, Any], reference: str) -> Any:
    """Assign to a person of the team (or the team's queue); other teams need a team lead."""
    complaint = services.get_complaint(db.session, reference, viewer=current_user)
    problems: dict[str, str] = {}
    team = complaint.team
    if data.get("team"):
        found = auth_services.find_team_by_name(db.session, data["team"])
        if found is None:
            problems["team"] = _("No team named %(name)s.", name=data["team"])
        else:
            team = found
    assignee = None
    if data["assignee"]:
        assignee = auth_services.find_user_by_email(db.session, data["assignee"])
        if assignee is None:
            problems["assignee"] = _("No user with this email.")
    if problems:
        raise ValidationError(problems)
    taking_it = assignee is not None and assignee.id == current_user.id
    if not (
        can(current_user, Permission.ASSIGN_COMPLAINTS)
        or (taking_it and team.id == complaint.team_id)
    ):
        raise PermissionDenied(_("Only team leads assign complaints to others."))
    lifecycle.assign_complaint(
        db.session,
        complaint,
        team=team,
        assignee=assignee,
        actor=current_user,
        at=utcnow(),
        expected_version=data["version"],
        settings=settings(),
    )
    db.session.commit()
    return dump_complaint(complaint, with_timeline=True)
