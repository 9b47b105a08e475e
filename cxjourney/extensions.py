"""Shared infrastructure: the database, migrations, login, CSRF, rate limits, i18n."""

from __future__ import annotations

import enum
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import DateTime, Enum, MetaData, Numeric, TypeDecorator, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, registry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; return aware UTC on every engine (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a timezone first")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite keeps no offset; we only ever wrote UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING),  # stable names for migrations
        type_annotation_map={
            datetime: UTCDateTime(),
            Decimal: Numeric(12, 2),
            enum.Enum: Enum(enum.Enum, native_enum=False, length=32, validate_strings=True),
        },
    )


def utcnow() -> datetime:
    """The current time, aware, in UTC. Services take times as arguments; callers use this."""
    return datetime.now(UTC)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
babel = Babel()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Embedded SQLite: WAL for concurrent readers, a busy timeout, enforced foreign keys."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_TIMEOUT_MS[0])}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# Set by create_app from SQLITE_BUSY_TIMEOUT_MS (a listener has no app context).
_SQLITE_BUSY_TIMEOUT_MS = [5000]


def begin_real_transaction(session: Any) -> None:
    """Make sure a following SAVEPOINT is nested in a transaction, not the transaction itself.

    pysqlite (Python's sqlite3 in its default mode) emits BEGIN only before the first
    INSERT/UPDATE/DELETE. A SAVEPOINT issued before that opens the transaction, and releasing
    it commits, behind the caller's back. PostgreSQL needs nothing here.
    """
    session.flush()
    connection = session.connection()
    dbapi_connection = connection.connection.dbapi_connection
    if isinstance(dbapi_connection, sqlite3.Connection) and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")
