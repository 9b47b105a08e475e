"""The touchpoint, attribution and hotspot figures on a journey small enough to work out by
hand (every expected number is derived in the comments), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from cxjourney.analytics.churn_paths import churn_paths
from cxjourney.analytics.kpis import KpiFilters
from cxjourney.analytics.touchpoint_report import churn_report
from cxjourney.analytics.windows import Window
from cxjourney.journey.models import Touchpoint

from .factories import (
    make_complaint,
    make_customer,
    make_event,
    make_feedback,
    make_touchpoint,
    make_value,
    settings_for,
    small_journey,
)

ZONE = ZoneInfo("Europe/Berlin")
WINDOW = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _journeys(app: Flask, session: Session) -> dict[str, Touchpoint]:
    """Seven customers over website → app ⇄ hotline → cancellation (exit), and an island.

    Paths (repeats collapsed, cut after churned_at and before the first exit event):
      A  website → app → hotline → CHURN   (app twice; events after the cancellation cut)
      B  website → app → STAY
      C  app → hotline → CHURN            (the app event after churned_at is cut)
      D  –  its first event is the cancellation: not in the churn population
      E  –  events before the window only
      F  island → STAY                    (churns after the window)
      G  app → hotline → CHURN            (same instant, ordered by id; at churned_at counts)
    """
    tps = small_journey(session)
    w, a, h, x, i = (tps[k] for k in ("website", "app", "hotline", "cancellation", "island"))
    customers = {
        "A": make_customer(session, "A", churned_at=at(1, 20)),
        "B": make_customer(session, "B"),
        "C": make_customer(session, "C", churned_at=at(3, 1)),
        "D": make_customer(session, "D"),
        "E": make_customer(session, "E"),
        "F": make_customer(session, "F", churned_at=datetime(2026, 4, 15, tzinfo=UTC)),
        "G": make_customer(session, "G", churned_at=at(2, 5)),
    }
    plan = {
        "A": [
            (w, at(1, 5)),
            (a, at(1, 6)),
            (a, at(1, 7)),
            (h, at(1, 10)),
            (x, at(1, 12)),
            (h, at(1, 13)),
        ],
        "B": [(w, at(1, 3)), (a, at(2, 1))],
        "C": [(a, at(1, 8)), (h, at(2, 2)), (a, at(3, 30))],
        "D": [(x, at(1, 2)), (w, at(1, 3))],
        "E": [(w, datetime(2025, 12, 5, tzinfo=UTC))],
        "F": [(i, at(2, 10))],
        "G": [(a, at(2, 5)), (h, at(2, 5)), (w, at(2, 6))],
    }
    for ref, events in plan.items():
        for touchpoint, when in events:
            make_event(session, customers[ref], touchpoint, when)
    # Lifetime values at the window's end: A 100 − 30 = 70, C 20 (the May record is
    # after the end), G −40.
    make_value(session, customers["A"], "revenue", "100.00", date(2025, 6, 1))
    make_value(session, customers["A"], "cost", "30.00", date(2025, 7, 1))
    make_value(session, customers["C"], "revenue", "20.00", date(2026, 3, 31))
    make_value(session, customers["C"], "revenue", "50.00", date(2026, 5, 1))
    make_value(session, customers["G"], "cost", "40.00", date(2026, 1, 1))
    # Feedback: four detractors at the app, six promoters at the website.
    for _ in range(4):
        make_feedback(session, a, "nps", 3, at(2, 1))
    for _ in range(6):
        make_feedback(session, w, "nps", 10, at(2, 1))
    settings = settings_for(app.config)
    for _ in range(3):
        make_complaint(session, settings, touchpoint=h, customer=customers["B"], at=at(2, 3))
    session.commit()
    return tps


def _rows(report: Any) -> dict[str, Any]:
    return {row.key: row for row in report.rows}


def test_paths_collapse_repeats_and_cut_after_churn_and_before_exits(
    app: Flask, db_session: Session
) -> None:
    tps = _journeys(app, db_session)
    ids = {key: tp.id for key, tp in tps.items()}
    paths = churn_paths(db_session, WINDOW, KpiFilters(), zone=ZONE)
    assert (paths.customers, paths.churned) == (5, 3)
    assert paths.starts == {ids["website"]: 2, ids["app"]: 2, ids["island"]: 1}
    assert paths.steps == {(ids["website"], ids["app"]): 2, (ids["app"], ids["hotline"]): 3}
    assert paths.ends == {ids["hotline"]: (3, 0), ids["app"]: (0, 1), ids["island"]: (0, 1)}
    assert paths.visits == {ids["website"]: 2, ids["app"]: 4, ids["hotline"]: 3, ids["island"]: 1}


def test_touchpoint_churn_measures_and_attribution(app: Flask, db_session: Session) -> None:
    _journeys(app, db_session)
    report = churn_report(db_session, WINDOW, KpiFilters(), zone=ZONE)
    rows = _rows(report)
    # P(START→website) = 2/5, →app 2/5, →island 1/5; app→hotline 3/4, →STAY 1/4;
    # hotline→CHURN 1: P(CHURN) = 2/5·3/4 + 2/5·3/4 = 3/5.
    assert report.p_churn == pytest.approx(0.6, abs=1e-12)
    assert report.journey.churn_rate == pytest.approx(60.0)
    # Without the website START→website goes to STAY: P = 0.3, RE = 0.5; without the app
    # or the hotline nobody churns: RE = 1; the island: RE = 0. Σ RE = 2.5, 3 churned.
    expected = {
        "website": (2, 1, 50.0, 50 / 60, 70.0, 0.5, 0.6),
        "app": (4, 3, 75.0, 75 / 60, 50.0, 1.0, 1.2),
        "hotline": (3, 3, 100.0, 100 / 60, 50.0, 1.0, 1.2),
        "island": (1, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
    }
    for key, (customers, churned, rate, lift, at_risk, removal, attributed) in expected.items():
        row = rows[key]
        assert (row.customers, row.churned) == (customers, churned), key
        assert row.churn_rate == pytest.approx(rate), key
        assert row.churn_lift == pytest.approx(lift), key
        assert row.value_at_risk == pytest.approx(at_risk), key
        assert row.removal_effect == pytest.approx(removal, abs=1e-12), key
        assert row.attributed_churn == pytest.approx(attributed, abs=1e-12), key
    exit_row = rows["cancellation"]
    assert exit_row.contacts == 2
    assert (exit_row.customers, exit_row.churn_rate, exit_row.removal_effect) == (None,) * 3
    assert (exit_row.value_at_risk, exit_row.attributed_churn, exit_row.churn_lift) == (None,) * 3


def test_wilson_bounds_and_hotspots(app: Flask, db_session: Session) -> None:
    _journeys(app, db_session)
    report = churn_report(db_session, WINDOW, KpiFilters(), zone=ZONE)
    rows = _rows(report)
    # Contacts: website 4, app 6, hotline 4, cancellation 2, island 1 (17); 3 complaints.
    assert [rows[k].contacts for k in ("website", "app", "hotline")] == [4, 6, 4]
    assert report.journey.complaint_rate == pytest.approx(3 / 17 * 1000)
    assert report.journey.negative_share == pytest.approx(40.0)
    z = 1.959963984540054

    def wilson_low(k: int, n: int) -> float:
        p = k / n
        centre = p + z * z / (2 * n)
        margin = z * ((p * (1 - p) + z * z / (4 * n)) / n) ** 0.5
        return (centre - margin) / (1 + z * z / n)

    assert rows["hotline"].complaint_low95 == pytest.approx(wilson_low(3, 4) * 1000)
    assert rows["app"].negative_low95 == pytest.approx(wilson_low(4, 4) * 100)
    assert rows["hotline"].churn_low95 == pytest.approx(wilson_low(3, 3) * 100)
    assert rows["website"].complaint_low95 == pytest.approx(0.0)
    assert rows["island"].negative_low95 is None
    # 300.7 ‰ > 176.5 ‰; 51.0 % > 40 %; the hotline's churn bound 43.9 % < 60 % does not fire.
    assert rows["hotline"].hotspot_reasons == ("complaint_rate",)
    assert rows["app"].hotspot_reasons == ("negative_share",)
    assert report.hotspots == ["app", "hotline"]
    # app – hotline are designed neighbours: one cluster; A, C and G passed it (70+20−40).
    (cluster,) = report.clusters
    assert cluster.touchpoints == ("app", "hotline")
    assert cluster.attributed_churn == pytest.approx(2.4)
    assert cluster.value_at_risk == pytest.approx(50.0)


def test_a_cluster_joined_only_by_an_observed_transition(app: Flask, db_session: Session) -> None:
    tps = small_journey(db_session)
    # island and website have no designed transition; two customers go island → website.
    settings = settings_for(app.config)
    for ref in ("P", "Q"):
        customer = make_customer(db_session, ref)
        make_event(db_session, customer, tps["island"], at(1, 5))
        make_event(db_session, customer, tps["website"], at(1, 6))
    other = make_customer(db_session, "R")
    for day in range(1, 21):
        make_event(db_session, other, tps["app"], at(2, day))
    for touchpoint in ("island", "website"):
        for _ in range(2):
            make_complaint(db_session, settings, touchpoint=touchpoint, customer=other, at=at(2, 1))
    report = churn_report(db_session, WINDOW, KpiFilters(), zone=ZONE)
    assert report.observed == {("island", "website"): 2}
    assert set(report.hotspots) == {"island", "website"}
    assert [set(c.touchpoints) for c in report.clusters] == [{"island", "website"}]


def test_an_empty_window_gives_nulls_and_zero_removal_effects(
    app: Flask, db_session: Session
) -> None:
    _journeys(app, db_session)
    empty = Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC))
    report = churn_report(db_session, empty, KpiFilters(), zone=ZONE)
    assert (report.customers, report.churned, report.p_churn) == (0, 0, None)
    assert report.journey.churn_rate is None
    for row in report.rows:
        assert row.complaint_rate is None
        assert row.negative_share is None
        if not row.exit:
            assert (row.customers, row.churned, row.churn_rate) == (0, 0, None)
            assert (row.removal_effect, row.attributed_churn) == (0.0, 0.0)
    assert report.hotspots == []
    assert report.clusters == ()


def test_touchpoint_and_stage_select_rows_but_not_the_journey(
    app: Flask, db_session: Session
) -> None:
    tps = _journeys(app, db_session)
    whole = churn_report(db_session, WINDOW, KpiFilters(), zone=ZONE)
    one = churn_report(db_session, WINDOW, KpiFilters(touchpoint_id=tps["app"].id), zone=ZONE)
    assert [row.key for row in one.rows] == ["app"]
    assert one.rows[0] == _rows(whole)["app"]
    assert one.clusters == whole.clusters
    assert one.p_churn == whole.p_churn


def test_archived_touchpoints_are_not_listed(app: Flask, db_session: Session) -> None:
    _journeys(app, db_session)
    shop = make_touchpoint(db_session, "old-shop", stage="purchase")
    make_event(db_session, make_customer(db_session, "B"), shop, at(3, 20))
    shop.archived = True
    db_session.commit()
    report = churn_report(db_session, WINDOW, KpiFilters(), zone=ZONE)
    assert set(_rows(report)) == {"website", "app", "hotline", "cancellation", "island"}
    # Its history is still part of the paths: B now goes app → old-shop → STAY, and the
    # attribution over the whole chain still adds up to the churned customers.
    assert ("app", "old-shop") in report.observed
    assert sum(row.attributed_churn or 0 for row in report.rows) == pytest.approx(3.0)
