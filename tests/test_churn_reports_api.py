"""GET /api/v1/reports/touchpoints, /attribution, /hotspots: the contract's shapes, the
comparison, and clear 422s for bad input (never a 500)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from .test_churn_report import _journeys

TOUCHPOINT_FIELDS = {
    "key",
    "stage",
    "contacts",
    "customers",
    "complaints",
    "complaint_rate",
    "complaint_low95",
    "responses",
    "nps",
    "csat",
    "ces_mean",
    "negative_share",
    "negative_low95",
    "churned",
    "churn_rate",
    "churn_low95",
    "churn_lift",
    "value_at_risk",
    "removal_effect",
    "attributed_churn",
    "hotspot",
    "hotspot_reasons",
}
WINDOW = {"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


@pytest.fixture
def get(client: FlaskClient, api_token: Callable[[str], str]) -> Callable[..., Any]:
    token = api_token("viewer")

    def _get(report: str, **params: str) -> Any:
        return client.get(
            f"/api/v1/reports/{report}",
            query_string=params,
            headers={"Authorization": f"Bearer {token}"},
        )

    return _get


def test_the_touchpoint_report_has_every_field_of_the_contract(
    app: Flask, db_session: Session, get: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    response = get("touchpoints", **WINDOW)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"window", "touchpoints"}
    rows = {row["key"]: row for row in body["touchpoints"]}
    assert set(rows) == {"website", "app", "hotline", "cancellation", "island"}
    for row in rows.values():
        assert set(row) == TOUCHPOINT_FIELDS
    assert rows["hotline"]["hotspot_reasons"] == ["complaint_rate"]
    assert rows["app"]["stage"] == "usage"
    assert rows["app"]["removal_effect"] == pytest.approx(1.0)
    assert rows["cancellation"]["customers"] is None


def test_attribution_and_hotspots(app: Flask, db_session: Session, get: Callable[..., Any]) -> None:
    _journeys(app, db_session)
    attribution = get("attribution", **WINDOW).get_json()
    assert (attribution["customers"], attribution["churned"]) == (5, 3)
    assert attribution["p_churn"] == pytest.approx(0.6)
    by_key = {row["key"]: row for row in attribution["touchpoints"]}
    assert set(by_key["website"]) == {"key", "visits", "removal_effect", "attributed_churn"}
    assert by_key["website"]["visits"] == 2
    assert by_key["website"]["attributed_churn"] == pytest.approx(0.6)
    hotspots = get("hotspots", **WINDOW).get_json()
    assert set(hotspots) == {
        "window",
        "complaint_rate",
        "negative_share",
        "churn_rate",
        "hotspots",
        "clusters",
    }
    assert hotspots["hotspots"] == ["app", "hotline"]
    assert hotspots["clusters"] == [
        {
            "touchpoints": ["app", "hotline"],
            "attributed_churn": pytest.approx(2.4),
            "value_at_risk": pytest.approx(50.0),
        }
    ]
    assert hotspots["churn_rate"] == pytest.approx(60.0)


def test_a_comparison_adds_the_same_shape_under_compare(
    app: Flask, db_session: Session, get: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    plain = get("hotspots", **WINDOW).get_json()
    assert "compare" not in plain
    body = get("hotspots", **WINDOW, compare="true").get_json()
    # Not local month starts (UTC midnight): the same duration (90 days) before.
    assert body["compare"]["window"] == {
        "from": "2025-10-03T00:00:00Z",
        "to": "2026-01-01T00:00:00Z",
    }
    assert body["compare"]["hotspots"] == []
    explicit = get(
        "attribution", **WINDOW, compare_from="2026-01-01T00:00:00Z", compare_to="2026-02-01"
    ).get_json()
    assert explicit["compare"]["customers"] == 3  # A, B and C passed something in January


@pytest.mark.parametrize("report", ["touchpoints", "attribution", "hotspots"])
@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, {"to"}),
        ({"from": "2010-01-01", "to": "2026-01-01"}, {"to"}),
        ({"from": "2026-01-01", "to": "2026-02-01", "touchpoint": "nowhere"}, {"touchpoint"}),
        ({"from": "2026-01-01", "to": "2026-02-01", "segment": "nobody"}, {"segment"}),
        ({"from": "2026-01-01", "to": "2026-02-01", "stage": "nowhere"}, {"stage"}),
        ({"from": "2026-01-01", "to": "2026-02-01", "measure": "luck"}, {"measure"}),
        ({"from": "2026-01-01", "to": "2026-02-01", "compare": "perhaps"}, {"compare"}),
        ({"from": "yesterday", "to": "2026-02-01"}, {"from"}),
        ({"to": "2026-02-01"}, {"from"}),
    ],
)
def test_bad_input_is_422_naming_the_field(
    app: Flask,
    db_session: Session,
    get: Callable[..., Any],
    report: str,
    params: dict[str, str],
    fields: set[str],
) -> None:
    _journeys(app, db_session)
    response = get(report, **params)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == fields
    assert error["message"]


def test_reports_need_a_token(client: FlaskClient, db_session: Session) -> None:
    response = client.get("/api/v1/reports/hotspots", query_string=WINDOW)
    assert response.status_code == 401


def test_the_openapi_document_describes_the_reports(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for report in ("touchpoints", "attribution", "hotspots"):
        operation = spec["paths"][f"/api/v1/reports/{report}"]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"from", "to", "touchpoint", "stage", "segment", "channel", "compare"} <= names
