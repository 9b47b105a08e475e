"""Write and read the audit log. Callers pass snapshots; secrets never belong in them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import AuditLog

if TYPE_CHECKING:
    from ..auth.models import User

# Keys that must never reach the log, whatever a caller passes.
_SECRET_KEYS = frozenset({"password", "password_hash", "token", "token_hash", "session_nonce"})


def _clean(snapshot: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {k: v for k, v in snapshot.items() if k not in _SECRET_KEYS}


def record_audit(
    session: Session,
    *,
    actor: User | None,
    at: datetime,
    action: str,
    entity_type: str,
    entity_id: int | None,
    entity_label: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditLog | None:
    """Append one audit entry; nothing is written when before and after are equal."""
    before_clean, after_clean = _clean(before), _clean(after)
    if before_clean is not None and before_clean == after_clean:
        return None
    if before_clean is not None and after_clean is not None:
        # Keep only what changed, so the log reads as a diff.
        changed = {k for k in after_clean if before_clean.get(k) != after_clean.get(k)}
        before_clean = {k: before_clean.get(k) for k in sorted(changed)}
        after_clean = {k: after_clean[k] for k in sorted(changed)}
    entry = AuditLog(
        at=at,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.email if actor is not None else "system",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        entity_label=entity_label[:254],
        before=before_clean,
        after=after_clean,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditLog]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_audit(
    session: Session,
    *,
    entity_type: str | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """Return one page of the audit log, newest first, optionally narrowed."""
    query = select(AuditLog)
    count = select(func.count()).select_from(AuditLog)
    if entity_type:
        query = query.where(AuditLog.entity_type == entity_type)
        count = count.where(AuditLog.entity_type == entity_type)
    if action:
        query = query.where(AuditLog.action == action)
        count = count.where(AuditLog.action == action)
    page = max(1, page)
    entries = session.scalars(
        query.order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return AuditPage(list(entries), session.scalar(count) or 0, page, per_page)


def list_audit_entity_types(session: Session) -> list[str]:
    return list(
        session.scalars(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type))
    )
