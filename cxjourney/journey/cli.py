"""``cxjourney journey export|import``: the journey document on the command line."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from ..errors import ValidationError
from ..extensions import db, utcnow
from .document import export_journey, import_journey

journey_cli = AppGroup("journey", help="Export and import the journey map.")


@journey_cli.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default="-")
def export_command(output: str) -> None:
    """Write the journey document as JSON (to stdout by default)."""
    text = json.dumps(export_journey(db.session), ensure_ascii=False, indent=2) + "\n"
    if output == "-":
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"Wrote {output}.", err=True)


@journey_cli.command("import")
@click.argument("file", type=click.File("rb"))
def import_command(file: click.utils.LazyFile) -> None:
    """Replace the journey with the document in FILE ('-' for stdin), all or nothing."""
    raw = file.read()
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        click.echo(f"error: {getattr(file, 'name', 'FILE')} is not valid JSON: {exc}", err=True)
        sys.exit(1)
    try:
        summary = import_journey(db.session, document, actor=None, at=utcnow())
    except ValidationError as exc:
        db.session.rollback()
        click.echo(f"error: {exc.message} Nothing was changed.", err=True)
        for path, message in exc.fields.items():
            click.echo(f"  {path}: {message}", err=True)
        sys.exit(1)
    db.session.commit()
    for name, value in summary.as_dict().items():
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{name}: {shown}")
