"""Paths to churn: the most frequent collapsed paths of the churn population's customers
with one outcome, and the repeat-contact loops of a window.

A customer's path is the one of DESIGN.md's "Markov churn attribution" – their kept events
(``churn_paths.kept_events``: the window's events narrowed by ``segment`` and ``channel``,
cut after ``churned_at`` and before the first exit event) in event order (time, then id),
consecutive repeats collapsed – without START and the absorbing state. The outcome is
``churn`` when ``churned_at`` falls in the window and ``stay`` otherwise.

Everything is aggregated in SQL: each customer's path becomes one text (the touchpoint keys
joined by ``>``), which is grouped and counted, so only the listed (path, count) rows reach
Python – at most ``limit`` of them. Loops count each customer's collapsed visits per
touchpoint and group those with three or more per touchpoint. Three queries whatever the
data.

``touchpoint`` and ``stage`` select what is listed: the paths that contain a selected
touchpoint and the loops of selected touchpoints. ``customers`` and the shares stay those of
the whole outcome population (as the journey-wide values of the touchpoint report do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from ..errors import ValidationError
from .churn_paths import TOUCHPOINTS, kept_events
from .kpis import KpiFilters
from .populations import count_where
from .windows import Window

Outcome = Literal["churn", "stay"]
OUTCOMES: tuple[Outcome, ...] = ("churn", "stay")
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
# A touchpoint visited this often in one collapsed path is a repeat-contact loop.
LOOP_VISITS = 3
# Touchpoint keys are slugs (journey.services.KEY_PATTERN: [a-z0-9][a-z0-9_-]*), so they
# never contain ">": joined paths split back into their keys exactly.
SEPARATOR = ">"

OUTCOME_PROBLEM = _l("Choose churn or stay.")
LIMIT_PROBLEM = _l("Give a whole number from 1 to 100.")


@dataclass(frozen=True)
class PathRow:
    touchpoints: tuple[str, ...]  # keys, in event order
    count: int  # customers with the outcome who took exactly this path
    share: float | None  # of the customers with the outcome, 0–100


@dataclass(frozen=True)
class LoopRow:
    key: str
    customers: int  # customers whose collapsed path visits it LOOP_VISITS times or more
    churned: int  # of them, churned in the window
    churn_rate: float  # churned ÷ customers × 100 (customers is never 0 here)


@dataclass(frozen=True)
class PathsReport:
    window: Window
    outcome: Outcome
    customers: int  # the churn population's customers with the outcome
    paths: tuple[PathRow, ...]  # by count desc, then the path (keys joined by ">", bytewise)
    loops: tuple[LoopRow, ...]  # by customers desc, then key


def _selected(filters: KpiFilters) -> ColumnElement[bool] | None:
    """Whether a touchpoint row is selected by ``touchpoint``/``stage`` (None: no filter)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.touchpoint_id is not None:
        conditions.append(TOUCHPOINTS.c.id == filters.touchpoint_id)
    if filters.stage_id is not None:
        conditions.append(TOUCHPOINTS.c.stage_id == filters.stage_id)
    return and_(*conditions) if conditions else None


def _is_visit(kept: Subquery) -> ColumnElement[bool]:
    """A kept event that starts a collapsed visit: the first, or a new touchpoint."""
    return or_(kept.c.previous_id.is_(None), kept.c.previous_id != kept.c.touchpoint_id)


def _customer_paths(
    session: Session, kept: Subquery, churned: int, selected: ColumnElement[bool] | None
) -> Subquery:
    """One row per customer with the outcome: their path as text and whether it contains a
    selected touchpoint (1/0)."""
    separator = literal_column(f"'{SEPARATOR}'")
    flag = case((selected, 1), else_=0) if selected is not None else literal_column("1")
    visits = (
        select(
            kept.c.customer_id,
            kept.c.previous_id,
            kept.c.occurred_at,
            kept.c.id,
            TOUCHPOINTS.c.key,
            flag.label("selected"),
        )
        .select_from(kept.join(TOUCHPOINTS, TOUCHPOINTS.c.id == kept.c.touchpoint_id))
        .where(kept.c.churned == churned, _is_visit(kept))
        .subquery("visits")
    )
    if session.get_bind().dialect.name == "postgresql":
        # string_agg with an ORDER BY inside the call: ordered as documented.
        return (
            select(
                func.string_agg(visits.c.key, separator)
                .aggregate_order_by(visits.c.occurred_at, visits.c.id)
                .label("path"),
                func.max(visits.c.selected).label("selected"),
            )
            .group_by(visits.c.customer_id)
            .subquery("customer_paths")
        )
    # SQLite before 3.44 has no ORDER BY inside group_concat, and the order of a plain
    # group_concat is documented as arbitrary. As a window function over an ordered frame it
    # concatenates in frame order (sqlite.org/windowfunctions.html); the frame is the whole
    # partition, so every row carries the full path and the first visit is kept.
    whole = {"partition_by": visits.c.customer_id}
    ordered = select(
        visits.c.previous_id,
        func.group_concat(visits.c.key, separator)
        .over(**whole, order_by=(visits.c.occurred_at, visits.c.id), rows=(None, None))
        .label("path"),
        func.max(visits.c.selected).over(**whole).label("selected"),
    ).subquery("ordered_paths")
    return (
        select(ordered.c.path, ordered.c.selected)
        .where(ordered.c.previous_id.is_(None))
        .subquery("customer_paths")
    )


def _path_order(session: Session, path: Any) -> Any:
    # Byte order on both databases (PostgreSQL's default collation may be a locale's).
    return path.collate("C") if session.get_bind().dialect.name == "postgresql" else path


def check_paths_args(*, outcome: str, limit: int) -> None:
    """Raises ValidationError naming ``outcome`` or ``limit`` when out of range."""
    problems: dict[str, str] = {}
    if outcome not in OUTCOMES:
        problems["outcome"] = str(OUTCOME_PROBLEM)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        problems["limit"] = str(LIMIT_PROBLEM)
    if problems:
        raise ValidationError(problems)


def paths_report(
    session: Session,
    window: Window,
    filters: KpiFilters,
    *,
    outcome: Outcome = "churn",
    limit: int = DEFAULT_LIMIT,
) -> PathsReport:
    """The ``limit`` most frequent paths of the customers with ``outcome`` and every
    touchpoint's repeat-contact loop of ``window``. Three queries.

    ``segment`` and ``channel`` narrow the events; ``touchpoint`` and ``stage`` select the
    paths (those containing a selected touchpoint) and loops listed.

    Raises ValidationError naming ``outcome`` or ``limit`` (1–100).
    """
    check_paths_args(outcome=outcome, limit=limit)
    kept = kept_events(window, KpiFilters(segment=filters.segment, channel=filters.channel))
    churned = 1 if outcome == "churn" else 0
    selected = _selected(filters)

    # The last kept event is one row per customer of the churn population.
    customers = int(
        session.scalar(select(func.count()).where(kept.c.next_exit == 1, kept.c.churned == churned))
        or 0
    )

    per_customer = _customer_paths(session, kept, churned, selected)
    count = func.count().label("count")
    paths_query: Select[Any] = select(per_customer.c.path, count)
    if selected is not None:
        paths_query = paths_query.where(per_customer.c.selected == 1)
    paths_query = (
        paths_query.group_by(per_customer.c.path)
        .order_by(count.desc(), _path_order(session, per_customer.c.path))
        .limit(limit)
    )
    paths = tuple(
        PathRow(
            touchpoints=tuple(str(path).split(SEPARATOR)),
            count=int(n),
            share=int(n) / customers * 100 if customers else None,
        )
        for path, n in session.execute(paths_query)
    )

    loops_per_customer = (
        select(kept.c.customer_id, kept.c.touchpoint_id, kept.c.churned)
        .where(_is_visit(kept))
        .group_by(kept.c.customer_id, kept.c.touchpoint_id, kept.c.churned)
        .having(func.count() >= LOOP_VISITS)
        .subquery("looped")
    )
    looped = func.count().label("customers")
    loops_query: Select[Any] = (
        select(
            TOUCHPOINTS.c.key,
            looped,
            count_where(loops_per_customer.c.churned == 1).label("churned"),
        )
        .select_from(
            loops_per_customer.join(
                TOUCHPOINTS, TOUCHPOINTS.c.id == loops_per_customer.c.touchpoint_id
            )
        )
        .where(selected if selected is not None else true())
        .group_by(TOUCHPOINTS.c.key)
        .order_by(looped.desc(), _path_order(session, TOUCHPOINTS.c.key))
    )
    loops = tuple(
        LoopRow(
            key=key,
            customers=int(n),
            churned=int(lost),
            churn_rate=int(lost) / int(n) * 100,
        )
        for key, n, lost in session.execute(loops_query)
    )
    return PathsReport(
        window=window, outcome=outcome, customers=customers, paths=paths, loops=loops
    )
