"""Signing in and out, and one's own account (language, password)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..errors import ValidationError
from ..extensions import db, limiter, utcnow
from . import services
from .forms import LanguageForm, LoginForm, PasswordChangeForm, language_choices
from .permissions import login_required

bp = Blueprint("auth", __name__)


def _login_account_key() -> str:
    """Throttle per account: the email being tried, whoever tries it."""
    return "login:" + services.normalize_email(request.form.get("email", ""))[:254]


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _is_failed_login(response: Any) -> bool:
    return response.status_code != 302


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _login_limit, key_func=_login_account_key, methods=["POST"], deduct_when=_is_failed_login
)
@limiter.limit("60 per minute", methods=["POST"], deduct_when=_is_failed_login)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("journey.map"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(
            db.session, email=form.email.data, password=form.password.data, at=utcnow()
        )
        if user is not None:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("journey.map"))
        form.form_errors.append(_("Email or password is wrong, or the account is deactivated."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Any:
    language_form = LanguageForm(prefix="lang", language=current_user.language or "")
    language_form.language.choices = language_choices()
    password_form = PasswordChangeForm(prefix="pw")
    status = 200
    if request.method == "POST" and "lang-language" in request.form:
        if language_form.validate_on_submit():
            services.set_language(
                db.session, current_user, language=language_form.language.data or None, at=utcnow()
            )
            db.session.commit()
            flash(_("Language saved."), "success")
            return redirect(url_for("auth.account"))
        status = 422
    elif request.method == "POST":
        if password_form.validate_on_submit():
            if not services.verify_password(current_user, password_form.current_password.data):
                password_form.current_password.errors = [_("The current password is wrong.")]
                status = 422
            else:
                try:
                    services.change_password(
                        db.session,
                        current_user,
                        new_password=password_form.new_password.data,
                        actor=current_user,
                        at=utcnow(),
                    )
                except ValidationError as exc:
                    password_form.add_errors(exc)
                    status = 422
                else:
                    db.session.commit()
                    # Every other session is now invalid; keep this one signed in.
                    login_user(current_user._get_current_object())
                    flash(_("Password changed. Other sessions were signed out."), "success")
                    return redirect(url_for("auth.account"))
        else:
            status = 422
    return (
        render_template(
            "auth/account.html", language_form=language_form, password_form=password_form
        ),
        status,
    )
