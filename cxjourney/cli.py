"""The `cxjourney` command: the app's Flask CLI (`cxjourney X` is `flask --app cxjourney X`)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    from .auth.cli import users_cli
    from .complaints.cli import sla_cli
    from .demo.cli import demo_command
    from .imports.cli import import_cli
    from .journey.cli import journey_cli
    from .notifications.cli import outbox_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(sla_cli)
    app.cli.add_command(journey_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(import_cli)


def _create_app() -> Flask:
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """cxjourney: complaint management and customer-journey analysis."""


if __name__ == "__main__":
    main()
