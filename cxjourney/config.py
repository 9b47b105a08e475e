"""Configuration: read the environment once, in one place.

``create_app`` picks ``ProductionConfig`` when ``CXJOURNEY_ENV=production`` and
``Config`` otherwise; tests pass ``TestConfig`` (or a mapping of overrides).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import ClassVar

DEV_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105 - the well-known value production refuses


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return default if value is None else int(value)


class Config:
    """Development and embedded defaults: SQLite in the instance folder."""

    ENV_NAME = "development"
    SECRET_KEY = _env("SECRET_KEY", DEV_SECRET_KEY)
    # None means: SQLite file ``cxjourney.sqlite`` in the instance folder (set by create_app).
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")
    # hide_parameters: error messages (and so logs) never carry the bound values.
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, object]] = {
        "pool_pre_ping": True,
        "hide_parameters": True,
    }
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    TRUSTED_PROXIES = _env_int("CXJOURNEY_TRUSTED_PROXIES", 0)
    SQLITE_BUSY_TIMEOUT_MS = _env_int("CXJOURNEY_SQLITE_BUSY_TIMEOUT_MS", 5000)

    REDIS_URL = _env("REDIS_URL")
    RATELIMIT_STORAGE_URI = REDIS_URL or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = _env("CXJOURNEY_LOGIN_RATE_LIMIT", "10 per minute")

    BABEL_DEFAULT_LOCALE = _env("CXJOURNEY_DEFAULT_LOCALE", "de")
    BABEL_DEFAULT_TIMEZONE = _env("CXJOURNEY_TIMEZONE", "Europe/Berlin")
    BABEL_TRANSLATION_DIRECTORIES = "translations"
    LANGUAGES = ("de", "en")
    CURRENCY = _env("CXJOURNEY_CURRENCY", "EUR")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("CXJOURNEY_SECURE_COOKIES", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    PREFERRED_URL_SCHEME = "http"

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # bound to the session instead of a clock
    MAX_CONTENT_LENGTH = _env_int("CXJOURNEY_MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    # Largest single text value accepted anywhere (form field or JSON string); fields have
    # their own, smaller limits, checked where the form can show them.
    MAX_TEXT_LENGTH = 100_000

    # The address people use to reach the app; links in notification mails start with it.
    BASE_URL = (_env("CXJOURNEY_BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/")
    # Complaints: where a complaint goes when no rule matches and its touchpoint has no owner.
    TRIAGE_TEAM = _env("CXJOURNEY_TRIAGE_TEAM", "Kundenservice")
    # The SLA business calendar (holidays from the holidays package).
    SLA_TIMEZONE = _env("CXJOURNEY_SLA_TIMEZONE", _env("CXJOURNEY_TIMEZONE", "Europe/Berlin"))
    SLA_WORKDAYS = _env("CXJOURNEY_SLA_WORKDAYS", "mon-fri")
    SLA_HOURS = _env("CXJOURNEY_SLA_HOURS", "08:00-18:00")
    SLA_HOLIDAY_COUNTRY = _env("CXJOURNEY_SLA_HOLIDAY_COUNTRY", "DE")
    SLA_HOLIDAY_SUBDIVISION = _env("CXJOURNEY_SLA_HOLIDAY_SUBDIVISION", "")
    # Attachments live outside the database; None: <instance folder>/attachments.
    ATTACHMENT_DIR = _env("CXJOURNEY_ATTACHMENT_DIR")
    ATTACHMENT_MAX_BYTES = _env_int("CXJOURNEY_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    # A likely duplicate: same customer and touchpoint, open, received within this many days.
    DUPLICATE_WINDOW_DAYS = 14
    # Feedback (docs/feedback.md). Closed loop: a negative score with consent from a known
    # customer opens a follow-up complaint for these kinds (comma-separated; empty: never),
    # in this category (a key) and severity.
    FEEDBACK_FOLLOW_UP_KINDS = _env("CXJOURNEY_FEEDBACK_FOLLOW_UP_KINDS", "nps,csat,ces")
    FEEDBACK_FOLLOW_UP_CATEGORY = _env("CXJOURNEY_FEEDBACK_FOLLOW_UP_CATEGORY", "service-quality")
    FEEDBACK_FOLLOW_UP_SEVERITY = _env("CXJOURNEY_FEEDBACK_FOLLOW_UP_SEVERITY", "medium")
    # The category of complaints made on a public feedback link (/f/<token>).
    FEEDBACK_LINK_COMPLAINT_CATEGORY = _env("CXJOURNEY_FEEDBACK_LINK_COMPLAINT_CATEGORY", "other")
    # A customer is not asked again at a touchpoint within this many days (invitations only).
    FEEDBACK_SUPPRESSION_DAYS = _env_int("CXJOURNEY_FEEDBACK_SUPPRESSION_DAYS", 90)
    # Submissions on a public feedback link per client IP address
    # (the survey page /s/<token> after a resolved complaint shares it).
    FEEDBACK_LINK_RATE_LIMIT = _env("CXJOURNEY_FEEDBACK_LINK_RATE_LIMIT", "30 per minute")
    # The survey after a resolved complaint: its one-time link can be answered this long.
    SURVEY_VALID_DAYS = _env_int("CXJOURNEY_SURVEY_VALID_DAYS", 30)

    # Notifications: the outbox is sent by ``cxjourney outbox send`` (cron). Without
    # MAIL_SERVER messages are kept in the outbox and visible to admins only.
    MAIL_SERVER = _env("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)  # STARTTLS on a plain connection
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)  # implicit TLS (SMTPS, usually port 465)
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_FROM = _env("MAIL_FROM", "cxjourney <noreply@localhost>")
    MAIL_TIMEOUT = _env_int("MAIL_TIMEOUT", 10)
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)

    API_TITLE = "cxjourney API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    DEMO_ALLOWED = True
    TESTING = False


class ProductionConfig(Config):
    """Behind TLS: secure cookies, no demo loader, a real secret required."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    DEMO_ALLOWED = False


class TestConfig(Config):
    """The test suite: ``TEST_DATABASE_URL`` or a temporary SQLite file."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL")
    RATELIMIT_STORAGE_URI = "memory://"
    WTF_CSRF_ENABLED = True


def config_from_environment() -> type[Config]:
    """Return the configuration class named by ``CXJOURNEY_ENV``."""
    name = (_env("CXJOURNEY_ENV", "development") or "development").lower()
    if name not in {"development", "production"}:
        # A typo must not quietly run production with development settings.
        raise RuntimeError(f"CXJOURNEY_ENV must be 'development' or 'production', not {name!r}.")
    return ProductionConfig if name == "production" else Config
