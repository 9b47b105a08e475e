"""Resolution performance over the complaints received in a window: hours to first response
and to the first resolution, SLA compliance, reopen rate and first-contact resolution.

The first resolution is the earliest ``status_changed`` → ``resolved`` entry of the timeline
(``resolved_at`` as a fallback for a complaint without one); its actor is who resolved it.
One query fetches a few columns per complaint of the window (no ORM objects): its times,
whether it was reopened and whether a clock is breached (both decided in SQL, as
``complaints/queues.breached_condition`` says), and a second query their resolve entries,
of which the first per complaint is picked in Python. The counts, percentiles and the
local-day test are taken from those rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, or_, select
from sqlalchemy.orm import Session, aliased

from ..complaints.dashboard import percentile_cont
from ..complaints.models import Complaint, ComplaintEvent, ComplaintStatus, EventKind
from ..complaints.queues import breached_condition

HOUR = 3600.0


@dataclass(frozen=True)
class ResolutionFigures:
    """Complaint counts and resolution measures of one window."""

    complaints: int
    resolved: int  # resolved at least once
    reopened: int  # of those, reopened afterwards
    first_contact: int  # of those, resolved first contact
    decided: int  # resolved, or breached on some clock
    met: int  # decided and no clock breached
    first_response_median_h: float | None
    first_response_p90_h: float | None
    resolution_median_h: float | None
    resolution_p90_h: float | None

    @property
    def sla_compliance(self) -> float | None:
        """Decided complaints that met every clock ÷ decided complaints × 100."""
        return self.met / self.decided * 100 if self.decided else None

    @property
    def reopen_rate(self) -> float | None:
        """Resolved complaints reopened later ÷ resolved complaints × 100."""
        return self.reopened / self.resolved * 100 if self.resolved else None

    @property
    def fcr_rate(self) -> float | None:
        """Resolved first contact ÷ resolved complaints × 100."""
        return self.first_contact / self.resolved * 100 if self.resolved else None


def _is_resolve(event: Any) -> ColumnElement[bool]:
    return and_(
        event.kind == EventKind.STATUS_CHANGED,
        event.data["to"].as_string() == ComplaintStatus.RESOLVED.value,
    )


def _first_resolutions(
    session: Session, conditions: Sequence[ColumnElement[bool]]
) -> dict[int, tuple[datetime, int, int | None]]:
    """complaint id → (at, id, actor) of its first resolve entry (by time, then id), over the
    complaints matching ``conditions``: one query for their resolve entries, the first picked
    here (a join to a ranked subquery made SQLite rescan it for every complaint)."""
    event = aliased(ComplaintEvent)
    rows = session.execute(
        select(event.complaint_id, event.at, event.id, event.actor_id).where(
            _is_resolve(event), event.complaint_id.in_(select(Complaint.id).where(*conditions))
        )
    )
    first: dict[int, tuple[datetime, int, int | None]] = {}
    for complaint_id, at, event_id, actor_id in rows:
        seen = first.get(complaint_id)
        if seen is None or (at, event_id) < (seen[0], seen[1]):
            first[complaint_id] = (at, event_id, actor_id)
    return first


class _Outcome(NamedTuple):
    received_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None  # the first resolution
    created_by_id: int | None
    resolver_id: int | None
    reopened: int
    breached: int


def _reopened() -> ColumnElement[bool]:
    event = aliased(ComplaintEvent)
    return or_(
        Complaint.reopen_count > 0,
        Complaint.id.in_(select(event.complaint_id).where(event.kind == EventKind.REOPENED)),
    )


def _hours(later: datetime | None, earlier: datetime) -> float | None:
    return None if later is None else (later - earlier).total_seconds() / HOUR


def _first_contact(row: _Outcome, resolved_at: datetime, zone: ZoneInfo) -> bool:
    """Resolved by the agent who logged it, on the local day of receipt, never reopened."""
    return (
        row.created_by_id is not None
        and row.created_by_id == row.resolver_id
        and not row.reopened
        and resolved_at.astimezone(zone).date() == row.received_at.astimezone(zone).date()
    )


def _quantiles(values: Sequence[float]) -> tuple[float | None, float | None]:
    return percentile_cont(values, 0.5), percentile_cont(values, 0.9)


def resolution_figures(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    *,
    now: datetime,
    zone: ZoneInfo,
) -> ResolutionFigures:
    """Resolution measures over the complaints matching ``conditions`` (window and filters).

    Outcomes are judged as they stand at ``now``: a complaint received in the window and
    resolved after it counts as resolved; a clock is breached as ``sla.sla_status`` says.
    """
    first = _first_resolutions(session, conditions)
    rows = []
    for row in session.execute(
        select(
            Complaint.id,
            Complaint.received_at,
            Complaint.first_response_at,
            Complaint.resolved_at,
            Complaint.created_by_id,
            case((_reopened(), 1), else_=0),
            case((breached_condition(now), 1), else_=0),
        ).where(*conditions)
    ):
        (
            complaint_id,
            received_at,
            first_response_at,
            resolved_at,
            created_by,
            reopened,
            breached,
        ) = row
        resolve = first.get(complaint_id)
        rows.append(
            _Outcome(
                received_at,
                first_response_at,
                resolve[0] if resolve else resolved_at,
                created_by,
                resolve[2] if resolve else None,
                reopened,
                breached,
            )
        )
    # Resolved at least once: a resolve entry, or resolved_at for a complaint without one.
    resolved_rows = [r for r in rows if r.resolved_at is not None]
    first_response = [
        h for r in rows if (h := _hours(r.first_response_at, r.received_at)) is not None
    ]
    resolution = [(r.resolved_at - r.received_at).total_seconds() / HOUR for r in resolved_rows]
    first_contact = sum(1 for r in resolved_rows if _first_contact(r, r.resolved_at, zone))
    decided = sum(1 for r in rows if r.resolved_at is not None or r.breached)
    breached_n = sum(r.breached for r in rows)
    return ResolutionFigures(
        complaints=len(rows),
        resolved=len(resolved_rows),
        reopened=sum(r.reopened for r in resolved_rows),
        first_contact=first_contact,
        decided=decided,
        met=decided - breached_n,
        first_response_median_h=_quantiles(first_response)[0],
        first_response_p90_h=_quantiles(first_response)[1],
        resolution_median_h=_quantiles(resolution)[0],
        resolution_p90_h=_quantiles(resolution)[1],
    )
