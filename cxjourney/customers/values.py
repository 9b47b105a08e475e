"""Revenue and cost records of customers, and the customer lifetime value derived from them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, case, delete, func, select
from sqlalchemy.orm import Session

from ..errors import ValidationError
from .models import Customer, CustomerValue, ValueKind

# Numeric(12, 2): ten digits before the decimal point.
MAX_AMOUNT = Decimal("9999999999.99")
CENT = Decimal("0.01")


def parse_amount(value: object) -> Decimal:
    """A non-negative amount with at most two decimals, from a decimal string or a number.

    A comma as decimal separator is accepted ("12,50"). Raises ValueError for people.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(str(_l('Expected an amount such as "12.50".')))
    text = str(value).strip()
    if isinstance(value, str) and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(str(_l('Expected an amount such as "12.50".'))) from None
    exponent = amount.as_tuple().exponent
    if not amount.is_finite() or (isinstance(exponent, int) and exponent < -2):
        raise ValueError(str(_l('Expected an amount with at most two decimals, e.g. "12.50".')))
    if not Decimal(0) <= amount <= MAX_AMOUNT:
        raise ValueError(str(_l("The amount must be between 0 and 9999999999.99.")))
    return amount.quantize(CENT)


def parse_kind(value: object) -> ValueKind:
    text = value.strip().lower() if isinstance(value, str) else ""
    try:
        return ValueKind(text)
    except ValueError:
        raise ValueError(str(_l("Use revenue or cost."))) from None


def record_value(
    session: Session,
    customer: Customer,
    *,
    kind: ValueKind | str,
    amount: Decimal | str | float,
    occurred_on: date,
    source: str,
    at: datetime,
) -> CustomerValue:
    """Add a revenue or cost record to a customer.

    Raises ValidationError naming ``kind`` or ``amount``.
    """
    problems: dict[str, str] = {}
    checked_kind = checked_amount = None
    try:
        checked_kind = kind if isinstance(kind, ValueKind) else parse_kind(kind)
    except ValueError as exc:
        problems["kind"] = str(exc)
    try:
        checked_amount = parse_amount(amount)
    except ValueError as exc:
        problems["amount"] = str(exc)
    if problems or checked_kind is None or checked_amount is None:
        raise ValidationError(problems)
    value = CustomerValue(
        customer_id=customer.id,
        kind=checked_kind,
        amount=checked_amount,
        occurred_on=occurred_on,
        source=source[:120],
        created_at=at,
    )
    session.add(value)
    session.flush()
    return value


def replace_values(
    session: Session,
    customer_id: int,
    *,
    kind: ValueKind,
    amount: Decimal | None,
    occurred_on: date,
    source: str,
    at: datetime,
) -> None:
    """Make ``amount`` the only record of ``kind`` from ``source`` (None: remove it).

    For imports that state a customer's figure as a whole, so importing again replaces it
    instead of counting it twice. ``amount`` must be checked (``parse_amount``).
    """
    session.execute(
        delete(CustomerValue).where(
            CustomerValue.customer_id == customer_id,
            CustomerValue.kind == kind,
            CustomerValue.source == source,
        )
    )
    if amount is not None:
        session.add(
            CustomerValue(
                customer_id=customer_id,
                kind=kind,
                amount=amount,
                occurred_on=occurred_on,
                source=source[:120],
                created_at=at,
            )
        )


def value_cutoff(at: datetime, zone: ZoneInfo) -> date:
    """The first day whose records do not count at ``at``: a record dated D counts when
    00:00 local time on D is before ``at``, that is when D < the returned day."""
    local_day = at.astimezone(zone).date()
    midnight = datetime.combine(local_day, time(0), tzinfo=zone)
    return local_day + timedelta(days=1) if midnight < at else local_day


def signed_amount() -> ColumnElement[Decimal]:
    """Revenue positive, cost negative: sum it for a lifetime value."""
    return case(
        (CustomerValue.kind == ValueKind.REVENUE, CustomerValue.amount),
        else_=-CustomerValue.amount,
    )


def clv_at(session: Session, customer: Customer, at: datetime, timezone: ZoneInfo | str) -> Decimal:
    """The customer's lifetime value at ``at``: revenue − cost over the records that count.

    One SQL aggregate; 0.00 without records.
    """
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    total = session.scalar(
        select(func.coalesce(func.sum(signed_amount()), 0)).where(
            CustomerValue.customer_id == customer.id,
            CustomerValue.occurred_on < value_cutoff(at, zone),
        )
    )
    return Decimal(total or 0).quantize(CENT)
