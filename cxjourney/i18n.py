"""Language and formatting: the user's profile, else Accept-Language, else the default."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app, has_request_context, request
from flask_babel import format_currency, format_date, format_datetime, format_decimal, get_locale
from flask_login import current_user

from .extensions import babel

LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if has_request_context():
        user = current_user
        if user.is_authenticated and getattr(user, "language", None) in languages:
            return str(user.language)
        match = request.accept_languages.best_match(languages)
        if match:
            return str(match)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def _fmt_datetime(value: datetime | None, format: str = "medium") -> str:
    return "–" if value is None else format_datetime(value, format)


def _fmt_date(value: date | None, format: str = "medium") -> str:
    return "–" if value is None else format_date(value, format)


def _fmt_number(value: float | Decimal | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern)


def _fmt_money(value: Decimal | float | None) -> str:
    if value is None:
        return "–"
    return format_currency(value, current_app.config["CURRENCY"])


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.filters["datetime"] = _fmt_datetime
    app.jinja_env.filters["date"] = _fmt_date
    app.jinja_env.filters["number"] = _fmt_number
    app.jinja_env.filters["money"] = _fmt_money

    @app.context_processor
    def _i18n_context() -> dict[str, Any]:
        return {"current_locale": str(get_locale()), "language_names": LANGUAGE_NAMES}
