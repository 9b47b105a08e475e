"""Journey events: the batch API (all or nothing, problems by index, ids in list order),
the service's checks and the customer's timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.customers import events
from cxjourney.customers.models import Customer, JourneyEvent
from cxjourney.errors import ValidationError
from cxjourney.journey import services as journey
from cxjourney.journey.models import Channel, Touchpoint

from .factories import T0, make_customer, small_journey

BERLIN = ZoneInfo("Europe/Berlin")


def _event(
    ref: str = "K-1",
    tp: str = "hotline",
    at: str = "2026-03-01T10:00:00+01:00",
    channel: str = "phone",
) -> dict[str, str]:
    return {"customer_ref": ref, "touchpoint": tp, "occurred_at": at, "channel": channel}


def _post(client: FlaskClient, token: str, body: object) -> object:
    return client.post("/api/v1/events", json=body, headers={"Authorization": f"Bearer {token}"})


def _stored(session: Session) -> list[tuple[str, datetime, Channel, str]]:
    session.rollback()
    rows = session.execute(
        select(Touchpoint.key, JourneyEvent.occurred_at, JourneyEvent.channel, JourneyEvent.source)
        .join(Touchpoint, Touchpoint.id == JourneyEvent.touchpoint_id)
        .order_by(JourneyEvent.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


@pytest.fixture
def journey_with_customers(db_session: Session) -> None:
    small_journey(db_session)
    make_customer(db_session, "K-1")
    make_customer(db_session, "K-2")
    db_session.commit()


def test_a_batch_is_stored_with_ids_in_list_order(
    client: FlaskClient, db_session: Session, api_token, journey_with_customers
) -> None:
    token = api_token(Role.ADMIN)
    same_instant = "2026-03-01T10:00:00Z"
    keys = ["website", "app", "hotline", "app", "website"]
    body = {"events": [_event(tp=k, at=same_instant) for k in keys]}

    response = _post(client, token, body)

    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"created": 5}
    stored = _stored(db_session)
    assert [row[0] for row in stored] == keys
    assert {row[3] for row in stored} == {"api"}


def test_one_bad_event_rejects_the_batch_naming_every_problem_by_index(
    client: FlaskClient, db_session: Session, api_token, journey_with_customers
) -> None:
    token = api_token(Role.ADMIN)
    journey.archive_touchpoint(
        db_session,
        db_session.scalar(select(Touchpoint).where(Touchpoint.key == "island")),
        actor=None,
        at=T0,
    )
    db_session.commit()
    body = {
        "events": [
            _event(),
            _event(ref="K-404"),
            _event(),
            _event(tp="island"),
            _event(tp="nowhere", at="yesterday", channel="pigeon"),
        ]
    }

    response = _post(client, token, body)

    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {
        "events[1].customer_ref",
        "events[3].touchpoint",
        "events[4].touchpoint",
        "events[4].occurred_at",
        "events[4].channel",
    }
    assert "K-404" in fields["events[1].customer_ref"]
    assert "archiv" in fields["events[3].touchpoint"]  # archived / archiviert
    assert _stored(db_session) == []


def test_a_shape_error_names_its_index(
    client: FlaskClient, db_session: Session, api_token, journey_with_customers
) -> None:
    response = _post(
        client, api_token(Role.ADMIN), {"events": [_event(), {**_event(), "channel": 5}]}
    )

    assert response.status_code == 422
    assert "events[1].channel" in response.get_json()["error"]["fields"]


def test_10000_events_are_accepted_and_10001_rejected(
    client: FlaskClient, db_session: Session, api_token, journey_with_customers
) -> None:
    token = api_token(Role.ADMIN)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        _event(ref=f"K-{1 + i % 2}", at=(start + timedelta(minutes=i)).isoformat())
        for i in range(10_001)
    ]

    too_many = _post(client, token, {"events": items})
    assert too_many.status_code == 422
    assert "events" in too_many.get_json()["error"]["fields"]
    assert db_session.scalar(select(func.count()).select_from(JourneyEvent)) == 0

    just_enough = _post(client, token, {"events": items[:10_000]})
    assert just_enough.status_code == 201
    assert just_enough.get_json() == {"created": 10_000}
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(JourneyEvent)) == 10_000


def test_an_empty_batch_is_rejected(
    client: FlaskClient, db_session: Session, api_token, journey_with_customers
) -> None:
    response = _post(client, api_token(Role.ADMIN), {"events": []})

    assert response.status_code == 422
    assert "events" in response.get_json()["error"]["fields"]


def test_a_time_without_offset_means_the_configured_timezone(
    client: FlaskClient, db_session: Session, api_token, journey_with_customers
) -> None:
    body = {
        "events": [
            _event(at="2026-03-01T10:00:00"),  # winter: UTC+1
            _event(at="2026-07-01T10:00:00"),  # summer: UTC+2
            _event(at="2026-07-01T10:00:00Z"),
        ]
    }

    response = _post(client, api_token(Role.ADMIN), body)

    assert response.status_code == 201
    times = [row[1] for row in _stored(db_session)]
    assert times == [
        datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
    ]


def test_roles_without_import_permission_get_403(
    client: FlaskClient, db_session: Session, api_token, journey_with_customers
) -> None:
    response = _post(client, api_token(Role.AGENT), {"events": [_event()]})

    assert response.status_code == 403
    assert _stored(db_session) == []


def test_the_service_creates_missing_customers_acquired_at_their_first_event(
    db_session: Session, journey_with_customers
) -> None:
    batch = [
        events.EventInput("NEW-1", "app", "2026-03-05T10:00:00Z", "app"),
        events.EventInput("NEW-1", "website", "2026-03-01T08:00:00Z", "web"),
        events.EventInput("K-1", "hotline", "2026-03-02T08:00:00Z", "phone"),
    ]

    created = events.record_events(
        db_session, batch, source="test", at=T0, zone=BERLIN, create_customers=True
    )
    db_session.commit()

    assert created == 3
    customer = db_session.scalar(select(Customer).where(Customer.external_ref == "NEW-1"))
    assert customer is not None
    assert customer.name == "NEW-1"
    assert customer.acquired_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_the_service_refuses_unknown_customers_without_create_customers(
    db_session: Session, journey_with_customers
) -> None:
    batch = [events.EventInput("NEW-1", "app", "2026-03-05T10:00:00Z", "app")]

    with pytest.raises(ValidationError) as err:
        events.record_events(db_session, batch, source="test", at=T0, zone=BERLIN)

    assert set(err.value.fields) == {"events[0].customer_ref"}


def test_the_timeline_lists_the_latest_events_newest_first(
    db_session: Session, journey_with_customers
) -> None:
    customer = make_customer(db_session, "K-1")
    batch = [
        events.EventInput("K-1", "website", "2026-03-01T08:00:00Z", "web"),
        events.EventInput("K-1", "app", "2026-03-02T08:00:00Z", "app"),
        events.EventInput("K-1", "hotline", "2026-03-02T08:00:00Z", "phone"),
        events.EventInput("K-2", "hotline", "2026-03-09T08:00:00Z", "phone"),
    ]
    events.record_events(db_session, batch, source="test", at=T0, zone=BERLIN)
    db_session.commit()

    timeline = events.customer_timeline_events(db_session, customer, limit=2)

    assert [(e.touchpoint_key, e.channel) for e in timeline] == [
        ("hotline", Channel.PHONE),
        ("app", Channel.APP),
    ]
