"""A small per-process cache for rendered page fragments that are costly and shared by all.

Keys carry a *revision* read from the database on every request, so every worker process
sees a change at once without any cross-process messaging: the journey's revision is the
newest audit-log id, because every change to users, teams and the journey writes an
audit entry in the same transaction (tests hold that invariant), and the log is
append-only, so its newest id never comes back. A time limit (60 s) bounds how long
anything changed outside the app (by hand in SQL), or a rare race between two concurrent
commits whose ids arrive out of order, can stay visible.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit.models import AuditLog

V = TypeVar("V")


class RenderCache(Generic[V]):
    """Least-recently-used, thread-safe, with a time limit per entry."""

    def __init__(self, max_entries: int = 64, max_age_seconds: float = 60.0) -> None:
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds

    def get_or_create(self, key: Hashable, create: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.max_age_seconds:
                self._entries.move_to_end(key)
                return hit[1]
        value = create()  # outside the lock: rendering may take a while
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def journey_revision(session: Session) -> tuple[int, str]:
    """Changes whenever users, teams, stages, touchpoints or transitions change.

    The newest entry's time rides along, so an id that comes back after the demo loader
    emptied every table (SQLite reuses ids) still makes a new revision.
    """
    row = session.execute(
        select(AuditLog.id, AuditLog.at).order_by(AuditLog.id.desc()).limit(1)
    ).first()
    return (0, "") if row is None else (int(row.id), row.at.isoformat())
