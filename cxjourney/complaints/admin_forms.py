"""Forms and labels for the complaint admin pages: routing rules, categories, SLA policies."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..journey.forms import channel_labels
from ..journey.models import Channel
from ..web import BaseForm
from .labels import severity_labels, strategy_labels
from .models import AssignmentStrategy, RoutingRule, Severity
from .sla_policies import MAX_TARGET_MINUTES


def severity_choices(blank: object | None = None) -> list[SelectChoice]:
    labels = severity_labels()
    choices = [SelectChoice(s.value, str(labels[s])) for s in Severity]
    return [SelectChoice("", str(blank)), *choices] if blank is not None else choices


def strategy_choices() -> list[SelectChoice]:
    labels = strategy_labels()
    return [SelectChoice(s.value, str(labels[s])) for s in AssignmentStrategy]


def channel_select_choices(blank: object | None = None) -> list[SelectChoice]:
    labels = channel_labels()
    choices = [SelectChoice(c.value, str(labels[c])) for c in Channel]
    return [SelectChoice("", str(blank)), *choices] if blank is not None else choices


def rule_conditions(rule: RoutingRule) -> list[str]:
    """A rule's conditions in words, one phrase each; empty when it matches everything."""
    phrases: list[str] = []
    if rule.touchpoint is not None:
        phrases.append(str(_l("touchpoint is %(name)s", name=rule.touchpoint.name)))
    if rule.stage is not None:
        phrases.append(str(_l("stage is %(name)s", name=rule.stage.name)))
    if rule.category is not None:
        phrases.append(str(_l("category is %(name)s", name=rule.category.name)))
    if rule.channel is not None:
        phrases.append(str(_l("channel is %(name)s", name=channel_labels()[rule.channel])))
    if rule.min_severity is not None:
        label = severity_labels()[rule.min_severity]
        phrases.append(str(_l("severity is %(name)s or higher", name=label)))
    if rule.segment is not None:
        phrases.append(str(_l("customer segment is %(name)s", name=rule.segment)))
    return phrases


class RoutingRuleForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    priority = IntegerField(
        _l("Priority"),
        description=_l(
            "Rules are tried from the lowest number up; the first that matches decides."
        ),
        validators=[InputRequired()],
        render_kw={"min": 0, "max": 1_000_000},
    )
    active = BooleanField(_l("Active"), default=True)
    touchpoint = SelectField(_l("Touchpoint"), default="", validators=[Optional()])
    stage = SelectField(_l("Stage"), default="", validators=[Optional()])
    category = SelectField(_l("Category"), default="", validators=[Optional()])
    channel = SelectField(_l("Channel"), default="", validators=[Optional()])
    min_severity = SelectField(
        _l("Minimum severity"),
        description=_l("Matches complaints of this severity or higher."),
        default="",
        validators=[Optional()],
    )
    segment = StringField(
        _l("Customer segment"),
        description=_l("Matches customers of exactly this segment. Leave empty for any."),
        validators=[Optional(), Length(max=64)],
    )
    team = SelectField(_l("Target team"), validators=[DataRequired()])
    user = SelectField(
        _l("Person"),
        description=_l("Optional. A named person must belong to the target team."),
        default="",
        validators=[Optional()],
    )
    strategy = SelectField(
        _l("Assignment"),
        description=_l(
            "Without a named person: leave it in the team queue, let the team's agents take "
            "turns (round robin), or give it to the agent with the fewest open complaints "
            "(least loaded)."
        ),
        default=AssignmentStrategy.TEAM_QUEUE.value,
        validators=[DataRequired()],
    )


class RoutingPreviewForm(BaseForm):
    """Sample attributes of a complaint; sent by GET and changes nothing, so no CSRF token."""

    class Meta:
        csrf = False

    touchpoint = SelectField(_l("Touchpoint"), default="", validators=[DataRequired()])
    category = SelectField(_l("Category"), default="", validators=[Optional()])
    channel = SelectField(_l("Channel"), default=Channel.PHONE.value, validators=[DataRequired()])
    severity = SelectField(
        _l("Severity"), default=Severity.MEDIUM.value, validators=[DataRequired()]
    )
    segment = StringField(_l("Customer segment"), validators=[Optional(), Length(max=64)])


class CategoryForm(BaseForm):
    key = StringField(
        _l("Key"),
        description=_l(
            "Lower-case letters, digits, '-' or '_', e.g. billing-error. "
            "Imports and the API use it; it cannot be changed later."
        ),
        validators=[DataRequired(), Length(max=64)],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])


class CategoryEditForm(BaseForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    active = BooleanField(
        _l("Active"),
        description=_l("Deactivated categories cannot be chosen for new complaints."),
        default=True,
    )


def _minutes_field(label: object) -> IntegerField:
    return IntegerField(
        label,
        validators=[InputRequired()],
        render_kw={"min": 1, "max": MAX_TARGET_MINUTES},
    )


class SlaPolicyForm(BaseForm):
    # Name and severity are checked by the service, so that one answer names every problem.
    name = StringField(_l("Name"))
    severity = SelectField(_l("Severity"), default="", validators=[Optional()])
    touchpoint = SelectField(
        _l("Touchpoint"),
        description=_l("Leave scope fields empty to apply to every complaint of this severity."),
        default="",
        validators=[Optional()],
    )
    stage = SelectField(_l("Stage"), default="", validators=[Optional()])
    segment = StringField(
        _l("Customer segment"),
        description=_l("Matches customers of exactly this segment. Leave empty for any."),
        validators=[Optional(), Length(max=64)],
    )
    first_response_minutes = _minutes_field(_l("First response within (minutes)"))
    next_update_minutes = _minutes_field(_l("Next update within (minutes)"))
    resolution_minutes = _minutes_field(_l("Resolution within (minutes)"))
    business_hours = BooleanField(
        _l("Count business hours only"),
        description=_l(
            "Otherwise the clocks run around the clock, weekends and public holidays included."
        ),
        default=True,
    )
    warning_percent = IntegerField(
        _l("Warn at (percent of the target used)"),
        default=80,
        validators=[InputRequired()],
        render_kw={"min": 1, "max": 100},
    )
    active = BooleanField(_l("Active"), default=True)
