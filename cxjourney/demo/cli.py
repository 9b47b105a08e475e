"""``cxjourney demo``: load the demo company and print its logins."""

from __future__ import annotations

import click
from flask import current_app

from ..auth.services import find_user_by_email
from ..errors import Conflict
from ..extensions import db, utcnow
from .services import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    DemoAccount,
    DemoOptions,
    database_is_empty,
    load_demo,
)


@click.command("demo")
@click.option("--reset", is_flag=True, help="Delete ALL data first (never in production).")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when data exists already.")
@click.option(
    "--seed", type=int, default=2026, show_default=True, help="Same seed, same generated data."
)
@click.option(
    "--customers",
    type=click.IntRange(min=0),
    default=2000,
    show_default=True,
    help="Customers to generate.",
)
@click.option(
    "--complaints",
    type=click.IntRange(min=0),
    default=1500,
    show_default=True,
    help="Complaints to generate (over the last 18 months).",
)
def demo_command(reset: bool, if_empty: bool, seed: int, customers: int, complaints: int) -> None:
    """Load the demo company (Stadtwerke Lindenau) and print the logins."""
    if not current_app.config.get("DEMO_ALLOWED", False):
        if if_empty:  # `make run` asks politely; production simply has no demo
            click.echo("The demo loader is disabled in production configuration.")
            return
        raise click.ClickException("The demo loader is disabled in production configuration.")
    if if_empty and not database_is_empty(db.session):
        click.echo("Data exists already; demo not loaded.")
        existing = [a for a in DEMO_ACCOUNTS if find_user_by_email(db.session, a.email)]
        if existing:
            print_logins(existing, DEMO_PASSWORD)
        return
    try:
        options = DemoOptions(at=utcnow(), seed=seed, customers=customers, complaints=complaints)
        result = load_demo(db.session, options, reset=reset)
    except Conflict as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    counts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
    click.echo(f"Loaded the demo company Stadtwerke Lindenau: {counts}.")
    print_logins(result.accounts, result.password)


def print_logins(accounts: list[DemoAccount], password: str) -> None:
    click.echo("")
    click.echo("Demo logins (password for all: " + password + "):")
    for account in accounts:
        click.echo(f"  {account.role.value:<20} {account.email}")
