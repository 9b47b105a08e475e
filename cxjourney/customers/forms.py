"""Customer forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, StringField
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
