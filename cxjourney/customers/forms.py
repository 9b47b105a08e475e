"""Customer forms."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from ..web import BaseForm


class CustomerForm(BaseForm):
    external_ref = StringField(_l("Customer number"), validators=[DataRequired(), Length(max=64)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=64)])
    segment = StringField(_l("Segment"), validators=[Optional(), Length(max=64)])
    acquired_on = DateField(_l("Customer since"), validators=[DataRequired()])
    contact_consent = BooleanField(_l("Agrees to be contacted about feedback and complaints"))


class ChurnForm(BaseForm):
    """Mark a customer churned (date and reason), or active again (``undo``)."""

    churned_on = DateField(_l("Left on"), validators=[Optional()])
    churn_reason = SelectField(_l("Churn reason"), choices=[], validators=[Optional()])
    save = SubmitField(_l("Mark as churned"))
    undo = SubmitField(_l("Mark as active again"))

    def validate(self, extra_validators: Any = None) -> bool:
        # Optional() ends the date's own checks when it is empty, so the rule that
        # "mark as churned" needs a date is checked here.
        valid = super().validate(extra_validators)
        if valid and not self.undo.data and not self.churned_on.data:
            self.churned_on.errors = [str(_l("This field is required."))]
            return False
        return valid


class MergeForm(BaseForm):
    """Merge a duplicate into this customer; ``confirm`` is set on the preview page."""

    duplicate = StringField(
        _l("Customer number of the duplicate"), validators=[DataRequired(), Length(max=64)]
    )
    confirm = HiddenField()
