"""The churn population of a window and its paths, aggregated in SQL.

DESIGN.md, "Passing a touchpoint" and "Markov churn attribution": a customer's events in
the window (narrowed by ``channel`` and ``segment``), in event order (time, then id), cut
after their ``churned_at`` and before their first event at an exit touchpoint, with
consecutive repeats collapsed, form their path START → … → CHURN (churned in the window)
or STAY. The churn population is every customer with at least one such event.

One window pass per query marks every event with three window functions over the
customer's events – how many exit events came up to it, the touchpoint before it, whether
the next one is an exit or there is none – so that the kept events are a prefix of each
customer's events, and a collapsed path's steps are exactly the consecutive pairs of kept
events whose touchpoints differ. Only counts reach Python: transitions, per-touchpoint
visits and churned customers, the lifetime value at risk per touchpoint. Nothing is loaded
row by row; the number of queries is fixed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, distinct, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from ..customers.models import Customer, CustomerValue, JourneyEvent, ValueKind
from ..journey.models import Touchpoint
from .kpis import KpiFilters
from .populations import CENT, count_where
from .windows import Window, value_cutoff

EVENTS = JourneyEvent.__table__
CUSTOMERS = Customer.__table__
TOUCHPOINTS = Touchpoint.__table__


@dataclass(frozen=True)
class ChurnPaths:
    """The aggregated paths of a window's churn population (touchpoints by id)."""

    customers: int  # the churn population
    churned: int  # of them, churned in the window
    starts: dict[int, int] = field(default_factory=dict)  # START → touchpoint
    steps: dict[tuple[int, int], int] = field(default_factory=dict)  # touchpoint → touchpoint
    # touchpoint → (paths ending there in CHURN, paths ending there in STAY)
    ends: dict[int, tuple[int, int]] = field(default_factory=dict)
    visits: dict[int, int] = field(default_factory=dict)  # customers who passed it
    churned_visits: dict[int, int] = field(default_factory=dict)  # of them churned
    value_at_risk: dict[int, Decimal] = field(default_factory=dict)  # their CLV at the end

    @property
    def churn_rate(self) -> float | None:
        """The journey-wide churn rate: churned ÷ population × 100."""
        return self.churned / self.customers * 100 if self.customers else None


def kept_events(window: Window, filters: KpiFilters) -> Subquery:
    """Every event of the window that counts for churn, with the customer's churn flag,
    the touchpoint before it, whether it is the customer's last kept event, and the event's
    ``occurred_at`` and ``id`` (its place in event order)."""
    order = (EVENTS.c.occurred_at, EVENTS.c.id)
    customer = EVENTS.c.customer_id
    is_exit = case((TOUCHPOINTS.c.exit.is_(True), 1), else_=0)
    churned = case(
        (
            and_(CUSTOMERS.c.churned_at >= window.start, CUSTOMERS.c.churned_at < window.end),
            1,
        ),
        else_=0,
    )
    conditions = [
        EVENTS.c.occurred_at >= window.start,
        EVENTS.c.occurred_at < window.end,
        or_(CUSTOMERS.c.churned_at.is_(None), EVENTS.c.occurred_at <= CUSTOMERS.c.churned_at),
    ]
    if filters.channel is not None:
        conditions.append(EVENTS.c.channel == filters.channel)
    if filters.segment is not None:
        conditions.append(CUSTOMERS.c.segment == filters.segment)
    marked = (
        select(
            customer.label("customer_id"),
            EVENTS.c.touchpoint_id,
            churned.label("churned"),
            func.sum(is_exit)
            .over(partition_by=customer, order_by=order, rows=(None, 0))
            .label("exits_so_far"),
            func.lag(EVENTS.c.touchpoint_id)
            .over(partition_by=customer, order_by=order)
            .label("previous_id"),
            # 1 when the next event is an exit or there is none: the last kept event.
            func.lead(is_exit, 1, 1).over(partition_by=customer, order_by=order).label("next_exit"),
            # The event order itself, for callers that aggregate a path in order (paths.py).
            EVENTS.c.occurred_at,
            EVENTS.c.id,
        )
        .select_from(
            EVENTS.join(TOUCHPOINTS, TOUCHPOINTS.c.id == EVENTS.c.touchpoint_id).join(
                CUSTOMERS, CUSTOMERS.c.id == customer
            )
        )
        .where(*conditions)
        .subquery("marked")
    )
    return select(marked).where(marked.c.exits_so_far == 0).subquery("kept")


def lifetime_values(window: Window, zone: ZoneInfo) -> Subquery:
    """Per customer with value records: the lifetime value at the window's end."""
    signed = case(
        (CustomerValue.kind == ValueKind.REVENUE, CustomerValue.amount),
        else_=-CustomerValue.amount,
    )
    return (
        select(CustomerValue.customer_id, func.sum(signed).label("clv"))
        .where(CustomerValue.occurred_on < value_cutoff(window.end, zone))
        .group_by(CustomerValue.customer_id)
        .subquery("clv")
    )


def _cents(value: Any) -> Decimal:
    """A summed amount as exact cents (SQLite sums NUMERIC as floating point)."""
    return Decimal(str(value or 0)).quantize(CENT)


def churn_paths(
    session: Session, window: Window, filters: KpiFilters, *, zone: ZoneInfo
) -> ChurnPaths:
    """The churn population of ``window`` and its aggregated paths. Four queries.

    ``segment`` and ``channel`` narrow the events; ``touchpoint`` and ``stage`` are
    ignored (paths are always the whole journey's).
    """
    kept = kept_events(window, filters)
    starts = {
        int(tp): int(n)
        for tp, n in session.execute(
            select(kept.c.touchpoint_id, func.count())
            .where(kept.c.previous_id.is_(None))
            .group_by(kept.c.touchpoint_id)
        )
    }
    steps = {
        (int(a), int(b)): int(n)
        for a, b, n in session.execute(
            select(kept.c.previous_id, kept.c.touchpoint_id, func.count())
            .where(kept.c.previous_id.is_not(None), kept.c.previous_id != kept.c.touchpoint_id)
            .group_by(kept.c.previous_id, kept.c.touchpoint_id)
        )
    }
    ends: dict[int, tuple[int, int]] = {}
    visits: dict[int, int] = {}
    churned_visits: dict[int, int] = {}
    # One statement for the ends and the visits: kind 0 rows are ends, kind 1 visits.
    ends_query: Select[Any] = (
        select(
            literal(0).label("kind"),
            kept.c.touchpoint_id,
            count_where(kept.c.churned == 1).label("churned"),
            count_where(kept.c.churned == 0).label("other"),
        )
        .where(kept.c.next_exit == 1)
        .group_by(kept.c.touchpoint_id)
    )
    visits_query: Select[Any] = select(
        literal(1).label("kind"),
        kept.c.touchpoint_id,
        func.count(distinct(case((kept.c.churned == 1, kept.c.customer_id)))).label("churned"),
        func.count(distinct(kept.c.customer_id)).label("other"),
    ).group_by(kept.c.touchpoint_id)
    for kind, tp, churned_n, other_n in session.execute(ends_query.union_all(visits_query)):
        if int(kind) == 0:
            ends[int(tp)] = (int(churned_n), int(other_n))
        else:
            visits[int(tp)] = int(other_n)
            churned_visits[int(tp)] = int(churned_n)
    clv = lifetime_values(window, zone)
    passed = (
        select(kept.c.customer_id, kept.c.touchpoint_id)
        .where(kept.c.churned == 1)
        .distinct()
        .subquery("passed")
    )
    at_risk = {
        int(tp): _cents(total)
        for tp, total in session.execute(
            select(passed.c.touchpoint_id, func.sum(clv.c.clv))
            .select_from(passed.join(clv, clv.c.customer_id == passed.c.customer_id))
            .group_by(passed.c.touchpoint_id)
        )
    }
    return ChurnPaths(
        customers=sum(a + b for a, b in ends.values()),
        churned=sum(a for a, _ in ends.values()),
        starts=starts,
        steps=steps,
        ends=ends,
        visits=visits,
        churned_visits=churned_visits,
        value_at_risk=at_risk,
    )


def value_at_risk_of_groups(
    session: Session,
    window: Window,
    filters: KpiFilters,
    groups: list[Collection[int]],
    *,
    zone: ZoneInfo,
) -> list[Decimal]:
    """For each group of touchpoints: the summed lifetime value at the window's end of the
    churned customers who passed any of them, each customer once. One query."""
    if not groups:
        return []
    kept = kept_events(window, filters)
    clv = lifetime_values(window, zone)
    group_of = case(
        *(
            (kept.c.touchpoint_id.in_(sorted(members)), index)
            for index, members in enumerate(groups)
            if members
        ),
        else_=None,
    )
    # A touchpoint belongs to one group at most (clusters are disjoint).
    passed = (
        select(kept.c.customer_id, group_of.label("group_index"))
        .where(kept.c.churned == 1)
        .distinct()
        .subquery("passed")
    )
    totals = dict(
        session.execute(
            select(passed.c.group_index, func.sum(clv.c.clv))
            .select_from(passed.join(clv, clv.c.customer_id == passed.c.customer_id))
            .where(passed.c.group_index.is_not(None))
            .group_by(passed.c.group_index)
        ).all()
    )
    return [_cents(totals.get(index)) for index in range(len(groups))]
