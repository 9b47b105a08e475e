"""GET/PUT /api/v1/journey: the whole journey as one document."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user
from flask_smorest import Blueprint

from ..auth.permissions import Permission, can, requires
from ..errors import ValidationError
from ..extensions import db, utcnow
from ..journey.document import export_journey, import_journey
from ..journey.services import validate_journey
from ..web import _flatten
from .errors import ErrorSchema
from .schemas import JourneyDocumentSchema, JourneyPutResultSchema

blp = Blueprint("api_journey", __name__, description="The journey map as one document")


def _document_with_validation() -> dict[str, Any]:
    document = export_journey(
        db.session, personal_data=can(current_user, Permission.VIEW_PERSONAL_DATA)
    )
    document["validation"] = validate_journey(db.session).as_dict()
    return document


@blp.get("/journey")
@requires(Permission.VIEW_JOURNEY)
@blp.response(200, JourneyDocumentSchema)
def get_journey() -> Any:
    """The journey document with its validation (entries, unreachable, dead ends, backward)."""
    return _document_with_validation()


@blp.put("/journey")
@requires(Permission.EDIT_JOURNEY)
@blp.doc(
    requestBody={
        "required": True,
        "content": {"application/json": {"schema": JourneyDocumentSchema}},
    }
)
@blp.response(200, JourneyPutResultSchema)
@blp.alt_response(422, schema=ErrorSchema, description="Every problem, keyed by JSON path")
def put_journey() -> Any:
    """Replace the whole journey in one transaction; nothing changes when anything is wrong.

    Touchpoints missing from the document are archived, never deleted.
    """
    payload = request.get_json(silent=True)
    # Shape and types by the schema; references and graph rules by the importer.
    problems: dict[str, str] = {}
    if isinstance(payload, dict):
        problems.update(_flatten(JourneyDocumentSchema().validate(payload)))
    try:
        summary = import_journey(
            db.session,
            payload,
            actor=current_user,
            at=utcnow(),
            may_create_teams=can(current_user, Permission.MANAGE_TEAMS),
        )
    except ValidationError as exc:
        db.session.rollback()
        raise ValidationError({**problems, **exc.fields}, exc.message) from None
    if problems:
        db.session.rollback()
        raise ValidationError(problems)
    db.session.commit()
    return {**_document_with_validation(), "summary": summary.as_dict()}
