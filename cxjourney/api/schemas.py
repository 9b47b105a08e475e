"""Marshmallow schemas: they validate API input and generate the OpenAPI document.

Unknown fields are rejected (marshmallow's default, RAISE).
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..journey.models import Channel
from ..journey.services import DESCRIPTION_MAX, KEY_PATTERN, NAME_MAX
from .fields import Money, Timestamp

KEY = validate.Regexp(KEY_PATTERN, error="Use 1–64 lower-case letters, digits, '-' or '_'.")
NAME = validate.Length(min=1, max=NAME_MAX)
CHANNELS = [c.value for c in Channel]


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE
        ordered = True


# --- accounts ----------------------------------------------------------------------------


class MeSchema(StrictSchema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    team = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    permissions = fields.List(fields.String())


class TeamSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=NAME)
    active = fields.Boolean(dump_only=True)


class TeamPageSchema(StrictSchema):
    items = fields.List(fields.Nested(TeamSchema))
    next = fields.String(allow_none=True)


# --- the journey -------------------------------------------------------------------------


class StageDocSchema(StrictSchema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    position = fields.Integer(required=True, strict=True, validate=validate.Range(0, 1_000_000))


class TouchpointDocSchema(StrictSchema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    stage = fields.String(required=True, metadata={"description": "A stage key"})
    owner_team = fields.String(
        required=True, allow_none=True, validate=NAME, metadata={"description": "A team name"}
    )
    manager = fields.Email(
        allow_none=True, load_default=None, metadata={"description": "A user's email"}
    )
    description = fields.String(
        allow_none=True, load_default="", validate=validate.Length(max=DESCRIPTION_MAX)
    )
    channel = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(CHANNELS))
    exit = fields.Boolean(load_default=False)
    archived = fields.Boolean(load_default=False)


class TransitionDocSchema(StrictSchema):
    source = fields.String(required=True, metadata={"description": "A touchpoint key"})
    target = fields.String(required=True, metadata={"description": "A touchpoint key"})


class ValidationResultSchema(StrictSchema):
    entries = fields.List(fields.String())
    unreachable = fields.List(fields.String())
    dead_ends = fields.List(fields.String())
    backward = fields.List(fields.List(fields.String()))


class JourneyDocumentSchema(StrictSchema):
    stages = fields.List(fields.Nested(StageDocSchema), required=True)
    touchpoints = fields.List(fields.Nested(TouchpointDocSchema), required=True)
    transitions = fields.List(fields.Nested(TransitionDocSchema), required=True)
    validation = fields.Nested(
        ValidationResultSchema,
        metadata={"description": "Added by GET; ignored by PUT"},
    )


class ImportSummarySchema(StrictSchema):
    stages_created = fields.Integer()
    stages_updated = fields.Integer()
    stages_deleted = fields.Integer()
    touchpoints_created = fields.Integer()
    touchpoints_updated = fields.Integer()
    touchpoints_archived = fields.Integer()
    transitions_added = fields.Integer()
    transitions_removed = fields.Integer()
    teams_created = fields.List(fields.String())


class JourneyPutResultSchema(JourneyDocumentSchema):
    summary = fields.Nested(ImportSummarySchema)


class TouchpointSchema(StrictSchema):
    key = fields.String()
    name = fields.String()
    stage = fields.String()
    owner_team = fields.String(allow_none=True)
    manager = fields.String(allow_none=True)
    description = fields.String()
    channel = fields.String(allow_none=True)
    exit = fields.Boolean()
    archived = fields.Boolean()


class TouchpointCreateSchema(StrictSchema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    stage = fields.String(required=True, metadata={"description": "A stage key"})
    owner_team = fields.String(required=True, allow_none=True, validate=NAME)
    manager = fields.Email(allow_none=True, load_default=None)
    description = fields.String(load_default="", validate=validate.Length(max=DESCRIPTION_MAX))
    channel = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(CHANNELS))
    exit = fields.Boolean(load_default=False)


class TouchpointPatchSchema(StrictSchema):
    key = fields.String(validate=KEY)
    name = fields.String(validate=NAME)
    stage = fields.String()
    owner_team = fields.String(allow_none=True, validate=NAME)
    manager = fields.Email(allow_none=True)
    description = fields.String(validate=validate.Length(max=DESCRIPTION_MAX))
    channel = fields.String(allow_none=True, validate=validate.OneOf(CHANNELS))
    exit = fields.Boolean()
    archived = fields.Boolean(
        metadata={"description": "true archives (and removes its transitions); false restores"}
    )


class TouchpointListArgsSchema(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
    include_archived = fields.Boolean(load_default=False)
    stage = fields.String(load_default=None, validate=validate.Length(max=64))


class TouchpointPageSchema(StrictSchema):
    items = fields.List(fields.Nested(TouchpointSchema))
    next = fields.String(allow_none=True)


class TransitionSchema(StrictSchema):
    id = fields.Integer(dump_only=True)
    source = fields.String(required=True, validate=validate.Length(max=64))
    target = fields.String(required=True, validate=validate.Length(max=64))
    backward = fields.Boolean(dump_only=True)


class TransitionPageSchema(StrictSchema):
    items = fields.List(fields.Nested(TransitionSchema))
    next = fields.String(allow_none=True)


# --- customers and catalogues ------------------------------------------------------------

REF = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
    error="Use 1–64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit.",
)


class CustomerSchema(StrictSchema):
    external_ref = fields.String(required=True, validate=REF)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    segment = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    acquired_at = Timestamp(required=True)
    churned_at = Timestamp(allow_none=True, load_default=None)
    churn_reason = fields.String(
        allow_none=True, load_default=None, metadata={"description": "A churn reason key"}
    )
    referred_by = fields.String(
        allow_none=True, load_default=None, metadata={"description": "Another customer's ref"}
    )
    contact_consent = fields.Boolean(load_default=False)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class CustomerPatchSchema(StrictSchema):
    external_ref = fields.String(validate=REF)
    name = fields.String(validate=validate.Length(min=1, max=200))
    email = fields.String(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=64))
    segment = fields.String(allow_none=True, validate=validate.Length(max=64))
    acquired_at = Timestamp()
    churned_at = Timestamp(allow_none=True)
    churn_reason = fields.String(allow_none=True)
    referred_by = fields.String(allow_none=True)
    contact_consent = fields.Boolean()


class CustomerListArgsSchema(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
    q = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "Search reference, name, email or phone (at most 20 hits)"},
    )
    segment = fields.String(load_default=None, validate=validate.Length(max=64))


class CustomerPageSchema(StrictSchema):
    items = fields.List(fields.Nested(CustomerSchema))
    next = fields.String(allow_none=True)


class CatalogueEntrySchema(StrictSchema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    active = fields.Boolean(dump_only=True)


class CatalogueListSchema(StrictSchema):
    items = fields.List(fields.Nested(CatalogueEntrySchema))
    next = fields.String(allow_none=True)


# --- complaints --------------------------------------------------------------------------

SEVERITIES = ["low", "medium", "high", "critical"]
STATUSES = ["new", "in_progress", "waiting_on_customer", "resolved", "closed"]
RESOLUTION_CODES = [
    "refund",
    "replacement",
    "repair",
    "credit",
    "apology",
    "explanation",
    "no_action",
    "other",
]
SLA_STATES = ["ok", "at_risk", "breached"]
LONG_TEXT = validate.Length(max=10_000)


class ComplaintCreateSchema(StrictSchema):
    customer_ref = fields.String(required=True, validate=validate.Length(min=1, max=64))
    touchpoint = fields.String(required=True, validate=validate.Length(min=1, max=64))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    desired_outcome = fields.String(load_default="", validate=LONG_TEXT)
    received_at = Timestamp(
        load_default=None, metadata={"description": "When it arrived; defaults to now"}
    )


class SlaSchema(StrictSchema):
    first_response_due = Timestamp(allow_none=True)
    next_update_due = Timestamp(allow_none=True)
    resolution_due = Timestamp(allow_none=True)
    state = fields.String(metadata={"description": "ok, at_risk or breached (the worst clock)"})
    clocks = fields.Dict(keys=fields.String(), values=fields.String())


class ComplaintEventSchema(StrictSchema):
    kind = fields.String()
    at = Timestamp()
    actor = fields.String()
    channel = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    data = fields.Dict(allow_none=True)


class ComplaintSchema(StrictSchema):
    reference = fields.String()
    status = fields.String()
    touchpoint = fields.String()
    team = fields.String()
    assignee = fields.String(allow_none=True)
    version = fields.Integer()
    routed_by = fields.String()
    created_at = Timestamp()
    received_at = Timestamp()
    sla = fields.Nested(SlaSchema)
    customer_ref = fields.String()
    channel = fields.String()
    category = fields.String()
    severity = fields.String()
    subject = fields.String()
    description = fields.String()
    desired_outcome = fields.String()
    updated_at = Timestamp()
    first_response_at = Timestamp(allow_none=True)
    resolved_at = Timestamp(allow_none=True)
    closed_at = Timestamp(allow_none=True)
    reopen_count = fields.Integer()
    resolution_code = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)
    compensation = Money(allow_none=True)
    escalated_at = Timestamp(allow_none=True)
    timeline = fields.List(fields.Nested(ComplaintEventSchema))


class ComplaintListArgsSchema(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    team = fields.String(load_default=None, validate=validate.Length(max=120))
    assignee = fields.String(load_default=None, validate=validate.Length(max=254))
    touchpoint = fields.String(load_default=None, validate=validate.Length(max=64))
    sla_state = fields.String(load_default=None, validate=validate.OneOf(SLA_STATES))
    updated_since = Timestamp(load_default=None)


class ComplaintPageSchema(StrictSchema):
    items = fields.List(fields.Nested(ComplaintSchema))
    next = fields.String(allow_none=True)


class TransitionRequestSchema(StrictSchema):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(load_default="", validate=LONG_TEXT)
    resolution_code = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(RESOLUTION_CODES)
    )
    resolution = fields.String(load_default="", allow_none=True, validate=LONG_TEXT)
    compensation = Money(load_default=None, allow_none=True)
    version = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "The version you saw; a newer one gives 409"},
    )


class NoteRequestSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    version = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=1, max=2**31 - 1)
    )


class ReplyRequestSchema(NoteRequestSchema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))


class AssignRequestSchema(StrictSchema):
    assignee = fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(max=254),
        metadata={"description": "A user's email, or null for the team's queue"},
    )
    team = fields.String(load_default=None, validate=validate.Length(max=120))
    version = fields.Integer(
        load_default=None, strict=True, validate=validate.Range(min=1, max=2**31 - 1)
    )
