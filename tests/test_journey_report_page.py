"""The reports page: heat map, hotspots, clusters, changes and the touchpoint table show
the API's numbers; bad input keeps what was typed and answers 422."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from .test_churn_report import _journeys

WINDOW = {"from": "2026-01-01", "to": "2026-04-01"}


def _page(client: FlaskClient, **params: str) -> Any:
    return client.get("/reports/journey", query_string={**WINDOW, **params})


def test_the_page_shows_hotspots_clusters_and_the_heat_map(
    app: Flask, db_session: Session, client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    login_as("touchpoint_manager")
    response = _page(client, measure="churn_lift")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # The same hotspots and cluster as the API (tests/test_churn_reports_api.py).
    hot = re.findall(r'<li data-touchpoint="([a-z-]+)"><a href="/journey/touchpoints/', html)
    assert hot == ["app", "hotline"]
    assert 'data-cluster="1"' in html
    assert "map-node-is-hotspot" in html
    assert html.count('class="map-node-cluster"') == 2
    assert 'data-measure="churn_lift"' in html
    # The paths of those who left: app → hotline twice (C, G), website → app → hotline (A).
    churned = html[html.index('data-outcome="churn"') :]
    churned = churned[: churned.index("</table>")]
    assert re.findall(r"<tr><td>([^<]+)</td>", churned) == [
        "App → Hotline",
        "Website → App → Hotline",
    ]
    # Churn lift of the hotline: 100 % ÷ 60 % = 1.67 (rounded to two digits on the map).
    assert re.search(r'data-touchpoint="hotline">[^<]*: 1\.67 – ', html)


def test_the_change_against_the_comparison_colours_the_map(
    app: Flask, db_session: Session, client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    login_as("viewer")
    html = _page(client, measure="change_churn_rate").get_data(as_text=True)
    assert 'data-measure="change_churn_rate"' in html
    # Nobody passed anything in the quarter before: every change is "no value".
    assert re.search(r'data-touchpoint="hotline">[^<]*: –', html)


def test_the_table_sorts_and_exports_csv(
    app: Flask, db_session: Session, client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    login_as("team_lead")
    html = _page(client, sort="churn_rate", dir="desc").get_data(as_text=True)
    table = html[html.index('class="data figures touchpoint-report"') :]
    order = re.findall(r'<tr data-touchpoint="([a-z-]+)"', table)
    assert order == ["hotline", "app", "website", "island", "cancellation"]
    response = client.get(
        "/reports/journey/touchpoints.csv", query_string={**WINDOW, "format": "csv"}
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_key = {row["touchpoint"]: row for row in rows}
    assert float(by_key["app"]["removal_effect"]) == 1.0
    assert by_key["hotline"]["hotspot_reasons"] == "complaint_rate"
    assert by_key["cancellation"]["churn_rate"] == ""


def test_bad_input_keeps_what_was_typed_and_is_422(
    app: Flask, db_session: Session, client: FlaskClient, login_as: Callable[..., Any]
) -> None:
    _journeys(app, db_session)
    login_as("viewer")
    response = client.get(
        "/reports/journey", query_string={"from": "2026-04-01", "to": "2026-01-01"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="2026-04-01"' in html
    assert 'aria-invalid="true"' in html
    response = _page(client, measure="luck")
    assert response.status_code == 422
    assert 'id="report-measure-error"' in response.get_data(as_text=True)
    response = client.get(
        "/reports/journey", query_string={"from": "2010-01-01", "to": "2026-01-01"}
    )
    assert response.status_code == 422
