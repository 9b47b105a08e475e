"""GET /api/v1/reports/kpis: the contract's shape, window parsing, comparison, 422s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cxjourney.analytics.kpis import COUNTS, METRICS
from cxjourney.config import TestConfig

from .factories import make_customer, make_event, make_feedback, small_journey

URL = "/api/v1/reports/kpis"
ZONE = ZoneInfo(TestConfig.BABEL_DEFAULT_TIMEZONE or "Europe/Berlin")


def z(year: int, month: int, day: int, hour: int = 0) -> str:
    """Local wall time as the API writes it: UTC with Z."""
    moment = datetime(year, month, day, hour, tzinfo=ZONE).astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def get(client: FlaskClient, api_token: Callable[[str], str]) -> Callable[..., Any]:
    token = api_token("viewer")

    def _get(**params: str) -> Any:
        return client.get(URL, query_string=params, headers={"Authorization": f"Bearer {token}"})

    return _get


def test_kpis_answer_every_metric_with_value_compare_and_change(
    db_session: Session, get: Callable[..., Any]
) -> None:
    response = get(**{"from": "2025-01-01", "to": "2025-02-01"})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"window", "compare", "metrics"}
    assert set(body["metrics"]) == set(METRICS)
    for name, metric in body["metrics"].items():
        assert set(metric) == {"value", "compare", "change"}
        expected = 0 if name in COUNTS or name == "value_at_risk" else None
        assert metric["value"] == expected, name


def test_bare_dates_are_local_midnight_and_answered_in_utc(
    db_session: Session, get: Callable[..., Any]
) -> None:
    body = get(**{"from": "2025-01-01", "to": "2025-04-01"}).get_json()
    assert body["window"] == {"from": z(2025, 1, 1), "to": z(2025, 4, 1)}
    # Whole months: the three calendar months before.
    assert body["compare"] == {"from": z(2024, 10, 1), "to": z(2025, 1, 1)}


def test_naive_times_are_local_and_offsets_are_honoured(
    db_session: Session, get: Callable[..., Any]
) -> None:
    body = get(**{"from": "2025-01-10T12:00:00", "to": "2025-01-11T00:00:00+00:00"}).get_json()
    assert body["window"]["from"] == z(2025, 1, 10, 12)
    assert body["window"]["to"] == "2025-01-11T00:00:00Z"
    # Not whole months: the same duration before `from`.
    start = local(2025, 1, 10, 12)
    end = datetime(2025, 1, 11, tzinfo=UTC)
    before = (start - (end - start)).isoformat().replace("+00:00", "Z")
    assert body["compare"] == {"from": before, "to": body["window"]["from"]}


def test_explicit_comparison_window_and_figures(
    db_session: Session, get: Callable[..., Any]
) -> None:
    tps = small_journey(db_session)
    someone = make_customer(db_session, "K-1", acquired_at=local(2020, 1, 1), segment="private")
    make_feedback(db_session, tps["app"], "csat", 5, local(2025, 1, 10), customer=someone)
    make_feedback(db_session, tps["app"], "csat", 2, local(2025, 1, 10))
    make_feedback(db_session, tps["app"], "csat", 4, local(2023, 6, 10))
    make_event(db_session, someone, tps["app"], local(2025, 1, 10))
    db_session.commit()
    body = get(
        **{
            "from": "2025-01-01",
            "to": "2025-02-01",
            "compare_from": "2023-06-01",
            "compare_to": "2023-07-01",
        }
    ).get_json()
    assert body["compare"] == {"from": z(2023, 6, 1), "to": z(2023, 7, 1)}
    assert body["metrics"]["csat"] == {"value": 50.0, "compare": 100.0, "change": -50.0}
    assert body["metrics"]["responses"] == {"value": 2, "compare": 1, "change": 1}
    assert body["metrics"]["contacts"]["value"] == 1
    segment = get(**{"from": "2025-01-01", "to": "2025-02-01", "segment": "private"})
    assert segment.get_json()["metrics"]["csat"]["value"] == 100.0
    filtered = get(**{"from": "2025-01-01", "to": "2025-02-01", "touchpoint": "hotline"})
    assert filtered.get_json()["metrics"]["csat"]["value"] is None


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "2025-02-01", "to": "2025-01-01"}, {"to"}),
        ({"from": "2025-01-01", "to": "2025-01-01"}, {"to"}),
        ({"to": "2025-01-01"}, {"from"}),
        ({"from": "2025-01-01"}, {"to"}),
        ({"from": "yesterday", "to": "2025-01-01"}, {"from"}),
        ({"from": "2025-01-01", "to": "2025-02-01", "touchpoint": "nowhere"}, {"touchpoint"}),
        ({"from": "2025-01-01", "to": "2025-02-01", "stage": "never"}, {"stage"}),
        ({"from": "2025-01-01", "to": "2025-02-01", "channel": "pigeon"}, {"channel"}),
        ({"from": "2025-01-01", "to": "2025-02-01", "compare_from": "2024-01-01"}, {"compare_to"}),
        ({"from": "2025-01-01", "to": "2025-02-01", "compare_to": "2024-01-01"}, {"compare_from"}),
        (
            {
                "from": "2025-01-01",
                "to": "2025-02-01",
                "compare_from": "2024-02-01",
                "compare_to": "2024-01-01",
            },
            {"compare_to"},
        ),
        (
            {"from": "2025-02-01", "to": "2025-01-01", "touchpoint": "nowhere"},
            {"to", "touchpoint"},
        ),
        ({"from": "2025-01-01", "to": "2025-02-01", "colour": "red"}, {"colour"}),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    db_session: Session, get: Callable[..., Any], params: dict[str, str], fields: set[str]
) -> None:
    small_journey(db_session)
    response = get(**params)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == fields
    assert error["code"]


def test_kpis_need_a_token(client: FlaskClient, db_session: Session) -> None:
    response = client.get(URL, query_string={"from": "2025-01-01", "to": "2025-02-01"})
    assert response.status_code == 401
    assert response.get_json()["error"]


@pytest.mark.parametrize("role", ["agent", "touchpoint_manager", "team_lead", "viewer", "admin"])
def test_every_role_reads_reports(
    client: FlaskClient, api_token: Callable[[str], str], role: str
) -> None:
    # VIEW_REPORTS belongs to every role, so there is no wrong role to refuse.
    response = client.get(
        URL,
        query_string={"from": "2025-01-01", "to": "2025-02-01"},
        headers={"Authorization": f"Bearer {api_token(role)}"},
    )
    assert response.status_code == 200


def test_the_openapi_document_describes_the_report(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"][URL]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"from", "to", "touchpoint", "stage", "segment", "channel"} <= names
    assert {"compare_from", "compare_to"} <= names
