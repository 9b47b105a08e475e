"""The KPI engine against hand-computed figures, one metric family per test.

Times are written in the configured timezone (``local``) and stored in UTC, so the
boundaries (00:00 local, month starts) are the ones DESIGN.md defines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy.orm import Session

from cxjourney.analytics.kpis import (
    COUNTS,
    METRICS,
    KpiFilters,
    MetricValue,
    kpi_report,
    resolve_filters,
    window_metrics,
)
from cxjourney.analytics.populations import population_figures, population_figures_of
from cxjourney.analytics.windows import (
    Window,
    churn_points,
    default_comparison,
    month_starts_inside,
    resolve_windows,
    value_cutoff,
)
from cxjourney.auth.models import Role
from cxjourney.complaints import lifecycle
from cxjourney.complaints.models import ComplaintStatus, ResolutionCode
from cxjourney.complaints.services import Settings
from cxjourney.config import TestConfig
from cxjourney.customers.models import Customer
from cxjourney.errors import ValidationError
from cxjourney.journey.models import Channel

from .conftest import make_user
from .factories import (
    make_complaint,
    make_customer,
    make_event,
    make_feedback,
    make_policy,
    make_value,
    small_journey,
)

BERLIN = ZoneInfo("Europe/Berlin")


def zone() -> ZoneInfo:
    """The configured timezone (what the app under test uses)."""
    return ZoneInfo(TestConfig.BABEL_DEFAULT_TIMEZONE or "Europe/Berlin")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local wall time of the configured timezone, as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=zone()).astimezone(UTC)


def metrics(session: Session, start: datetime, end: datetime, **filters: Any) -> dict[str, Any]:
    return window_metrics(
        session,
        Window(start, end),
        resolve_filters(session, **filters),
        now=local(2025, 12, 31),
        zone=zone(),
    )


def customer(session: Session, ref: str, acquired_at: datetime, **extra: Any) -> Customer:
    return make_customer(session, ref, acquired_at=acquired_at, **extra)


JANUARY = (local(2025, 1, 1), local(2025, 2, 1))


# --- windows ------------------------------------------------------------------------------


def b(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def test_a_twelve_month_window_has_thirteen_churn_points() -> None:
    window = Window(b(2025, 1, 1), b(2026, 1, 1))
    points = churn_points(window, BERLIN)
    assert len(points) == 13
    assert points[1] == b(2025, 2, 1)
    assert points[3] == datetime(2025, 3, 31, 22, tzinfo=UTC)  # 1 April, summer time


def test_month_starts_are_strictly_inside_the_window() -> None:
    assert month_starts_inside(Window(b(2025, 1, 1), b(2025, 2, 1)), BERLIN) == []
    assert month_starts_inside(Window(b(2025, 1, 15), b(2025, 3, 1, 0, 1)), BERLIN) == [
        b(2025, 2, 1),
        b(2025, 3, 1),
    ]


def test_default_comparison_of_whole_months_is_the_months_before() -> None:
    compare = default_comparison(Window(b(2025, 1, 1), b(2025, 4, 1)), BERLIN)
    assert compare == Window(b(2024, 10, 1), b(2025, 1, 1))
    # Months differ in length: February before March.
    assert default_comparison(Window(b(2025, 3, 1), b(2025, 4, 1)), BERLIN) == Window(
        b(2025, 2, 1), b(2025, 3, 1)
    )


def test_default_comparison_otherwise_is_the_same_duration_before() -> None:
    window = Window(b(2025, 1, 10, 12), b(2025, 1, 12))
    assert default_comparison(window, BERLIN) == Window(b(2025, 1, 9), b(2025, 1, 10, 12))
    # Only one bound on a month start: plain duration.
    window = Window(b(2025, 1, 1), b(2025, 1, 15))
    assert default_comparison(window, BERLIN) == Window(b(2024, 12, 18), b(2025, 1, 1))


def test_value_cutoff_follows_local_midnight() -> None:
    assert value_cutoff(b(2025, 2, 1), BERLIN) == date(2025, 2, 1)  # 1 Feb does not count
    assert value_cutoff(b(2025, 2, 1, 0, 1), BERLIN) == date(2025, 2, 2)  # now it does
    assert value_cutoff(b(2025, 1, 31, 23, 59), BERLIN) == date(2025, 2, 1)


def test_a_reversed_window_names_to() -> None:
    with pytest.raises(ValidationError) as err:
        resolve_windows(b(2025, 2, 1), b(2025, 2, 1), None, None, BERLIN)
    assert set(err.value.fields) == {"to"}


def test_half_a_comparison_window_names_the_missing_bound() -> None:
    with pytest.raises(ValidationError) as err:
        resolve_windows(b(2025, 1, 1), b(2025, 2, 1), b(2024, 1, 1), None, BERLIN)
    assert set(err.value.fields) == {"compare_to"}
    with pytest.raises(ValidationError) as err:
        resolve_windows(b(2025, 1, 1), b(2025, 2, 1), None, b(2024, 1, 1), BERLIN)
    assert set(err.value.fields) == {"compare_from"}


def test_an_explicit_comparison_window_is_kept() -> None:
    _window, compare = resolve_windows(
        b(2025, 1, 1), b(2025, 2, 1), b(2023, 5, 1), b(2023, 5, 3), BERLIN
    )
    assert compare == Window(b(2023, 5, 1), b(2023, 5, 3))
    with pytest.raises(ValidationError) as err:
        resolve_windows(b(2025, 1, 1), b(2025, 2, 1), b(2023, 5, 3), b(2023, 5, 1), BERLIN)
    assert set(err.value.fields) == {"compare_to"}


def test_change_is_null_when_either_side_is_null() -> None:
    assert MetricValue(5.0, None).change is None
    assert MetricValue(None, 5.0).change is None
    assert MetricValue(7.5, 5.0).change == 2.5
    assert MetricValue(0, 3).change == -3


# --- empty populations --------------------------------------------------------------------


def test_an_empty_window_gives_null_rates_and_zero_counts(db_session: Session) -> None:
    small_journey(db_session)
    figures = metrics(db_session, *JANUARY)
    assert set(figures) == set(METRICS)
    for name, value in figures.items():
        if name in COUNTS or name == "value_at_risk":
            assert value == 0, name
        else:
            assert value is None, name


# --- feedback -----------------------------------------------------------------------------


def test_nps_csat_and_ces(db_session: Session) -> None:
    tps = small_journey(db_session)
    start, end = JANUARY
    at = local(2025, 1, 10, 12)
    for score in (10, 9, 9, 7, 3):
        make_feedback(db_session, tps["app"], "nps", score, at)
    for score in (5, 4, 3, 1):
        make_feedback(db_session, tps["app"], "csat", score, at)
    for score in (7, 5, 4, 2):
        make_feedback(db_session, tps["app"], "ces", score, at)
    make_feedback(db_session, tps["app"], "nps", 0, start)  # at `from`: in
    make_feedback(db_session, tps["app"], "nps", 0, end)  # at `to`: out
    make_feedback(db_session, tps["app"], "csat", 1, start - timedelta(seconds=1))  # out
    db_session.commit()
    figures = metrics(db_session, start, end)
    # NPS: 3 promoters, 2 detractors (3 and the 0 at `from`) of 6.
    assert figures["nps"] == pytest.approx((3 - 2) / 6 * 100, abs=1e-9)
    assert figures["csat"] == pytest.approx(50.0)
    assert figures["csat_mean"] == pytest.approx(3.25)
    assert figures["ces_mean"] == pytest.approx(4.5)
    assert figures["ces_easy_pct"] == pytest.approx(50.0)
    assert figures["responses"] == 14


def test_nps_boundaries_six_is_a_detractor_and_seven_eight_are_passive(
    db_session: Session,
) -> None:
    tps = small_journey(db_session)
    for score in (6, 7, 8, 9):
        make_feedback(db_session, tps["app"], "nps", score, local(2025, 1, 5))
    db_session.commit()
    assert metrics(db_session, *JANUARY)["nps"] == pytest.approx(0.0)


def test_segment_drops_anonymous_feedback(db_session: Session) -> None:
    tps = small_journey(db_session)
    private = customer(db_session, "K-1", local(2024, 1, 1), segment="private")
    business = customer(db_session, "K-2", local(2024, 1, 1), segment="business")
    at = local(2025, 1, 5)
    make_feedback(db_session, tps["app"], "csat", 5, at, customer=private)
    make_feedback(db_session, tps["app"], "csat", 1, at, customer=business)
    make_feedback(db_session, tps["app"], "csat", 1, at)  # anonymous
    db_session.commit()
    assert metrics(db_session, *JANUARY)["responses"] == 3
    figures = metrics(db_session, *JANUARY, segment="private")
    assert figures["responses"] == 1
    assert figures["csat"] == pytest.approx(100.0)


# --- contacts and complaints --------------------------------------------------------------


def _contacts_and_complaints(session: Session) -> dict[str, Any]:
    tps = small_journey(session)
    settings = Settings.from_config(current_app.config)
    private = customer(session, "K-1", local(2024, 1, 1), segment="private")
    business = customer(session, "K-2", local(2024, 1, 1), segment="business")
    at = local(2025, 1, 5)
    for _ in range(3):
        make_event(session, private, tps["app"], at, channel="app")
    make_event(session, business, tps["hotline"], at, channel="phone")
    make_event(session, business, tps["hotline"], local(2025, 2, 1), channel="phone")  # at `to`
    make_complaint(
        session,
        settings,
        customer=private,
        touchpoint="app",
        channel="app",
        received_at=local(2025, 1, 6),
        at=local(2025, 1, 6),
    )
    # Logged in the window, received before it: counts in December.
    make_complaint(
        session,
        settings,
        customer=business,
        touchpoint="hotline",
        channel="phone",
        received_at=local(2024, 12, 31, 23),
        at=local(2025, 1, 2),
    )
    session.commit()
    return tps


def test_contacts_complaints_and_complaint_rate(db_session: Session) -> None:
    _contacts_and_complaints(db_session)
    figures = metrics(db_session, *JANUARY)
    assert figures["contacts"] == 4
    assert figures["complaints"] == 1
    assert figures["complaint_rate"] == pytest.approx(1 / 4 * 1000)
    december = metrics(db_session, local(2024, 12, 1), local(2025, 1, 1))
    assert december["complaints"] == 1
    assert december["contacts"] == 0
    assert december["complaint_rate"] is None


@pytest.mark.parametrize(
    ("filters", "contacts", "complaints"),
    [
        ({"touchpoint": "hotline"}, 1, 0),
        ({"touchpoint": "app"}, 3, 1),
        ({"stage": "support"}, 1, 0),
        ({"stage": "usage"}, 3, 1),
        ({"channel": "app"}, 3, 1),
        ({"channel": "letter"}, 0, 0),
        ({"segment": "business"}, 1, 0),
        ({"segment": "private", "channel": "app"}, 3, 1),
    ],
)
def test_filters_narrow_contacts_and_complaints(
    db_session: Session, filters: dict[str, str], contacts: int, complaints: int
) -> None:
    _contacts_and_complaints(db_session)
    figures = metrics(db_session, *JANUARY, **filters)
    assert (figures["contacts"], figures["complaints"]) == (contacts, complaints)


def test_unknown_filter_keys_are_named(db_session: Session) -> None:
    small_journey(db_session)
    with pytest.raises(ValidationError) as err:
        resolve_filters(db_session, touchpoint="nowhere", stage="never", channel="pigeon")
    assert set(err.value.fields) == {"touchpoint", "stage", "channel"}


# --- customer population ------------------------------------------------------------------

YEAR_2025 = (local(2025, 1, 1), local(2026, 1, 1))


def _population(session: Session) -> dict[str, Customer]:
    small_journey(session)
    people = {
        "a": customer(session, "A", local(2020, 1, 1), segment="private"),
        "b": customer(
            session, "B", local(2020, 1, 1), segment="private", churned_at=local(2025, 3, 15)
        ),
        "c": customer(session, "C", local(2025, 1, 1), segment="private"),  # at `from`
        "d": customer(
            session, "D", local(2020, 1, 1), segment="private", churned_at=local(2026, 1, 1)
        ),  # churns at `to`
        "e": customer(
            session, "E", local(2025, 6, 1), segment="private", referred_by="A"
        ),  # on a month point
        "x": customer(session, "X", local(2020, 1, 1), segment="business"),
        "late": customer(session, "LATE", local(2026, 1, 1), segment="private"),  # at `to`
    }
    session.commit()
    return people


def test_churn_rate_averages_thirteen_points(db_session: Session) -> None:
    _population(db_session)
    figures = metrics(db_session, *YEAR_2025, segment="private")
    # Active at the 13 points: A 13, B 3 (Jan, Feb, Mar), C 12, D 13, E 7 (Jul … Jan).
    assert figures["churned"] == 1
    assert figures["churn_rate"] == pytest.approx(1 / (48 / 13) * 100, rel=1e-12)
    assert figures["active_start"] == 3  # A, B, D: C was acquired at `from`
    assert figures["active_end"] == 4  # A, C, D (churned at `to`), E
    assert figures["acquired"] == 2  # C, E: LATE is acquired at `to`


def test_retention_and_referral_rates(db_session: Session) -> None:
    _population(db_session)
    figures = metrics(db_session, *YEAR_2025, segment="private")
    assert figures["retention_rate"] == pytest.approx((4 - 2) / 3 * 100)
    assert figures["referral_rate"] == pytest.approx(50.0)


def test_population_ignores_touchpoint_stage_and_channel(db_session: Session) -> None:
    _population(db_session)
    plain = metrics(db_session, *YEAR_2025)
    narrowed = metrics(db_session, *YEAR_2025, touchpoint="hotline", stage="support", channel="fax")
    for name in ("churn_rate", "retention_rate", "referral_rate", "churned", "active_end"):
        assert narrowed[name] == plain[name], name
    # Without the segment X counts: active at all 13 points.
    assert plain["churn_rate"] == pytest.approx(1 / (61 / 13) * 100, rel=1e-12)


def test_lifetime_value_counts_records_dated_before_to(db_session: Session) -> None:
    people = _population(db_session)
    make_value(db_session, people["a"], "revenue", "100.10", date(2025, 12, 31))
    make_value(db_session, people["a"], "revenue", "999.00", date(2026, 1, 1))  # the day of `to`
    make_value(db_session, people["a"], "cost", "20.05", date(2024, 6, 1))
    make_value(db_session, people["b"], "revenue", "50.00", date(2025, 2, 1))
    make_value(db_session, people["b"], "cost", "10.30", date(2025, 12, 1))  # after churn: counts
    make_value(db_session, people["late"], "revenue", "500.00", date(2025, 12, 1))
    make_value(db_session, people["x"], "revenue", "0.10", date(2025, 1, 1))
    db_session.commit()
    figures = metrics(db_session, *YEAR_2025, segment="private")
    # Acquired before `to`: A 80.05, B 39.70, C 0, D 0, E 0 – LATE is not.
    assert figures["clv_mean"] == pytest.approx((80.05 + 39.70) / 5, abs=1e-9)
    assert figures["value_at_risk"] == pytest.approx(39.70, abs=1e-9)
    everyone = metrics(db_session, *YEAR_2025)
    assert everyone["clv_mean"] == pytest.approx((80.05 + 39.70 + 0.10) / 6, abs=1e-9)


def test_a_value_record_counts_from_the_first_moment_after_its_local_midnight(
    db_session: Session,
) -> None:
    people = _population(db_session)
    make_value(db_session, people["a"], "revenue", "12.50", date(2026, 1, 1))
    db_session.commit()
    start, end = YEAR_2025
    just_after = metrics(db_session, start, end + timedelta(minutes=1), segment="private")
    # Now LATE (acquired at 1 Jan 00:00) is acquired before `to` too: 6 customers.
    assert just_after["clv_mean"] == pytest.approx(12.50 / 6)
    assert metrics(db_session, start, end, segment="private")["clv_mean"] == pytest.approx(0.0)


def test_value_at_risk_is_zero_without_churn(db_session: Session) -> None:
    people = _population(db_session)
    make_value(db_session, people["a"], "revenue", "10.00", date(2025, 1, 1))
    db_session.commit()
    figures = metrics(db_session, local(2025, 4, 1), local(2025, 5, 1), segment="private")
    assert figures["churned"] == 0
    assert figures["value_at_risk"] == 0.0
    assert figures["churn_rate"] == pytest.approx(0.0)


def test_several_windows_at_once_equal_each_window_alone(db_session: Session) -> None:
    people = _population(db_session)
    make_value(db_session, people["a"], "revenue", "100.10", date(2025, 12, 31))
    make_value(db_session, people["b"], "cost", "10.30", date(2025, 3, 1))
    make_value(db_session, people["late"], "revenue", "500.00", date(2024, 12, 1))
    db_session.commit()
    windows = [
        Window(*YEAR_2025),
        Window(local(2024, 1, 1), local(2025, 1, 1)),  # shares a churn point with the year
        Window(local(2025, 3, 15, 12), local(2025, 7, 2)),  # overlapping, odd bounds
    ]
    for segment in (None, "private"):
        together = population_figures_of(db_session, windows, segment=segment, zone=zone())
        alone = [
            population_figures(db_session, window, segment=segment, zone=zone())
            for window in windows
        ]
        assert together == alone


# --- resolution ---------------------------------------------------------------------------


def _resolve(session: Session, complaint: Any, actor: Any, at: datetime) -> None:
    lifecycle.transition_complaint(
        session,
        complaint,
        to=ComplaintStatus.RESOLVED,
        actor=actor,
        at=at,
        settings=Settings.from_config(current_app.config),
        resolution_code=ResolutionCode.APOLOGY,
        resolution="Entschuldigt.",
    )
    session.commit()


def _reply(session: Session, complaint: Any, actor: Any, at: datetime) -> None:
    lifecycle.add_reply(
        session,
        complaint,
        text="Wir kümmern uns.",
        channel=Channel.LETTER,
        actor=actor,
        at=at,
        settings=Settings.from_config(current_app.config),
    )
    session.commit()


def _complaints(session: Session) -> datetime:
    """Six complaints in January 2025; returns the `now` the outcomes are judged at."""
    small_journey(session)
    settings = Settings.from_config(current_app.config)
    make_policy(
        session,
        "medium",
        business_hours=False,
        first_response_minutes=180,
        next_update_minutes=7 * 24 * 60,
        resolution_minutes=480,
    )
    session.commit()
    agent = make_user(session, Role.AGENT, email="a@example.org", team="Kundenservice")
    other = make_user(session, Role.AGENT, email="b@example.org", team="Kundenservice")
    owner = make_customer(session, "K-1", acquired_at=local(2024, 1, 1))

    def log(received: datetime) -> Any:
        return make_complaint(
            session, settings, actor=agent, customer=owner, received_at=received, at=received
        )

    # c1: reply 2 h, resolved 5 h by the agent who logged it, same day: first contact.
    r1 = local(2025, 1, 6, 9)
    c1 = log(r1)
    _reply(session, c1, agent, r1 + timedelta(hours=2))
    _resolve(session, c1, agent, r1 + timedelta(hours=5))
    # c2: reply 4 h (first response late), resolved 10 h (late) by someone else.
    r2 = local(2025, 1, 7, 8)
    c2 = log(r2)
    _reply(session, c2, agent, r2 + timedelta(hours=4))
    _resolve(session, c2, other, r2 + timedelta(hours=10))
    # c3: reply 1 h, resolved 3 h by the logger, reopened, resolved again 2 days later.
    r3 = local(2025, 1, 8, 9)
    c3 = log(r3)
    _reply(session, c3, agent, r3 + timedelta(hours=1))
    _resolve(session, c3, agent, r3 + timedelta(hours=3))
    lifecycle.transition_complaint(
        session,
        c3,
        to=ComplaintStatus.IN_PROGRESS,
        actor=agent,
        at=r3 + timedelta(days=1),
        settings=settings,
    )
    session.commit()
    _resolve(session, c3, agent, r3 + timedelta(days=2))
    # c5: received 22:00 local, reply 30 min, resolved by the logger 3 h later: next day.
    r5 = local(2025, 1, 9, 22)
    c5 = log(r5)
    _reply(session, c5, agent, r5 + timedelta(minutes=30))
    _resolve(session, c5, agent, r5 + timedelta(hours=3))
    # c6: open, no reply, first response overdue at `now`: decided, breached.
    log(local(2025, 1, 20, 9))
    # c4: open, received 30 minutes before `now`: not decided.
    now = local(2025, 1, 25, 12)
    log(now - timedelta(minutes=30))
    return now


def _resolution_metrics(session: Session, now: datetime, **filters: Any) -> dict[str, Any]:
    return window_metrics(
        session, Window(*JANUARY), resolve_filters(session, **filters), now=now, zone=zone()
    )


def test_first_response_and_resolution_percentiles(db_session: Session) -> None:
    now = _complaints(db_session)
    figures = _resolution_metrics(db_session, now)
    assert figures["complaints"] == 6
    # First response hours [0.5, 1, 2, 4]; resolution (first resolve) [3, 3, 5, 10].
    assert figures["first_response_median_h"] == pytest.approx(1.5)
    assert figures["first_response_p90_h"] == pytest.approx(2 + (4 - 2) * 0.7)
    assert figures["resolution_median_h"] == pytest.approx(4.0)
    assert figures["resolution_p90_h"] == pytest.approx(5 + (10 - 5) * 0.7)


def test_sla_compliance_counts_decided_complaints(db_session: Session) -> None:
    now = _complaints(db_session)
    # Decided: c1, c2, c3, c5 (resolved) and c6 (breached); met: c1, c3, c5.
    assert _resolution_metrics(db_session, now)["sla_compliance"] == pytest.approx(60.0)


def test_reopen_and_first_contact_resolution_rates(db_session: Session) -> None:
    now = _complaints(db_session)
    figures = _resolution_metrics(db_session, now)
    assert figures["reopen_rate"] == pytest.approx(25.0)  # c3 of 4 resolved
    assert figures["fcr_rate"] == pytest.approx(25.0)  # c1 only


def test_resolution_metrics_are_null_without_complaints(db_session: Session) -> None:
    now = _complaints(db_session)
    figures = _resolution_metrics(db_session, now, channel="fax")
    assert figures["complaints"] == 0
    for name in (
        "first_response_median_h",
        "first_response_p90_h",
        "resolution_median_h",
        "resolution_p90_h",
        "sla_compliance",
        "reopen_rate",
        "fcr_rate",
    ):
        assert figures[name] is None, name


# --- the report ---------------------------------------------------------------------------


def test_report_compares_with_the_months_before(db_session: Session) -> None:
    tps = small_journey(db_session)
    for score in (10, 10, 0):
        make_feedback(db_session, tps["app"], "nps", score, local(2025, 1, 15))
    make_feedback(db_session, tps["app"], "nps", 10, local(2024, 12, 15))
    db_session.commit()
    report = kpi_report(
        db_session,
        start=local(2025, 1, 1),
        end=local(2025, 2, 1),
        now=local(2025, 3, 1),
        timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"],
    )
    assert report.compare == Window(local(2024, 12, 1), local(2025, 1, 1))
    nps = report.metrics["nps"]
    assert nps.value == pytest.approx(100 / 3)
    assert nps.compare == pytest.approx(100.0)
    assert nps.change == pytest.approx(100 / 3 - 100)
    assert report.metrics["csat"].change is None
    assert report.metrics["responses"].change == 2
    assert list(report.metrics) == list(METRICS)


def test_report_applies_filters_to_both_windows(db_session: Session) -> None:
    tps = small_journey(db_session)
    make_feedback(db_session, tps["app"], "csat", 5, local(2025, 1, 15))
    make_feedback(db_session, tps["hotline"], "csat", 1, local(2025, 1, 15))
    make_feedback(db_session, tps["hotline"], "csat", 5, local(2024, 12, 15))
    db_session.commit()
    hotline = resolve_filters(db_session, touchpoint="hotline")
    report = kpi_report(
        db_session,
        start=local(2025, 1, 1),
        end=local(2025, 2, 1),
        filters=hotline,
        now=local(2025, 3, 1),
        timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"],
    )
    assert report.metrics["csat"] == MetricValue(0.0, 100.0)
    assert KpiFilters() == resolve_filters(db_session)


def test_sums_are_exact_cents(db_session: Session) -> None:
    people = _population(db_session)
    for _ in range(10):
        make_value(db_session, people["b"], "revenue", "0.10", date(2025, 1, 1))
    make_value(db_session, people["b"], "cost", "0.30", date(2025, 1, 1))
    db_session.commit()
    figures = metrics(db_session, *YEAR_2025, segment="private")
    assert Decimal(str(figures["value_at_risk"])) == Decimal("0.7")


def _queries(session: Session, run: Any) -> int:
    from sqlalchemy import event

    statements: list[str] = []

    def count(*_args: Any) -> None:
        statements.append("q")

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_the_report_runs_a_fixed_number_of_queries(db_session: Session) -> None:
    tps = small_journey(db_session)
    someone = customer(db_session, "K-1", local(2020, 1, 1))

    def report() -> None:
        kpi_report(
            db_session,
            start=local(2025, 1, 1),
            end=local(2026, 1, 1),
            now=local(2026, 2, 1),
            timezone=zone().key,
        )

    few = _queries(db_session, report)
    for day in range(1, 29):
        make_event(db_session, someone, tps["app"], local(2025, 2, day))
        make_feedback(db_session, tps["app"], "nps", day % 11, local(2025, 2, day))
    db_session.commit()
    assert _queries(db_session, report) == few
