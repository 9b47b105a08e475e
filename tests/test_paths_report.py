"""Paths to churn and repeat-contact loops (GET /api/v1/reports/paths), worked out by hand on
the journeys of test_churn_report and on a small loop case, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cxjourney.analytics.kpis import KpiFilters
from cxjourney.analytics.paths import LoopRow, PathRow, PathsReport, paths_report
from cxjourney.analytics.windows import Window
from cxjourney.errors import ValidationError
from cxjourney.journey.models import Touchpoint

from .factories import make_customer, make_event, small_journey
from .test_churn_report import WINDOW, _journeys, at

QUERY = {"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


def _loops(session: Session) -> dict[str, Touchpoint]:
    """Five customers going back and forth between the app and the hotline.

    Collapsed paths (visits of app / hotline):
      L1  app → hotline → app → hotline → app → CHURN       (3 / 2: an app loop)
      L2  app → STAY                                       (three app events, one visit)
      L3  hotline → app → hotline → app → hotline → app → STAY   (3 / 3: both loop)
      L4  app → hotline → app → hotline → CHURN   (the app event after the cancellation cut)
      L5  app → hotline → app → hotline → CHURN   (the app event after churned_at cut)
    """
    tps = small_journey(session)
    a, h, x = tps["app"], tps["hotline"], tps["cancellation"]
    plan: dict[str, tuple[datetime | None, list[Touchpoint]]] = {
        "L1": (at(3, 20), [a, h, a, h, a]),
        "L2": (None, [a, a, a]),
        "L3": (None, [h, a, h, a, h, a]),
        "L4": (at(3, 1), [a, h, a, h, x, a]),
        "L5": (at(1, 8, 12), [a, h, a, h, a]),
    }
    for ref, (churned_at, touchpoints) in plan.items():
        customer = make_customer(session, ref, churned_at=churned_at, segment=f"seg-{ref}")
        for day, touchpoint in enumerate(touchpoints, start=5):
            # L1 calls the hotline by phone; everything else is on the web.
            channel = "phone" if ref == "L1" and touchpoint is h else "web"
            make_event(session, customer, touchpoint, at(1, day), channel=channel)
    session.commit()
    return tps


def _paths(report: PathsReport) -> list[tuple[str, int]]:
    return [(">".join(row.touchpoints), row.count) for row in report.paths]


def test_the_churned_customers_most_frequent_paths(app: Flask, db_session: Session) -> None:
    _journeys(app, db_session)
    report = paths_report(db_session, WINDOW, KpiFilters(), outcome="churn")
    # A website → app → hotline; C and G app → hotline (see _journeys).
    assert report.customers == 3
    assert report.paths == (
        PathRow(("app", "hotline"), 2, pytest.approx(200 / 3)),  # type: ignore[arg-type]
        PathRow(("website", "app", "hotline"), 1, pytest.approx(100 / 3)),  # type: ignore[arg-type]
    )
    assert report.loops == ()


def test_the_staying_customers_paths_tie_by_path(app: Flask, db_session: Session) -> None:
    _journeys(app, db_session)
    report = paths_report(db_session, WINDOW, KpiFilters(), outcome="stay")
    # B website → app, F island (churns after the window); one each, so by path text.
    assert report.customers == 2
    assert report.paths == (PathRow(("island",), 1, 50.0), PathRow(("website", "app"), 1, 50.0))


def test_limit_keeps_the_most_frequent(app: Flask, db_session: Session) -> None:
    _journeys(app, db_session)
    report = paths_report(db_session, WINDOW, KpiFilters(), outcome="churn", limit=1)
    assert _paths(report) == [("app>hotline", 2)]
    assert report.customers == 3
    assert report.paths[0].share == pytest.approx(200 / 3)


def test_loops_count_collapsed_visits_after_the_cuts(app: Flask, db_session: Session) -> None:
    _loops(db_session)
    report = paths_report(db_session, WINDOW, KpiFilters(), outcome="churn")
    assert report.customers == 3
    assert _paths(report) == [("app>hotline>app>hotline", 2), ("app>hotline>app>hotline>app", 1)]
    # app: L1 (churned) and L3; hotline: L3 only. L2's three app events are one visit, L4
    # and L5 lose their third app visit to the cancellation and to churned_at.
    assert report.loops == (
        LoopRow("app", customers=2, churned=1, churn_rate=50.0),
        LoopRow("hotline", customers=1, churned=0, churn_rate=0.0),
    )
    stay = paths_report(db_session, WINDOW, KpiFilters(), outcome="stay")
    assert stay.customers == 2
    assert _paths(stay) == [("app", 1), ("hotline>app>hotline>app>hotline>app", 1)]
    assert [row.share for row in stay.paths] == [50.0, 50.0]
    assert stay.loops == report.loops  # loops are over the whole churn population


def test_touchpoint_selects_paths_and_loops_but_not_the_population(
    app: Flask, db_session: Session
) -> None:
    tps = _loops(db_session)
    hotline = KpiFilters(touchpoint_id=tps["hotline"].id)
    report = paths_report(db_session, WINDOW, hotline, outcome="stay")
    assert report.customers == 2
    assert _paths(report) == [("hotline>app>hotline>app>hotline>app", 1)]
    assert report.paths[0].share == 50.0
    assert [row.key for row in report.loops] == ["hotline"]


def test_stage_selects_the_paths_through_its_touchpoints(app: Flask, db_session: Session) -> None:
    tps = _journeys(app, db_session)
    purchase = KpiFilters(stage_id=tps["website"].stage_id)
    assert _paths(paths_report(db_session, WINDOW, purchase)) == [("website>app>hotline", 1)]
    usage = KpiFilters(stage_id=tps["app"].stage_id)  # app and island
    assert _paths(paths_report(db_session, WINDOW, usage, outcome="stay")) == [
        ("island", 1),
        ("website>app", 1),
    ]


def test_channel_narrows_the_events_before_collapsing(app: Flask, db_session: Session) -> None:
    _loops(db_session)
    web = paths_report(db_session, WINDOW, KpiFilters(channel="web"), outcome="churn")  # type: ignore[arg-type]
    # Without L1's phone calls its app events are consecutive: one visit, no loop.
    assert ("app", 1) in _paths(web)
    assert web.loops == (
        LoopRow("app", customers=1, churned=0, churn_rate=0.0),
        LoopRow("hotline", customers=1, churned=0, churn_rate=0.0),
    )


def test_segment_narrows_the_population(app: Flask, db_session: Session) -> None:
    _loops(db_session)
    report = paths_report(db_session, WINDOW, KpiFilters(segment="seg-L1"), outcome="churn")
    assert report.customers == 1
    assert _paths(report) == [("app>hotline>app>hotline>app", 1)]
    assert report.paths[0].share == 100.0
    assert report.loops == (LoopRow("app", customers=1, churned=1, churn_rate=100.0),)


def test_an_empty_window_lists_nothing(app: Flask, db_session: Session) -> None:
    _loops(db_session)
    empty = Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC))
    for outcome in ("churn", "stay"):
        report = paths_report(db_session, empty, KpiFilters(), outcome=outcome)  # type: ignore[arg-type]
        assert (report.customers, report.paths, report.loops) == (0, (), ())


@pytest.mark.parametrize(
    ("options", "field"),
    [({"outcome": "maybe"}, "outcome"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit")],
)
def test_the_service_refuses_bad_options(
    db_session: Session, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as err:
        paths_report(db_session, WINDOW, KpiFilters(), **options)
    assert set(err.value.fields) == {field}


def test_a_fixed_number_of_queries(app: Flask, db_session: Session) -> None:
    from sqlalchemy import event

    tps = _loops(db_session)
    app_only = KpiFilters(touchpoint_id=tps["app"].id)
    statements: list[str] = []

    def count(*_args: Any) -> None:
        statements.append("q")

    def run() -> int:
        statements.clear()
        engine = db_session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            paths_report(db_session, WINDOW, app_only)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    few = run()
    for n in range(30):
        someone = make_customer(db_session, f"M{n}")
        for day in range(1, 8):
            make_event(db_session, someone, tps["app" if day % 2 else "hotline"], at(2, day))
    db_session.commit()
    assert run() == few == 3


@pytest.fixture
def get(client: FlaskClient, api_token: Callable[[str], str]) -> Callable[..., Any]:
    token = api_token("viewer")

    def _get(language: str = "en", **params: str) -> Any:
        return client.get(
            "/api/v1/reports/paths",
            query_string=params,
            headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
        )

    return _get


def test_the_endpoint_answers_the_report(
    app: Flask, db_session: Session, get: Callable[..., Any]
) -> None:
    _loops(db_session)
    response = get(**QUERY)
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "window": {"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"},
        "outcome": "churn",
        "customers": 3,
        "paths": [
            {
                "touchpoints": ["app", "hotline", "app", "hotline"],
                "count": 2,
                "share": pytest.approx(200 / 3),
            },
            {
                "touchpoints": ["app", "hotline", "app", "hotline", "app"],
                "count": 1,
                "share": pytest.approx(100 / 3),
            },
        ],
        "loops": [
            {"key": "app", "customers": 2, "churned": 1, "churn_rate": 50.0},
            {"key": "hotline", "customers": 1, "churned": 0, "churn_rate": 0.0},
        ],
    }


def test_the_endpoint_takes_outcome_limit_and_filters(
    app: Flask, db_session: Session, get: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    stay = get(**QUERY, outcome="stay", limit="1").get_json()
    assert (stay["outcome"], stay["customers"]) == ("stay", 2)
    assert stay["paths"] == [{"touchpoints": ["island"], "count": 1, "share": 50.0}]
    website = get(**QUERY, touchpoint="website").get_json()
    assert [p["touchpoints"] for p in website["paths"]] == [["website", "app", "hotline"]]
    assert get(**QUERY, stage="support", outcome="stay").get_json()["paths"] == []


def test_a_comparison_adds_the_same_shape_under_compare(
    app: Flask, db_session: Session, get: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    assert "compare" not in get(**QUERY).get_json()
    body = get(**QUERY, compare="true").get_json()
    # Not local month starts (UTC midnight): the same 90 days before, nobody there.
    assert body["compare"] == {
        "window": {"from": "2025-10-03T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        "outcome": "churn",
        "customers": 0,
        "paths": [],
        "loops": [],
    }
    explicit = get(
        **QUERY, outcome="stay", compare_from="2026-01-01T00:00:00Z", compare_to="2026-02-01"
    ).get_json()
    # January: A churned in it; B website (its app event is in February) and C app (it
    # churns in March) stayed.
    assert explicit["compare"]["customers"] == 2
    assert [p["touchpoints"] for p in explicit["compare"]["paths"]] == [["app"], ["website"]]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"outcome": "maybe"}, {"outcome"}),
        ({"outcome": ""}, {"outcome"}),
        ({"limit": "0"}, {"limit"}),
        ({"limit": "101"}, {"limit"}),
        ({"limit": "many"}, {"limit"}),
        ({"from": "2026-02-01", "to": "2026-01-01"}, {"to"}),
        ({"from": "2010-01-01", "to": "2026-01-01"}, {"to"}),
        ({"touchpoint": "nowhere"}, {"touchpoint"}),
        ({"stage": "nowhere"}, {"stage"}),
        ({"segment": "nobody"}, {"segment"}),
        ({"channel": "pigeon"}, {"channel"}),
        ({"compare": "perhaps"}, {"compare"}),
        ({"compare_from": "2025-01-01"}, {"compare_to"}),
        ({"measure": "luck"}, {"measure"}),
        ({"from": "yesterday"}, {"from"}),
    ],
)
def test_bad_input_is_422_naming_the_field(
    app: Flask,
    db_session: Session,
    get: Callable[..., Any],
    params: dict[str, str],
    fields: set[str],
) -> None:
    _journeys(app, db_session)
    response = get(**{"from": "2026-01-01", "to": "2026-02-01", **params})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == fields
    assert error["message"]


@pytest.mark.parametrize(
    ("language", "outcome", "limit"),
    [
        ("en", "Choose churn or stay.", "Give a whole number from 1 to 100."),
        ("de", "Wählen Sie churn oder stay.", "Geben Sie eine ganze Zahl von 1 bis 100 an."),
    ],
)
def test_the_messages_are_translated(
    db_session: Session, get: Callable[..., Any], language: str, outcome: str, limit: str
) -> None:
    fields = get(language, **QUERY, outcome="maybe", limit="0").get_json()["error"]["fields"]
    assert fields == {"outcome": outcome, "limit": limit}


def test_the_report_needs_a_token(client: FlaskClient, db_session: Session) -> None:
    response = client.get("/api/v1/reports/paths", query_string=QUERY)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"]


def test_the_openapi_document_describes_the_report(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/reports/paths"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"from", "to", "outcome", "limit", "touchpoint", "stage", "compare"} <= names
