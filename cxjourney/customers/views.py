"""Customer pages: search, the 360° view (timeline, value, path), churn, edit and merge."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..auth.permissions import Permission, can, requires
from ..complaints.labels import status_labels
from ..errors import ValidationError
from ..extensions import db, utcnow
from ..journey.forms import channel_labels
from ..journey.map_view import build_path_map
from . import merge as merge_services
from . import profile, services
from .forms import ChurnForm, CustomerForm, MergeForm
from .models import Customer
from .path import customer_path

bp = Blueprint("customers", __name__, url_prefix="/customers")


def moved_labels() -> dict[str, object]:
    """Names of what a merge moves (the keys of ``CustomerMerge.moved``)."""
    return {
        "journey_event": _l("Journey events"),
        "complaint": _l("Complaints"),
        "feedback_response": _l("Feedback responses"),
        "customer_value": _l("Revenue and cost records"),
        "survey_invitation": _l("Survey invitations"),
        "customer.referred_by_id": _l("Customers they referred"),
        "customer_merge.survivor_id": _l("Earlier merges"),
    }


@bp.get("/")
@requires(Permission.VIEW_CUSTOMERS)
def search() -> Any:
    query = (request.args.get("q") or "").strip()
    results = services.search_customers(db.session, query) if query else []
    return render_template("customers/search.html", query=query, results=results)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _churn_form(customer: Customer, formdata: Any = None) -> ChurnForm:
    form = ChurnForm(formdata=formdata) if formdata is not None else ChurnForm(formdata=None)
    reasons = services.list_churn_reasons(db.session, active_only=True)
    choices = [("", _("Choose a reason"))] + [(r.key, r.name) for r in reasons]
    current = customer.churn_reason
    if current is not None and current.key not in {key for key, _name in choices}:
        choices.append((current.key, current.name))
    form.churn_reason.choices = choices
    if formdata is None:
        form.churn_reason.data = current.key if current else ""
        churned = customer.churned_at or utcnow()
        form.churned_on.data = churned.astimezone(_zone()).date()
    return form


def _render_detail(
    customer: Customer, churn_form: ChurnForm | None = None, status: int = 200
) -> Any:
    now = utcnow()
    path = customer_path(db.session, customer)
    if churn_form is None and can(current_user, Permission.EDIT_CUSTOMERS):
        churn_form = _churn_form(customer)
    page = render_template(
        "customers/detail.html",
        customer=customer,
        show_personal=can(current_user, Permission.VIEW_PERSONAL_DATA),
        facts=profile.customer_facts(db.session, customer, at=now, zone=_zone()),
        timeline=profile.customer_timeline(
            db.session,
            customer,
            viewer=current_user,
            limit=profile.clamp_limit(request.args.get("limit", profile.DEFAULT_LIMIT)),
        ),
        limit_step=profile.LIMIT_STEP,
        max_limit=profile.MAX_LIMIT,
        path=path,
        path_svg=build_path_map(db.session, path.visit_counts, path.edges),
        churn_form=churn_form,
        status_labels=status_labels(),
        channel_labels=channel_labels(),
        moved_labels=moved_labels(),
    )
    return page, status


@bp.get("/<external_ref>")
@requires(Permission.VIEW_CUSTOMERS)
def detail(external_ref: str) -> Any:
    customer = services.get_customer(db.session, external_ref)
    return _render_detail(customer)


def _churned_at(customer: Customer, day: date | None) -> datetime | None:
    """00:00 local time of ``day``; on the day of acquisition, the acquisition itself."""
    if day is None:
        return None
    start = _start_of_day(day)
    same_day = customer.acquired_at.astimezone(_zone()).date() == day
    return max(start, customer.acquired_at) if same_day else start


@bp.post("/<external_ref>/churn")
@requires(Permission.EDIT_CUSTOMERS)
def churn(external_ref: str) -> Any:
    customer = services.get_customer(db.session, external_ref)
    form = _churn_form(customer, request.form)
    if form.validate_on_submit():
        undo = bool(form.undo.data)
        try:
            services.set_churn(
                db.session,
                customer,
                churned_at=None if undo else _churned_at(customer, form.churned_on.data),
                reason_key=None if undo else (form.churn_reason.data or None),
                actor=current_user,
                at=utcnow(),
            )
        except ValidationError as exc:
            db.session.rollback()
            form.add_errors(_on_form_fields(exc))
        else:
            db.session.commit()
            message = (
                _("%(ref)s is active again.", ref=customer.external_ref)
                if undo
                else _("%(ref)s marked as churned.", ref=customer.external_ref)
            )
            flash(message, "success")
            return redirect(url_for("customers.detail", external_ref=customer.external_ref))
    return _render_detail(customer, form, 422)


def _on_form_fields(exc: ValidationError) -> ValidationError:
    """The service names ``churned_at``; the form's field is ``churned_on``."""
    fields = {("churned_on" if k == "churned_at" else k): v for k, v in exc.fields.items()}
    return ValidationError(fields)


@bp.route("/<external_ref>/merge", methods=["GET", "POST"])
@requires(Permission.MERGE_CUSTOMERS)
def merge(external_ref: str) -> Any:
    """Name the duplicate, see what would move, confirm: the duplicate is merged and gone."""
    survivor = services.get_customer(db.session, external_ref)
    form = MergeForm()
    duplicate, preview = None, None
    if form.validate_on_submit():
        try:
            duplicate = merge_services.find_duplicate(
                db.session, survivor, form.duplicate.data or ""
            )
            if form.confirm.data == "y":
                merge_services.merge_customers(
                    db.session, survivor, duplicate, actor=current_user, at=utcnow()
                )
                db.session.commit()
                flash(
                    _(
                        "%(dup)s was merged into %(ref)s.",
                        dup=form.duplicate.data,
                        ref=external_ref,
                    ),
                    "success",
                )
                return redirect(url_for("customers.detail", external_ref=external_ref))
            preview = merge_services.merge_preview(db.session, duplicate)
        except ValidationError as exc:
            db.session.rollback()
            form.add_errors(exc)
            duplicate = None
    status = 422 if request.method == "POST" and preview is None else 200
    page = render_template(
        "customers/merge.html",
        form=form,
        survivor=survivor,
        duplicate=duplicate,
        preview=preview,
        moved_labels=moved_labels(),
        show_personal=can(current_user, Permission.VIEW_PERSONAL_DATA),
    )
    return page, status


def _start_of_day(day: Any) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=_zone())


def _input(form: CustomerForm, existing: Any = None) -> services.CustomerInput:
    base = services.customer_input_from(existing) if existing else None
    return services.CustomerInput(
        external_ref=form.external_ref.data or "",
        name=form.name.data or "",
        email=form.email.data or None,
        phone=form.phone.data or None,
        segment=form.segment.data or None,
        acquired_at=_start_of_day(form.acquired_on.data) if form.acquired_on.data else None,
        churned_at=base.churned_at if base else None,
        churn_reason=base.churn_reason if base else None,
        referred_by=base.referred_by if base else None,
        contact_consent=form.contact_consent.data,
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.EDIT_CUSTOMERS)
def new() -> Any:
    form = CustomerForm()
    if request.method == "GET":
        form.acquired_on.data = utcnow().date()
    if form.validate_on_submit():
        try:
            customer = services.create_customer(
                db.session, _input(form), actor=current_user, at=utcnow()
            )
        except ValidationError as exc:
            db.session.rollback()
            form.add_errors(exc)
        else:
            db.session.commit()
            flash(_("Customer %(ref)s created.", ref=customer.external_ref), "success")
            return redirect(url_for("customers.detail", external_ref=customer.external_ref))
    status = 422 if request.method == "POST" else 200
    return render_template("customers/form.html", form=form, customer=None), status


@bp.route("/<external_ref>/edit", methods=["GET", "POST"])
@requires(Permission.EDIT_CUSTOMERS)
def edit(external_ref: str) -> Any:
    customer = services.get_customer(db.session, external_ref)
    form = CustomerForm(obj=customer)
    if request.method == "GET":
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        form.acquired_on.data = customer.acquired_at.astimezone(zone).date()
    if form.validate_on_submit():
        try:
            services.update_customer(
                db.session, customer, _input(form, customer), actor=current_user, at=utcnow()
            )
        except ValidationError as exc:
            db.session.rollback()
            form.add_errors(exc)
        else:
            db.session.commit()
            flash(_("Customer %(ref)s saved.", ref=customer.external_ref), "success")
            return redirect(url_for("customers.detail", external_ref=customer.external_ref))
    status = 422 if request.method == "POST" else 200
    return render_template("customers/form.html", form=form, customer=customer), status
