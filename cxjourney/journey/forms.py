"""Forms for editing the journey map."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..web import BaseForm
from .models import Channel
from .services import DESCRIPTION_MAX, NAME_MAX


def channel_choices() -> list[tuple[str, str]]:
    labels = channel_labels()
    return [("", str(_l("— none —")))] + [(c.value, str(labels[c])) for c in Channel]


def channel_labels() -> dict[Channel, object]:
    return {
        Channel.PHONE: _l("Phone"),
        Channel.EMAIL: _l("Email"),
        Channel.LETTER: _l("Letter"),
        Channel.FAX: _l("Fax"),
        Channel.SMS: _l("SMS"),
        Channel.CHAT: _l("Chat"),
        Channel.SOCIAL_MEDIA: _l("Social media"),
        Channel.WEB: _l("Web"),
        Channel.APP: _l("App"),
        Channel.IN_PERSON: _l("In person"),
    }


class TouchpointForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    key = StringField(
        _l("Key"),
        description=_l("Short unique identifier used by imports and the API, e.g. first-invoice."),
        validators=[DataRequired(), Length(max=64)],
    )
    stage = SelectField(_l("Stage"), validators=[DataRequired()])
    channel = SelectField(_l("Channel"), validators=[Optional()])
    owner_team = SelectField(_l("Owner team"), validators=[Optional()])
    manager = SelectField(_l("Touchpoint manager"), validators=[Optional()])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=DESCRIPTION_MAX)]
    )
    exit = BooleanField(
        _l("Exit touchpoint"),
        description=_l("The way out, such as the cancellation: an outcome, not a cause of churn."),
    )


class StageForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])


class StageRenameForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])


class TransitionForm(BaseForm):
    source = SelectField(_l("From"), validators=[DataRequired()])
    target = SelectField(_l("To"), validators=[DataRequired()])
