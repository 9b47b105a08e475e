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


def settings_for(app_config: Any) -> Any:
    from cxjourney.complaints.services import Settings

    return Settings.from_config(app_config)


def make_category(session: Session, key: str = "billing", name: str = "Rechnung") -> Any:
    from cxjourney.complaints import categories

    return categories.find_category(session, key) or categories.create_category(
        session, key=key, name=name, actor=None, at=T0
    )


def make_policy(session: Session, severity: str = "medium", **overrides: Any) -> Any:
    from cxjourney.complaints.models import Severity, SlaPolicy

    policy = SlaPolicy(
        name=overrides.pop("name", f"{severity} default"),
        severity=Severity(severity),
        first_response_minutes=overrides.pop("first_response_minutes", 240),
        next_update_minutes=overrides.pop("next_update_minutes", 480),
        resolution_minutes=overrides.pop("resolution_minutes", 2400),
        business_hours=overrides.pop("business_hours", True),
        warning_percent=overrides.pop("warning_percent", 80),
        created_at=T0,
        updated_at=T0,
        **overrides,
    )
    session.add(policy)
    session.flush()
    return policy


def make_complaint(
    session: Session, settings: Any, *, actor: Any = None, at: datetime = T0, **overrides: Any
) -> Any:
    from cxjourney.complaints.models import Severity
    from cxjourney.complaints.services import ComplaintInput, log_complaint
    from cxjourney.journey.models import Channel

    touchpoint = overrides.pop("touchpoint", None)
    if touchpoint is None or isinstance(touchpoint, str):
        touchpoint = journey.find_touchpoint_by_key(session, touchpoint or "hotline") or (
            make_touchpoint(session, touchpoint or "hotline")
        )
    data = ComplaintInput(
        customer=overrides.pop("customer", None) or make_customer(session),
        touchpoint=touchpoint,
        channel=Channel(overrides.pop("channel", "letter")),
        category=overrides.pop("category", None) or make_category(session),
        severity=Severity(overrides.pop("severity", "medium")),
        subject=overrides.pop("subject", "Rechnung doppelt abgebucht"),
        description=overrides.pop("description", "Der Betrag wurde zweimal abgebucht."),
        **overrides,
    )
    complaint, _created = log_complaint(session, data, actor=actor, at=at, settings=settings)
    session.commit()
    return complaint


def make_event(
    session: Session,
    customer: Customer,
    touchpoint: Touchpoint,
    occurred_at: datetime,
    channel: str = "web",
) -> Any:
    """One journey event, inserted directly (analytics tests)."""
    from cxjourney.customers.models import JourneyEvent
    from cxjourney.journey.models import Channel

    event = JourneyEvent(
        customer_id=customer.id,
        touchpoint_id=touchpoint.id,
        occurred_at=occurred_at,
        channel=Channel(channel),
        source="test",
        created_at=T0,
    )
    session.add(event)
    session.flush()
    return event


def make_feedback(
    session: Session,
    touchpoint: Touchpoint,
    kind: str,
    score: int,
    submitted_at: datetime,
    *,
    customer: Customer | None = None,
    channel: str = "web",
) -> Any:
    """One feedback response, inserted directly (analytics tests); no customer: anonymous."""
    from cxjourney.feedback.models import FeedbackKind, FeedbackResponse, FeedbackSource
    from cxjourney.journey.models import Channel

    response = FeedbackResponse(
        touchpoint_id=touchpoint.id,
        kind=FeedbackKind(kind),
        score=score,
        channel=Channel(channel),
        submitted_at=submitted_at,
        customer_id=customer.id if customer else None,
        source=FeedbackSource.API,
        created_at=T0,
    )
    session.add(response)
    session.flush()
    return response


def make_value(
    session: Session, customer: Customer, kind: str, amount: str, occurred_on: Any
) -> Any:
    """One revenue or cost record of a customer, inserted directly (analytics tests)."""
    from decimal import Decimal

    from cxjourney.customers.models import CustomerValue, ValueKind

    value = CustomerValue(
        customer_id=customer.id,
        kind=ValueKind(kind),
        amount=Decimal(amount),
        occurred_on=occurred_on,
        source="test",
        created_at=T0,
    )
    session.add(value)
    session.flush()
    return value
