"""Feedback forms: an agent records an answer; admins create links; customers answer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..web import BaseForm
from .checks import COMMENT_MAX
from .links import LABEL_MAX
from .models import FeedbackKind
from .public import EMAIL_MAX, NAME_MAX


def kind_labels() -> dict[FeedbackKind, object]:
    return {
        FeedbackKind.NPS: _l("NPS (0–10: would recommend us)"),
        FeedbackKind.CSAT: _l("CSAT (1–5: satisfied)"),
        FeedbackKind.CES: _l("CES (1–7: easy)"),
    }


def kind_choices() -> list[tuple[str, str]]:
    return [(kind.value, str(label)) for kind, label in kind_labels().items()]


class FeedbackForm(BaseForm):
    touchpoint = SelectField(_l("Touchpoint"), validators=[DataRequired()])
    kind = SelectField(_l("Question"), validators=[DataRequired()])
    score = IntegerField(
        _l("Score"),
        description=_l("NPS 0–10, CSAT 1–5, CES 1–7 (higher is better)."),
        validators=[InputRequired(), NumberRange(min=0, max=10)],
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=COMMENT_MAX)])
    channel = SelectField(_l("Channel"), validators=[DataRequired()])
    customer_ref = StringField(
        _l("Customer number"),
        description=_l("Empty: anonymous."),
        validators=[Optional(), Length(max=64)],
    )
    contact_consent = BooleanField(_l("The customer agrees to be contacted about this feedback"))


class LinkForm(BaseForm):
    touchpoint = SelectField(_l("Touchpoint"), validators=[DataRequired()])
    kind = SelectField(_l("Question"), validators=[DataRequired()])
    label = StringField(
        _l("Name"),
        description=_l("Where the link or QR code is used, e.g. the counter in the shop."),
        validators=[DataRequired(), Length(max=LABEL_MAX)],
    )


class PublicFeedbackForm(BaseForm):
    """What a customer fills in on /f/<token>; the score choices follow the link's kind."""

    score = RadioField(_l("Your score"), validators=[Optional()], validate_choice=False)
    comment = TextAreaField(
        _l("Anything you would like to tell us?"),
        validators=[Optional(), Length(max=COMMENT_MAX)],
    )
    wants_complaint = BooleanField(_l("I want to make a complaint"))
    contact_consent = BooleanField(
        _l("You may contact me about my feedback or complaint, and store my contact data for it")
    )
    name = StringField(_l("Your name"), validators=[Optional(), Length(max=NAME_MAX)])
    email = EmailField(_l("Your email"), validators=[Optional(), Length(max=EMAIL_MAX)])
    customer_number = StringField(
        _l("Customer number (if you have one)"), validators=[Optional(), Length(max=64)]
    )
    # The honeypot: hidden from people, filled in by bots. Not a field name browsers fill.
    homepage = StringField(_l("Leave this field empty"), validators=[Optional()])
