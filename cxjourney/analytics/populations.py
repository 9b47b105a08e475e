"""Customer-population measures of a window: churn, retention, referral, lifetime value.

They honour the ``segment`` filter only (touchpoint, stage and channel do not narrow a
customer population). Every figure is an SQL aggregate; no customer is loaded. All figures
of a report's windows (counts, active counts at every churn point, lifetime values) come
from one pass over the customers joined to their value records summed per customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from ..customers.models import Customer, CustomerValue, ValueKind
from .windows import Window, churn_points, value_cutoff

# Points per query when counting active customers (one SUM(CASE …) column each).
POINTS_PER_QUERY = 100
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PopulationFigures:
    """Counts and values of the customer population (narrowed by segment) for one window."""

    churned: int
    acquired: int
    referred: int
    active_start: int
    active_end: int
    # Sum of the active counts over the churn points, and how many points there are.
    active_point_sum: int
    points: int
    clv_customers: int  # acquired before the window end
    clv_total: Decimal  # their summed lifetime value at the window end
    value_at_risk: Decimal  # summed lifetime value at the end of those who churned in it

    @property
    def churn_rate(self) -> float | None:
        """Churned in the window ÷ mean active count over the churn points × 100."""
        if self.active_point_sum == 0:
            return None
        return self.churned / (self.active_point_sum / self.points) * 100

    @property
    def retention_rate(self) -> float | None:
        """(active at end − acquired in window) ÷ active at start × 100."""
        if self.active_start == 0:
            return None
        return (self.active_end - self.acquired) / self.active_start * 100

    @property
    def referral_rate(self) -> float | None:
        """Acquired in the window with a referrer ÷ acquired in the window × 100."""
        return self.referred / self.acquired * 100 if self.acquired else None

    @property
    def clv_mean(self) -> float | None:
        """Mean lifetime value at the window end over customers acquired before it."""
        if self.clv_customers == 0:
            return None
        return float(self.clv_total / Decimal(self.clv_customers))


def count_where(condition: ColumnElement[bool]) -> Any:
    # COUNT(*) FILTER (WHERE …): cheaper per row than SUM(CASE …) on PostgreSQL; SQLite
    # has it since 3.30.
    return func.count().filter(condition)


def active_at(moment: datetime) -> ColumnElement[bool]:
    """Active at t: acquired before t and not churned before t (churned at t is active)."""
    return and_(
        Customer.acquired_at < moment,
        or_(Customer.churned_at.is_(None), Customer.churned_at >= moment),
    )


def _segment(segment: str | None) -> ColumnElement[bool]:
    return true() if segment is None else Customer.segment == segment


def _cents(value: Any) -> Decimal:
    """A summed amount as exact cents (SQLite sums NUMERIC as floating point)."""
    return Decimal(str(value or 0)).quantize(CENT)


def _values_per_customer(cutoffs: Sequence[date]) -> Any:
    """SQL: per customer with value records, Σ revenue − Σ cost of the records dated before
    each cutoff (column ``v<i>`` for ``cutoffs[i]``; NULL when none is)."""
    signed = case(
        (CustomerValue.kind == ValueKind.REVENUE, CustomerValue.amount),
        else_=-CustomerValue.amount,
    )
    return (
        select(
            CustomerValue.customer_id,
            *(
                func.sum(case((CustomerValue.occurred_on < cutoff, signed), else_=None)).label(
                    f"v{i}"
                )
                for i, cutoff in enumerate(cutoffs)
            ),
        )
        .group_by(CustomerValue.customer_id)
        .subquery()
    )


def population_figures_of(
    session: Session, windows: Sequence[Window], *, segment: str | None, zone: ZoneInfo
) -> list[PopulationFigures]:
    """``population_figures`` of several windows at once, in one pass over the customers
    (joined to their value records summed per customer): every count, the active counts at
    all churn points (points shared between windows are counted once) and the lifetime
    values."""
    cutoffs = sorted({value_cutoff(window.end, zone) for window in windows})
    values = _values_per_customer(cutoffs)
    counted: list[ColumnElement[Any]] = []
    for window in windows:
        churned_in = and_(Customer.churned_at >= window.start, Customer.churned_at < window.end)
        acquired_in = and_(Customer.acquired_at >= window.start, Customer.acquired_at < window.end)
        value = values.c[f"v{cutoffs.index(value_cutoff(window.end, zone))}"]
        counted += [
            count_where(churned_in),
            count_where(acquired_in),
            count_where(and_(acquired_in, Customer.referred_by_id.is_not(None))),
            count_where(Customer.acquired_at < window.end),
            func.sum(case((Customer.acquired_at < window.end, value), else_=None)),
            func.sum(case((churned_in, value), else_=None)),
        ]
    points_of = [churn_points(window, zone) for window in windows]
    moments = sorted({t for points in points_of for t in points})
    columns = [*counted, *(count_where(active_at(t)) for t in moments)]
    sums: list[Any] = []
    for first in range(0, len(columns), POINTS_PER_QUERY):
        sums.extend(
            session.execute(
                select(*columns[first : first + POINTS_PER_QUERY])
                .select_from(Customer)
                .outerjoin(values, values.c.customer_id == Customer.id)
                .where(_segment(segment))
            ).one()
        )
    active = dict(zip(moments, (int(v) for v in sums[len(counted) :]), strict=True))
    figures = []
    for index, points in enumerate(points_of):
        churned, acquired, referred, clv_customers, clv_total, at_risk = sums[
            6 * index : 6 * index + 6
        ]
        counts = [active[t] for t in points]
        figures.append(
            PopulationFigures(
                churned=int(churned),
                acquired=int(acquired),
                referred=int(referred),
                active_start=counts[0],
                active_end=counts[-1],
                active_point_sum=sum(counts),
                points=len(points),
                clv_customers=int(clv_customers),
                clv_total=_cents(clv_total),
                value_at_risk=_cents(at_risk),
            )
        )
    return figures


def population_figures(
    session: Session, window: Window, *, segment: str | None, zone: ZoneInfo
) -> PopulationFigures:
    """Churn, retention, referral and lifetime-value figures of ``window``."""
    return population_figures_of(session, [window], segment=segment, zone=zone)[0]
