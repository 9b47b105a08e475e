"""Edit and read the journey map: stages, touchpoints, designed transitions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from ..audit.services import record_audit
from ..auth.models import Team, User
from ..auth.permissions import Permission, can
from ..errors import Conflict, NotFound, ValidationError
from .graph import JourneyValidation, NodeInfo, build_graph, validate_graph
from .models import Channel, Stage, Touchpoint, Transition

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NAME_MAX = 120
DESCRIPTION_MAX = 5000


def check_key(key: str) -> str | None:
    """The problem with a key (slug), or None when it is fine."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        return str(
            _l("Use 1–64 lower-case letters, digits, '-' or '_', starting with a letter or digit.")
        )
    return None


def check_name(name: Any, max_length: int = NAME_MAX) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return str(_l("This field is required."))
    if len(name.strip()) > max_length:
        return str(_l("Use at most %(n)d characters.", n=max_length))
    return None


# --- snapshots for the audit log ----------------------------------------------------------


def stage_snapshot(stage: Stage) -> dict[str, Any]:
    return {"key": stage.key, "name": stage.name, "position": stage.position}


def touchpoint_snapshot(tp: Touchpoint) -> dict[str, Any]:
    return {
        "key": tp.key,
        "name": tp.name,
        "stage": tp.stage.key,
        "description": tp.description,
        "channel": tp.channel.value if tp.channel else None,
        "owner_team": tp.owner_team.name if tp.owner_team else None,
        "manager": tp.manager.email if tp.manager else None,
        "exit": tp.exit,
        "archived": tp.archived,
    }


def _audit(
    session: Session,
    actor: User | None,
    at: datetime,
    action: str,
    entity_type: str,
    entity_id: int | None,
    label: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record_audit(
        session,
        actor=actor,
        at=at,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        entity_label=label,
        before=before,
        after=after,
    )


# --- stages ------------------------------------------------------------------------------


def list_stages(session: Session) -> list[Stage]:
    return list(session.scalars(select(Stage).order_by(Stage.position, Stage.id)))


def get_stage(session: Session, stage_id: int) -> Stage:
    stage = session.get(Stage, stage_id)
    if stage is None:
        raise NotFound(str(_l("No such stage.")))
    return stage


def find_stage_by_key(session: Session, key: str) -> Stage | None:
    return session.scalar(select(Stage).where(Stage.key == key))


def create_stage(
    session: Session, *, key: str, name: str, actor: User | None, at: datetime
) -> Stage:
    """Add a stage as the last lane. Raises ValidationError on a bad or taken key or name."""
    problems = {}
    if problem := check_key(key):
        problems["key"] = problem
    elif find_stage_by_key(session, key) is not None:
        problems["key"] = str(_l("A stage with this key exists already."))
    if problem := check_name(name):
        problems["name"] = problem
    if problems:
        raise ValidationError(problems)
    last = session.scalar(select(func.max(Stage.position)))
    stage = Stage(key=key, name=name.strip(), position=(last or 0) + 1)
    session.add(stage)
    session.flush()
    _audit(
        session,
        actor,
        at,
        "stage.created",
        "stage",
        stage.id,
        stage.key,
        after=stage_snapshot(stage),
    )
    return stage


def rename_stage(
    session: Session, stage: Stage, *, name: str, actor: User | None, at: datetime
) -> Stage:
    """Rename a stage. Raises ValidationError on an empty or too long name."""
    if problem := check_name(name):
        raise ValidationError({"name": problem})
    before = stage_snapshot(stage)
    stage.name = name.strip()
    session.flush()
    _audit(
        session,
        actor,
        at,
        "stage.renamed",
        "stage",
        stage.id,
        stage.key,
        before=before,
        after=stage_snapshot(stage),
    )
    return stage


def move_stage(
    session: Session, stage: Stage, *, offset: int, actor: User | None, at: datetime
) -> None:
    """Move a stage ``offset`` lanes earlier (negative) or later; positions stay 1..n."""
    stages = list_stages(session)
    index = next(i for i, s in enumerate(stages) if s.id == stage.id)
    new_index = max(0, min(len(stages) - 1, index + offset))
    if new_index == index:
        return
    before = {s.key: s.position for s in stages}
    stages.insert(new_index, stages.pop(index))
    for position, each in enumerate(stages, start=1):
        each.position = position
    session.flush()
    _audit(
        session,
        actor,
        at,
        "stage.reordered",
        "stage",
        stage.id,
        stage.key,
        before={"order": sorted(before, key=before.__getitem__)},
        after={"order": [s.key for s in stages]},
    )


def delete_stage(session: Session, stage: Stage, *, actor: User | None, at: datetime) -> None:
    """Delete an empty stage. Raises Conflict while any touchpoint (archived too) uses it."""
    used = session.scalar(select(func.count()).where(Touchpoint.stage_id == stage.id))
    if used:
        raise Conflict(str(_l("This stage still has touchpoints; move or archive them first.")))
    _audit(
        session,
        actor,
        at,
        "stage.deleted",
        "stage",
        stage.id,
        stage.key,
        before=stage_snapshot(stage),
    )
    session.delete(stage)
    remaining = list_stages(session)
    for position, each in enumerate((s for s in remaining if s.id != stage.id), start=1):
        each.position = position
    session.flush()


# --- touchpoints -------------------------------------------------------------------------


@dataclass(frozen=True)
class TouchpointInput:
    """What a form or API request says about a touchpoint, already shape-checked."""

    key: str
    name: str
    stage: Stage | None
    description: str = ""
    channel: Channel | None = None
    owner_team: Team | None = None
    manager: User | None = None
    exit: bool = False


def list_touchpoints(session: Session, *, include_archived: bool = False) -> list[Touchpoint]:
    query = select(Touchpoint).join(Touchpoint.stage).order_by(Stage.position, Touchpoint.name)
    if not include_archived:
        query = query.where(Touchpoint.archived.is_(False))
    return list(session.scalars(query))


def count_touchpoints_per_stage(session: Session) -> dict[int, int]:
    """Touchpoints (archived ones too) per stage id."""
    rows = session.execute(select(Touchpoint.stage_id, func.count()).group_by(Touchpoint.stage_id))
    return dict(rows.all())


def find_touchpoint_by_key(session: Session, key: str) -> Touchpoint | None:
    return session.scalar(select(Touchpoint).where(Touchpoint.key == key))


def get_touchpoint_by_key(session: Session, key: str) -> Touchpoint:
    touchpoint = find_touchpoint_by_key(session, key)
    if touchpoint is None:
        raise NotFound(str(_l("No touchpoint with the key %(key)s.", key=key)))
    return touchpoint


def _check_touchpoint(
    session: Session, data: TouchpointInput, existing: Touchpoint | None
) -> dict[str, str]:
    problems: dict[str, str] = {}
    if problem := check_key(data.key):
        problems["key"] = problem
    else:
        other = find_touchpoint_by_key(session, data.key)
        if other is not None and (existing is None or other.id != existing.id):
            problems["key"] = str(_l("A touchpoint with this key exists already."))
    if problem := check_name(data.name):
        problems["name"] = problem
    if data.stage is None:
        problems["stage"] = str(_l("Choose a stage."))
    if len(data.description or "") > DESCRIPTION_MAX:
        problems["description"] = str(_l("Use at most %(n)d characters.", n=DESCRIPTION_MAX))
    # A deactivated team or person may stay where they are, but not be newly chosen.
    if (
        data.owner_team is not None
        and not data.owner_team.active
        and (existing is None or existing.owner_team_id != data.owner_team.id)
    ):
        problems["owner_team"] = str(_l("This team is deactivated."))
    newly_named = data.manager is not None and (
        existing is None or existing.manager_id != data.manager.id
    )
    if newly_named and data.manager is not None and not data.manager.active:
        problems["manager"] = str(_l("This account is deactivated."))
    elif newly_named and not can(data.manager, Permission.EDIT_JOURNEY):
        problems["manager"] = str(_l("This person cannot edit the journey, so cannot manage it."))
    return problems


def create_touchpoint(
    session: Session, data: TouchpointInput, *, actor: User | None, at: datetime
) -> Touchpoint:
    """Add a touchpoint. Raises ValidationError naming every bad field."""
    problems = _check_touchpoint(session, data, None)
    if problems or data.stage is None:
        raise ValidationError(problems)
    touchpoint = Touchpoint(
        key=data.key,
        name=data.name.strip(),
        stage=data.stage,
        description=(data.description or "").strip(),
        channel=data.channel,
        owner_team=data.owner_team,
        manager=data.manager,
        exit=data.exit,
        archived=False,
        created_at=at,
        updated_at=at,
    )
    session.add(touchpoint)
    session.flush()
    _audit(
        session,
        actor,
        at,
        "touchpoint.created",
        "touchpoint",
        touchpoint.id,
        touchpoint.key,
        after=touchpoint_snapshot(touchpoint),
    )
    return touchpoint


def update_touchpoint(
    session: Session,
    touchpoint: Touchpoint,
    data: TouchpointInput,
    *,
    actor: User | None,
    at: datetime,
) -> Touchpoint:
    """Change a touchpoint's details (its key too). Raises ValidationError naming bad fields."""
    if problems := _check_touchpoint(session, data, touchpoint):
        raise ValidationError(problems)
    before = touchpoint_snapshot(touchpoint)
    touchpoint.key = data.key
    touchpoint.name = data.name.strip()
    touchpoint.stage = data.stage  # type: ignore[assignment]
    touchpoint.description = (data.description or "").strip()
    touchpoint.channel = data.channel
    touchpoint.owner_team = data.owner_team
    touchpoint.manager = data.manager
    touchpoint.exit = data.exit
    touchpoint.updated_at = at
    session.flush()
    _audit(
        session,
        actor,
        at,
        "touchpoint.updated",
        "touchpoint",
        touchpoint.id,
        touchpoint.key,
        before=before,
        after=touchpoint_snapshot(touchpoint),
    )
    return touchpoint


def archive_touchpoint(
    session: Session, touchpoint: Touchpoint, *, actor: User | None, at: datetime
) -> int:
    """Archive a touchpoint and remove its designed transitions; return how many went."""
    if touchpoint.archived:
        return 0
    removed = 0
    for transition in list_transitions_of(session, touchpoint):
        delete_transition(session, transition, actor=actor, at=at)
        removed += 1
    before = touchpoint_snapshot(touchpoint)
    touchpoint.archived = True
    touchpoint.updated_at = at
    session.flush()
    _audit(
        session,
        actor,
        at,
        "touchpoint.archived",
        "touchpoint",
        touchpoint.id,
        touchpoint.key,
        before=before,
        after=touchpoint_snapshot(touchpoint),
    )
    return removed


def restore_touchpoint(
    session: Session, touchpoint: Touchpoint, *, actor: User | None, at: datetime
) -> None:
    """Bring an archived touchpoint back onto the map (without transitions)."""
    if not touchpoint.archived:
        return
    before = touchpoint_snapshot(touchpoint)
    touchpoint.archived = False
    touchpoint.updated_at = at
    session.flush()
    _audit(
        session,
        actor,
        at,
        "touchpoint.restored",
        "touchpoint",
        touchpoint.id,
        touchpoint.key,
        before=before,
        after=touchpoint_snapshot(touchpoint),
    )


# --- transitions -------------------------------------------------------------------------


def list_transitions(session: Session) -> list[Transition]:
    source, target = aliased(Touchpoint), aliased(Touchpoint)
    return list(
        session.scalars(
            select(Transition)
            .join(source, Transition.source_id == source.id)
            .join(target, Transition.target_id == target.id)
            .order_by(source.key, target.key)
        ).unique()
    )


def list_transitions_of(session: Session, touchpoint: Touchpoint) -> list[Transition]:
    return list(
        session.scalars(
            select(Transition)
            .where(
                or_(Transition.source_id == touchpoint.id, Transition.target_id == touchpoint.id)
            )
            .order_by(Transition.id)
        ).unique()
    )


def get_transition(session: Session, transition_id: int) -> Transition:
    transition = session.get(Transition, transition_id)
    if transition is None:
        raise NotFound(str(_l("No such transition.")))
    return transition


def transition_problem(
    source: Touchpoint | None, target: Touchpoint | None, existing: set[tuple[int, int]]
) -> dict[str, str]:
    """Why a designed transition may not exist (field → message); empty when it may."""
    problems: dict[str, str] = {}
    if source is None:
        problems["source"] = str(_l("No such touchpoint."))
    elif source.archived:
        problems["source"] = str(_l("This touchpoint is archived."))
    if target is None:
        problems["target"] = str(_l("No such touchpoint."))
    elif target.archived:
        problems["target"] = str(_l("This touchpoint is archived."))
    if problems or source is None or target is None:
        return problems
    if source.id == target.id:
        problems["target"] = str(_l("A transition cannot lead back to its own touchpoint."))
    elif (source.id, target.id) in existing:
        problems["target"] = str(_l("This transition exists already."))
    return problems


def create_transition(
    session: Session,
    *,
    source: Touchpoint | None,
    target: Touchpoint | None,
    actor: User | None,
    at: datetime,
) -> Transition:
    """Add a designed transition. Raises ValidationError for self-loops, duplicates, archived."""
    existing: set[tuple[int, int]] = set()
    if source is not None and target is not None:
        found = session.scalar(
            select(Transition.id).where(
                Transition.source_id == source.id, Transition.target_id == target.id
            )
        )
        if found is not None:
            existing.add((source.id, target.id))
    problems = transition_problem(source, target, existing)
    if problems or source is None or target is None:
        raise ValidationError(problems)
    transition = Transition(source=source, target=target, created_at=at)
    session.add(transition)
    session.flush()
    label = f"{source.key} → {target.key}"
    _audit(
        session,
        actor,
        at,
        "transition.created",
        "transition",
        transition.id,
        label,
        after={"source": source.key, "target": target.key},
    )
    return transition


def delete_transition(
    session: Session, transition: Transition, *, actor: User | None, at: datetime
) -> None:
    """Remove a designed transition."""
    label = f"{transition.source.key} → {transition.target.key}"
    _audit(
        session,
        actor,
        at,
        "transition.deleted",
        "transition",
        transition.id,
        label,
        before={"source": transition.source.key, "target": transition.target.key},
    )
    session.delete(transition)
    session.flush()


# --- the graph ---------------------------------------------------------------------------


def list_designed_pairs(session: Session) -> list[tuple[str, str]]:
    """Every designed transition as (source key, target key), in key order; one query."""
    source, target = aliased(Touchpoint), aliased(Touchpoint)
    rows = session.execute(
        select(source.key, target.key)
        .select_from(Transition)
        .join(source, Transition.source_id == source.id)
        .join(target, Transition.target_id == target.id)
        .order_by(source.key, target.key)
    )
    return [(s, t) for s, t in rows]


def validate_journey(session: Session) -> JourneyValidation:
    """Validate the designed graph of active touchpoints."""
    rows = session.execute(
        select(Touchpoint.key, Stage.position, Touchpoint.exit)
        .join(Stage, Touchpoint.stage_id == Stage.id)
        .where(Touchpoint.archived.is_(False))
    ).all()
    nodes = [NodeInfo(key, position, bool(is_exit)) for key, position, is_exit in rows]
    return validate_graph(build_graph(nodes, list_designed_pairs(session)))
