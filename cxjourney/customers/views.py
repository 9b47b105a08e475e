"""Customer pages: search and the customer with contact data and complaints."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.permissions import Permission, requires
from ..complaints import services as complaint_services
from ..complaints.labels import severity_labels, status_labels
from ..errors import ValidationError
from ..extensions import db, utcnow
from . import services
from .forms import CustomerForm

bp = Blueprint("customers", __name__, url_prefix="/customers")


@bp.get("/")
@requires(Permission.VIEW_CUSTOMERS)
def search() -> Any:
    query = (request.args.get("q") or "").strip()
    results = services.search_customers(db.session, query) if query else []
    return render_template("customers/search.html", query=query, results=results)


@bp.get("/<external_ref>")
@requires(Permission.VIEW_CUSTOMERS)
def detail(external_ref: str) -> Any:
    customer = services.get_customer(db.session, external_ref)
    return render_template(
        "customers/detail.html",
        customer=customer,
        complaints=complaint_services.customer_complaints(
            db.session, customer, viewer=current_user
        ),
        status_labels=status_labels(),
        severity_labels=severity_labels(),
    )


def _start_of_day(day: Any) -> datetime:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time(0, 0), tzinfo=zone)


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
