"""The team-lead dashboard: age bands, breaches, workload, response and resolution times, SLA
compliance for the last 30 days beside the 30 days before. SQL aggregates only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, false, func, or_, select
from sqlalchemy.orm import Session

from ..auth.models import Role, Team, User
from .models import Complaint
from .queues import (
    WINDOW,
    AgeBand,
    age_condition,
    breached_condition,
    open_dues,
)
from .routing import OPEN_STATUSES

# --- dashboard --------------------------------------------------------------------------------


def percentile_cont(values: Sequence[float], q: float) -> float | None:
    """``percentile_cont`` as in SQL: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass(frozen=True)
class WindowFigures:
    """Complaints received in ``[start, end)``."""

    start: datetime
    end: datetime
    received: int
    first_response_median_h: float | None
    resolution_median_h: float | None
    decided: int
    met: int

    @property
    def sla_compliance(self) -> float | None:
        return self.met / self.decided * 100 if self.decided else None


@dataclass(frozen=True)
class AgentLoad:
    user: User | None  # None: the team queue (nobody assigned)
    open: int
    breached: int


@dataclass(frozen=True)
class Dashboard:
    team: Team | None  # None: every team
    now: datetime
    age_bands: dict[AgeBand, int]
    open_total: int
    breached: int
    due_today: int
    workload: list[AgentLoad]
    unassigned: AgentLoad
    current: WindowFigures
    previous: WindowFigures


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def end_of_local_day(now: datetime, timezone: str) -> datetime:
    tz = ZoneInfo(timezone)
    tomorrow = now.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=tz).astimezone(now.tzinfo)


def _window(
    session: Session,
    scope: list[ColumnElement[bool]],
    start: datetime,
    end: datetime,
    now: datetime,
) -> WindowFigures:
    in_window = [*scope, Complaint.received_at >= start, Complaint.received_at < end]
    breached = breached_condition(now)
    received, decided, breached_count = session.execute(
        select(
            func.count(),
            _sum(or_(Complaint.resolved_at.is_not(None), breached)),
            _sum(breached),
        ).where(*in_window)
    ).one()
    durations = session.execute(
        select(Complaint.received_at, Complaint.first_response_at, Complaint.resolved_at).where(
            *in_window,
            or_(Complaint.first_response_at.is_not(None), Complaint.resolved_at.is_not(None)),
        )
    ).all()

    def hours(later: datetime | None, earlier: datetime) -> float | None:
        return None if later is None else (later - earlier).total_seconds() / 3600

    first = [h for r in durations if (h := hours(r.first_response_at, r.received_at)) is not None]
    resolution = [h for r in durations if (h := hours(r.resolved_at, r.received_at)) is not None]
    return WindowFigures(
        start=start,
        end=end,
        received=int(received),
        first_response_median_h=percentile_cont(first, 0.5),
        resolution_median_h=percentile_cont(resolution, 0.5),
        decided=int(decided),
        met=int(decided) - int(breached_count),
    )


def dashboard(session: Session, *, team: Team | None, now: datetime, timezone: str) -> Dashboard:
    """The team lead's figures for ``team`` (None: every team) at ``now``."""
    scope: list[ColumnElement[bool]] = [] if team is None else [Complaint.team_id == team.id]
    is_open = Complaint.status.in_(OPEN_STATUSES)
    breached = breached_condition(now)
    day_end = end_of_local_day(now, timezone)
    due_today = or_(*(due < day_end for due in open_dues()))
    band_sums = [_sum(age_condition(band, now)) for band in AgeBand]
    counts = session.execute(
        select(func.count(), _sum(breached), _sum(due_today), *band_sums).where(*scope, is_open)
    ).one()
    open_total, breached_total, due_total, *bands = (int(v) for v in counts)

    loads = {
        assignee_id: (int(n), int(b))
        for assignee_id, n, b in session.execute(
            select(Complaint.assignee_id, func.count(), _sum(breached))
            .where(*scope, is_open)
            .group_by(Complaint.assignee_id)
        )
    }
    agents = select(User.id).where(User.active.is_(True), User.role == Role.AGENT)
    if team is not None:
        agents = agents.where(User.team_id == team.id)
    holders = [i for i in loads if i is not None]
    users = session.scalars(
        select(User).where(or_(User.id.in_(agents), User.id.in_(holders) if holders else false()))
    ).all()
    workload = sorted(
        (AgentLoad(u, *loads.get(u.id, (0, 0))) for u in users),
        key=lambda a: (
            -a.open,
            -a.breached,
            a.user.name if a.user else "",
            a.user.id if a.user else 0,
        ),
    )
    return Dashboard(
        team=team,
        now=now,
        age_bands=dict(zip(AgeBand, bands, strict=True)),
        open_total=open_total,
        breached=breached_total,
        due_today=due_total,
        workload=workload,
        unassigned=AgentLoad(None, *loads.get(None, (0, 0))),
        current=_window(session, scope, now - WINDOW, now, now),
        previous=_window(session, scope, now - 2 * WINDOW, now - WINDOW, now),
    )
