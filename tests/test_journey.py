"""Journey services: stages, touchpoints, transitions, and the graph validation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.audit.models import AuditLog
from cxjourney.errors import Conflict, ValidationError
from cxjourney.journey import services
from cxjourney.journey.models import Transition

from .factories import T0, make_stage, make_touchpoint, make_transition, small_journey


def test_validation_lists_entries_unreachable_dead_ends_and_backward(db_session: Session) -> None:
    small_journey(db_session)
    result = services.validate_journey(db_session)
    assert result.entries == ["island", "website"]
    assert result.unreachable == []
    # island has no way on and is no exit; cancellation is an exit, so it is no dead end
    assert result.dead_ends == ["island"]
    assert result.backward == [("hotline", "app")]


def test_a_cycle_without_entry_is_unreachable(db_session: Session) -> None:
    a = make_touchpoint(db_session, "a")
    b = make_touchpoint(db_session, "b")
    make_transition(db_session, a, b)
    make_transition(db_session, b, a)
    result = services.validate_journey(db_session)
    assert result.entries == []
    assert result.unreachable == ["a", "b"]


def test_self_loop_is_rejected(db_session: Session) -> None:
    tp = make_touchpoint(db_session, "hotline")
    with pytest.raises(ValidationError) as err:
        make_transition(db_session, tp, tp)
    assert set(err.value.fields) == {"target"}
    assert db_session.scalar(select(func.count()).select_from(Transition)) == 0


def test_duplicate_transition_is_rejected(db_session: Session) -> None:
    a, b = make_touchpoint(db_session, "a"), make_touchpoint(db_session, "b")
    make_transition(db_session, a, b)
    with pytest.raises(ValidationError) as err:
        make_transition(db_session, a, b)
    assert set(err.value.fields) == {"target"}
    assert db_session.scalar(select(func.count()).select_from(Transition)) == 1


def test_transition_to_archived_touchpoint_is_rejected(db_session: Session) -> None:
    a, b = make_touchpoint(db_session, "a"), make_touchpoint(db_session, "b")
    services.archive_touchpoint(db_session, b, actor=None, at=T0)
    with pytest.raises(ValidationError) as err:
        make_transition(db_session, a, b)
    assert set(err.value.fields) == {"target"}


def test_archiving_removes_transitions_and_keeps_the_row(db_session: Session) -> None:
    tps = small_journey(db_session)
    removed = services.archive_touchpoint(db_session, tps["hotline"], actor=None, at=T0)
    db_session.commit()
    assert removed == 3
    assert services.find_touchpoint_by_key(db_session, "hotline").archived is True
    assert "hotline" not in {tp.key for tp in services.list_touchpoints(db_session)}
    assert services.validate_journey(db_session).backward == []


def test_touchpoint_key_must_be_unique_and_well_formed(db_session: Session) -> None:
    make_touchpoint(db_session, "hotline")
    with pytest.raises(ValidationError) as err:
        make_touchpoint(db_session, "hotline")
    assert set(err.value.fields) == {"key"}
    with pytest.raises(ValidationError) as err:
        make_touchpoint(db_session, "Hot Line!")
    assert set(err.value.fields) == {"key"}


def test_stage_reorder_keeps_positions_dense(db_session: Session) -> None:
    _a, _b, c = (make_stage(db_session, k) for k in ("a", "b", "c"))
    services.move_stage(db_session, c, offset=-1, actor=None, at=T0)
    services.move_stage(db_session, c, offset=-1, actor=None, at=T0)
    services.move_stage(db_session, c, offset=-1, actor=None, at=T0)  # already first: no-op
    assert [(s.key, s.position) for s in services.list_stages(db_session)] == [
        ("c", 1),
        ("a", 2),
        ("b", 3),
    ]


def test_stage_with_touchpoints_cannot_be_deleted(db_session: Session) -> None:
    stage = make_stage(db_session, "usage")
    make_touchpoint(db_session, "app", stage=stage)
    with pytest.raises(Conflict):
        services.delete_stage(db_session, stage, actor=None, at=T0)


def test_every_journey_change_is_audited_with_before_and_after(db_session: Session) -> None:
    tp = make_touchpoint(db_session, "hotline", name="Hotline")
    data = services.TouchpointInput(
        key="hotline", name="Service-Hotline", stage=tp.stage, owner_team=tp.owner_team
    )
    services.update_touchpoint(db_session, tp, data, actor=None, at=T0)
    db_session.commit()
    entry = db_session.scalars(
        select(AuditLog).where(AuditLog.action == "touchpoint.updated")
    ).one()
    assert entry.before == {"name": "Hotline"}
    assert entry.after == {"name": "Service-Hotline"}
    actions = set(db_session.scalars(select(AuditLog.action)))
    assert {"stage.created", "team.created", "touchpoint.created"} <= actions
