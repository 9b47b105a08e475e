"""cxjourney: complaint management and customer-journey analysis."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask

# An optional .env next to where the app is started; real environment variables win.
load_dotenv(Path.cwd() / ".env", override=False)

from .config import DEV_SECRET_KEY, Config, config_from_environment  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: type[Config] | Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` is a config class or object, or a mapping of overrides on top of the
    environment's config; None reads the environment (``CXJOURNEY_ENV``).
    """
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=os.environ.get("CXJOURNEY_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    if config is None or isinstance(config, Mapping):
        app.config.from_object(config_from_environment())
        app.config.update(config or {})
    else:
        app.config.from_object(config)
    _check_secret_key(app)
    _configure_database(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from . import extensions, i18n, request_guard, web
    from .analytics.journey_report_views import bp as journey_report_bp
    from .analytics.views import bp as reports_bp
    from .api import init_api
    from .audit.views import bp as audit_bp
    from .auth import login as auth_login
    from .auth.admin_views import bp as admin_bp
    from .auth.views import bp as auth_bp
    from .cli import register_commands
    from .complaints.admin_views import bp as complaint_admin_bp
    from .complaints.queue_views import bp as queues_bp
    from .complaints.views import bp as complaints_bp
    from .customers.views import bp as customers_bp
    from .feedback.link_views import bp as feedback_links_bp
    from .feedback.public_views import bp as public_feedback_bp
    from .feedback.survey_views import bp as survey_bp
    from .feedback.views import bp as feedback_bp
    from .journey.views import bp as journey_bp
    from .models import __all__ as _all_models  # noqa: F401 - registers every model
    from .notifications.views import bp as outbox_bp

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(PROJECT_ROOT / "migrations"))
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    i18n.init_app(app)
    auth_login.init_app(app)
    web.init_app(app)
    request_guard.init_app(app)

    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(journey_bp)
    app.register_blueprint(customers_bp)
    app.register_blueprint(complaints_bp)
    app.register_blueprint(queues_bp)
    app.register_blueprint(complaint_admin_bp)
    app.register_blueprint(feedback_bp)
    app.register_blueprint(feedback_links_bp)
    app.register_blueprint(public_feedback_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(journey_report_bp)
    app.register_blueprint(survey_bp)
    init_api(app)
    register_commands(app)
    return app


def _check_secret_key(app: Flask) -> None:
    if app.config.get("ENV_NAME") != "production":
        return
    key = app.config.get("SECRET_KEY")
    if not key or key == DEV_SECRET_KEY or len(str(key)) < 32:
        raise RuntimeError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production "
            "(for example: python -c 'import secrets; print(secrets.token_hex(32))')."
        )


def _configure_database(app: Flask) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        uri = "sqlite:///" + str(Path(app.instance_path) / "cxjourney.sqlite")
    elif uri.startswith(("postgres://", "postgresql://")):
        # psycopg 3 is the driver we install; plain URLs from hosting providers mean it.
        uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        from .extensions import _SQLITE_BUSY_TIMEOUT_MS

        _SQLITE_BUSY_TIMEOUT_MS[0] = int(app.config["SQLITE_BUSY_TIMEOUT_MS"])
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.pop("pool_pre_ping", None)
        options.setdefault("connect_args", {"timeout": app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
