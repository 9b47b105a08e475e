"""``cxjourney import events``: journey events from a CSV file, in batches, in constant memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..customers import events as services
from .csv_source import CsvBatch, CsvSource
from .report import ImportReport

EVENT_COLUMNS = ("customer_ref", "touchpoint", "occurred_at", "channel")
DEFAULT_BATCH = 20_000


@dataclass(frozen=True)
class EventImportOptions:
    zone: ZoneInfo
    at: datetime  # when the import ran: the events' created_at
    source: str  # the events' source, "csv:<file name>"
    create_customers: bool = False
    strict: bool = False  # all or nothing
    batch_size: int = DEFAULT_BATCH


def _store_batch(
    session: Session, rows: CsvBatch, report: ImportReport, options: EventImportOptions
) -> None:
    """Check a batch with one lookup per kind, report its bad rows in line order, store the
    good ones. In strict mode nothing is stored once a row was rejected (the rest is only
    checked)."""
    batch = services.check_events(
        session, rows.values, zone=options.zone, create_customers=options.create_customers
    )
    if batch.problems or rows.problems:
        problems = {rows.lines[index]: found for index, found in batch.problems.items()}
        problems.update({line: {"": problem} for line, problem in rows.problems})
        for line in sorted(problems):
            report.reject(line, problems[line])
    if options.strict and report.rejected_rows:
        return
    report.loaded += services.insert_events(
        session,
        batch.accepted,
        source=options.source,
        at=options.at,
        create_customers=options.create_customers,
    )
    if not options.strict:
        session.commit()


def import_events(
    session: Session,
    source: CsvSource,
    report: ImportReport,
    options: EventImportOptions,
    *,
    progress: Callable[[int], None] = lambda _bytes: None,
) -> bool:
    """Read ``source`` in batches and store its events in file order; True if stored.

    Without ``strict`` each batch commits and bad rows are left out (and reported); with
    it, one bad row means nothing is stored. Holds one batch in memory at a time.
    """
    for rows in source.batches(EVENT_COLUMNS, options.batch_size):
        _store_batch(session, rows, report, options)
        progress(source.bytes_read)
    progress(source.bytes_read)
    if options.strict and report.rejected_rows:
        session.rollback()
        report.loaded = 0
        return False
    session.commit()
    return True
