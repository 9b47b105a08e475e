"""The demo's journeys, feedback and value records: reproducible, plausible, planted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.complaints.models import Complaint
from cxjourney.customers.models import Customer, CustomerValue, JourneyEvent
from cxjourney.demo.services import DemoOptions, load_demo
from cxjourney.extensions import db
from cxjourney.feedback.models import FeedbackKind, FeedbackResponse
from cxjourney.journey.models import Touchpoint

from .conftest import _empty_tables
from .factories import T0


def _load(session: Session, seed: int = 2026) -> None:
    _empty_tables()
    load_demo(session, DemoOptions(at=T0, seed=seed, customers=120, complaints=60))
    session.commit()


@pytest.fixture(scope="module")
def demo(app: Flask) -> Iterator[Session]:
    with app.app_context():
        _load(db.session)
        yield db.session
        _empty_tables()
        db.session.remove()


def _events(session: Session) -> list[tuple[int, str, object]]:
    rows = session.execute(
        select(JourneyEvent.customer_id, Touchpoint.key, JourneyEvent.occurred_at)
        .join(Touchpoint, Touchpoint.id == JourneyEvent.touchpoint_id)
        .order_by(JourneyEvent.id)
    )
    return [tuple(r) for r in rows]


def test_every_customer_has_a_journey_and_nothing_lies_ahead(demo: Session) -> None:
    with_events = demo.scalar(select(func.count(func.distinct(JourneyEvent.customer_id))))
    customers = demo.scalar(select(func.count()).select_from(Customer))
    assert customers == 120
    assert with_events >= 0.9 * customers
    assert demo.scalar(select(func.max(JourneyEvent.occurred_at))) <= T0
    assert demo.scalar(select(func.max(FeedbackResponse.submitted_at))) <= T0


def test_every_complaint_is_a_contact(demo: Session) -> None:
    missing = demo.scalar(
        select(func.count())
        .select_from(Complaint)
        .where(
            ~select(JourneyEvent.id)
            .where(
                JourneyEvent.customer_id == Complaint.customer_id,
                JourneyEvent.touchpoint_id == Complaint.touchpoint_id,
                JourneyEvent.occurred_at == Complaint.received_at,
            )
            .exists()
        )
    )
    assert missing == 0


def test_those_who_left_end_at_the_exit(demo: Session) -> None:
    churned = demo.execute(
        select(Customer.id, Customer.churned_at).where(
            Customer.churned_at.is_not(None), Customer.churned_at >= T0.replace(year=T0.year - 2)
        )
    ).all()
    assert churned
    for customer_id, churned_at in churned:
        last = demo.execute(
            select(Touchpoint.key)
            .join(JourneyEvent, JourneyEvent.touchpoint_id == Touchpoint.id)
            .where(JourneyEvent.customer_id == customer_id, JourneyEvent.occurred_at == churned_at)
        ).scalars()
        assert "final-invoice" in set(last)


def test_scores_are_in_range_and_worse_at_the_planted_touchpoints(demo: Session) -> None:
    rows = demo.execute(
        select(FeedbackResponse.kind, FeedbackResponse.score, Touchpoint.key).join(
            Touchpoint, Touchpoint.id == FeedbackResponse.touchpoint_id
        )
    ).all()
    assert rows
    assert all(score in kind.scores for kind, score, _key in rows)
    planted = {"meter-installation", "first-invoice", "annual-bill", "hotline"}

    def negative_share(inside: bool) -> float:
        chosen = [
            kind.is_negative(score) for kind, score, key in rows if (key in planted) == inside
        ]
        return sum(chosen) / len(chosen)

    assert negative_share(True) > 2 * negative_share(False)
    assert {kind for kind, _s, _k in rows} == set(FeedbackKind)


def test_value_records_give_every_customer_a_lifetime_value(demo: Session) -> None:
    valued = demo.scalar(select(func.count(func.distinct(CustomerValue.customer_id))))
    assert valued == 120
    assert demo.scalar(select(func.min(CustomerValue.amount))) > 0


def test_the_same_seed_gives_the_same_journeys(app: Flask, demo: Session) -> None:
    first = _events(demo)
    _load(demo)
    assert _events(demo) == first
    _load(demo, seed=3)
    assert _events(demo) != first
    _load(demo)
