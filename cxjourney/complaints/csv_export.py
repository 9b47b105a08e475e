"""The team queue as a CSV file: for Excel with German settings, or plain CSV.

The rows are the filtered team queue, unpaged, read as plain columns (no ORM objects).

Cells a spreadsheet would read as a formula are neutralised (OWASP "CSV injection"): text
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import Team, User
from ..customers.models import Customer
from ..journey.models import Touchpoint
from .models import Category, Complaint, ComplaintStatus, Severity
from .queues import (
    SLA_FACT_COLUMNS,
    QueueFilter,
    Sort,
    filter_conditions,
    load_policies,
    order_by,
    sla_status_of_row,
)
from .services import visible_to
from .sla import SlaState

COLUMNS = (
    "reference",
    "received_at",
    "status",
    "severity",
    "touchpoint",
    "category",
    "team",
    "assignee",
    "customer_ref",
    "subject",
    "sla_state",
    "first_response_due",
    "resolution_due",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str
    bom: bool


DIALECTS: dict[str, CsvDialect] = {
    # Excel in a German locale splits on ";" and needs the BOM to read UTF-8.
    "excel-de": CsvDialect(delimiter=";", bom=True),
    "csv": CsvDialect(delimiter=",", bom=False),
}
DEFAULT_DIALECT = "excel-de"


@dataclass(frozen=True)
class ExportRow:
    reference: str
    received_at: datetime
    status: ComplaintStatus
    severity: Severity
    touchpoint: str
    category: str
    team: str
    assignee: str | None
    customer_ref: str
    subject: str
    sla_state: SlaState
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None


def export_rows(
    session: Session,
    flt: QueueFilter,
    sort: Sort,
    *,
    viewer: User,
    calendar: Any,
    now: datetime,
) -> list[ExportRow]:
    """Every complaint of the filtered queue ``viewer`` may see, in ``sort`` order, unpaged."""
    query = (
        select(
            *SLA_FACT_COLUMNS,
            Complaint.reference,
            Complaint.received_at,
            Complaint.severity,
            Complaint.subject,
            Touchpoint.key.label("touchpoint_key"),
            Category.key.label("category_key"),
            Team.name.label("team_name"),
            User.email.label("assignee_email"),
            Customer.external_ref.label("customer_ref"),
        )
        .join(Touchpoint, Touchpoint.id == Complaint.touchpoint_id)
        .join(Category, Category.id == Complaint.category_id)
        .join(Team, Team.id == Complaint.team_id)
        .join(Customer, Customer.id == Complaint.customer_id)
        .outerjoin(User, User.id == Complaint.assignee_id)
        .where(visible_to(viewer), *filter_conditions(flt, now))
        .order_by(*order_by(sort))
    )
    rows = session.execute(query).all()
    policies = load_policies(session, (r.sla_policy_id for r in rows))
    result: list[ExportRow] = []
    for r in rows:
        state = sla_status_of_row(r, policies, calendar, now).overall
        if flt.sla_state is not None and state is not flt.sla_state:
            continue
        result.append(
            ExportRow(
                reference=r.reference or "",
                received_at=r.received_at,
                status=r.status,
                severity=r.severity,
                touchpoint=r.touchpoint_key,
                category=r.category_key,
                team=r.team_name,
                assignee=r.assignee_email,
                customer_ref=r.customer_ref,
                subject=r.subject,
                sla_state=state,
                first_response_due_at=r.first_response_due_at,
                resolution_due_at=r.resolution_due_at,
            )
        )
    return result


def neutralise(value: str) -> str:
    """Prefix text a spreadsheet would evaluate with ``'`` so it stays text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _local_iso(value: datetime | None, tz: ZoneInfo) -> str:
    return "" if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def _cells(row: ExportRow, tz: ZoneInfo) -> list[str]:
    return [
        row.reference,
        _local_iso(row.received_at, tz),
        row.status.value,
        row.severity.value,
        row.touchpoint,
        row.category,
        row.team,
        row.assignee or "",
        row.customer_ref,
        row.subject,
        row.sla_state.value,
        _local_iso(row.first_response_due_at, tz),
        _local_iso(row.resolution_due_at, tz),
    ]


def render_csv(rows: Iterable[ExportRow], *, dialect: str, timezone: str) -> bytes:
    """The file's bytes: a header line, then one line per row, times in local ISO 8601.

    Raises KeyError for an unknown dialect (callers offer only ``DIALECTS``).
    """
    spec = DIALECTS[dialect]
    tz = ZoneInfo(timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec.delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([neutralise(cell) for cell in _cells(row, tz)] for row in rows)
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if spec.bom else data
