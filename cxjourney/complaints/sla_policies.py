"""SLA policy administration: list, read, create and change policies, with validation and audit.

Which policy applies to a complaint, and how its clocks run, lives in ``sla.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.services import record_audit
from ..auth.models import User
from ..errors import NotFound, ValidationError
from ..journey.models import Stage, Touchpoint
from .models import Severity, SlaPolicy

NAME_MAX = 120
SEGMENT_MAX = 64
MAX_TARGET_MINUTES = 525_600  # one year
TARGETS = ("first_response_minutes", "next_update_minutes", "resolution_minutes")


@dataclass(frozen=True)
class PolicyInput:
    name: str
    severity: Severity | None
    first_response_minutes: int | None
    next_update_minutes: int | None
    resolution_minutes: int | None
    touchpoint: Touchpoint | None = None
    stage: Stage | None = None
    segment: str | None = None
    business_hours: bool = True
    warning_percent: int | None = 80
    active: bool = True


def _specificity(policy: SlaPolicy) -> int:
    return (
        4 * (policy.touchpoint_id is not None)
        + 2 * (policy.stage_id is not None)
        + (policy.segment is not None)
    )


def list_policies(session: Session) -> list[SlaPolicy]:
    """Every policy: most severe first, then from the general to the specific, then by name."""
    policies = session.scalars(select(SlaPolicy)).all()
    return sorted(
        policies,
        key=lambda p: (-p.severity.rank, _specificity(p), p.name.casefold(), p.id),
    )


def get_policy(session: Session, policy_id: int) -> SlaPolicy:
    policy = session.get(SlaPolicy, policy_id)
    if policy is None:
        raise NotFound(str(_l("No such SLA policy.")))
    return policy


def policy_snapshot(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "severity": policy.severity.value,
        "touchpoint": policy.touchpoint.key if policy.touchpoint else None,
        "stage": policy.stage.key if policy.stage else None,
        "segment": policy.segment,
        "first_response_minutes": policy.first_response_minutes,
        "next_update_minutes": policy.next_update_minutes,
        "resolution_minutes": policy.resolution_minutes,
        "business_hours": policy.business_hours,
        "warning_percent": policy.warning_percent,
        "active": policy.active,
    }


def _whole_number(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _same_scope(
    session: Session, policy: SlaPolicy | None, data: PolicyInput, segment: str | None
) -> SlaPolicy | None:
    """Another active policy for the same severity and scope: it would shadow or be shadowed."""
    query = select(SlaPolicy).where(
        SlaPolicy.active.is_(True),
        SlaPolicy.severity == data.severity,
        SlaPolicy.touchpoint_id.is_(None)
        if data.touchpoint is None
        else SlaPolicy.touchpoint_id == data.touchpoint.id,
        SlaPolicy.stage_id.is_(None) if data.stage is None else SlaPolicy.stage_id == data.stage.id,
        SlaPolicy.segment.is_(None) if segment is None else SlaPolicy.segment == segment,
    )
    if policy is not None and policy.id is not None:
        query = query.where(SlaPolicy.id != policy.id)
    return session.scalars(query.order_by(SlaPolicy.id)).first()


def _check_policy(
    session: Session, policy: SlaPolicy | None, data: PolicyInput
) -> tuple[dict[str, str], str, str | None]:
    problems: dict[str, str] = {}
    name = " ".join((data.name or "").split())
    if not name or len(name) > NAME_MAX:
        problems["name"] = str(_l("Enter a name of at most %(n)d characters.", n=NAME_MAX))
    if not isinstance(data.severity, Severity):
        problems["severity"] = str(_l("Choose the severity."))
    segment = " ".join((data.segment or "").split()) or None
    if segment is not None and len(segment) > SEGMENT_MAX:
        problems["segment"] = str(_l("Use at most %(n)d characters.", n=SEGMENT_MAX))
    if (
        data.touchpoint is not None
        and data.stage is not None
        and data.touchpoint.stage_id != data.stage.id
    ):
        problems["stage"] = str(
            _l(
                "Touchpoint %(name)s is in another stage: this policy would never apply.",
                name=data.touchpoint.name,
            )
        )
    for target in TARGETS:
        if not _whole_number(getattr(data, target), 1, MAX_TARGET_MINUTES):
            problems[target] = str(_l("Enter whole minutes from 1 to %(n)d.", n=MAX_TARGET_MINUTES))
    if not _whole_number(data.warning_percent, 1, 100):
        problems["warning_percent"] = str(_l("Enter a whole percentage from 1 to 100."))
    if data.active and "severity" not in problems and "stage" not in problems:
        other = _same_scope(session, policy, data, segment)
        if other is not None:
            problems["severity"] = str(
                _l(
                    "The active policy %(name)s already covers this severity and scope.",
                    name=other.name,
                )
            )
    return problems, name, segment


def save_policy(
    session: Session,
    policy: SlaPolicy | None,
    data: PolicyInput,
    *,
    actor: User | None,
    at: datetime,
) -> SlaPolicy:
    """Create (policy=None) or change an SLA policy. Raises ValidationError naming bad fields.

    Open complaints keep the due times already set; the new targets apply from the next
    calculation on (intake, a change of severity, the next reply).
    """
    problems, name, segment = _check_policy(session, policy, data)
    if problems:
        raise ValidationError(problems)
    before = policy_snapshot(policy) if policy is not None else None
    if policy is None:
        policy = SlaPolicy(created_at=at)
        session.add(policy)
    policy.name = name
    policy.severity = data.severity  # type: ignore[assignment]
    policy.touchpoint = data.touchpoint
    policy.stage = data.stage
    policy.segment = segment
    policy.first_response_minutes = data.first_response_minutes  # type: ignore[assignment]
    policy.next_update_minutes = data.next_update_minutes  # type: ignore[assignment]
    policy.resolution_minutes = data.resolution_minutes  # type: ignore[assignment]
    policy.business_hours = data.business_hours
    policy.warning_percent = data.warning_percent  # type: ignore[assignment]
    policy.active = data.active
    policy.updated_at = at
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="sla_policy.updated" if before else "sla_policy.created",
        entity_type="sla_policy",
        entity_id=policy.id,
        entity_label=policy.name,
        before=before,
        after=policy_snapshot(policy),
    )
    return policy
