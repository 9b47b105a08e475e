"""Routing rules and SLA policies as plain values, read once and shared by a process's requests.

Every intake reads all active routing rules and the SLA policies; both are small tables an
admin changes now and then. Each process keeps one snapshot of them:

* it is dropped at once when this process flushes a change to a rule, a policy, a team or a
  user (a session event, so changes made by services, forms, the CLI and tests all count);
* it is read again after ``MAX_AGE_SECONDS`` in any case, so a change made by another worker
  or node takes effect here within that time.

Routing's dynamic parts (whose turn it is in a round robin, who has the fewest open
complaints) are never cached: they are read or taken in the database on every intake.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, lazyload

from ..auth.models import Team, User
from ..journey.models import Channel
from .models import AssignmentStrategy, RoutingRule, Severity, SlaPolicy

MAX_AGE_SECONDS = 2.0


@dataclass(frozen=True)
class TeamRef:
    id: int
    name: str


@dataclass(frozen=True)
class RuleRef:
    """What routing reads of a rule (the conditions and where it sends a complaint)."""

    id: int
    name: str
    priority: int
    touchpoint_id: int | None
    stage_id: int | None
    category_id: int | None
    channel: Channel | None
    min_severity: Severity | None
    segment: str | None
    team: TeamRef
    user_id: int | None
    strategy: AssignmentStrategy

    @property
    def team_id(self) -> int:
        return self.team.id


@dataclass(frozen=True)
class PolicyRef:
    """An SLA policy's conditions and targets."""

    id: int
    name: str
    severity: Severity
    touchpoint_id: int | None
    stage_id: int | None
    segment: str | None
    first_response_minutes: int
    next_update_minutes: int
    resolution_minutes: int
    business_hours: bool
    warning_percent: int
    active: bool


@dataclass(frozen=True)
class IntakeTables:
    rules: tuple[RuleRef, ...]  # active rules of active teams, in priority order
    policies: dict[int, PolicyRef]  # every policy (complaints keep inactive ones too)


class _Snapshot:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[Any, tuple[float, IntakeTables]] = {}

    def get(self, session: Session) -> IntakeTables:
        key = session.get_bind().url  # one snapshot per database
        now = time.monotonic()
        with self._lock:
            hit = self._tables.get(key)
        if hit is not None and now - hit[0] < MAX_AGE_SECONDS:
            return hit[1]
        tables = _load(session)
        with self._lock:
            self._tables[key] = (now, tables)
        return tables

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()


SNAPSHOT = _Snapshot()


def intake_tables(session: Session) -> IntakeTables:
    return SNAPSHOT.get(session)


def _load(session: Session) -> IntakeTables:
    rows = session.execute(
        select(RoutingRule, Team.name)
        .join(Team, RoutingRule.team_id == Team.id)
        .where(RoutingRule.active.is_(True), Team.active.is_(True))
        .order_by(RoutingRule.priority, RoutingRule.id)
        .options(lazyload("*"))
    ).all()
    rules = tuple(
        RuleRef(
            id=rule.id,
            name=rule.name,
            priority=rule.priority,
            touchpoint_id=rule.touchpoint_id,
            stage_id=rule.stage_id,
            category_id=rule.category_id,
            channel=rule.channel,
            min_severity=rule.min_severity,
            segment=rule.segment,
            team=TeamRef(rule.team_id, team_name),
            user_id=rule.user_id,
            strategy=rule.strategy,
        )
        for rule, team_name in rows
    )
    policies = {
        p.id: PolicyRef(
            id=p.id,
            name=p.name,
            severity=p.severity,
            touchpoint_id=p.touchpoint_id,
            stage_id=p.stage_id,
            segment=p.segment,
            first_response_minutes=p.first_response_minutes,
            next_update_minutes=p.next_update_minutes,
            resolution_minutes=p.resolution_minutes,
            business_hours=p.business_hours,
            warning_percent=p.warning_percent,
            active=p.active,
        )
        for p in session.scalars(select(SlaPolicy).options(lazyload("*")))
    }
    return IntakeTables(rules=rules, policies=policies)


_WATCHED = (RoutingRule, SlaPolicy, Team, User)


@event.listens_for(Session, "after_flush")
def _drop_on_change(session: Session, _context: Any) -> None:
    """A rule, policy, team or user was written here: the next intake reads them afresh.

    Dropped at the flush (this transaction routes by what it just wrote) and again when the
    transaction ends (a request that read the tables in between read the state before).
    """
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, _WATCHED):
            session.info["intake_tables_changed"] = True
            SNAPSHOT.clear()
            return


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _drop_at_end(session: Session, *_args: Any) -> None:
    if session.info.pop("intake_tables_changed", False):
        SNAPSHOT.clear()
