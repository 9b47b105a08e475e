"""The KPI dashboard page, its trends and per-touchpoint table, the touchpoint page's figures
and the map's KPI overlays.

Times are local wall times of the configured timezone (``local``), stored in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from cxjourney.analytics.kpis import METRICS, resolve_filters, window_metrics
from cxjourney.analytics.touchpoint_kpis import (
    SORT_KEYS,
    last_full_months,
    mask_contact_data,
    monthly_trend,
    touchpoint_kpis,
)
from cxjourney.analytics.windows import Window
from cxjourney.auth.models import Role
from cxjourney.config import TestConfig
from cxjourney.extensions import db, utcnow
from cxjourney.journey.models import Touchpoint

from .factories import (
    make_complaint,
    make_customer,
    make_event,
    make_feedback,
    make_touchpoint,
    settings_for,
    small_journey,
)

URL = "/reports/kpis"
WINDOW = {"from": "2025-01-01", "to": "2026-01-01"}


def zone() -> ZoneInfo:
    return ZoneInfo(TestConfig.BABEL_DEFAULT_TIMEZONE or "Europe/Berlin")


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=zone()).astimezone(UTC)


def seed(session: Session, app: Flask) -> dict[str, Touchpoint]:
    """2025 beside 2024: the app is loved and complained about, the hotline is not."""
    tps = small_journey(session)
    settings = settings_for(app.config)
    anna = make_customer(
        session, "K-1", acquired_at=local(2023, 1, 1), segment="private", name="Anna Berg"
    )
    bert = make_customer(session, "K-2", acquired_at=local(2023, 1, 1), segment="business")
    make_customer(session, "K-3", acquired_at=local(2023, 1, 1), churned_at=local(2025, 6, 1, 12))
    for month in (1, 2, 3):
        make_event(session, anna, tps["app"], local(2025, month, 10), channel="app")
    make_event(session, bert, tps["hotline"], local(2025, 4, 2), channel="phone")
    make_event(session, bert, tps["hotline"], local(2024, 4, 2), channel="phone")
    make_feedback(session, tps["app"], "nps", 10, local(2025, 1, 11), customer=anna)
    make_feedback(session, tps["app"], "nps", 9, local(2025, 2, 11), customer=anna)
    make_feedback(session, tps["app"], "nps", 3, local(2025, 3, 11))
    make_feedback(session, tps["app"], "csat", 5, local(2025, 3, 12), channel="app")
    make_feedback(session, tps["hotline"], "ces", 2, local(2025, 4, 3), customer=bert)
    make_feedback(session, tps["hotline"], "nps", 0, local(2024, 4, 3), customer=bert)
    make_complaint(
        session,
        settings,
        customer=anna,
        touchpoint="app",
        channel="app",
        received_at=local(2025, 3, 15),
        at=local(2025, 3, 15),
    )
    session.commit()
    return tps


def tiles(html: str) -> dict[str, str]:
    """metric → data-value of its tile."""
    return dict(re.findall(r'data-metric="(\w+)" data-value="([^"]*)"', html))


def tile_html(html: str, metric: str) -> str:
    match = re.search(rf'<div class="kpi[^"]*" data-metric="{metric}".*?</div>', html, re.S)
    assert match, metric
    return match.group(0)


def table_order(html: str) -> list[str]:
    return re.findall(r'<tr data-touchpoint="([\w-]+)"', html)


# --- the page and the API -------------------------------------------------------------------


def test_the_page_shows_the_api_numbers(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    login_as: Any,
    api_token: Any,
) -> None:
    seed(db_session, app)
    token = api_token(Role.VIEWER)
    for params in (WINDOW, {**WINDOW, "segment": "private"}, {**WINDOW, "channel": "app"}):
        api = client.get(
            "/api/v1/reports/kpis",
            query_string=params,
            headers={"Authorization": f"Bearer {token}"},
        ).get_json()["metrics"]
        if params is WINDOW:
            login_as(Role.VIEWER, language="en")
        page = client.get(URL, query_string=params)
        assert page.status_code == 200
        shown = tiles(page.get_data(as_text=True))
        assert set(shown) == set(METRICS)
        for name in METRICS:
            value = api[name]["value"]
            assert shown[name] == ("" if value is None else shown[name]), name
            if value is not None:
                assert float(shown[name]) == pytest.approx(value, abs=1e-12), name


def test_tiles_show_value_and_change_formatted(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    html = client.get(URL, query_string=WINDOW).get_data(as_text=True)
    # NPS 2025: 2 promoters, 1 detractor of 3 = 33.3; 2024: one detractor = −100.
    nps = tile_html(html, "nps")
    assert ">33.3<" in nps
    assert "+133.3" in nps
    assert "▲" in nps
    # Contacts: 4 beside 1.
    contacts = tile_html(html, "contacts")
    assert ">4<" in contacts
    assert "+3" in contacts
    # A percentage with one decimal, its change in percentage points.
    csat = tile_html(html, "csat")
    assert "100.0 %" in csat
    # Money via Babel.
    assert "€" in tile_html(html, "value_at_risk")


def test_a_metric_without_population_shows_a_dash_with_a_spoken_label(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    login_as(Role.VIEWER, language="en")
    html = client.get(URL, query_string=WINDOW).get_data(as_text=True)
    nps = tile_html(html, "nps")
    assert 'data-value=""' in nps
    assert '<span aria-hidden="true">–</span><span class="visually-hidden">no value</span>' in nps
    assert ">0<" in tile_html(html, "contacts")  # counts are 0, not null


def test_the_default_window_is_the_last_twelve_full_months(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    login_as(Role.VIEWER, language="en")
    html = client.get(URL).get_data(as_text=True)
    window = last_full_months(utcnow(), zone())
    assert f'data-window="{window.start.isoformat()}/{window.end.isoformat()}"' in html
    start = window.start.astimezone(zone()).date().isoformat()
    assert f'name="from" value="{start}"' in html
    assert "(the window just before)" in html


def test_an_explicit_comparison_window_is_used(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    params = {**WINDOW, "compare_from": "2025-01-01", "compare_to": "2026-01-01"}
    html = client.get(URL, query_string=params).get_data(as_text=True)
    assert "+0.0" in tile_html(html, "nps") or "0.0" in tile_html(html, "nps")
    assert "(the window just before)" not in html


@pytest.mark.parametrize(
    ("params", "field", "typed"),
    [
        ({"from": "2025-13-01", "to": "2026-01-01"}, "from", "2025-13-01"),
        ({"from": "2026-01-01", "to": "2025-01-01"}, "to", "2025-01-01"),
        ({**WINDOW, "compare_from": "2024-01-01"}, "compare_to", "2024-01-01"),
        ({**WINDOW, "touchpoint": "nowhere"}, "touchpoint", "nowhere"),
        ({**WINDOW, "channel": "pigeon"}, "channel", "pigeon"),
    ],
)
def test_invalid_input_is_named_and_kept(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    login_as: Any,
    params: dict[str, str],
    field: str,
    typed: str,
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    response = client.get(URL, query_string=params)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="report-{field}-error"' in html
    assert f'value="{typed}"' in html
    assert "data-metric=" not in html  # no figures for a request that is not valid


# --- trends ---------------------------------------------------------------------------------


def test_the_monthly_trend_matches_the_engine_month_by_month(
    app: Flask, db_session: Session
) -> None:
    seed(db_session, app)
    window = Window(local(2025, 1, 15), local(2025, 7, 1))  # starts mid-month: clipped
    for filters in ({}, {"segment": "private"}, {"channel": "app"}, {"stage": "usage"}):
        resolved = resolve_filters(db_session, **filters)
        trend = monthly_trend(db_session, window, resolved, zone=zone())
        assert [p.window.start for p in trend][:2] == [local(2025, 1, 15), local(2025, 2, 1)]
        assert len(trend) == 6
        for point in trend:
            engine = window_metrics(
                db_session, point.window, resolved, now=local(2026, 1, 1), zone=zone()
            )
            for name in ("nps", "csat", "ces_mean", "complaint_rate", "churn_rate"):
                assert point.metric(name) == pytest.approx(engine[name]), (filters, name)


def test_a_window_inside_one_month_has_one_trend_point(app: Flask, db_session: Session) -> None:
    seed(db_session, app)
    window = Window(local(2025, 3, 1), local(2025, 3, 20))
    trend = monthly_trend(db_session, window, resolve_filters(db_session), zone=zone())
    assert [p.window for p in trend] == [window]
    assert trend[0].contacts == 1
    assert trend[0].nps == -100


def test_trends_and_table_run_a_fixed_number_of_queries(app: Flask, db_session: Session) -> None:
    seed(db_session, app)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        window = Window(local(2020, 1, 1), local(2026, 1, 1))
        monthly_trend(db_session, window, resolve_filters(db_session), zone=zone())
        trend_queries = len(statements)
        statements.clear()
        touchpoint_kpis(db_session, window, resolve_filters(db_session))
        table_queries = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert trend_queries == 5
    assert table_queries == 4


def test_trend_charts_are_accessible_svg_with_a_data_table(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    html = client.get(URL, query_string=WINDOW).get_data(as_text=True)
    for name in ("nps", "csat", "ces_mean", "complaint_rate", "churn_rate"):
        assert f'data-chart="trend-{name}"' in html
        assert f'aria-labelledby="trend-{name}-title trend-{name}-desc"' in html
    assert "<title>Jan 25: 100.0</title>" in html  # the hover value of January's NPS
    assert '<th scope="row">Mar 25</th>' in html  # the data table
    assert "style=" not in html


# --- the per-touchpoint table ---------------------------------------------------------------


def _expected_order(session: Session, key: str, descending: bool) -> list[str]:
    rows = touchpoint_kpis(
        session, Window(local(2025, 1, 1), local(2026, 1, 1)), resolve_filters(session)
    )
    present = [r for r in rows if r.value(key) is not None]  # type: ignore[arg-type]
    missing = [r.key for r in rows if r.value(key) is None]  # type: ignore[arg-type]
    ordered = sorted(present, key=lambda r: r.value(key), reverse=descending)  # type: ignore[arg-type]
    return [r.key for r in ordered] + missing


def test_the_table_lists_every_touchpoint_with_its_figures(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    html = client.get(URL, query_string=WINDOW).get_data(as_text=True)
    assert sorted(table_order(html)) == ["app", "cancellation", "hotline", "island", "website"]
    app_row = re.search(r'<tr data-touchpoint="app">.*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    cells = dict(re.findall(r'data-column="(\w+)">(.*?)</td>', app_row))
    assert cells["contacts"] == "3"
    assert cells["complaints"] == "1"
    assert cells["complaint_rate"] == "333.33"
    assert cells["responses"] == "4"
    assert cells["nps"] == "33.3"
    assert cells["negative_share"] == "25.0 %"  # the NPS 3 of four answers
    hotline = re.search(r'<tr data-touchpoint="hotline">.*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    assert "100.0 %" in hotline  # one CES 2: all negative


@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_the_table_sorts_by_each_column(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    login_as: Any,
    key: str,
    direction: str,
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    html = client.get(URL, query_string={**WINDOW, "sort": key, "dir": direction}).get_data(
        as_text=True
    )
    order = table_order(html)
    assert order == _expected_order(db_session, key, direction == "desc")
    if key == "nps":  # only the app has NPS answers in 2025: the others come last
        assert order[0] == "app"
    assert 'aria-sort="descending"' in html if direction == "desc" else 'aria-sort="ascending"'


def test_filters_select_rows_and_narrow_figures(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    html = client.get(URL, query_string={**WINDOW, "stage": "support"}).get_data(as_text=True)
    assert sorted(table_order(html)) == ["cancellation", "hotline"]
    html = client.get(URL, query_string={**WINDOW, "segment": "business"}).get_data(as_text=True)
    app_row = re.search(r'<tr data-touchpoint="app">.*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    assert 'data-column="contacts">0<' in app_row


def test_the_table_exports_as_csv_for_excel(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    seed(db_session, app)
    make_touchpoint(db_session, "formula", stage="usage", name="=HYPERLINK(1)")
    db_session.commit()
    login_as(Role.VIEWER, language="en")
    response = client.get(f"{URL}/touchpoints.csv", query_string={**WINDOW, "sort": "nps"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "touchpoint-kpis-2025-01-01-2026-01-01.csv" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data[3:].decode("utf-8").split("\r\n")
    assert lines[0] == (
        "touchpoint;name;stage;archived;contacts;complaints;complaint_rate;responses;"
        "nps;csat;ces_mean;negative_share"
    )
    assert lines[1] == "app;App;usage;0;3;1;333,33;4;33,33;100,00;;25,00"  # sorted by NPS
    assert "hotline;Hotline;support;0;1;0;0,00;1;;;2,00;100,00" in lines
    assert any(line.startswith("formula;'=HYPERLINK(1);usage") for line in lines)


def test_the_plain_csv_uses_commas_and_points(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    seed(db_session, app)
    login_as(Role.VIEWER, language="en")
    data = client.get(f"{URL}/touchpoints.csv", query_string={**WINDOW, "format": "csv"}).get_data()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"app,App,usage,0,3,1,333.33,4,33.33,100.00,,25.00" in data


def test_the_csv_of_an_invalid_request_is_the_form_with_errors(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    login_as(Role.VIEWER, language="en")
    response = client.get(f"{URL}/touchpoints.csv", query_string={"from": "x", "to": "y"})
    assert response.status_code == 422
    assert 'id="report-from-error"' in response.get_data(as_text=True)


# --- the touchpoint page --------------------------------------------------------------------


def _recent(session: Session) -> tuple[dict[str, Touchpoint], datetime]:
    """Data inside the last 12 full months (relative to the real clock)."""
    tps = small_journey(session)
    window = last_full_months(utcnow(), zone())
    moment = window.start + timedelta(days=40)
    anna = make_customer(
        session,
        "K-1",
        acquired_at=window.start - timedelta(days=400),
        name="Anna Berg",
        email="anna@example.org",
    )
    make_event(session, anna, tps["app"], moment, channel="app")
    make_event(session, anna, tps["app"], moment, channel="app")
    make_feedback(session, tps["app"], "nps", 10, moment, customer=anna)
    response = make_feedback(session, tps["app"], "nps", 2, moment, customer=anna)
    response.comment = "Frau Berg hier, bitte rufen Sie +49 30 1234567 an oder anna@example.org."
    make_feedback(session, tps["app"], "csat", 4, window.start - timedelta(days=30))
    session.commit()
    return tps, moment


def test_the_touchpoint_page_shows_its_kpis_and_trend(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    _recent(db_session)
    login_as(Role.VIEWER, language="en")
    html = client.get("/journey/touchpoints/app").get_data(as_text=True)
    assert "Figures of the last 12 months" in html
    assert ">0.0<" in tile_html(html, "nps")  # one promoter, one detractor
    assert ">2<" in tile_html(html, "contacts")
    assert ">2<" in tile_html(html, "responses")
    assert "-100.0 pp" in tile_html(html, "csat") or "–" in tile_html(html, "csat")
    assert 'data-chart="tp-app-nps"' in html
    assert "css/reports.css" in html


def test_comments_are_masked_for_a_viewer(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    _recent(db_session)
    login_as(Role.VIEWER, language="en")
    html = client.get("/journey/touchpoints/app").get_data(as_text=True)
    assert "Latest comments" in html
    assert "bitte rufen Sie" in html
    for personal in ("Berg", "1234567", "anna@example.org", "K-1"):
        assert personal not in html
    assert "customer masked" in html


def test_comments_are_shown_in_full_with_personal_data_permission(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    _recent(db_session)
    login_as(Role.AGENT, language="en")
    html = client.get("/journey/touchpoints/app").get_data(as_text=True)
    assert "Frau Berg hier, bitte rufen Sie +49 30 1234567 an oder anna@example.org." in html
    assert "K-1 · Anna Berg" in html


def test_masking_blacks_out_contact_data_and_names() -> None:
    text = "Herr Max Mustermann (max.m@web.de, 0171/123 45 67) sagt: Rechnung 2025 falsch."
    masked = mask_contact_data(text, ["Max Mustermann"])
    assert "Mustermann" not in masked
    assert "max.m@web.de" not in masked
    assert "123 45 67" not in masked
    assert "Rechnung 2025 falsch." in masked  # a year is not a phone number


# --- map overlays ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measure", "value"),
    [("nps", "0"), ("csat", None), ("ces", None), ("complaint_rate", "0 ‰")],
)
def test_the_map_colours_nodes_by_kpi_and_lists_the_values(
    client: FlaskClient, db_session: Session, login_as: Any, measure: str, value: str | None
) -> None:
    _recent(db_session)
    login_as(Role.VIEWER, language="en")
    html = client.get("/journey/", query_string={"measure": measure}).get_data(as_text=True)
    assert f'<option value="{measure}" selected>' in html
    app_node = re.search(r'<a href="[^"]*" class="map-node" data-key="app".*?</a>', html, re.S)
    assert app_node
    if value is None:
        assert "no value" in app_node.group(0)
        assert 'fill="#D9D9D9"' in app_node.group(0)
    else:
        assert f": {value}</title>" in app_node.group(0)
        assert 'fill="#FDE725"' in app_node.group(0)  # the scale's first step
        assert re.search(rf"– [^<]*: {re.escape(value)}\s*</li>", html)  # the text list
    assert "map-legend" in html


def test_the_kpi_overlay_follows_new_data_despite_the_map_cache(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    tps, moment = _recent(db_session)
    login_as(Role.VIEWER, language="en")
    first = client.get("/journey/", query_string={"measure": "nps"}).get_data(as_text=True)
    assert "App\nNPS, last 12 months: 0</title>" in first
    make_feedback(db_session, tps["app"], "nps", 10, moment)
    db_session.commit()
    second = client.get("/journey/", query_string={"measure": "nps"}).get_data(as_text=True)
    assert "App\nNPS, last 12 months: 33.3</title>" in second


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [URL, f"{URL}/touchpoints.csv"])
def test_anonymous_is_sent_to_sign_in(client: FlaskClient, db_session: Session, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_see_the_dashboard(
    client: FlaskClient, db_session: Session, login_as: Any, role: Role
) -> None:
    login_as(role)
    assert client.get(URL).status_code == 200


def test_a_user_without_report_permission_gets_403(
    app: Flask, client: FlaskClient, db_session: Session, login_as: Any, monkeypatch: Any
) -> None:
    from cxjourney.auth import permissions

    user = login_as(Role.VIEWER)
    reduced = dict(permissions.ROLE_PERMISSIONS)
    reduced[user.role] = frozenset(reduced[user.role] - {permissions.Permission.VIEW_REPORTS})
    monkeypatch.setattr(permissions, "ROLE_PERMISSIONS", reduced)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}/touchpoints.csv").status_code == 403
