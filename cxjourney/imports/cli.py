"""``cxjourney import events|customers``: data from source systems as CSV files."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from ..customers.events import source_for_file
from ..extensions import db, utcnow
from .csv_source import DELIMITERS, CsvFormatError, CsvSource
from .customers import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, CustomerImportOptions, import_customers
from .events import DEFAULT_BATCH, EVENT_COLUMNS, EventImportOptions, import_events
from .report import ImportReport, default_report_path

import_cli = AppGroup("import", help="Import journey events and customers from CSV files.")

FILE = click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
)
STRICT = click.option(
    "--strict", is_flag=True, help="All or nothing: one rejected row and nothing is stored."
)
REPORT = click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Where to write the rejected rows (default: FILE's name with .rejected.csv).",
)
ENCODING = click.option(
    "--encoding",
    default=None,
    help="The file's encoding (default: detected; UTF-8 with or without BOM, Windows-1252).",
)
DELIMITER = click.option(
    "--delimiter",
    type=click.Choice(list(DELIMITERS)),
    default=None,
    help="The field separator (default: detected among , ; tab |).",
)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


@contextmanager
def _progress(label: str, size: int) -> Iterator[Callable[[int], None]]:
    """A progress bar over the bytes read (on stderr, so stdout keeps the summary)."""
    with click.progressbar(length=max(size, 1), label=label, file=sys.stderr) as bar:
        last = 0

        def advance(bytes_read: int) -> None:
            nonlocal last
            bar.update(bytes_read - last if bytes_read >= last else bytes_read)
            last = bytes_read

        yield advance


def _finish(report: ImportReport, stored: bool, strict: bool) -> None:
    """Print the summary and where the rejected rows are; exit 1 if nothing was stored."""
    for rejection in report.first:
        where = f"line {rejection.line}" + (f", {rejection.column}" if rejection.column else "")
        click.echo(f"  {where}: {rejection.reason}", err=True)
    if report.written:
        click.echo(f"Rejected rows are listed in {report.path}.", err=True)
    click.echo(report.summary())
    if not stored:
        click.echo("error: rows were rejected and --strict is set: nothing was stored.", err=True)
        sys.exit(1)


def _abort(file: Path, error: Exception, report: ImportReport, strict: bool) -> None:
    """The file cannot be read on: keep what was stored (unless --strict) and exit 1."""
    report.close()
    if strict:
        db.session.rollback()
        kept = "Nothing was stored."
    else:
        db.session.commit()  # the rows before the broken line were checked and are complete
        kept = f"{report.loaded} rows before it were stored." if report.loaded else ""
    click.echo(f"error: {file.name}: {error} {kept}".rstrip(), err=True)
    if report.written:
        click.echo(f"Rejected rows are listed in {report.path}.", err=True)
    sys.exit(1)


@import_cli.command("events")
@FILE
@click.option(
    "--create-customers",
    is_flag=True,
    help="Create customers that do not exist yet (named by their reference).",
)
@STRICT
@REPORT
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Rows checked and stored together.",
)
@ENCODING
@DELIMITER
def events_command(
    file: Path,
    create_customers: bool,
    strict: bool,
    report_path: Path | None,
    batch_size: int,
    encoding: str | None,
    delimiter: str | None,
) -> None:
    """Import journey events from FILE (columns customer_ref,touchpoint,occurred_at,channel)."""
    options = EventImportOptions(
        zone=_zone(),
        at=utcnow(),
        source=source_for_file(file.name),
        create_customers=create_customers,
        strict=strict,
        batch_size=batch_size,
    )
    source = CsvSource(file, required=EVENT_COLUMNS, encoding=encoding, delimiter=delimiter)
    with ImportReport(report_path or default_report_path(file)) as report:
        try:
            with source, _progress("Importing events", source.size) as progress:
                stored = import_events(db.session, source, report, options, progress=progress)
        except (CsvFormatError, LookupError) as exc:
            _abort(file, exc, report, strict)
    _finish(report, stored, strict)


@import_cli.command("customers")
@FILE
@STRICT
@REPORT
@ENCODING
@DELIMITER
def customers_command(
    file: Path,
    strict: bool,
    report_path: Path | None,
    encoding: str | None,
    delimiter: str | None,
) -> None:
    """Create or update customers from FILE by customer_ref (upsert).

    Columns: customer_ref (required), name, email, phone, segment, acquired_at, churned_at,
    churn_reason, referred_by, revenue, cost. A missing column leaves the field as it is;
    an empty cell clears it.
    """
    options = CustomerImportOptions(zone=_zone(), at=utcnow(), strict=strict)

    def open_source() -> CsvSource:
        return CsvSource(
            file,
            required=REQUIRED_COLUMNS,
            optional=OPTIONAL_COLUMNS,
            encoding=encoding,
            delimiter=delimiter,
        )

    with ImportReport(report_path or default_report_path(file)) as report:
        try:
            with _progress("Importing customers", file.stat().st_size) as progress:
                stored = import_customers(
                    db.session, open_source, report, options, progress=progress
                )
        except (CsvFormatError, LookupError) as exc:
            _abort(file, exc, report, strict)
    _finish(report, stored, strict)
