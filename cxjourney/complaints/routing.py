"""Routing: which team (and possibly which agent) a new complaint goes to, and why.

The first active rule in priority order whose conditions all hold decides. No rule →
the touchpoint's owner team (team queue); no owner → the configured triage team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from ..audit.services import record_audit
from ..auth.models import Role, Team, User
from ..auth.services import find_team_by_name
from ..errors import Conflict, NotFound, ValidationError
from ..journey.models import Channel, Touchpoint
from .intake_tables import RuleRef, TeamRef, intake_tables
from .models import (
    AssignmentStrategy,
    Category,
    Complaint,
    ComplaintStatus,
    RoutingRule,
    Severity,
)

OPEN_STATUSES = (
    ComplaintStatus.NEW,
    ComplaintStatus.IN_PROGRESS,
    ComplaintStatus.WAITING_ON_CUSTOMER,
)


@dataclass(frozen=True)
class RoutingInput:
    touchpoint: Touchpoint
    category: Category | None
    channel: Channel
    severity: Severity
    segment: str | None


@dataclass(frozen=True)
class RoutingDecision:
    team: TeamRef
    assignee: User | None
    rule: RuleRef | None
    reason: str  # "rule", "owner" or "triage"

    @property
    def routed_by(self) -> str:
        """The API's ``routed_by``: which rule decided, or which fallback."""
        if self.rule is not None:
            return f"rule:{self.rule.id}:{self.rule.name}"[:200]
        return self.reason


def rule_matches(rule: RoutingRule | RuleRef, attrs: RoutingInput) -> bool:
    if rule.touchpoint_id is not None and rule.touchpoint_id != attrs.touchpoint.id:
        return False
    if rule.stage_id is not None and rule.stage_id != attrs.touchpoint.stage_id:
        return False
    if rule.category_id is not None and (
        attrs.category is None or rule.category_id != attrs.category.id
    ):
        return False
    if rule.channel is not None and rule.channel != attrs.channel:
        return False
    if rule.min_severity is not None and attrs.severity.rank < rule.min_severity.rank:
        return False
    return rule.segment is None or rule.segment == attrs.segment


def list_rules(session: Session) -> list[RoutingRule]:
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.priority, RoutingRule.id)))


def get_rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(str(_l("No such routing rule.")))
    return rule


def matching_rule(session: Session, attrs: RoutingInput) -> RuleRef | None:
    """The first active rule of an active team whose conditions hold (from the snapshot)."""
    rules = intake_tables(session).rules
    return next((rule for rule in rules if rule_matches(rule, attrs)), None)


def team_agents(session: Session, team: Team | TeamRef) -> list[User]:
    """Active agents of a team, in a stable order (round robin walks this list)."""
    return list(
        session.scalars(
            select(User)
            .where(User.team_id == team.id, User.active.is_(True), User.role == Role.AGENT)
            .order_by(User.id)
        )
    )


def _least_loaded(session: Session, team: TeamRef) -> User | None:
    """The active agent with the fewest open complaints (ties: the lowest id), in one query."""
    open_count = (
        select(func.count())
        .where(Complaint.assignee_id == User.id, Complaint.status.in_(OPEN_STATUSES))
        .correlate(User)
        .scalar_subquery()
    )
    return session.scalar(
        select(User)
        .where(User.team_id == team.id, User.active.is_(True), User.role == Role.AGENT)
        .order_by(open_count, User.id)
        .limit(1)
    )


def _next_in_turn(agents: list[User], last_id: int | None) -> User | None:
    if not agents:
        return None
    later = [a for a in agents if last_id is not None and a.id > last_id]
    return later[0] if later else agents[0]


def _round_robin(session: Session, rule: RuleRef, *, commit_turn: bool) -> User | None:
    if not commit_turn:
        last = session.scalar(select(RoutingRule.last_assignee_id).where(RoutingRule.id == rule.id))
        return _next_in_turn(team_agents(session, rule.team), last)
    # Whose turn it is, taken in one atomic statement: the next active agent of the team
    # after the previous one (wrapping around). On PostgreSQL it runs in a short transaction
    # of its own, so parallel intakes on any worker or node never wait for each other's
    # commit; an intake that fails afterwards only skips a turn.
    agent = aliased(User)

    def next_agent(after: Any) -> Any:
        return (
            select(func.min(agent.id))
            .where(
                agent.team_id == RoutingRule.team_id,
                agent.active.is_(True),
                agent.role == Role.AGENT,
                agent.id > after,
            )
            .scalar_subquery()
        )

    statement = (
        update(RoutingRule)
        .where(RoutingRule.id == rule.id)
        .values(
            last_assignee_id=func.coalesce(
                next_agent(func.coalesce(RoutingRule.last_assignee_id, 0)), next_agent(0)
            )
        )
        .returning(RoutingRule.last_assignee_id)
    )
    bind = session.get_bind()
    row = None
    if bind.dialect.name == "postgresql":
        with bind.begin() as connection:  # type: ignore[union-attr]
            row = connection.execute(statement).first()
    if row is None:  # SQLite (one writer at a time anyway), or a rule not yet committed
        row = session.execute(statement.execution_options(synchronize_session=False)).first()
    chosen_id = row[0] if row is not None else None
    loaded = session.identity_map.get(identity_key(RoutingRule, rule.id))
    if loaded is not None:
        session.expire(loaded, ["last_assignee_id"])
    return session.get(User, chosen_id) if chosen_id is not None else None


def _assignee(session: Session, rule: RuleRef, *, commit_turn: bool) -> User | None:
    if rule.user_id is not None:
        user = session.get(User, rule.user_id)
        if user is not None and user.active and user.team_id == rule.team_id:
            return user
    if rule.strategy is AssignmentStrategy.ROUND_ROBIN:
        return _round_robin(session, rule, commit_turn=commit_turn)
    if rule.strategy is AssignmentStrategy.LEAST_LOADED:
        return _least_loaded(session, rule.team)
    return None


def decide(
    session: Session, attrs: RoutingInput, *, triage_team: str | None, commit_turn: bool = True
) -> RoutingDecision:
    """Where a complaint with these attributes goes.

    ``commit_turn=False`` is the preview: it tells whose turn it would be without taking it.
    Raises Conflict when nothing matches, the touchpoint has no owner and no triage team exists.
    """
    rule = matching_rule(session, attrs)
    if rule is not None:
        return RoutingDecision(
            rule.team, _assignee(session, rule, commit_turn=commit_turn), rule, "rule"
        )
    owner = attrs.touchpoint.owner_team
    if owner is not None and owner.active:
        return RoutingDecision(TeamRef(owner.id, owner.name), None, None, "owner")
    triage = find_team_by_name(session, triage_team) if triage_team else None
    if triage is None or not triage.active:
        raise Conflict(
            str(_l("No rule matches, the touchpoint has no owner and no triage team is set up."))
        )
    return RoutingDecision(TeamRef(triage.id, triage.name), None, None, "triage")


# --- rule administration ------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInput:
    name: str
    priority: int
    team: Team | None
    active: bool = True
    touchpoint: Touchpoint | None = None
    stage_id: int | None = None
    category: Category | None = None
    channel: Channel | None = None
    min_severity: Severity | None = None
    segment: str | None = None
    user: User | None = None
    strategy: AssignmentStrategy = AssignmentStrategy.TEAM_QUEUE


def _rule_snapshot(rule: RoutingRule) -> dict[str, object]:
    return {
        "name": rule.name,
        "priority": rule.priority,
        "active": rule.active,
        "touchpoint": rule.touchpoint.key if rule.touchpoint else None,
        "stage": rule.stage.key if rule.stage else None,
        "category": rule.category.key if rule.category else None,
        "channel": rule.channel.value if rule.channel else None,
        "min_severity": rule.min_severity.value if rule.min_severity else None,
        "segment": rule.segment,
        "team": rule.team.name if rule.team else None,
        "user": rule.user.email if rule.user else None,
        "strategy": rule.strategy.value,
    }


def _check_rule(data: RuleInput) -> dict[str, str]:
    problems: dict[str, str] = {}
    name = " ".join((data.name or "").split())
    if not name or len(name) > 120:
        problems["name"] = str(_l("Enter a name of at most %(n)d characters.", n=120))
    if not 0 <= data.priority <= 1_000_000:
        problems["priority"] = str(_l("Expected a whole number from 0 to %(n)d.", n=1_000_000))
    if data.team is None:
        problems["team"] = str(_l("Choose a team."))
    elif not data.team.active:
        problems["team"] = str(_l("This team is deactivated."))
    if data.user is not None and (data.team is None or data.user.team_id != data.team.id):
        problems["user"] = str(_l("The person must belong to the target team."))
    if data.segment is not None and len(data.segment) > 64:
        problems["segment"] = str(_l("Use at most %(n)d characters.", n=64))
    return problems


def save_rule(
    session: Session,
    rule: RoutingRule | None,
    data: RuleInput,
    *,
    actor: User | None,
    at: datetime,
) -> RoutingRule:
    """Create (rule=None) or change a routing rule. Raises ValidationError naming bad fields."""
    if problems := _check_rule(data):
        raise ValidationError(problems)
    before = _rule_snapshot(rule) if rule is not None else None
    if rule is None:
        rule = RoutingRule(created_at=at)
        session.add(rule)
    rule.name = " ".join(data.name.split())
    rule.priority = data.priority
    rule.active = data.active
    rule.touchpoint = data.touchpoint
    rule.stage_id = data.stage_id
    rule.category = data.category
    rule.channel = data.channel
    rule.min_severity = data.min_severity
    rule.segment = data.segment or None
    rule.team = data.team  # type: ignore[assignment]
    rule.user = data.user
    rule.strategy = data.strategy
    rule.updated_at = at
    session.flush()
    session.refresh(rule)
    record_audit(
        session,
        actor=actor,
        at=at,
        action="routing_rule.updated" if before else "routing_rule.created",
        entity_type="routing_rule",
        entity_id=rule.id,
        entity_label=rule.name,
        before=before,
        after=_rule_snapshot(rule),
    )
    return rule
