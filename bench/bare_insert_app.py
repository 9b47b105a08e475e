"""The baseline for ``bench/intake.py``: Flask + Flask-SQLAlchemy, ``POST /`` inserts one row.

It answers "how fast can this stack accept a JSON body and write one row" on the same
machine, server and database, so the complaint intake's throughput can be read as a fraction
of it. One table (``bench_insert``), created on start; each request parses the JSON body,
inserts one row, commits and answers 201 with the new id.

    DATABASE_URL=postgresql+psycopg://... gunicorn "bench.bare_insert_app:create_app()"
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, jsonify, request  # noqa: TID251 - this file is the view
from flask.typing import ResponseReturnValue
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, String, Text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BenchInsert(db.Model):  # type: ignore[name-defined]
    __tablename__ = "bench_insert"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(64))
    touchpoint: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ.get("DATABASE_URL") or "sqlite://"
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    # Same pool settings as cxjourney's Config, so the baseline pays the same per-checkout ping.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    db.init_app(app)
    with app.app_context():
        try:
            db.create_all()
        except (IntegrityError, ProgrammingError):  # another worker created it at that moment
            db.session.rollback()
            db.create_all()

    @app.post("/")
    def insert() -> ResponseReturnValue:
        data = request.get_json()
        row = BenchInsert(
            customer_ref=data["customer_ref"],
            touchpoint=data["touchpoint"],
            subject=data["subject"],
            description=data["description"],
            created_at=datetime.now(UTC),
        )
        db.session.add(row)
        db.session.commit()
        return jsonify({"id": row.id}), 201

    return app
