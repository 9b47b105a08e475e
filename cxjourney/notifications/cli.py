"""``cxjourney outbox …``: send due notifications (from cron) and look into the outbox."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db, utcnow
from . import services
from .mailer import mailer_from_config
from .models import OutboxStatus

outbox_cli = AppGroup("outbox", help="The notification outbox.")


@outbox_cli.command("send")
@click.option("--batch", default=100, show_default=True, help="Messages claimed per round.")
def send_command(batch: int) -> None:
    """Send every due message; safe to run from cron on several nodes at once."""
    mailer = mailer_from_config(current_app.config)
    if mailer is None:
        waiting = services.count_messages(db.session, OutboxStatus.PENDING)
        click.echo(f"Mail is not configured (MAIL_SERVER is unset); {waiting} messages waiting.")
        return
    sent = failed = retried = 0
    while True:
        report = services.send_pending(db.session, mailer, now=utcnow(), batch=batch)
        sent, failed, retried = sent + report.sent, failed + report.failed, retried + report.retried
        # A full round may have left more due messages; a short one means the queue is done
        # (or the rest is claimed by another sender).
        if report.attempted < batch:
            break
    click.echo(f"Sent {sent}, retry scheduled for {retried}, failed {failed}.")


@outbox_cli.command("list")
@click.option("--status", type=click.Choice([s.value for s in OutboxStatus]), default=None)
@click.option("--limit", default=50, show_default=True, help="Newest messages shown.")
def list_command(status: str | None, limit: int) -> None:
    """List messages, newest first: id, status, attempts, created, recipient, subject."""
    page = services.list_messages(
        db.session, status=OutboxStatus(status) if status else None, per_page=max(1, limit)
    )
    for message in page.messages:
        line = (
            f"{message.id}\t{message.status.value}\t{message.attempts}\t"
            f"{message.created_at.isoformat()}\t{message.to_address}\t{message.subject}"
        )
        if message.last_error:
            line += f"\t{message.last_error}"
        click.echo(line)
    click.echo(f"{page.total} messages" + (f" {status}" if status else "") + ".", err=True)
