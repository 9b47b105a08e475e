"""Test data through the real services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cxjourney.auth import services as auth_services
from cxjourney.auth.models import Team
from cxjourney.customers import services as customers
from cxjourney.customers.models import Customer
from cxjourney.journey import services as journey
from cxjourney.journey.models import Stage, Touchpoint, Transition

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def make_team(session: Session, name: str = "Kundenservice") -> Team:
    existing = auth_services.find_team_by_name(session, name)
    return existing or auth_services.create_team(session, name=name, actor=None, at=T0)


def make_stage(session: Session, key: str = "usage", name: str | None = None) -> Stage:
    existing = journey.find_stage_by_key(session, key)
    return existing or journey.create_stage(
        session, key=key, name=name or key.title(), actor=None, at=T0
    )


def make_touchpoint(session: Session, key: str = "hotline", **overrides: Any) -> Touchpoint:
    stage = overrides.pop("stage", None) or make_stage(session)
    if isinstance(stage, str):
        stage = make_stage(session, stage)
    team = overrides.pop("owner_team", "Kundenservice")
    data = journey.TouchpointInput(
        key=key,
        name=overrides.pop("name", key.replace("-", " ").title()),
        stage=stage,
        owner_team=make_team(session, team) if isinstance(team, str) else team,
        **overrides,
    )
    return journey.create_touchpoint(session, data, actor=None, at=T0)


def make_transition(session: Session, source: Touchpoint, target: Touchpoint) -> Transition:
    return journey.create_transition(session, source=source, target=target, actor=None, at=T0)


def make_customer(session: Session, ref: str = "K-1000", **overrides: Any) -> Customer:
    existing = customers.find_customer(session, ref)
    if existing is not None:
        return existing
    data = customers.CustomerInput(
        external_ref=ref,
        name=overrides.pop("name", "Max Mustermann"),
        acquired_at=overrides.pop("acquired_at", T0 - timedelta(days=400)),
        **overrides,
    )
    customer = customers.create_customer(session, data, actor=None, at=T0)
    session.commit()
    return customer


def small_journey(session: Session) -> dict[str, Touchpoint]:
    """Three stages, five touchpoints: an entry, a loop back, an exit, one island."""
    make_stage(session, "purchase", "Kauf")
    make_stage(session, "usage", "Nutzung")
    make_stage(session, "support", "Service")
    tps = {
        "website": make_touchpoint(session, "website", stage="purchase", owner_team="Online"),
        "app": make_touchpoint(session, "app", stage="usage", owner_team="Online"),
        "hotline": make_touchpoint(session, "hotline", stage="support"),
        "cancellation": make_touchpoint(session, "cancellation", stage="support", exit=True),
        "island": make_touchpoint(session, "island", stage="usage"),
    }
    make_transition(session, tps["website"], tps["app"])
    make_transition(session, tps["app"], tps["hotline"])
    make_transition(session, tps["hotline"], tps["app"])  # back to an earlier stage
    make_transition(session, tps["hotline"], tps["cancellation"])
    session.commit()
    return tps
