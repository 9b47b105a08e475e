"""Complaint pages: intake, the complaint with its timeline, and the work on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import services as auth_services
from ..auth.permissions import Permission, can, requires
from ..customers import services as customer_services
from ..customers.models import Customer
from ..errors import Conflict, DomainError, ValidationError
from ..extensions import db, utcnow
from ..journey import services as journey_services
from ..journey.forms import channel_labels
from ..journey.models import Channel
from . import attachments as attachment_services
from . import categories, lifecycle, services
from .forms import (
    AssignForm,
    AttachmentForm,
    IntakeForm,
    NoteForm,
    ReplyForm,
    SeverityForm,
    StatusForm,
)
from .labels import resolution_labels, severity_labels, sla_labels, status_labels
from .models import Complaint, ComplaintStatus, ResolutionCode, Severity
from .sla import sla_status

bp = Blueprint("complaints", __name__, url_prefix="/complaints")

RECENT_DAYS = 90


def _settings() -> services.Settings:
    return services.Settings.from_config(current_app.config)


def _storage() -> attachment_services.Storage:
    configured = current_app.config.get("ATTACHMENT_DIR")
    directory = Path(configured) if configured else Path(current_app.instance_path) / "attachments"
    return attachment_services.Storage(directory, int(current_app.config["ATTACHMENT_MAX_BYTES"]))


def _store_uploads(complaint: Complaint, at: datetime) -> None:
    for upload in request.files.getlist("attachments"):
        if upload and upload.filename:
            attachment_services.add_attachment(
                db.session,
                complaint,
                filename=upload.filename,
                stream=upload.stream,
                content_type=upload.mimetype,
                actor=current_user,
                at=at,
                storage=_storage(),
            )


def _local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _fill_intake_choices(form: IntakeForm) -> None:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for tp in journey_services.list_touchpoints(db.session):
        grouped.setdefault(tp.stage.name, []).append((tp.key, tp.name))
    form.touchpoint.choices = {"": [("", _("— choose —"))], **grouped}  # type: ignore[assignment]
    labels = channel_labels()
    form.channel.choices = [("", _("— choose —"))] + [(c.value, str(labels[c])) for c in Channel]
    form.category.choices = [("", _("— choose —"))] + [
        (c.key, c.name) for c in categories.list_categories(db.session, active_only=True)
    ]
    form.severity.choices = [(s.value, str(label)) for s, label in severity_labels().items()]


def _customer_context(customer: Customer | None) -> dict[str, Any]:
    """What the agent sees of the customer while logging: open and recent complaints."""
    if customer is None:
        return {"customer": None, "open_complaints": [], "recent_complaints": []}
    mine = services.customer_complaints(db.session, customer, viewer=current_user)
    since = utcnow() - timedelta(days=RECENT_DAYS)
    return {
        "customer": customer,
        "open_complaints": [c for c in mine if c.status not in lifecycle.DONE],
        "recent_complaints": [
            c for c in mine if c.status in lifecycle.DONE and c.received_at >= since
        ],
    }


def _received_at(form: IntakeForm) -> datetime | None:
    if form.received_at.data is None:
        return None
    return form.received_at.data.replace(tzinfo=_local_zone()).astimezone(UTC)


def _render_intake(
    form: IntakeForm, customer: Customer | None, status: int = 200, **extra: Any
) -> Any:
    return (
        render_template(
            "complaints/new.html",
            form=form,
            matches=extra.pop("matches", []),
            query=extra.pop("query", ""),
            duplicates=extra.pop("duplicates", []),
            status_labels=status_labels(),
            **_customer_context(customer),
            **extra,
        ),
        status,
    )


@bp.get("/new")
@requires(Permission.LOG_COMPLAINTS)
def new() -> Any:
    """The intake form; ``?q=`` searches customers, ``?customer=`` picks one."""
    form = IntakeForm(formdata=None)
    _fill_intake_choices(form)
    customer = None
    if request.args.get("customer"):
        customer = customer_services.find_customer(db.session, request.args["customer"])
        if customer is not None:
            form.customer_ref.data = customer.external_ref
    if request.args.get("touchpoint"):
        form.touchpoint.data = request.args["touchpoint"]
    query = (request.args.get("q") or "").strip()
    matches = customer_services.search_customers(db.session, query) if query else []
    return _render_intake(form, customer, matches=matches, query=query)


def _resolve_customer(form: IntakeForm, at: datetime) -> Customer | None:
    """The chosen customer, or a new one created from the quick-create fields."""
    ref = (form.customer_ref.data or "").strip()
    name = (form.new_customer_name.data or "").strip()
    if ref:
        customer = customer_services.find_customer(db.session, ref)
        if customer is not None:
            return customer
        if not name:
            raise ValidationError(
                {"customer_ref": _("No customer with the reference %(ref)s.", ref=ref)}
            )
    if not name:
        raise ValidationError({"customer_ref": _("Choose or create the customer.")})
    try:
        return customer_services.create_customer(
            db.session,
            customer_services.CustomerInput(
                external_ref=ref,
                name=name,
                email=form.new_customer_email.data or None,
                phone=form.new_customer_phone.data or None,
                acquired_at=at,
            ),
            actor=current_user,
            at=at,
        )
    except ValidationError as exc:
        # Show the customer's problems on the form's own field names.
        mapping = {
            "external_ref": "customer_ref",
            "name": "new_customer_name",
            "email": "new_customer_email",
            "phone": "new_customer_phone",
        }
        raise ValidationError({mapping.get(k, k): v for k, v in exc.fields.items()}) from None


@bp.post("/new")
@requires(Permission.LOG_COMPLAINTS)
def create() -> Any:
    form = IntakeForm()
    _fill_intake_choices(form)
    at = utcnow()
    customer = customer_services.find_customer(db.session, (form.customer_ref.data or "").strip())
    if not form.validate_on_submit():
        return _render_intake(form, customer, 422)
    touchpoint = journey_services.find_touchpoint_by_key(db.session, form.touchpoint.data)
    link_to = request.form.get("link_to")
    if link_to and customer is not None:
        return _link(form, customer, link_to, at)
    if customer is not None and touchpoint is not None and not form.confirm_new.data:
        duplicates = services.likely_duplicates(
            db.session,
            customer=customer,
            touchpoint=touchpoint,
            now=at,
            days=current_app.config["DUPLICATE_WINDOW_DAYS"],
        )
        visible = [c for c in duplicates if services.can_see(current_user, c)]
        if visible:
            form.confirm_new.data = "1"
            # A question for the agent, not an error: 200 with the hint above the form.
            return _render_intake(form, customer, 200, duplicates=visible)
    try:
        customer = _resolve_customer(form, at)
        complaint, _created = services.log_complaint(
            db.session,
            services.ComplaintInput(
                customer=customer,
                touchpoint=touchpoint,
                channel=Channel(form.channel.data),
                category=categories.find_category(db.session, form.category.data),
                severity=Severity(form.severity.data),
                subject=form.subject.data,
                description=form.description.data,
                desired_outcome=form.desired_outcome.data or "",
                received_at=_received_at(form),
            ),
            actor=current_user,
            at=at,
            settings=_settings(),
        )
        _store_uploads(complaint, at)
    except DomainError as exc:
        db.session.rollback()
        form.add_errors(exc)
        return _render_intake(form, customer, 422)
    db.session.commit()
    who = complaint.assignee.name if complaint.assignee else _("the team queue")
    flash(
        _(
            "%(ref)s logged. It went to %(team)s (%(who)s): %(reason)s.",
            ref=complaint.reference,
            team=complaint.team.name,
            who=who,
            reason=routing_reason(complaint),
        ),
        "success",
    )
    return redirect(url_for("complaints.detail", reference=complaint.reference))


create.accepts_files = True  # type: ignore[attr-defined] - the request guard lets uploads in


def _link(form: IntakeForm, customer: Customer, reference: str, at: datetime) -> Any:
    try:
        complaint = services.get_complaint(db.session, reference, viewer=current_user)
        if complaint.customer_id != customer.id:
            abort(404)
        services.link_contact(
            db.session,
            complaint,
            channel=Channel(form.channel.data),
            text=form.description.data,
            actor=current_user,
            at=at,
        )
    except DomainError as exc:
        db.session.rollback()
        form.add_errors(exc)
        return _render_intake(form, customer, 422)
    db.session.commit()
    flash(_("Added to %(ref)s instead of logging it twice.", ref=complaint.reference), "success")
    return redirect(url_for("complaints.detail", reference=complaint.reference))


def routing_reason(complaint: Complaint) -> str:
    """Why a complaint is where it is, in words."""
    if complaint.routing_rule is not None:
        return _("routing rule “%(name)s”", name=complaint.routing_rule.name)
    if complaint.routed_by == "owner":
        return _("the team that owns the touchpoint %(tp)s", tp=complaint.touchpoint.name)
    if complaint.routed_by == "triage":
        return _("no rule matched and the touchpoint has no owner: triage team")
    return complaint.routed_by


# --- the complaint -----------------------------------------------------------------------


def _forms(complaint: Complaint, submitted: Any = None) -> dict[str, Any]:
    """The action forms, each filled with the current version unless ``submitted`` is one."""
    version = complaint.version
    forms: dict[str, Any] = {
        "status_form": StatusForm(formdata=None, version=version),
        "reply_form": ReplyForm(formdata=None, version=version, channel=complaint.channel.value),
        "note_form": NoteForm(formdata=None, version=version),
        "assign_form": AssignForm(
            formdata=None,
            version=version,
            assignee=complaint.assignee.email if complaint.assignee else "",
        ),
        "attachment_form": AttachmentForm(formdata=None),
        "severity_form": SeverityForm(
            formdata=None, version=version, severity=complaint.severity.value
        ),
    }
    if submitted is not None:
        forms[submitted[0]] = submitted[1]
    labels = status_labels()
    allowed = lifecycle.ALLOWED_MOVES[complaint.status]
    forms["status_form"].to.choices = [
        (s.value, str(labels[s.value])) for s in ComplaintStatus if s in allowed
    ]
    forms["status_form"].resolution_code.choices = [("", _("— only when resolving —"))] + [
        (c.value, str(label)) for c, label in resolution_labels().items()
    ]
    channel_names = channel_labels()
    forms["reply_form"].channel.choices = [(c.value, str(channel_names[c])) for c in Channel]
    members = [
        u
        for u in auth_services.list_users_for_choice(db.session)
        if u.team_id == complaint.team_id and can(u, Permission.WORK_COMPLAINTS)
    ]
    if complaint.assignee is not None and complaint.assignee not in members:
        members.append(complaint.assignee)
    forms["assign_form"].assignee.choices = [("", _("— team queue —"))] + [
        (u.email, u.name) for u in members
    ]
    forms["severity_form"].severity.choices = [
        (s.value, str(label)) for s, label in severity_labels().items()
    ]
    return forms


def _render_detail(
    complaint: Complaint, status: int = 200, submitted: Any = None, conflict: str | None = None
) -> Any:
    return (
        render_template(
            "complaints/detail.html",
            complaint=complaint,
            events=services.timeline(db.session, complaint),
            attachments=attachment_services.list_attachments(db.session, complaint),
            sla=sla_status(complaint, _settings().calendar, utcnow()),
            reason=routing_reason(complaint),
            conflict=conflict,
            status_labels=status_labels(),
            severity_labels=severity_labels(),
            resolution_labels=resolution_labels(),
            sla_labels=sla_labels(),
            channel_labels=channel_labels(),
            can_assign=can(current_user, Permission.ASSIGN_COMPLAINTS),
            **_forms(complaint, submitted),
        ),
        status,
    )


def _load(reference: str) -> Complaint:
    return services.get_complaint(db.session, reference, viewer=current_user)


@bp.get("/<reference>")
@requires(Permission.VIEW_COMPLAINTS)
def detail(reference: str) -> Any:
    return _render_detail(_load(reference))


def _act(reference: str, name: str, form: Any, action: Any) -> Any:
    """Validate ``form``, run ``action(complaint, form)``, commit; on conflict show the
    current state with what the user typed kept."""
    complaint = _load(reference)
    if not form.validate_on_submit():
        return _render_detail(complaint, 422, (name, form))
    try:
        action(complaint, form)
    except Conflict as exc:
        db.session.rollback()
        complaint = _load(reference)
        form.version.data = complaint.version  # submit again to apply on top of the new state
        return _render_detail(complaint, 409, (name, form), conflict=exc.message)
    except ValidationError as exc:
        db.session.rollback()
        form.add_errors(exc)
        return _render_detail(_load(reference), 422, (name, form))
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("complaints.detail", reference=reference))


@bp.post("/<reference>/status")
@requires(Permission.WORK_COMPLAINTS)
def change_status(reference: str) -> Any:
    def action(complaint: Complaint, form: StatusForm) -> None:
        lifecycle.transition_complaint(
            db.session,
            complaint,
            to=ComplaintStatus(form.to.data),
            actor=current_user,
            at=utcnow(),
            settings=_settings(),
            note=form.note.data or "",
            resolution_code=ResolutionCode(form.resolution_code.data)
            if form.resolution_code.data
            else None,
            resolution=form.resolution.data or "",
            compensation=form.compensation.data,
            expected_version=form.version.data,
        )

    return _act(
        reference, "status_form", _with_choices(reference, "status_form", StatusForm()), action
    )


def _with_choices(reference: str, name: str, form: Any) -> Any:
    """Give a submitted form the same choices as the page's, so WTForms can validate them."""
    complaint = _load(reference)
    template = _forms(complaint)[name]
    for field_name, field in template._fields.items():
        if hasattr(field, "choices"):
            form[field_name].choices = field.choices
    return form


@bp.post("/<reference>/reply")
@requires(Permission.WORK_COMPLAINTS)
def reply(reference: str) -> Any:
    def action(complaint: Complaint, form: ReplyForm) -> None:
        lifecycle.add_reply(
            db.session,
            complaint,
            text=form.text.data,
            channel=Channel(form.channel.data),
            actor=current_user,
            at=utcnow(),
            settings=_settings(),
            expected_version=form.version.data,
        )

    return _act(
        reference, "reply_form", _with_choices(reference, "reply_form", ReplyForm()), action
    )


@bp.post("/<reference>/note")
@requires(Permission.WORK_COMPLAINTS)
def note(reference: str) -> Any:
    def action(complaint: Complaint, form: NoteForm) -> None:
        lifecycle.add_note(
            db.session,
            complaint,
            text=form.text.data,
            actor=current_user,
            at=utcnow(),
            expected_version=form.version.data,
        )

    return _act(reference, "note_form", NoteForm(), action)


@bp.post("/<reference>/assign")
@requires(Permission.WORK_COMPLAINTS)
def assign(reference: str) -> Any:
    def action(complaint: Complaint, form: AssignForm) -> None:
        assignee = (
            auth_services.find_user_by_email(db.session, form.assignee.data)
            if form.assignee.data
            else None
        )
        taking_it = assignee is not None and assignee.id == current_user.id
        if not (can(current_user, Permission.ASSIGN_COMPLAINTS) or taking_it):
            abort(403)
        lifecycle.assign_complaint(
            db.session,
            complaint,
            team=None,
            assignee=assignee,
            actor=current_user,
            at=utcnow(),
            expected_version=form.version.data,
            settings=_settings(),
        )

    form = _with_choices(reference, "assign_form", AssignForm())
    if not can(current_user, Permission.ASSIGN_COMPLAINTS):
        # Agents may only take a complaint of their team for themselves.
        form.assignee.choices = [*form.assignee.choices, (current_user.email, current_user.name)]
    return _act(reference, "assign_form", form, action)


@bp.post("/<reference>/severity")
@requires(Permission.WORK_COMPLAINTS)
def severity(reference: str) -> Any:
    def action(complaint: Complaint, form: SeverityForm) -> None:
        lifecycle.change_severity(
            db.session,
            complaint,
            severity=Severity(form.severity.data),
            actor=current_user,
            at=utcnow(),
            settings=_settings(),
            expected_version=form.version.data,
        )

    return _act(
        reference,
        "severity_form",
        _with_choices(reference, "severity_form", SeverityForm()),
        action,
    )


@bp.post("/<reference>/attachments")
@requires(Permission.WORK_COMPLAINTS)
def upload(reference: str) -> Any:
    complaint = _load(reference)
    form = AttachmentForm()
    if not form.validate_on_submit():
        return _render_detail(complaint, 422, ("attachment_form", form))
    try:
        _store_uploads(complaint, utcnow())
    except ValidationError as exc:
        db.session.rollback()
        form.add_errors(exc)
        return _render_detail(_load(reference), 422, ("attachment_form", form))
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("complaints.detail", reference=reference))


upload.accepts_files = True  # type: ignore[attr-defined]


@bp.get("/<reference>/attachments/<int:attachment_id>")
@requires(Permission.VIEW_COMPLAINTS)
def download(reference: str, attachment_id: int) -> Any:
    """Only for those who may see the complaint; always a download, never shown inline."""
    complaint = _load(reference)
    attachment = attachment_services.get_attachment(db.session, complaint, attachment_id)
    path = attachment_services.stored_path(_storage(), attachment)
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.filename,
        max_age=0,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
