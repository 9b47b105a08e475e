"""Fixtures: one app per test session on real migrations, on SQLite or PostgreSQL.

``TEST_DATABASE_URL`` picks PostgreSQL (or any URL); otherwise a temporary SQLite file.
Every table is emptied after each test, and the schema is dropped at the end, so the
database is left as it was found.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.orm import Session

from cxjourney import create_app
from cxjourney.auth import services as auth_services
from cxjourney.auth.models import Role, User
from cxjourney.complaints.intake_tables import SNAPSHOT as INTAKE_TABLES
from cxjourney.config import TestConfig
from cxjourney.extensions import db, limiter
from cxjourney.journey.views import MAP_CACHE

from .factories import T0

PASSWORD = "correct-horse-battery"


def _drop_everything(connection) -> None:  # type: ignore[no-untyped-def]
    """Drop every table (ours and alembic's) so the run starts from an empty database."""
    metadata = MetaData()
    metadata.reflect(bind=connection)
    if connection.dialect.name == "postgresql":
        for table in metadata.sorted_tables:
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
    else:
        metadata.drop_all(bind=connection)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")


class IsolatedClient(FlaskClient):
    """Each request runs in a thread of its own, so it pushes its own app context.

    Otherwise Flask reuses the test's app context for the request, and ``g`` (the cached
    login) and the database session leak between requests and the test, hiding bugs that
    a real server would show.
    """

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                outcome["response"] = super(IsolatedClient, self).open(*args, **kwargs)
            except BaseException as exc:  # re-raised in the test's thread
                outcome["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["response"]


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    os.environ.setdefault("CXJOURNEY_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    application = create_app(Config)
    application.test_client_class = IsolatedClient
    with application.app_context():
        with db.engine.begin() as connection:
            _drop_everything(connection)
        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            _drop_everything(connection)
        db.engine.dispose()


def _empty_tables() -> None:
    db.session.rollback()
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        yield db.session
        _empty_tables()
        db.session.remove()
    limiter.reset()
    # Emptied tables restart their ids, so a revision number can come back with new content.
    MAP_CACHE.clear()
    INTAKE_TABLES.clear()


@pytest.fixture
def client(app: Flask, db_session: Session) -> FlaskClient:
    return app.test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def make_user(
    session: Session,
    role: Role = Role.AGENT,
    *,
    email: str | None = None,
    team: str | None = None,
    language: str | None = None,
    password: str = PASSWORD,
) -> User:
    user = auth_services.create_user(
        session,
        email=email or f"{role.value}@example.org",
        name=f"{role.value.replace('_', ' ').title()} Person",
        role=role,
        password=password,
        team=team,
        language=language,
        actor=None,
        at=T0,
    )
    session.commit()
    return user


def login(client: FlaskClient, email: str, password: str = PASSWORD, **extra: str) -> object:
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, **extra}
    )


@pytest.fixture
def login_as(client: FlaskClient, db_session: Session) -> Callable[..., User]:
    """Create a user with ``role`` and sign in through the real login form."""

    def _login_as(role: Role | str, **kwargs: object) -> User:
        user = make_user(db_session, Role(role), **kwargs)  # type: ignore[arg-type]
        response = login(client, user.email)
        assert response.status_code == 302, "login failed"  # type: ignore[attr-defined]
        return user

    return _login_as


@pytest.fixture
def api_token(db_session: Session) -> Callable[[Role | str], str]:
    """A bearer token for a fresh user with ``role``."""

    def _token(role: Role | str) -> str:
        role = Role(role)
        user = auth_services.find_user_by_email(db_session, f"api-{role.value}@example.org")
        if user is None:
            user = make_user(db_session, role, email=f"api-{role.value}@example.org")
        token = auth_services.issue_token(db_session, user, actor=None, at=T0)
        db_session.commit()
        return token

    return _token


def post_form(client: FlaskClient, page_url: str, action: str | None, data: dict) -> object:
    """Open a page, take its CSRF token, post ``data`` to ``action`` (default: the page)."""
    page = client.get(page_url)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(action or page_url, data={**data, "csrf_token": token})


def table_names(session: Session) -> set[str]:
    return set(inspect(session.get_bind()).get_table_names())


ROOT = Path(__file__).resolve().parent.parent
