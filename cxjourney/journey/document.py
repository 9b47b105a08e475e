"""The journey document: export the whole map as JSON, and replace it from one, all or nothing.

Shape (DESIGN.md, API contract)::

    {"stages": [{key, name, position}],
     "touchpoints": [{key, name, stage, owner_team, manager?, description?, channel?,
                      exit?, archived?}],
     "transitions": [{source, target}]}

Import decisions (docs/journey.md): teams named in ``owner_team`` that do not exist are
created; managers must be existing, active users; touchpoints missing from the document
are archived; stages missing from it are deleted unless an archived touchpoint still
uses them, in which case they are kept after the document's stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ..audit.services import record_audit
from ..auth.models import Team, User
from ..auth.services import create_team, find_team_by_name, normalize_email
from ..errors import ValidationError
from .models import Channel, Stage, Touchpoint, Transition
from .services import (
    DESCRIPTION_MAX,
    check_key,
    check_name,
    list_designed_pairs,
    list_stages,
    list_touchpoints,
    stage_snapshot,
    touchpoint_snapshot,
)

TOP_LEVEL_KEYS = {"stages", "touchpoints", "transitions"}
# GET returns the validation result beside the document; PUT may send it back unchanged.
IGNORED_TOP_LEVEL_KEYS = {"validation"}
STAGE_KEYS = {"key", "name", "position"}
TOUCHPOINT_REQUIRED = {"key", "name", "stage", "owner_team"}
TOUCHPOINT_OPTIONAL = {"manager", "description", "channel", "exit", "archived"}
TRANSITION_KEYS = {"source", "target"}
MAX_POSITION = 1_000_000


def touchpoint_document(tp: Touchpoint, *, personal_data: bool = True) -> dict[str, Any]:
    """One touchpoint as the journey document (and the API) writes it.

    Without ``personal_data`` (a viewer's request) the manager's email is left out.
    """
    return {
        "key": tp.key,
        "name": tp.name,
        "stage": tp.stage.key,
        "owner_team": tp.owner_team.name if tp.owner_team else None,
        "manager": tp.manager.email if tp.manager and personal_data else None,
        "description": tp.description,
        "channel": tp.channel.value if tp.channel else None,
        "exit": tp.exit,
        "archived": tp.archived,
    }


def export_journey(session: Session, *, personal_data: bool = True) -> dict[str, Any]:
    """The whole journey, archived touchpoints included, in a stable order."""
    stages = list_stages(session)
    touchpoints = sorted(
        list_touchpoints(session, include_archived=True),
        key=lambda tp: (tp.stage.position, tp.key),
    )
    pairs = list_designed_pairs(session)
    return {
        "stages": [{"key": s.key, "name": s.name, "position": s.position} for s in stages],
        "touchpoints": [touchpoint_document(tp, personal_data=personal_data) for tp in touchpoints],
        "transitions": [{"source": s, "target": t} for s, t in pairs],
    }


@dataclass
class ImportSummary:
    stages_created: int = 0
    stages_updated: int = 0
    stages_deleted: int = 0
    touchpoints_created: int = 0
    touchpoints_updated: int = 0
    touchpoints_archived: int = 0
    transitions_added: int = 0
    transitions_removed: int = 0
    teams_created: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _StageDoc:
    key: str
    name: str
    position: int


@dataclass(frozen=True)
class _TouchpointDoc:
    key: str
    name: str
    stage: str
    owner_team: str | None
    manager: str | None
    description: str
    channel: Channel | None
    exit: bool
    archived: bool


@dataclass
class _Parsed:
    stages: list[_StageDoc] = field(default_factory=list)
    touchpoints: list[_TouchpointDoc] = field(default_factory=list)
    transitions: list[tuple[str, str]] = field(default_factory=list)


class _Problems(dict[str, str]):
    def add(self, path: str, message: Any) -> None:
        self.setdefault(path, str(message))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _unknown_keys(item: dict[str, Any], allowed: set[str], path: str, problems: _Problems) -> None:
    for name in sorted(set(item) - allowed):
        problems.add(f"{path}.{name}", _l("Unknown field."))


def _list_at(document: dict[str, Any], name: str, problems: _Problems) -> list[Any]:
    value = document.get(name)
    if value is None:
        problems.add(name, _l("This field is required."))
        return []
    if not isinstance(value, list):
        problems.add(name, _l("Expected a list."))
        return []
    return value


def _parse_stages(items: list[Any], problems: _Problems) -> list[_StageDoc]:
    stages: list[_StageDoc] = []
    seen_keys: dict[str, int] = {}
    seen_positions: dict[int, int] = {}
    for i, item in enumerate(items):
        path = f"stages[{i}]"
        if not isinstance(item, dict):
            problems.add(path, _l("Expected an object."))
            continue
        _unknown_keys(item, STAGE_KEYS, path, problems)
        key, name, position = item.get("key"), item.get("name"), item.get("position")
        ok = True
        if (problem := check_key(key)) is not None:
            problems.add(f"{path}.key", problem)
            ok = False
        elif key in seen_keys:
            problems.add(
                f"{path}.key",
                _l("Duplicate stage key %(key)s (also stages[%(i)d]).", key=key, i=seen_keys[key]),
            )
            ok = False
        if (problem := check_name(name)) is not None:
            problems.add(f"{path}.name", problem)
            ok = False
        if not _is_int(position) or not 0 <= position <= MAX_POSITION:
            problems.add(
                f"{path}.position", _l("Expected a whole number from 0 to %(n)d.", n=MAX_POSITION)
            )
            ok = False
        elif position in seen_positions:
            problems.add(
                f"{path}.position",
                _l("Position used twice (also stages[%(i)d]).", i=seen_positions[position]),
            )
            ok = False
        if isinstance(key, str):
            seen_keys.setdefault(key, i)
        if _is_int(position):
            seen_positions.setdefault(position, i)
        if ok:
            stages.append(_StageDoc(key, name.strip(), position))
    return stages


def _optional_str(item: dict[str, Any], name: str, path: str, problems: _Problems) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add(f"{path}.{name}", _l("Expected text or null."))
        return None
    return value


def _parse_touchpoints(
    items: list[Any], stage_keys: set[str], problems: _Problems
) -> list[_TouchpointDoc]:
    touchpoints: list[_TouchpointDoc] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"touchpoints[{i}]"
        if not isinstance(item, dict):
            problems.add(path, _l("Expected an object."))
            continue
        _unknown_keys(item, TOUCHPOINT_REQUIRED | TOUCHPOINT_OPTIONAL, path, problems)
        before = len(problems)
        for name in sorted(TOUCHPOINT_REQUIRED - set(item)):
            problems.add(f"{path}.{name}", _l("This field is required."))
        key = item.get("key")
        if "key" in item:
            if (problem := check_key(key)) is not None:
                problems.add(f"{path}.key", problem)
            elif key in seen:
                problems.add(
                    f"{path}.key",
                    _l(
                        "Duplicate touchpoint key %(key)s (also touchpoints[%(i)d]).",
                        key=key,
                        i=seen[key],
                    ),
                )
            else:
                seen[key] = i
        name = item.get("name")
        if "name" in item and (problem := check_name(name)) is not None:
            problems.add(f"{path}.name", problem)
        stage = item.get("stage")
        if "stage" in item and (not isinstance(stage, str) or stage not in stage_keys):
            if isinstance(stage, str):
                problems.add(f"{path}.stage", _l("Unknown stage %(key)s.", key=stage[:64]))
            else:
                problems.add(f"{path}.stage", _l("Expected a stage key."))
        owner_team = _optional_str(item, "owner_team", path, problems)
        if owner_team is not None and (problem := check_name(owner_team)) is not None:
            problems.add(f"{path}.owner_team", problem)
        manager = _optional_str(item, "manager", path, problems)
        description = _optional_str(item, "description", path, problems) or ""
        if len(description) > DESCRIPTION_MAX:
            problems.add(
                f"{path}.description", _l("Use at most %(n)d characters.", n=DESCRIPTION_MAX)
            )
        channel_raw = _optional_str(item, "channel", path, problems)
        channel = None
        if channel_raw is not None:
            try:
                channel = Channel(channel_raw)
            except ValueError:
                problems.add(
                    f"{path}.channel",
                    _l("Unknown channel; use one of %(names)s.", names=", ".join(Channel)),
                )
        flags = {}
        for flag in ("exit", "archived"):
            value = item.get(flag, False)
            if not isinstance(value, bool):
                problems.add(f"{path}.{flag}", _l("Expected true or false."))
            flags[flag] = value is True
        if len(problems) == before:
            touchpoints.append(
                _TouchpointDoc(
                    key=key,
                    name=name.strip(),
                    stage=stage,
                    owner_team=" ".join(owner_team.split()) if owner_team else None,
                    manager=normalize_email(manager) if manager else None,
                    description=description.strip(),
                    channel=channel,
                    exit=flags["exit"],
                    archived=flags["archived"],
                )
            )
    return touchpoints


def _parse_transitions(
    items: list[Any], touchpoints: dict[str, bool | None], problems: _Problems
) -> list[tuple[str, str]]:
    """``touchpoints`` maps each key of the document to its archived flag (None: invalid)."""
    pairs: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(items):
        path = f"transitions[{i}]"
        if not isinstance(item, dict):
            problems.add(path, _l("Expected an object."))
            continue
        _unknown_keys(item, TRANSITION_KEYS, path, problems)
        before = len(problems)
        ends = {}
        for end in ("source", "target"):
            value = item.get(end)
            if end not in item:
                problems.add(f"{path}.{end}", _l("This field is required."))
            elif not isinstance(value, str):
                problems.add(f"{path}.{end}", _l("Expected a touchpoint key."))
            elif value not in touchpoints:
                problems.add(f"{path}.{end}", _l("Unknown touchpoint %(key)s.", key=value[:64]))
            elif touchpoints[value]:
                problems.add(f"{path}.{end}", _l("Touchpoint %(key)s is archived.", key=value))
            else:
                ends[end] = value
        if len(ends) == 2:
            pair = (ends["source"], ends["target"])
            if pair[0] == pair[1]:
                problems.add(path, _l("Self-loop: %(key)s cannot lead to itself.", key=pair[0]))
            elif pair in seen:
                problems.add(
                    path, _l("Duplicate transition (also transitions[%(i)d]).", i=seen[pair])
                )
            else:
                seen[pair] = i
        if len(problems) == before:
            pairs.append((ends["source"], ends["target"]))
    return pairs


def parse_journey(session: Session, document: Any, *, may_create_teams: bool = True) -> _Parsed:
    """Check a journey document completely; raise ValidationError listing every problem."""
    problems = _Problems()
    if not isinstance(document, dict):
        raise ValidationError({"$": str(_l("Expected a JSON object."))})
    for name in sorted(set(document) - TOP_LEVEL_KEYS - IGNORED_TOP_LEVEL_KEYS):
        problems.add(name, _l("Unknown field."))
    stage_items = _list_at(document, "stages", problems)
    touchpoint_items = _list_at(document, "touchpoints", problems)
    transition_items = _list_at(document, "transitions", problems)

    stages = _parse_stages(stage_items, problems)
    # Every well-formed stage key counts, so a stage with a bad name does not also make
    # its touchpoints' stage "unknown".
    stage_keys = {
        item["key"]
        for item in stage_items
        if isinstance(item, dict)
        and isinstance(item.get("key"), str)
        and not check_key(item["key"])
    }
    touchpoints = _parse_touchpoints(touchpoint_items, stage_keys, problems)

    # Transitions are checked against every touchpoint key in the document, valid or not,
    # so that a bad touchpoint does not also produce "unknown touchpoint" noise.
    archived_by_key: dict[str, bool | None] = {}
    for item in touchpoint_items:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            archived_by_key.setdefault(item["key"], item.get("archived") is True)
    transitions = _parse_transitions(transition_items, archived_by_key, problems)

    if not may_create_teams:
        for i, item in enumerate(touchpoint_items):
            name = item.get("owner_team") if isinstance(item, dict) else None
            if isinstance(name, str) and find_team_by_name(session, name) is None:
                problems.add(
                    f"touchpoints[{i}].owner_team",
                    _l("No team named %(name)s; an administrator creates teams.", name=name[:120]),
                )
    managers = {tp.manager for tp in touchpoints if tp.manager}
    if managers:
        found = dict(
            session.execute(select(User.email, User.active).where(User.email.in_(managers))).all()
        )
        current = dict(
            session.execute(
                select(Touchpoint.key, User.email).join(User, Touchpoint.manager_id == User.id)
            ).all()
        )
        for i, item in enumerate(touchpoint_items):
            if not isinstance(item, dict) or not isinstance(item.get("manager"), str):
                continue
            email = normalize_email(item["manager"])
            if email not in found:
                problems.add(f"touchpoints[{i}].manager", _l("No user with this email."))
            elif not found[email] and current.get(item.get("key")) != email:
                # A deactivated manager may stay (export → import), not be newly named.
                problems.add(f"touchpoints[{i}].manager", _l("This account is deactivated."))
    if problems:
        raise ValidationError(
            problems, message=str(_l("Problems in the journey document: %(n)d.", n=len(problems)))
        )
    return _Parsed(stages, touchpoints, transitions)


def import_journey(
    session: Session,
    document: Any,
    *,
    actor: User | None,
    at: datetime,
    may_create_teams: bool = True,
) -> ImportSummary:
    """Replace the whole journey with ``document``, all or nothing.

    Teams named in ``owner_team`` that do not exist are created only when
    ``may_create_teams`` (admins, the command line); otherwise they are problems.
    Raises ValidationError (fields keyed by JSON path) before changing anything.
    The caller commits.
    """
    if session.get_bind().dialect.name == "postgresql":
        # One journey import at a time: two would interleave their upserts.
        session.execute(text("SELECT pg_advisory_xact_lock(74201)"))
    parsed = parse_journey(session, document, may_create_teams=may_create_teams)
    summary = ImportSummary()

    def audit(
        action: str,
        entity_type: str,
        entity_id: int | None,
        label: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
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

    # Stages: upsert by key.
    stages_by_key = {s.key: s for s in list_stages(session)}
    for doc in parsed.stages:
        stage = stages_by_key.get(doc.key)
        if stage is None:
            stage = Stage(key=doc.key, name=doc.name, position=doc.position)
            session.add(stage)
            session.flush()
            stages_by_key[doc.key] = stage
            summary.stages_created += 1
            audit("stage.created", "stage", stage.id, stage.key, None, stage_snapshot(stage))
        elif (stage.name, stage.position) != (doc.name, doc.position):
            before = stage_snapshot(stage)
            stage.name, stage.position = doc.name, doc.position
            summary.stages_updated += 1
            audit("stage.updated", "stage", stage.id, stage.key, before, stage_snapshot(stage))

    # Teams: match case-insensitively, create the missing ones.
    teams: dict[str, Team] = {}
    for doc in parsed.touchpoints:
        if doc.owner_team is None or doc.owner_team.lower() in teams:
            continue
        team = find_team_by_name(session, doc.owner_team)
        if team is None:
            team = create_team(session, name=doc.owner_team, actor=actor, at=at)
            summary.teams_created.append(team.name)
        teams[doc.owner_team.lower()] = team
    managers = {
        u.email: u
        for u in session.scalars(
            select(User).where(User.email.in_({d.manager for d in parsed.touchpoints if d.manager}))
        )
    }

    # Touchpoints: upsert by key; those missing from the document are archived.
    existing = {tp.key: tp for tp in list_touchpoints(session, include_archived=True)}
    for doc in parsed.touchpoints:
        tp = existing.get(doc.key)
        before = touchpoint_snapshot(tp) if tp is not None else None
        if tp is None:
            tp = Touchpoint(key=doc.key, created_at=at, updated_at=at)
            session.add(tp)
        tp.name = doc.name
        tp.stage = stages_by_key[doc.stage]
        tp.owner_team = teams[doc.owner_team.lower()] if doc.owner_team else None
        tp.manager = managers[doc.manager] if doc.manager else None
        tp.description = doc.description
        tp.channel = doc.channel
        tp.exit = doc.exit
        tp.archived = doc.archived
        session.flush()
        after = touchpoint_snapshot(tp)
        if before is None:
            summary.touchpoints_created += 1
            audit("touchpoint.created", "touchpoint", tp.id, tp.key, None, after)
        elif before != after:
            tp.updated_at = at
            summary.touchpoints_updated += 1
            audit("touchpoint.updated", "touchpoint", tp.id, tp.key, before, after)
    in_document = {d.key for d in parsed.touchpoints}
    for key, tp in existing.items():
        if key not in in_document and not tp.archived:
            before = touchpoint_snapshot(tp)
            tp.archived = True
            tp.updated_at = at
            summary.touchpoints_archived += 1
            audit(
                "touchpoint.archived", "touchpoint", tp.id, tp.key, before, touchpoint_snapshot(tp)
            )

    # Transitions: exactly the document's set.
    by_key = {tp.key: tp for tp in list_touchpoints(session, include_archived=True)}
    wanted = {(by_key[s].id, by_key[t].id) for s, t in parsed.transitions}
    for transition in session.scalars(select(Transition)).unique().all():
        pair = (transition.source_id, transition.target_id)
        if pair in wanted:
            wanted.discard(pair)
            continue
        label = f"{transition.source.key} → {transition.target.key}"
        audit(
            "transition.deleted",
            "transition",
            transition.id,
            label,
            {"source": transition.source.key, "target": transition.target.key},
            None,
        )
        session.delete(transition)
        summary.transitions_removed += 1
    session.flush()
    by_id = {tp.id: tp for tp in by_key.values()}
    for source_id, target_id in sorted(wanted, key=lambda p: (by_id[p[0]].key, by_id[p[1]].key)):
        transition = Transition(source_id=source_id, target_id=target_id, created_at=at)
        session.add(transition)
        session.flush()
        s, t = by_id[source_id].key, by_id[target_id].key
        audit(
            "transition.created",
            "transition",
            transition.id,
            f"{s} → {t}",
            None,
            {"source": s, "target": t},
        )
        summary.transitions_added += 1

    # Stages missing from the document: gone, unless an archived touchpoint still uses one.
    in_doc_stages = {d.key for d in parsed.stages}
    used = set(session.scalars(select(Touchpoint.stage_id).distinct()))
    last = max((d.position for d in parsed.stages), default=0)
    for stage in sorted(stages_by_key.values(), key=lambda s: s.position):
        if stage.key in in_doc_stages:
            continue
        if stage.id in used:
            last += 1
            if stage.position != last:
                before = stage_snapshot(stage)
                stage.position = last
                audit("stage.updated", "stage", stage.id, stage.key, before, stage_snapshot(stage))
        else:
            audit("stage.deleted", "stage", stage.id, stage.key, stage_snapshot(stage), None)
            session.delete(stage)
            summary.stages_deleted += 1
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="journey.imported",
        entity_type="journey",
        entity_id=None,
        entity_label="journey",
        after=summary.as_dict(),
    )
    return summary
