"""One customer's observed path through the journey, aggregated in SQL.

Consecutive events (in ``(occurred_at, id)`` order) form the transitions; ``LAG`` over the
customer's events pairs each event with the one before it, and ``GROUP BY`` counts the
pairs, so a customer with 100,000 events costs one row per distinct transition. A repeat
of the same touchpoint is a further visit, not a transition (as in the churn attribution,
which collapses repeats).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..journey.map_svg import PathEdge
from ..journey.models import Touchpoint
from .models import Customer, JourneyEvent


@dataclass(frozen=True)
class PathVisit:
    key: str
    name: str
    visits: int
    first_at: datetime
    archived: bool


@dataclass(frozen=True)
class PathStep:
    source_key: str
    source_name: str
    target_key: str
    target_name: str
    count: int


@dataclass(frozen=True)
class CustomerPath:
    visits: list[PathVisit]  # by first visit
    steps: list[PathStep]  # most taken first

    @property
    def visit_counts(self) -> dict[str, int]:
        return {v.key: v.visits for v in self.visits}

    @property
    def edges(self) -> list[PathEdge]:
        return [PathEdge(s.source_key, s.target_key, s.count) for s in self.steps]


def _transition_counts(session: Session, customer_id: int) -> list[tuple[int, int, int]]:
    previous = func.lag(JourneyEvent.touchpoint_id).over(
        order_by=(JourneyEvent.occurred_at, JourneyEvent.id)
    )
    steps = (
        select(previous.label("source"), JourneyEvent.touchpoint_id.label("target"))
        .where(JourneyEvent.customer_id == customer_id)
        .subquery()
    )
    rows = session.execute(
        select(steps.c.source, steps.c.target, func.count())
        .where(steps.c.source.is_not(None), steps.c.source != steps.c.target)
        .group_by(steps.c.source, steps.c.target)
    )
    return [(int(s), int(t), int(n)) for s, t, n in rows]


def _visit_counts(session: Session, customer_id: int) -> list[tuple[int, int, datetime]]:
    rows = session.execute(
        select(JourneyEvent.touchpoint_id, func.count(), func.min(JourneyEvent.occurred_at))
        .where(JourneyEvent.customer_id == customer_id)
        .group_by(JourneyEvent.touchpoint_id)
    )
    return [(int(tp), int(n), first) for tp, n, first in rows]


def customer_path(session: Session, customer: Customer) -> CustomerPath:
    """The touchpoints the customer visited (with counts) and the transitions they took."""
    visit_rows = _visit_counts(session, customer.id)
    step_rows = _transition_counts(session, customer.id)
    ids = {tp for tp, _n, _first in visit_rows}
    touchpoints = {
        tp.id: tp for tp in session.scalars(select(Touchpoint).where(Touchpoint.id.in_(ids)))
    }
    visits = sorted(
        (
            PathVisit(
                touchpoints[tp].key,
                touchpoints[tp].name,
                n,
                first,
                touchpoints[tp].archived,
            )
            for tp, n, first in visit_rows
        ),
        key=lambda v: (v.first_at, v.key),
    )
    steps = sorted(
        (
            PathStep(
                touchpoints[s].key,
                touchpoints[s].name,
                touchpoints[t].key,
                touchpoints[t].name,
                n,
            )
            for s, t, n in step_rows
        ),
        key=lambda st: (-st.count, st.source_name, st.target_name),
    )
    return CustomerPath(visits, steps)
