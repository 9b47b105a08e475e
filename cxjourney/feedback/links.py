"""Public feedback links (/f/<token>): create, disable, enable, find by token.

Active complaint stimulation: a link (printed as a QR code) per touchpoint asks the
touchpoint's question and offers to make a complaint; what customers send on it is taken
by ``public.py`` (docs/feedback.md).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit.services import record_audit
from ..auth.models import User
from ..errors import NotFound, ValidationError
from ..journey.models import Stage, Touchpoint
from ..journey.services import find_touchpoint_by_key
from .checks import parse_kind
from .models import FeedbackLink, FeedbackResponse

TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 random bits
TOKEN_MAX = 64
LABEL_MAX = 120


# --- managing links ----------------------------------------------------------------------------


def list_links(session: Session) -> list[FeedbackLink]:
    """Every link, by stage, touchpoint and creation."""
    return list(
        session.scalars(
            select(FeedbackLink)
            .join(FeedbackLink.touchpoint)
            .join(Touchpoint.stage)
            .order_by(Stage.position, Touchpoint.name, FeedbackLink.id)
        )
    )


def get_link(session: Session, link_id: int) -> FeedbackLink:
    link = session.get(FeedbackLink, link_id)
    if link is None:
        raise NotFound(str(_l("No such feedback link.")))
    return link


def find_active_link(session: Session, token: str) -> FeedbackLink | None:
    """The link with this token if it is active and its touchpoint is in use."""
    if not token or len(token) > TOKEN_MAX:
        return None
    link = session.scalar(select(FeedbackLink).where(FeedbackLink.token == token))
    if link is None or not link.active or link.touchpoint.archived:
        return None
    return link


def _link_snapshot(link: FeedbackLink) -> dict[str, Any]:
    return {
        "touchpoint": link.touchpoint.key,
        "kind": link.kind.value,
        "label": link.label,
        "active": link.active,
    }


def create_link(
    session: Session,
    *,
    touchpoint_key: str,
    kind: str,
    label: str,
    actor: User | None,
    at: datetime,
) -> FeedbackLink:
    """Create an active link with a fresh unguessable token.

    Raises ValidationError naming every bad field (unknown or archived touchpoint, kind,
    empty or long label).
    """
    problems: dict[str, str] = {}
    touchpoint = find_touchpoint_by_key(session, touchpoint_key) if touchpoint_key else None
    if touchpoint is None:
        problems["touchpoint"] = str(_l("Choose the touchpoint."))
    elif touchpoint.archived:
        problems["touchpoint"] = str(_l("This touchpoint is archived."))
    parsed_kind = parse_kind(kind)
    if parsed_kind is None:
        problems["kind"] = str(_l("Choose NPS, CSAT or CES."))
    cleaned = " ".join((label or "").split())
    if not cleaned or len(cleaned) > LABEL_MAX:
        problems["label"] = str(_l("Enter a name of at most %(n)d characters.", n=LABEL_MAX))
    if problems or touchpoint is None or parsed_kind is None:
        raise ValidationError(problems)
    link = FeedbackLink(
        touchpoint=touchpoint,
        kind=parsed_kind,
        token=secrets.token_urlsafe(TOKEN_BYTES),
        label=cleaned,
        active=True,
        created_by_id=actor.id if actor is not None else None,
        created_at=at,
        updated_at=at,
    )
    session.add(link)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="feedback_link.created",
        entity_type="feedback_link",
        entity_id=link.id,
        entity_label=cleaned,
        after=_link_snapshot(link),
    )
    return link


def set_link_active(
    session: Session, link: FeedbackLink, *, active: bool, actor: User | None, at: datetime
) -> FeedbackLink:
    """Disable a link (its page answers 404 from now on) or enable it again."""
    before = _link_snapshot(link)
    link.active = active
    link.updated_at = at
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="feedback_link.enabled" if active else "feedback_link.disabled",
        entity_type="feedback_link",
        entity_id=link.id,
        entity_label=link.label,
        before=before,
        after=_link_snapshot(link),
    )
    return link


def answer_counts(session: Session) -> dict[int, int]:
    """Answers received per link id."""
    rows = session.execute(
        select(FeedbackResponse.link_id, func.count())
        .where(FeedbackResponse.link_id.is_not(None))
        .group_by(FeedbackResponse.link_id)
    )
    return {int(link_id): int(count) for link_id, count in rows.all()}
