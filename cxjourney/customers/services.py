"""Customers: create, update (upsert by reference), search, churn reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..audit.services import record_audit
from ..auth.models import User
from ..errors import NotFound, ValidationError
from .models import ChurnReason, Customer

REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class CustomerInput:
    """A customer as a form or API request describes it; references still unresolved."""

    external_ref: str
    name: str
    acquired_at: datetime | None
    email: str | None = None
    phone: str | None = None
    segment: str | None = None
    churned_at: datetime | None = None
    churn_reason: str | None = None  # a churn reason key
    referred_by: str | None = None  # another customer's external_ref
    contact_consent: bool = False


def _digits(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    return digits or None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(value.split())
    return cleaned or None


# --- churn reasons -----------------------------------------------------------------------


def list_churn_reasons(session: Session, *, active_only: bool = False) -> list[ChurnReason]:
    query = select(ChurnReason).order_by(ChurnReason.name)
    if active_only:
        query = query.where(ChurnReason.active.is_(True))
    return list(session.scalars(query))


def find_churn_reason(session: Session, key: str) -> ChurnReason | None:
    return session.scalar(select(ChurnReason).where(ChurnReason.key == key))


def create_churn_reason(
    session: Session, *, key: str, name: str, actor: User | None, at: datetime
) -> ChurnReason:
    """Add a churn reason. Raises ValidationError on a bad or taken key or an empty name."""
    problems: dict[str, str] = {}
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        problems["key"] = str(_l("Use 1–64 lower-case letters, digits, '-' or '_'."))
    elif find_churn_reason(session, key) is not None:
        problems["key"] = str(_l("This key exists already."))
    cleaned = _clean(name)
    if not cleaned or len(cleaned) > 120:
        problems["name"] = str(_l("Enter a name of at most %(n)d characters.", n=120))
    if problems:
        raise ValidationError(problems)
    reason = ChurnReason(key=key, name=cleaned, active=True)
    session.add(reason)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="churn_reason.created",
        entity_type="churn_reason",
        entity_id=reason.id,
        entity_label=key,
        after={"key": key, "name": cleaned},
    )
    return reason


# --- reads -------------------------------------------------------------------------------


def find_customer(session: Session, external_ref: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.external_ref == external_ref))


def get_customer(session: Session, external_ref: str) -> Customer:
    customer = find_customer(session, external_ref)
    if customer is None:
        raise NotFound(str(_l("No customer with the reference %(ref)s.", ref=external_ref)))
    return customer


def search_customers(session: Session, text: str, *, limit: int = SEARCH_LIMIT) -> list[Customer]:
    """Customers whose reference, name, email or phone matches ``text`` (case-insensitive)."""
    text = " ".join(text.split())
    if not text:
        return []
    pattern = f"%{text.lower()}%"
    conditions = [
        func.lower(Customer.external_ref).like(pattern),
        func.lower(Customer.name).like(pattern),
        Customer.email.like(pattern),
    ]
    digits = _digits(text)
    if digits and len(digits) >= 4:
        conditions.append(Customer.phone_digits.like(f"%{digits}%"))
    exact_first = (func.lower(Customer.external_ref) == text.lower()).desc()
    return list(
        session.scalars(
            select(Customer)
            .where(or_(*conditions))
            .order_by(exact_first, Customer.name)
            .limit(limit)
        )
    )


def list_customers(
    session: Session, *, after_id: int = 0, limit: int = 100, segment: str | None = None
) -> list[Customer]:
    """Customers in id order after ``after_id`` (keyset pagination)."""
    query = select(Customer).where(Customer.id > after_id).order_by(Customer.id).limit(limit)
    if segment:
        query = query.where(Customer.segment == segment)
    return list(session.scalars(query))


# --- writes ------------------------------------------------------------------------------


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """Audited fields; contact data is left out of the log (personal data)."""
    return {
        "external_ref": customer.external_ref,
        "segment": customer.segment,
        "acquired_at": customer.acquired_at.isoformat() if customer.acquired_at else None,
        "churned_at": customer.churned_at.isoformat() if customer.churned_at else None,
        "churn_reason": customer.churn_reason.key if customer.churn_reason else None,
        "contact_consent": customer.contact_consent,
    }


def _check(session: Session, data: CustomerInput, existing: Customer | None) -> dict[str, Any]:
    """Validate every field; return the resolved values or raise naming every problem."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    ref = data.external_ref.strip() if isinstance(data.external_ref, str) else ""
    if not REF_PATTERN.match(ref):
        problems["external_ref"] = str(
            _l("Use 1–64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit.")
        )
    else:
        other = find_customer(session, ref)
        if other is not None and (existing is None or other.id != existing.id):
            problems["external_ref"] = str(_l("A customer with this reference exists already."))
    values["external_ref"] = ref
    name = _clean(data.name)
    if not name or len(name) > 200:
        problems["name"] = str(_l("Enter a name of at most %(n)d characters.", n=200))
    values["name"] = name
    email = _clean(data.email)
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            problems["email"] = str(_l("Enter a valid email address."))
    values["email"] = email
    phone = _clean(data.phone)
    if phone and (len(phone) > 64 or not re.fullmatch(r"[0-9+()/.\- ]+", phone)):
        problems["phone"] = str(_l("Enter a phone number (digits, spaces, + ( ) / - .)."))
    values["phone"] = phone
    segment = _clean(data.segment)
    if segment and len(segment) > 64:
        problems["segment"] = str(_l("Use at most %(n)d characters.", n=64))
    values["segment"] = segment
    if data.acquired_at is None:
        problems["acquired_at"] = str(_l("This field is required."))
    values["acquired_at"] = data.acquired_at
    values["churned_at"] = data.churned_at
    if data.churned_at and data.acquired_at and data.churned_at < data.acquired_at:
        problems["churned_at"] = str(_l("A customer cannot leave before they were acquired."))
    reason = None
    if data.churn_reason:
        reason = find_churn_reason(session, data.churn_reason)
        if reason is None:
            problems["churn_reason"] = str(
                _l("Unknown churn reason %(key)s.", key=data.churn_reason)
            )
        elif not data.churned_at:
            problems["churn_reason"] = str(_l("A churn reason needs a churn date."))
    values["churn_reason"] = reason
    referrer = None
    if data.referred_by:
        referrer = find_customer(session, data.referred_by)
        if referrer is None:
            problems["referred_by"] = str(
                _l("No customer with the reference %(ref)s.", ref=data.referred_by)
            )
        elif existing is not None and referrer.id == existing.id:
            problems["referred_by"] = str(_l("A customer cannot refer themselves."))
    values["referred_by"] = referrer
    values["contact_consent"] = bool(data.contact_consent)
    if problems:
        raise ValidationError(problems)
    return values


def _apply(customer: Customer, values: dict[str, Any], at: datetime) -> None:
    customer.external_ref = values["external_ref"]
    customer.name = values["name"]
    customer.email = values["email"]
    customer.phone = values["phone"]
    customer.phone_digits = _digits(values["phone"])
    customer.segment = values["segment"]
    customer.acquired_at = values["acquired_at"]
    customer.churned_at = values["churned_at"]
    customer.churn_reason = values["churn_reason"]
    customer.referred_by = values["referred_by"]
    customer.contact_consent = values["contact_consent"]
    customer.updated_at = at


def create_customer(
    session: Session, data: CustomerInput, *, actor: User | None, at: datetime
) -> Customer:
    """Add a customer. Raises ValidationError naming every bad field."""
    values = _check(session, data, None)
    customer = Customer(created_at=at)
    _apply(customer, values, at)
    session.add(customer)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="customer.created",
        entity_type="customer",
        entity_id=customer.id,
        entity_label=customer.external_ref,
        after=customer_snapshot(customer),
    )
    return customer


def update_customer(
    session: Session, customer: Customer, data: CustomerInput, *, actor: User | None, at: datetime
) -> Customer:
    """Replace a customer's fields. Raises ValidationError naming every bad field."""
    values = _check(session, data, customer)
    before = customer_snapshot(customer)
    _apply(customer, values, at)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="customer.updated",
        entity_type="customer",
        entity_id=customer.id,
        entity_label=customer.external_ref,
        before=before,
        after=customer_snapshot(customer),
    )
    return customer


def customer_input_from(customer: Customer, **changes: Any) -> CustomerInput:
    """The customer's current fields as input, with ``changes`` applied (for PATCH)."""
    current = {
        "external_ref": customer.external_ref,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "segment": customer.segment,
        "acquired_at": customer.acquired_at,
        "churned_at": customer.churned_at,
        "churn_reason": customer.churn_reason.key if customer.churn_reason else None,
        "referred_by": customer.referred_by.external_ref if customer.referred_by else None,
        "contact_consent": customer.contact_consent,
    }
    current.update(changes)
    return CustomerInput(**current)


# --- churn -------------------------------------------------------------------------------


def _check_churn(
    session: Session,
    customer: Customer,
    churned_at: datetime | None,
    reason_key: str | None,
    at: datetime,
) -> ChurnReason | None:
    """The churn reason to store, or raise ValidationError naming every problem."""
    if churned_at is None:
        return None
    problems: dict[str, str] = {}
    if churned_at < customer.acquired_at:
        problems["churned_at"] = str(_l("A customer cannot leave before they were acquired."))
    elif churned_at > at:
        problems["churned_at"] = str(_l("The churn date cannot be in the future."))
    reason = find_churn_reason(session, reason_key) if reason_key else None
    if not reason_key:
        problems["churn_reason"] = str(_l("Choose why the customer left."))
    elif reason is None or (not reason.active and reason.id != customer.churn_reason_id):
        problems["churn_reason"] = str(_l("Unknown churn reason %(key)s.", key=reason_key))
    if problems:
        raise ValidationError(problems)
    return reason


def set_churn(
    session: Session,
    customer: Customer,
    *,
    churned_at: datetime | None,
    reason_key: str | None,
    actor: User | None,
    at: datetime,
) -> Customer:
    """Mark the customer churned at ``churned_at`` for a reason, or active again (None).

    The date may not lie before ``acquired_at`` nor after ``at``; a churned customer needs
    an active reason from the managed list (their current one stays valid even if retired).
    Raises ValidationError naming ``churned_at`` and/or ``churn_reason``.
    """
    reason = _check_churn(session, customer, churned_at, reason_key, at)
    before = customer_snapshot(customer)
    customer.churned_at = churned_at
    customer.churn_reason = reason
    customer.updated_at = at
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="customer.churned" if churned_at else "customer.churn_undone",
        entity_type="customer",
        entity_id=customer.id,
        entity_label=customer.external_ref,
        before=before,
        after=customer_snapshot(customer),
    )
    return customer
