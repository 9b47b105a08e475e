"""``cxjourney sla sweep``: for cron, every minute, on one node or several."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db, utcnow
from .services import Settings
from .sweep import sweep_sla

sla_cli = AppGroup("sla", help="Service levels of complaints.")


@sla_cli.command("sweep")
def sweep_command() -> None:
    """Mark breached SLA clocks and escalate each complaint once (idempotent)."""
    report = sweep_sla(db.session, now=utcnow(), settings=Settings.from_config(current_app.config))
    counts = ", ".join(f"{clock} {n}" for clock, n in report.breaches.items())
    click.echo(
        f"Breaches marked: {report.total} ({counts}); "
        f"complaints escalated: {len(report.escalated)}."
    )
