"""The baseline for ``bench/pages.py``: Flask + Flask-SQLAlchemy and one ``SELECT 1`` per request.

It answers the question "how fast can this stack serve *anything* that touches the database"
on the same machine, server and database, so page throughput can be read as a fraction of it.

    DATABASE_URL=postgresql+psycopg://... gunicorn "bench.bare_app:create_app()"
"""

from __future__ import annotations

import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

db = SQLAlchemy()


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ.get("DATABASE_URL") or "sqlite://"
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    # Same pool settings as cxjourney's Config, so the baseline pays the same per-checkout ping.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    db.init_app(app)

    @app.get("/")
    def index() -> str:
        db.session.execute(text("SELECT 1"))
        return "ok"

    return app
