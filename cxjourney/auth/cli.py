"""``cxjourney users …``: create accounts and issue API tokens from the shell."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..errors import DomainError
from ..extensions import db, utcnow
from . import services
from .models import Role

users_cli = AppGroup("users", help="Accounts and API tokens.")


def read_password() -> str:
    """Prompt twice on a terminal; otherwise read one line from stdin. Never an argument."""
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Full name shown in the app.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--team", default=None, help="Name of an existing team.")
@click.option("--language", type=click.Choice(["de", "en"]), default=None)
def create_user_command(
    email: str, name: str, role: str, team: str | None, language: str | None
) -> None:
    """Create an account; the password is prompted (or read from stdin), never an argument."""
    password = read_password()
    try:
        user = services.create_user(
            db.session,
            email=email,
            name=name,
            role=Role(role),
            password=password,
            team=team,
            language=language,
            actor=None,
            at=utcnow(),
        )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role.value}).")


@users_cli.command("token")
@click.argument("email")
def issue_token_command(email: str) -> None:
    """Issue an API token for EMAIL; it is printed once, alone on the last line."""
    try:
        user = services.get_user_by_email(db.session, email)
        token = services.issue_token(db.session, user, actor=None, at=utcnow())
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"API token for {user.email} (shown once; only its hash is stored):", err=True)
    click.echo(token)
