"""The migrations are the schema: head equals the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from cxjourney.extensions import db


def _diff() -> list[object]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, db.metadata))


def test_head_matches_the_models(app: Flask) -> None:
    with app.app_context():
        assert _diff() == []


def test_downgrade_to_empty_and_back_to_head(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        upgrade()
        assert {"user", "team", "touchpoint", "transition", "stage", "audit_log"} <= set(
            inspect(db.engine).get_table_names()
        )
        assert _diff() == []
