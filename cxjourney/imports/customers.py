"""``cxjourney import customers``: upsert customers by reference from a CSV file.

A row may name as referrer a customer further down the file: such rows wait for a later
pass over the file (which is read again, never held in memory) until their referrer has
been stored, or are rejected when it never is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..customers import services
from ..customers.events import parse_time
from ..customers.models import Customer, ValueKind
from ..customers.values import parse_amount, replace_values
from ..errors import ValidationError
from .csv_source import CsvRow, CsvSource
from .report import ImportReport

REQUIRED_COLUMNS = ("customer_ref",)
OPTIONAL_COLUMNS = (
    "name",
    "email",
    "phone",
    "segment",
    "acquired_at",
    "churned_at",
    "churn_reason",
    "referred_by",
    "revenue",
    "cost",
)
TEXT_COLUMNS = ("name", "email", "phone", "segment", "churn_reason", "referred_by")
TIME_COLUMNS = ("acquired_at", "churned_at")
VALUE_COLUMNS = {"revenue": ValueKind.REVENUE, "cost": ValueKind.COST}
# The source of the value records this import writes; importing again replaces them.
VALUE_SOURCE = "import:customers"
COMMIT_EVERY = 500
STORED, WAITING = "stored", "waiting"


@dataclass(frozen=True)
class CustomerImportOptions:
    zone: ZoneInfo
    at: datetime
    strict: bool = False


@dataclass(frozen=True)
class _Parsed:
    changes: dict[str, Any]  # CustomerInput fields present in the file
    amounts: dict[ValueKind, Decimal | None]  # value columns present in the file


def _parse(values: dict[str, str], zone: ZoneInfo) -> _Parsed | dict[str, str]:
    """Columns present in the file become changes; an empty cell clears the field."""
    problems: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for column in TEXT_COLUMNS:
        if column in values:
            changes[column] = values[column] or None
    for column in TIME_COLUMNS:
        if column in values:
            try:
                changes[column] = parse_time(values[column], zone) if values[column] else None
            except ValueError as exc:
                problems[column] = str(exc)
    amounts: dict[ValueKind, Decimal | None] = {}
    for column, kind in VALUE_COLUMNS.items():
        if column in values:
            try:
                amounts[kind] = parse_amount(values[column]) if values[column] else None
            except ValueError as exc:
                problems[column] = str(exc)
    return problems or _Parsed(changes, amounts)


def _input_for(ref: str, existing: Customer | None, changes: dict[str, Any]) -> Any:
    if existing is not None:
        return services.customer_input_from(existing, **changes)
    fields = {"name": "", "acquired_at": None, **changes}
    return services.CustomerInput(external_ref=ref, **fields)


def _columns(fields: dict[str, str]) -> dict[str, str]:
    """The service names the reference ``external_ref``; the file calls it ``customer_ref``."""
    return {("customer_ref" if k == "external_ref" else k): v for k, v in fields.items()}


def _upsert_row(
    session: Session, row: CsvRow, options: CustomerImportOptions, *, last_pass: bool
) -> str | dict[str, str]:
    """Store one row: STORED, WAITING (its referrer is not stored yet) or its problems."""
    ref = row.values["customer_ref"]
    parsed = _parse(row.values, options.zone)
    if isinstance(parsed, dict):
        return parsed
    referrer = parsed.changes.get("referred_by")
    if referrer and referrer == ref:
        return {"referred_by": str(_l("A customer cannot refer themselves."))}
    if referrer and services.find_customer(session, referrer) is None and not last_pass:
        return WAITING
    existing = services.find_customer(session, ref) if ref else None
    data = _input_for(ref, existing, parsed.changes)
    try:
        if existing is None:
            customer = services.create_customer(session, data, actor=None, at=options.at)
        else:
            customer = services.update_customer(session, existing, data, actor=None, at=options.at)
    except ValidationError as exc:
        return _columns(exc.fields)
    day = customer.acquired_at.astimezone(options.zone).date()
    for kind, amount in parsed.amounts.items():
        replace_values(
            session,
            customer.id,
            kind=kind,
            amount=amount,
            occurred_on=day,
            source=VALUE_SOURCE,
            at=options.at,
        )
    return STORED


def _run_pass(
    session: Session,
    source: CsvSource,
    report: ImportReport,
    options: CustomerImportOptions,
    *,
    lines: set[int] | None,
    last_pass: bool,
    progress: Callable[[int], None],
) -> set[int]:
    """One pass over the file (only ``lines`` if given); returns the lines still waiting."""
    waiting: set[int] = set()
    since_commit = 0
    for row in source.rows():
        if lines is not None and row.line not in lines:
            continue
        if row.problem is not None:
            report.reject(row.line, {"": row.problem})
            continue
        outcome = _upsert_row(session, row, options, last_pass=last_pass)
        if outcome == WAITING:
            waiting.add(row.line)
        elif outcome == STORED:
            report.loaded += 1
            since_commit += 1
        else:
            report.reject(row.line, outcome)  # type: ignore[arg-type]
        if since_commit >= COMMIT_EVERY and not options.strict:
            session.commit()
            since_commit = 0
            progress(source.bytes_read)
    if not options.strict:
        session.commit()
    progress(source.bytes_read)
    return waiting


def import_customers(
    session: Session,
    open_source: Callable[[], CsvSource],
    report: ImportReport,
    options: CustomerImportOptions,
    *,
    progress: Callable[[int], None] = lambda _bytes: None,
) -> bool:
    """Upsert every customer of the file; True if stored.

    ``open_source`` opens the file afresh for each pass. Without ``strict`` rows commit in
    groups and bad ones are left out (and reported); with it, one bad row stores nothing.
    """
    lines: set[int] | None = None
    last_pass = False
    while True:
        with open_source() as source:
            waiting = _run_pass(
                session,
                source,
                report,
                options,
                lines=lines,
                last_pass=last_pass,
                progress=progress,
            )
        if not waiting or last_pass:
            break
        # No row stored in this pass: what still waits waits for nothing in the file.
        last_pass = lines is not None and waiting == lines
        lines = waiting
    if options.strict and report.rejected_rows:
        session.rollback()
        report.loaded = 0
        return False
    session.commit()
    return True
