"""Forms for logging and working complaints."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..web import BaseForm
from .services import SUBJECT_MAX, TEXT_MAX


class IntakeForm(BaseForm):
    customer_ref = StringField(
        _l("Customer number"),
        description=_l("Search first; for a new customer, fill in the fields below."),
        validators=[Optional(), Length(max=64)],
    )
    new_customer_name = StringField(_l("Name of the new customer"), validators=[Length(max=200)])
    new_customer_email = StringField(_l("Email"), validators=[Length(max=254)])
    new_customer_phone = StringField(_l("Phone"), validators=[Length(max=64)])
    touchpoint = SelectField(_l("Touchpoint"), validators=[DataRequired()])
    channel = SelectField(_l("Channel"), validators=[DataRequired()])
    received_at = DateTimeLocalField(
        _l("Received on"),
        format="%Y-%m-%dT%H:%M",
        description=_l(
            "For letters, faxes, calls and visits: when it reached us (the SLA "
            "clocks start then). Empty: now."
        ),
        validators=[Optional()],
    )
    category = SelectField(_l("Category"), validators=[DataRequired()])
    severity = SelectField(_l("Severity"), default="medium", validators=[DataRequired()])
    subject = StringField(_l("Subject"), validators=[DataRequired(), Length(max=SUBJECT_MAX)])
    description = TextAreaField(
        _l("What happened"), validators=[DataRequired(), Length(max=TEXT_MAX)]
    )
    desired_outcome = TextAreaField(
        _l("What the customer wants"), validators=[Optional(), Length(max=TEXT_MAX)]
    )
    attachments = MultipleFileField(
        _l("Attachments"),
        description=_l("Scanned letters, faxes, photos or PDFs, at most 10 MB each."),
    )
    # Set after a likely duplicate was pointed out: the agent chose to create it anyway.
    confirm_new = HiddenField()


class StatusForm(BaseForm):
    version = IntegerField(validators=[InputRequired()])
    to = SelectField(_l("New status"), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=TEXT_MAX)])
    resolution_code = SelectField(_l("Resolution"), validators=[Optional()])
    resolution = TextAreaField(
        _l("How it was resolved"), validators=[Optional(), Length(max=TEXT_MAX)]
    )
    compensation = DecimalField(
        _l("Compensation (EUR)"),
        places=2,
        validators=[Optional(), NumberRange(min=0, max=9_999_999_999)],
    )


class ReplyForm(BaseForm):
    version = IntegerField(validators=[InputRequired()])
    channel = SelectField(_l("Channel"), validators=[DataRequired()])
    text = TextAreaField(
        _l("Reply to the customer"), validators=[DataRequired(), Length(max=TEXT_MAX)]
    )


class NoteForm(BaseForm):
    version = IntegerField(validators=[InputRequired()])
    text = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=TEXT_MAX)])


class AssignForm(BaseForm):
    version = IntegerField(validators=[InputRequired()])
    assignee = SelectField(_l("Assign to"), validators=[Optional()])


class AttachmentForm(BaseForm):
    attachments = MultipleFileField(_l("Add attachments"))


class SeverityForm(BaseForm):
    version = IntegerField(validators=[InputRequired()])
    severity = SelectField(_l("Severity"), validators=[DataRequired()])
