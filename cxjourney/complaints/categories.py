"""The admin-managed complaint taxonomy."""

from __future__ import annotations

import re
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.services import record_audit
from ..auth.models import User
from ..errors import NotFound, ValidationError
from .models import Category

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def list_categories(session: Session, *, active_only: bool = False) -> list[Category]:
    query = select(Category).order_by(Category.name)
    if active_only:
        query = query.where(Category.active.is_(True))
    return list(session.scalars(query))


def find_category(session: Session, key: str) -> Category | None:
    return session.scalar(select(Category).where(Category.key == key))


def get_category(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(str(_l("No such category.")))
    return category


def _check_name(name: str) -> str | None:
    cleaned = " ".join((name or "").split())
    return cleaned if 0 < len(cleaned) <= 120 else None


def create_category(
    session: Session, *, key: str, name: str, actor: User | None, at: datetime
) -> Category:
    """Add a category. Raises ValidationError on a bad or taken key or an empty name."""
    problems: dict[str, str] = {}
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        problems["key"] = str(_l("Use 1–64 lower-case letters, digits, '-' or '_'."))
    elif find_category(session, key) is not None:
        problems["key"] = str(_l("This key exists already."))
    cleaned = _check_name(name)
    if cleaned is None:
        problems["name"] = str(_l("Enter a name of at most %(n)d characters.", n=120))
    if problems:
        raise ValidationError(problems)
    category = Category(key=key, name=cleaned, active=True)
    session.add(category)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="category.created",
        entity_type="category",
        entity_id=category.id,
        entity_label=key,
        after={"key": key, "name": cleaned},
    )
    return category


def update_category(
    session: Session,
    category: Category,
    *,
    name: str,
    active: bool,
    actor: User | None,
    at: datetime,
) -> Category:
    """Rename or (de)activate a category; its key never changes (imports refer to it)."""
    cleaned = _check_name(name)
    if cleaned is None:
        raise ValidationError({"name": str(_l("Enter a name of at most %(n)d characters.", n=120))})
    before = {"name": category.name, "active": category.active}
    category.name, category.active = cleaned, active
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="category.updated",
        entity_type="category",
        entity_id=category.id,
        entity_label=category.key,
        before=before,
        after={"name": cleaned, "active": active},
    )
    return category
