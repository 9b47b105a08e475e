"""Queues and the team-lead dashboard: who holds what, what is late, how fast we answer.

Filters, sorting and counts run in SQL. The SLA state "breached" is a pure SQL condition
(the same rules as ``sla.sla_status``); "at risk" needs the business calendar, so it is
worked out in Python on plain columns of the rows that SQL could not rule out. Dashboard
figures are SQL aggregates; medians are taken in Python over durations pulled as plain
columns, never over ORM objects.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, case, false, func, not_, null, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..auth.models import Team, User
from ..auth.permissions import Permission, can
from ..errors import Conflict, ValidationError
from ..extensions import begin_real_transaction
from ..journey.models import Touchpoint
from .lifecycle import assign_complaint
from .models import Complaint, ComplaintStatus, Severity, SlaPolicy
from .routing import OPEN_STATUSES, team_agents
from .services import Settings, visible_to
from .sla import SlaState, SlaStatus, sla_status

PER_PAGE = 50
WINDOW = timedelta(days=30)
DONE_STATUSES = (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED)


class AgeBand(enum.StrEnum):
    """Time since receipt: [0, 1 d), [1 d, 3 d), [3 d, 7 d), 7 d and more."""

    UNDER_1D = "lt1d"
    D1_TO_3 = "1-3d"
    D3_TO_7 = "3-7d"
    OVER_7D = "gt7d"

    @property
    def bounds(self) -> tuple[timedelta, timedelta | None]:
        return _BAND_BOUNDS[self]


_BAND_BOUNDS: dict[AgeBand, tuple[timedelta, timedelta | None]] = {
    AgeBand.UNDER_1D: (timedelta(0), timedelta(days=1)),
    AgeBand.D1_TO_3: (timedelta(days=1), timedelta(days=3)),
    AgeBand.D3_TO_7: (timedelta(days=3), timedelta(days=7)),
    AgeBand.OVER_7D: (timedelta(days=7), None),
}


class SortKey(enum.StrEnum):
    RECEIVED = "received"
    SEVERITY = "severity"
    DUE = "due"
    STATUS = "status"
    ASSIGNEE = "assignee"

    @property
    def default_descending(self) -> bool:
        """Newest and most severe first; the most urgent due and lifecycle order ascending."""
        return self in (SortKey.RECEIVED, SortKey.SEVERITY)


@dataclass(frozen=True)
class Sort:
    key: SortKey = SortKey.DUE
    descending: bool = False


@dataclass(frozen=True)
class QueueFilter:
    """What a queue shows. Empty ``statuses`` means every status."""

    team_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    statuses: tuple[ComplaintStatus, ...] = ()
    sla_state: SlaState | None = None
    touchpoint_key: str | None = None
    age_band: AgeBand | None = None


@dataclass(frozen=True)
class QueueRow:
    complaint: Complaint
    sla: SlaStatus
    next_due_at: datetime | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def may_choose_team(user: User) -> bool:
    """Whoever manages teams (admins) may look at any team's queue; team leads see their own."""
    return can(user, Permission.MANAGE_TEAMS)


# --- SQL building blocks --------------------------------------------------------------------


def _clock_reached(due: Any, now: datetime) -> ColumnElement[bool]:
    """The clock's own "now" (a paused complaint stands at its pause) has reached ``due``."""
    return or_(
        and_(Complaint.paused_since.is_(None), due <= now),
        and_(Complaint.paused_since.is_not(None), due <= Complaint.paused_since),
    )


def _done_clock_breached(
    due: Any, done_at: Any, breached_at: Any, now: datetime
) -> ColumnElement[bool]:
    return or_(
        breached_at.is_not(None),
        and_(
            due.is_not(None),
            or_(
                and_(done_at.is_not(None), done_at > due),
                and_(done_at.is_(None), _clock_reached(due, now)),
            ),
        ),
    )


def breached_condition(now: datetime) -> ColumnElement[bool]:
    """SQL: some clock of the complaint is breached at ``now`` (as ``sla.sla_status`` says)."""
    first_response = _done_clock_breached(
        Complaint.first_response_due_at,
        Complaint.first_response_at,
        Complaint.first_response_breached_at,
        now,
    )
    next_update = or_(
        Complaint.next_update_breached_at.is_not(None),
        and_(
            Complaint.status.not_in(DONE_STATUSES),
            Complaint.next_update_due_at.is_not(None),
            _clock_reached(Complaint.next_update_due_at, now),
        ),
    )
    resolution = _done_clock_breached(
        Complaint.resolution_due_at,
        Complaint.resolved_at,
        Complaint.resolution_breached_at,
        now,
    )
    # Without a policy there are no clocks, whatever the columns say (as in sla_status).
    return and_(Complaint.sla_policy_id.is_not(None), or_(first_response, next_update, resolution))


def _earlier(a: Any, b: Any) -> Any:
    """The earlier of two nullable times (NULL only when both are): LEAST differs by engine."""
    return case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)


def open_dues() -> list[Any]:
    """SQL: the due times of the clocks still running (NULL where a clock is done)."""
    return [
        case(
            (Complaint.first_response_at.is_(None), Complaint.first_response_due_at), else_=null()
        ),
        case((Complaint.status.in_(DONE_STATUSES), null()), else_=Complaint.next_update_due_at),
        case((Complaint.resolved_at.is_(None), Complaint.resolution_due_at), else_=null()),
    ]


def next_due_expression() -> Any:
    first, update, resolution = open_dues()
    return _earlier(_earlier(first, update), resolution)


def next_due_at(complaint: Any) -> datetime | None:
    """The earliest due time among the complaint's running clocks (Python twin of the SQL)."""
    dues = [
        complaint.first_response_due_at if complaint.first_response_at is None else None,
        None if complaint.status in DONE_STATUSES else complaint.next_update_due_at,
        complaint.resolution_due_at if complaint.resolved_at is None else None,
    ]
    return min((d for d in dues if d is not None), default=None)


def age_condition(band: AgeBand, now: datetime) -> ColumnElement[bool]:
    low, high = band.bounds
    conditions = [Complaint.received_at <= now - low]
    if high is not None:
        conditions.append(Complaint.received_at > now - high)
    return and_(*conditions)


def filter_conditions(flt: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    """SQL conditions for everything in ``flt`` except the SLA states that need Python."""
    conditions: list[ColumnElement[bool]] = []
    if flt.team_id is not None:
        conditions.append(Complaint.team_id == flt.team_id)
    if flt.unassigned:
        conditions.append(Complaint.assignee_id.is_(None))
    elif flt.assignee_id is not None:
        conditions.append(Complaint.assignee_id == flt.assignee_id)
    if flt.statuses:
        conditions.append(Complaint.status.in_(flt.statuses))
    if flt.touchpoint_key:
        conditions.append(
            Complaint.touchpoint_id.in_(
                select(Touchpoint.id).where(Touchpoint.key == flt.touchpoint_key)
            )
        )
    if flt.age_band is not None:
        conditions.append(age_condition(flt.age_band, now))
    if flt.sla_state is SlaState.BREACHED:
        conditions.append(breached_condition(now))
    elif flt.sla_state is not None:
        conditions.append(not_(breached_condition(now)))
    return conditions


def _rank(column: Any, members: Sequence[enum.Enum]) -> Any:
    return case(*((column == m, i) for i, m in enumerate(members)), else_=len(members))


def order_by(sort: Sort, *, open_first: bool = False) -> list[Any]:
    """ORDER BY for a whitelisted sort; empty values (no due, nobody) always come last."""
    keys: list[Any] = []
    if open_first:
        keys.append(case((Complaint.status.in_(OPEN_STATUSES), 0), else_=1))

    def directed(expression: Any) -> Any:
        return expression.desc() if sort.descending else expression.asc()

    if sort.key is SortKey.RECEIVED:
        keys.append(directed(Complaint.received_at))
    elif sort.key is SortKey.SEVERITY:
        keys.append(directed(_rank(Complaint.severity, list(Severity))))
    elif sort.key is SortKey.STATUS:
        keys.append(directed(_rank(Complaint.status, list(ComplaintStatus))))
    elif sort.key is SortKey.DUE:
        due = next_due_expression()
        keys += [case((due.is_(None), 1), else_=0), directed(due)]
    elif sort.key is SortKey.ASSIGNEE:
        name = select(User.name).where(User.id == Complaint.assignee_id).scalar_subquery()
        keys += [case((Complaint.assignee_id.is_(None), 1), else_=0), directed(name)]
    keys += [Complaint.received_at.desc(), Complaint.id.desc()]
    return keys


# --- SLA state on plain columns ---------------------------------------------------------------


SLA_FACT_COLUMNS = (
    Complaint.id,
    Complaint.status,
    Complaint.sla_policy_id,
    Complaint.paused_since,
    Complaint.first_response_due_at,
    Complaint.first_response_at,
    Complaint.first_response_breached_at,
    Complaint.next_update_due_at,
    Complaint.next_update_breached_at,
    Complaint.resolution_due_at,
    Complaint.resolved_at,
    Complaint.resolution_breached_at,
)


@dataclass(frozen=True)
class _SlaFacts:
    """The columns ``sla.sla_status`` reads, without loading the complaint."""

    status: ComplaintStatus
    sla_policy: SlaPolicy | None
    paused_since: datetime | None
    first_response_due_at: datetime | None
    first_response_at: datetime | None
    first_response_breached_at: datetime | None
    next_update_due_at: datetime | None
    next_update_breached_at: datetime | None
    resolution_due_at: datetime | None
    resolved_at: datetime | None
    resolution_breached_at: datetime | None


def load_policies(session: Session, ids: Iterable[int | None]) -> dict[int, SlaPolicy]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(SlaPolicy).where(SlaPolicy.id.in_(wanted)))}


def sla_status_of_row(
    row: Any, policies: dict[int, SlaPolicy], calendar: Any, now: datetime
) -> SlaStatus:
    facts = _SlaFacts(
        status=row.status,
        sla_policy=policies.get(row.sla_policy_id) if row.sla_policy_id else None,
        paused_since=row.paused_since,
        first_response_due_at=row.first_response_due_at,
        first_response_at=row.first_response_at,
        first_response_breached_at=row.first_response_breached_at,
        next_update_due_at=row.next_update_due_at,
        next_update_breached_at=row.next_update_breached_at,
        resolution_due_at=row.resolution_due_at,
        resolved_at=row.resolved_at,
        resolution_breached_at=row.resolution_breached_at,
    )
    return sla_status(cast(Complaint, facts), calendar, now)


# --- queues -----------------------------------------------------------------------------------


def list_queue(
    session: Session,
    flt: QueueFilter,
    sort: Sort,
    *,
    viewer: User,
    calendar: Any,
    now: datetime,
    page: int = 1,
    per_page: int = PER_PAGE,
    open_first: bool = False,
) -> QueuePage:
    """One page of the complaints ``viewer`` may see that match ``flt``, in ``sort`` order.

    A page past the end shows the last page.
    """
    conditions = [visible_to(viewer), *filter_conditions(flt, now)]
    ordering = order_by(sort, open_first=open_first)
    page = max(page, 1)
    if flt.sla_state in (SlaState.OK, SlaState.AT_RISK):
        # At risk needs the calendar: judge the rows SQL could not rule out, in order.
        rows = session.execute(select(*SLA_FACT_COLUMNS).where(*conditions).order_by(*ordering))
        rows_list = rows.all()
        policies = load_policies(session, (r.sla_policy_id for r in rows_list))
        ids = [
            r.id
            for r in rows_list
            if sla_status_of_row(r, policies, calendar, now).overall is flt.sla_state
        ]
        total = len(ids)
        page = min(page, max(1, -(-total // per_page)))
        page_ids = ids[(page - 1) * per_page : page * per_page]
        found = {
            c.id: c
            for c in session.scalars(
                select(Complaint)
                .where(Complaint.id.in_(page_ids))
                .options(selectinload(Complaint.sla_policy))
            )
        }
        complaints = [found[i] for i in page_ids]
    else:
        total = session.scalar(select(func.count()).select_from(Complaint).where(*conditions)) or 0
        page = min(page, max(1, -(-total // per_page)))
        complaints = list(
            session.scalars(
                select(Complaint)
                .where(*conditions)
                .order_by(*ordering)
                .offset((page - 1) * per_page)
                .limit(per_page)
                .options(selectinload(Complaint.sla_policy))
            )
        )
    rows_out = [QueueRow(c, sla_status(c, calendar, now), next_due_at(c)) for c in complaints]
    return QueuePage(rows=rows_out, total=total, page=page, per_page=per_page)


def my_queue(
    session: Session, user: User, *, calendar: Any, now: datetime, page: int = 1
) -> QueuePage:
    """The complaints assigned to ``user``: open ones first, the most urgent on top."""
    return list_queue(
        session,
        QueueFilter(assignee_id=user.id),
        Sort(SortKey.DUE),
        viewer=user,
        calendar=calendar,
        now=now,
        page=page,
        open_first=True,
    )


def team_assignees(session: Session, team: Team) -> list[User]:
    """Who may appear in the team queue's assignee filter: the team's active agents and
    anyone who currently holds one of its complaints."""
    holders = select(Complaint.assignee_id).where(
        Complaint.team_id == team.id, Complaint.assignee_id.is_not(None)
    )
    agents = {u.id for u in team_agents(session, team)}
    return list(
        session.scalars(
            select(User)
            .where(or_(User.id.in_(agents) if agents else false(), User.id.in_(holders)))
            .order_by(User.name, User.id)
        )
    )


# --- bulk reassign ----------------------------------------------------------------------------


@dataclass
class ReassignOutcome:
    """References by outcome; ``rejected`` counts rows that were not in the team's queue."""

    moved: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    rejected: int = 0


def reassign_complaints(
    session: Session,
    *,
    team: Team,
    items: Sequence[tuple[int, int | None]],
    assignee: User | None,
    actor: User,
    at: datetime,
    settings: Settings | None = None,
) -> ReassignOutcome:
    """Give each complaint (id, the version the actor saw) to ``assignee`` (None: the team
    queue). A complaint changed since is left alone and reported; the others proceed. The
    caller commits once.

    Raises ValidationError (field ``assignee``) unless the assignee is an active agent of
    ``team``.
    """
    if assignee is not None and assignee.id not in {u.id for u in team_agents(session, team)}:
        raise ValidationError({"assignee": str(_l("Choose an active agent of the team."))})
    versions = dict(items)
    complaints = list(
        session.scalars(
            select(Complaint)
            .where(
                Complaint.id.in_(list(versions)),
                Complaint.team_id == team.id,
                visible_to(actor),
            )
            .order_by(Complaint.id)
        )
    )
    outcome = ReassignOutcome(rejected=len(versions) - len(complaints))
    begin_real_transaction(session)
    for complaint in complaints:
        reference = complaint.reference or str(complaint.id)
        expected = versions[complaint.id]
        if expected is None:
            outcome.rejected += 1
            continue
        try:
            with session.begin_nested():
                event = assign_complaint(
                    session,
                    complaint,
                    team=team,
                    assignee=assignee,
                    actor=actor,
                    at=at,
                    expected_version=expected,
                    settings=settings,
                )
        except (Conflict, StaleDataError):
            outcome.stale.append(reference)
        except ValidationError:
            outcome.rejected += 1
        else:
            (outcome.moved if event is not None else outcome.unchanged).append(reference)
    return outcome
