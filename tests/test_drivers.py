"""Service drivers of satisfaction against hand-computed figures, and GET
/api/v1/reports/drivers: shape, comparison, 401/403/422.

Six complaints of January 2025 (local time) have a survey answer; what each got:

| c  | touchpoint | channel | first response | resolution | reopened | breached | CSAT |
|----|------------|---------|----------------|------------|----------|----------|------|
| c1 | hotline    | letter  | 0.5 h          | 10 h       | no       | no       | 5    |
| c2 | hotline    | email   | 1 h            | 24 h       | no       | no       | 3    |
| c3 | hotline    | email   | 6 h            | 100 h      | yes      | no       | 4    |
| c4 | app        | phone   | 12 h           | 200 h      | no       | yes      | 2    |
| c5 | app        | letter  | 30 h           | 400 h      | yes      | yes      | 1    |
| c6 | app        | phone   | –              | 50 h       | no       | yes      | 2    |

c1 answered twice (the later 1 is ignored); c3's resolution is its first resolve entry
(100 h), not ``resolved_at`` (300 h, after a reopen). Around them: a complaint without an
answer, one with only an NPS answer and a CSAT from a feedback link, and one received in
December (the default comparison window) with an answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from flask.testing import FlaskClient
from scipy import stats
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from cxjourney.analytics.drivers import DRIVERS, Driver, DriverReport, driver_report
from cxjourney.analytics.intervals import Z95
from cxjourney.analytics.kpis import KpiFilters, resolve_filters
from cxjourney.analytics.windows import Window
from cxjourney.complaints.models import Complaint, ComplaintEvent, ComplaintStatus, EventKind
from cxjourney.complaints.services import Settings
from cxjourney.config import TestConfig
from cxjourney.feedback.models import FeedbackKind, FeedbackResponse, FeedbackSource
from cxjourney.journey.models import Channel

from .factories import T0, make_complaint, make_customer, make_policy, small_journey

URL = "/api/v1/reports/drivers"
ZONE = ZoneInfo(TestConfig.BABEL_DEFAULT_TIMEZONE or "Europe/Berlin")
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
JANUARY = {"from": "2025-01-01", "to": "2025-02-01"}


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZONE).astimezone(UTC)


def z(year: int, month: int, day: int) -> str:
    return local(year, month, day).isoformat().replace("+00:00", "Z")


def january() -> Window:
    return Window(local(2025, 1, 1), local(2025, 2, 1))


def answer(
    session: Session,
    complaint: Complaint,
    score: int,
    submitted_at: datetime,
    *,
    kind: FeedbackKind = FeedbackKind.CSAT,
    source: FeedbackSource = FeedbackSource.SURVEY,
) -> FeedbackResponse:
    """A feedback response about ``complaint``, inserted directly (the survey's shape)."""
    response = FeedbackResponse(
        touchpoint_id=complaint.touchpoint_id,
        kind=kind,
        score=score,
        channel=Channel.EMAIL,
        submitted_at=submitted_at,
        customer_id=complaint.customer_id,
        complaint_id=complaint.id,
        source=source,
        created_at=T0,
    )
    session.add(response)
    session.flush()
    return response


def served(
    session: Session,
    received_at: datetime,
    *,
    touchpoint: str = "hotline",
    channel: str = "letter",
    customer: str = "K-1",
    first_response_h: float | None = None,
    resolved_h: float | None = None,
    reopened: bool = False,
    breached: bool = False,
) -> Complaint:
    """A complaint logged at ``received_at`` whose outcome columns are then set directly."""
    complaint = make_complaint(
        session,
        Settings.from_config(current_app.config),
        customer=make_customer(session, customer),
        touchpoint=touchpoint,
        channel=channel,
        received_at=received_at,
        at=received_at,
    )
    values: dict[str, Any] = {
        "first_response_at": None
        if first_response_h is None
        else received_at + timedelta(hours=first_response_h),
        "resolved_at": None if resolved_h is None else received_at + timedelta(hours=resolved_h),
        "reopen_count": 1 if reopened else 0,
    }
    if resolved_h is not None:
        values["status"] = ComplaintStatus.RESOLVED
    if breached:  # marked by the SLA sweep; without a policy there would be no clocks
        values["sla_policy_id"] = make_policy(session, "medium", name="Standard").id
        values["first_response_breached_at"] = received_at + timedelta(hours=1)
    session.execute(update(Complaint).where(Complaint.id == complaint.id).values(**values))
    session.commit()
    session.refresh(complaint)
    return complaint


def resolve_entry(session: Session, complaint: Complaint, at: datetime) -> None:
    session.add(
        ComplaintEvent(
            complaint_id=complaint.id,
            kind=EventKind.STATUS_CHANGED,
            at=at,
            actor_label="Agent",
            data={"from": "in_progress", "to": "resolved"},
        )
    )
    session.flush()


# (first response h, resolution h, reopened, breached, channel, CSAT) of c1..c6
TABLE = [
    (0.5, 10.0, 0, 0, "letter", 5),
    (1.0, 24.0, 0, 0, "email", 3),
    (6.0, 100.0, 1, 0, "email", 4),
    (12.0, 200.0, 0, 1, "phone", 2),
    (30.0, 400.0, 1, 1, "letter", 1),
    (None, 50.0, 0, 1, "phone", 2),
]


def seed(session: Session) -> dict[str, Complaint]:
    small_journey(session)
    make_customer(session, "K-1", acquired_at=local(2020, 1, 1), segment="private")
    make_customer(session, "K-2", acquired_at=local(2020, 1, 1), segment="business")
    made: dict[str, Complaint] = {}
    for i, (first_h, resolved_h, reopened, breached, channel, _score) in enumerate(TABLE):
        made[f"c{i + 1}"] = served(
            session,
            local(2025, 1, 6 + i, 9),
            touchpoint="hotline" if i < 3 else "app",
            channel=channel,
            customer="K-1" if i % 2 == 0 else "K-2",
            first_response_h=first_h,
            # c3: resolved_at after a reopen; its first resolve entry (100 h) decides
            resolved_h=300.0 if i == 2 else resolved_h,
            reopened=bool(reopened),
            breached=bool(breached),
        )
    c3 = made["c3"]
    resolve_entry(session, c3, c3.received_at + timedelta(hours=300))
    resolve_entry(session, c3, c3.received_at + timedelta(hours=100))
    for i, row in enumerate(TABLE):
        complaint = made[f"c{i + 1}"]
        answer(session, complaint, row[5], complaint.received_at + timedelta(days=20))
    # c1 answered again later: the first answer counts.
    answer(session, made["c1"], 1, made["c1"].received_at + timedelta(days=25))
    # Not in the population: no answer; only NPS and a link's CSAT; received in December.
    served(session, local(2025, 1, 20, 9), first_response_h=2.0, resolved_h=5.0)
    other = served(session, local(2025, 1, 21, 9), first_response_h=2.0, resolved_h=5.0)
    answer(session, other, 9, local(2025, 1, 25), kind=FeedbackKind.NPS)
    answer(session, other, 5, local(2025, 1, 25), source=FeedbackSource.LINK)
    december = served(session, local(2024, 12, 10, 9), first_response_h=80.0, resolved_h=5.0)
    answer(session, december, 4, local(2024, 12, 20))
    session.commit()
    return made


def report(
    session: Session, filters: KpiFilters | None = None, *, window: Window | None = None
) -> DriverReport:
    return driver_report(session, window or january(), filters or KpiFilters(), now=NOW)


def by_key(result: DriverReport) -> dict[str, Driver]:
    return {driver.key: driver for driver in result.drivers}


def table(driver: Driver) -> dict[str, tuple[int, float | None, float | None]]:
    return {b.key: (b.n, b.csat_mean, b.satisfied_pct) for b in driver.bins}


# --- the population ---------------------------------------------------------------------


def test_complaints_with_a_survey_answer_received_in_the_window_count(
    db_session: Session,
) -> None:
    seed(db_session)
    result = report(db_session)
    assert result.window == january()
    assert result.complaints == 6
    assert {d.key for d in result.drivers} == set(DRIVERS)


def test_the_first_answer_by_time_then_id_counts(db_session: Session) -> None:
    small_journey(db_session)
    make_customer(db_session, "K-1", acquired_at=local(2020, 1, 1))
    later_first = served(db_session, local(2025, 1, 6, 9), first_response_h=0.5)
    answer(db_session, later_first, 1, local(2025, 1, 20))  # inserted first, submitted later
    answer(db_session, later_first, 5, local(2025, 1, 10))
    tie = served(db_session, local(2025, 1, 7, 9), first_response_h=0.5)
    answer(db_session, tie, 4, local(2025, 1, 15))  # same instant: the lower id counts
    answer(db_session, tie, 1, local(2025, 1, 15))
    db_session.commit()
    result = report(db_session)
    assert result.complaints == 2
    below_1h = table(by_key(result)["first_response_hours"])["lt_1h"]
    assert below_1h == (2, 4.5, 100.0)


# --- bins -----------------------------------------------------------------------------------


def test_first_response_bins_include_their_lower_bound(db_session: Session) -> None:
    seed(db_session)
    driver = by_key(report(db_session))["first_response_hours"]
    assert [b.key for b in driver.bins] == ["lt_1h", "1_4h", "4_8h", "8_24h", "24_72h", "ge_72h"]
    assert table(driver) == {
        "lt_1h": (1, 5.0, 100.0),
        "1_4h": (1, 3.0, 0.0),  # exactly 1 h
        "4_8h": (1, 4.0, 100.0),
        "8_24h": (1, 2.0, 0.0),
        "24_72h": (1, 1.0, 0.0),
        "ge_72h": (0, None, None),
    }
    assert driver.n == 5  # c6 never got a reply


def test_resolution_bins_use_the_first_resolution(db_session: Session) -> None:
    seed(db_session)
    driver = by_key(report(db_session))["resolution_hours"]
    assert table(driver) == {
        "lt_1d": (1, 5.0, 100.0),
        "1_3d": (2, 2.5, 0.0),  # c2 at exactly 24 h, c6 at 50 h
        "3_7d": (1, 4.0, 100.0),  # c3: first resolve entry at 100 h, not resolved_at
        "7_14d": (1, 2.0, 0.0),
        "ge_14d": (1, 1.0, 0.0),
    }
    assert driver.n == 6


def test_boolean_drivers_have_no_and_yes(db_session: Session) -> None:
    seed(db_session)
    drivers = by_key(report(db_session))
    assert table(drivers["reopened"]) == {"no": (4, 3.0, 25.0), "yes": (2, 2.5, 50.0)}
    breached = table(drivers["sla_breached"])
    assert breached["no"] == (3, 4.0, pytest.approx(200 / 3))
    assert breached["yes"] == (3, pytest.approx(5 / 3), 0.0)


def test_channel_lists_every_channel_without_a_correlation(db_session: Session) -> None:
    seed(db_session)
    driver = by_key(report(db_session))["channel"]
    assert [b.key for b in driver.bins] == [c.value for c in Channel]
    rows = table(driver)
    assert rows["letter"] == (2, 3.0, 50.0)
    assert rows["email"] == (2, 3.5, 50.0)
    assert rows["phone"] == (2, 2.0, 0.0)
    assert rows["fax"] == (0, None, None)
    assert (driver.rho, driver.low, driver.high, driver.n) == (None, None, None, 6)


# --- correlation and ranking ------------------------------------------------------------


def test_spearman_of_first_response_by_hand(db_session: Session) -> None:
    seed(db_session)
    driver = by_key(report(db_session))["first_response_hours"]
    # Ranks of hours 1..5 against ranks of CSAT [5, 3, 4, 2, 1]: Σd² = 38, no ties.
    rho = 1 - 6 * 38 / (5 * (25 - 1))
    assert driver.rho == pytest.approx(-0.9)
    assert driver.rho == pytest.approx(rho)
    half = Z95 / math.sqrt(5 - 3)
    assert driver.low == pytest.approx(math.tanh(math.atanh(rho) - half))
    assert driver.high == pytest.approx(math.tanh(math.atanh(rho) + half))


@pytest.mark.parametrize(
    ("key", "column"), [("resolution_hours", 1), ("reopened", 2), ("sla_breached", 3)]
)
def test_spearman_equals_scipy_on_the_same_numbers(
    db_session: Session, key: str, column: int
) -> None:
    seed(db_session)
    driver = by_key(report(db_session))[key]
    x = [row[column] for row in TABLE]
    y = [row[5] for row in TABLE]
    assert driver.rho == pytest.approx(float(stats.spearmanr(x, y).statistic))
    assert driver.n == 6
    assert driver.low is not None
    assert driver.high is not None
    assert driver.low < driver.rho < driver.high


def test_drivers_are_ranked_by_absolute_rho_with_nulls_last(db_session: Session) -> None:
    seed(db_session)
    drivers = report(db_session).drivers
    magnitudes = [abs(d.rho) for d in drivers if d.rho is not None]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert drivers[0].key == "first_response_hours"  # |−0.9| is the largest
    assert drivers[-1].key == "channel"


def test_fewer_than_four_pairs_have_no_correlation(db_session: Session) -> None:
    seed(db_session)
    only_app = report(db_session, resolve_filters(db_session, touchpoint="app"))
    first_response = by_key(only_app)["first_response_hours"]
    assert first_response.n == 2  # c4, c5 (c6 has no reply)
    assert (first_response.rho, first_response.low, first_response.high) == (None, None, None)


def test_an_empty_window_has_nulls_and_zero_counts(db_session: Session) -> None:
    seed(db_session)
    result = report(db_session, window=Window(local(2023, 1, 1), local(2023, 2, 1)))
    assert result.complaints == 0
    assert [d.key for d in result.drivers] == list(DRIVERS)
    for driver in result.drivers:
        assert (driver.rho, driver.low, driver.high, driver.n) == (None, None, None, 0)
        assert driver.bins
        assert all((b.n, b.csat_mean, b.satisfied_pct) == (0, None, None) for b in driver.bins)


# --- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"touchpoint": "hotline"}, 3),
        ({"stage": "usage"}, 3),  # the app
        ({"channel": "letter"}, 2),
        ({"segment": "business"}, 3),  # c2, c4, c6
        ({"segment": "nobody"}, 0),
    ],
)
def test_filters_narrow_the_complaints(
    db_session: Session, filters: dict[str, str], expected: int
) -> None:
    seed(db_session)
    result = report(db_session, resolve_filters(db_session, **filters))
    assert result.complaints == expected
    assert by_key(result)["channel"].n == expected


def test_channel_filter_leaves_one_channel(db_session: Session) -> None:
    seed(db_session)
    result = report(db_session, resolve_filters(db_session, channel="phone"))
    rows = table(by_key(result)["channel"])
    assert rows["phone"] == (2, 2.0, 0.0)
    assert sum(n for n, _mean, _pct in rows.values()) == 2


def test_the_report_is_one_query(db_session: Session) -> None:
    seed(db_session)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        report(db_session)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1


# --- the API --------------------------------------------------------------------------------


@pytest.fixture
def get(client: FlaskClient, api_token: Callable[[str], str]) -> Callable[..., Any]:
    token = api_token("viewer")

    def _get(**params: str) -> Any:
        return client.get(
            URL,
            query_string=params,
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        )

    return _get


def test_api_answers_the_report_shape(db_session: Session, get: Callable[..., Any]) -> None:
    seed(db_session)
    response = get(**JANUARY)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"window", "complaints", "drivers"}
    assert body["window"] == {"from": z(2025, 1, 1), "to": z(2025, 2, 1)}
    assert body["complaints"] == 6
    assert [d["key"] for d in body["drivers"]] == [d.key for d in report(db_session).drivers]
    for driver in body["drivers"]:
        assert set(driver) == {"key", "rho", "low", "high", "n", "bins"}
        for row in driver["bins"]:
            assert set(row) == {"key", "label", "n", "csat_mean", "satisfied_pct"}
    first = body["drivers"][0]
    assert first["rho"] == pytest.approx(-0.9)
    assert first["bins"][0] == {
        "key": "lt_1h",
        "label": "< 1 h",
        "n": 1,
        "csat_mean": 5.0,
        "satisfied_pct": 100.0,
    }
    assert first["bins"][-1] == {
        "key": "ge_72h",
        "label": "≥ 72 h",
        "n": 0,
        "csat_mean": None,
        "satisfied_pct": None,
    }
    channel = next(d for d in body["drivers"] if d["key"] == "channel")
    assert channel["rho"] is None
    assert [b["label"] for b in channel["bins"]][:4] == ["Phone", "Email", "Letter", "Fax"]
    reopened = next(d for d in body["drivers"] if d["key"] == "reopened")
    assert [b["label"] for b in reopened["bins"]] == ["No", "Yes"]


def test_api_filters_narrow_the_complaints(db_session: Session, get: Callable[..., Any]) -> None:
    seed(db_session)
    assert get(**JANUARY, touchpoint="app").get_json()["complaints"] == 3
    assert get(**JANUARY, channel="email", segment="business").get_json()["complaints"] == 1


def test_api_compare_true_adds_the_default_comparison_window(
    db_session: Session, get: Callable[..., Any]
) -> None:
    seed(db_session)
    assert "compare" not in get(**JANUARY).get_json()
    body = get(**JANUARY, compare="true").get_json()
    compare = body["compare"]
    assert compare["window"] == {"from": z(2024, 12, 1), "to": z(2025, 1, 1)}
    assert compare["complaints"] == 1  # the December complaint
    first = next(d for d in compare["drivers"] if d["key"] == "first_response_hours")
    assert first["n"] == 1
    assert first["rho"] is None
    assert first["bins"][-1]["n"] == 1  # 80 h


def test_api_explicit_comparison_window(db_session: Session, get: Callable[..., Any]) -> None:
    seed(db_session)
    body = get(**JANUARY, compare_from="2023-01-01", compare_to="2023-02-01").get_json()
    assert body["compare"]["window"] == {"from": z(2023, 1, 1), "to": z(2023, 2, 1)}
    assert body["compare"]["complaints"] == 0
    assert all(d["rho"] is None for d in body["compare"]["drivers"])


def test_api_empty_window_is_nulls(db_session: Session, get: Callable[..., Any]) -> None:
    body = get(**JANUARY).get_json()
    assert body["complaints"] == 0
    for driver in body["drivers"]:
        assert (driver["rho"], driver["low"], driver["high"], driver["n"]) == (None, None, None, 0)
        assert all(b["csat_mean"] is None and b["satisfied_pct"] is None for b in driver["bins"])


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "2025-02-01", "to": "2025-01-01"}, {"to"}),
        ({"from": "2025-01-01"}, {"to"}),
        ({"from": "yesterday", "to": "2025-01-01"}, {"from"}),
        ({**JANUARY, "touchpoint": "nowhere"}, {"touchpoint"}),
        ({**JANUARY, "stage": "never"}, {"stage"}),
        ({**JANUARY, "channel": "pigeon"}, {"channel"}),
        ({**JANUARY, "compare_from": "2024-01-01"}, {"compare_to"}),
        ({**JANUARY, "compare_from": "2024-02-01", "compare_to": "2024-01-01"}, {"compare_to"}),
        ({**JANUARY, "compare": "perhaps"}, {"compare"}),
        ({"from": "2025-02-01", "to": "2025-01-01", "touchpoint": "nowhere"}, {"to", "touchpoint"}),
        ({**JANUARY, "colour": "red"}, {"colour"}),
        ({"from": "2010-01-01", "to": "2025-01-01"}, {"to"}),
        ({**JANUARY, "segment": "nobody"}, {"segment"}),
    ],
)
def test_api_bad_parameters_are_422_naming_the_field(
    db_session: Session, get: Callable[..., Any], params: dict[str, str], fields: set[str]
) -> None:
    small_journey(db_session)
    response = get(**params)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == fields
    assert error["code"]


def test_api_needs_a_token(client: FlaskClient, db_session: Session) -> None:
    response = client.get(URL, query_string=JANUARY)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_api_refuses_a_role_without_report_permission(
    client: FlaskClient, api_token: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every role holds VIEW_REPORTS, so the viewer is stripped of it for this test.
    from cxjourney.auth import permissions
    from cxjourney.auth.models import Role

    token = api_token("viewer")
    reduced = dict(permissions.ROLE_PERMISSIONS)
    reduced[Role.VIEWER] = frozenset(reduced[Role.VIEWER] - {permissions.Permission.VIEW_REPORTS})
    monkeypatch.setattr(permissions, "ROLE_PERMISSIONS", reduced)
    response = client.get(URL, query_string=JANUARY, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}


def test_the_openapi_document_describes_the_report(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"][URL]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"from", "to", "touchpoint", "stage", "segment", "channel", "compare"} <= names
    assert {"compare_from", "compare_to"} <= names
    assert {"200", "422"} <= set(operation["responses"])
