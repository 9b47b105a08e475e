"""Forms for signing in, one's own account, and the admin pages for users and teams."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from ..web import BaseForm
from .models import Role
from .services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


def role_choices() -> list[tuple[str, str]]:
    labels = {
        Role.AGENT: _l("Service agent"),
        Role.TOUCHPOINT_MANAGER: _l("Touchpoint manager"),
        Role.TEAM_LEAD: _l("Team lead"),
        Role.VIEWER: _l("Viewer"),
        Role.ADMIN: _l("Administrator"),
    }
    return [(role.value, str(labels[role])) for role in Role]


def role_label(role: Role | str) -> str:
    return dict(role_choices())[Role(role).value]


def language_choices(include_browser: bool = True) -> list[tuple[str, str]]:
    choices = [("de", "Deutsch"), ("en", "English")]
    if include_browser:
        choices.insert(0, ("", str(_l("As in the browser"))))
    return choices


class LoginForm(BaseForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    remember = BooleanField(_l("Stay signed in on this device"))


class LanguageForm(BaseForm):
    language = SelectField(_l("Language"), validators=[Optional()])


class PasswordChangeForm(BaseForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )


class UserForm(BaseForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), validators=[DataRequired()])
    team = SelectField(_l("Team"), validators=[Optional()])
    language = SelectField(_l("Language"), validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(
        _l("Password"),
        description=_l("Leave empty to keep the current password."),
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)],
    )


class TeamForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    active = BooleanField(_l("Active"), default=True)


class ConfirmForm(BaseForm):
    """A form with nothing but its CSRF token: for buttons that change something."""
