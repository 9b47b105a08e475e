"""Customer value records (API) and the lifetime value rule around local midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.customers import values
from cxjourney.customers.models import CustomerValue, ValueKind
from cxjourney.errors import ValidationError

from .factories import T0, make_customer

BERLIN = ZoneInfo("Europe/Berlin")
SECOND = timedelta(seconds=1)


def _post(client: FlaskClient, token: str, ref: str, body: object) -> object:
    return client.post(
        f"/api/v1/customers/{ref}/values",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )


def _records(session: Session) -> list[tuple[ValueKind, Decimal, date, str]]:
    session.rollback()
    rows = session.execute(
        select(
            CustomerValue.kind,
            CustomerValue.amount,
            CustomerValue.occurred_on,
            CustomerValue.source,
        ).order_by(CustomerValue.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_value_record_is_stored_and_answered(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    make_customer(db_session, "K-1")
    response = _post(
        client,
        api_token(Role.ADMIN),
        "K-1",
        {"kind": "revenue", "amount": "12.50", "occurred_on": "2026-03-01"},
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["customer_ref"] == "K-1"
    assert body["kind"] == "revenue"
    assert body["amount"] == "12.50"
    assert body["occurred_on"] == "2026-03-01"
    assert body["source"] == "api"
    assert _records(db_session) == [(ValueKind.REVENUE, Decimal("12.50"), date(2026, 3, 1), "api")]


def test_a_number_is_accepted_as_amount(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    make_customer(db_session, "K-1")
    response = _post(
        client,
        api_token(Role.ADMIN),
        "K-1",
        {"kind": "cost", "amount": 7.5, "occurred_on": "2026-03-01"},
    )

    assert response.status_code == 201
    assert response.get_json()["amount"] == "7.50"


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        ("12.505", "amount"),
        ("-1.00", "amount"),
        ("10000000000.00", "amount"),
        ("zwölf", "amount"),
        (True, "amount"),
    ],
)
def test_bad_amounts_are_rejected_and_nothing_is_stored(
    client: FlaskClient, db_session: Session, api_token, amount: object, field: str
) -> None:
    make_customer(db_session, "K-1")
    response = _post(
        client,
        api_token(Role.ADMIN),
        "K-1",
        {"kind": "revenue", "amount": amount, "occurred_on": "2026-03-01"},
    )

    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    assert _records(db_session) == []


def test_a_bad_kind_and_date_are_named(client: FlaskClient, db_session: Session, api_token) -> None:
    make_customer(db_session, "K-1")
    response = _post(
        client,
        api_token(Role.ADMIN),
        "K-1",
        {"kind": "profit", "amount": "1", "occurred_on": "1.3.2026"},
    )

    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"kind", "occurred_on"}


def test_an_unknown_customer_is_404(client: FlaskClient, db_session: Session, api_token) -> None:
    response = _post(
        client,
        api_token(Role.ADMIN),
        "K-404",
        {"kind": "revenue", "amount": "1.00", "occurred_on": "2026-03-01"},
    )

    assert response.status_code == 404


def test_roles_without_import_permission_get_403(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    make_customer(db_session, "K-1")
    response = _post(
        client,
        api_token(Role.TEAM_LEAD),
        "K-1",
        {"kind": "revenue", "amount": "1.00", "occurred_on": "2026-03-01"},
    )

    assert response.status_code == 403
    assert _records(db_session) == []


def test_the_service_names_a_bad_amount(db_session: Session) -> None:
    customer = make_customer(db_session, "K-1")

    with pytest.raises(ValidationError) as err:
        values.record_value(
            db_session,
            customer,
            kind="revenue",
            amount="1.001",
            occurred_on=date(2026, 3, 1),
            source="test",
            at=T0,
        )

    assert set(err.value.fields) == {"amount"}


def _add(session: Session, customer, kind: ValueKind, amount: str, day: date) -> None:  # type: ignore[no-untyped-def]
    values.record_value(
        session, customer, kind=kind, amount=amount, occurred_on=day, source="test", at=T0
    )


@pytest.mark.parametrize(
    ("day", "local_midnight_utc"),
    [
        (date(2026, 3, 2), datetime(2026, 3, 1, 23, 0, tzinfo=UTC)),  # winter, UTC+1
        (date(2026, 7, 1), datetime(2026, 6, 30, 22, 0, tzinfo=UTC)),  # summer, UTC+2
    ],
)
def test_a_record_counts_once_local_midnight_of_its_day_has_passed(
    db_session: Session, day: date, local_midnight_utc: datetime
) -> None:
    customer = make_customer(db_session, "K-1")
    _add(db_session, customer, ValueKind.REVENUE, "100.00", day - timedelta(days=1))
    _add(db_session, customer, ValueKind.COST, "30.00", day - timedelta(days=1))
    _add(db_session, customer, ValueKind.REVENUE, "50.00", day)
    db_session.commit()

    at_midnight = values.clv_at(db_session, customer, local_midnight_utc, BERLIN)
    just_after = values.clv_at(db_session, customer, local_midnight_utc + SECOND, "Europe/Berlin")
    just_before = values.clv_at(db_session, customer, local_midnight_utc - SECOND, BERLIN)

    assert at_midnight == Decimal("70.00")  # 00:00 on the day is not before t
    assert just_after == Decimal("120.00")
    assert just_before == Decimal("70.00")


def test_the_lifetime_value_without_records_is_zero(db_session: Session) -> None:
    customer = make_customer(db_session, "K-1")

    assert values.clv_at(db_session, customer, T0, BERLIN) == Decimal("0.00")


def test_the_lifetime_value_is_one_query(db_session: Session) -> None:
    from sqlalchemy import event

    customer = make_customer(db_session, "K-1")
    _add(db_session, customer, ValueKind.REVENUE, "10.00", date(2026, 1, 1))
    db_session.commit()
    customer_id = customer.id
    statements: list[str] = []
    engine = db_session.get_bind()

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        customer = db_session.get(type(customer), customer_id)
        statements.clear()
        value = values.clv_at(db_session, customer, T0, BERLIN)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert value == Decimal("10.00")
    assert len(statements) == 1
