"""Security by default: headers, production settings, CSRF, error pages."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from cxjourney import create_app
from cxjourney.auth.models import Role
from cxjourney.config import DEV_SECRET_KEY, ProductionConfig


def test_every_page_sends_a_strict_content_security_policy(client: FlaskClient) -> None:
    for url in ("/login", "/api/v1/openapi.json", "/does-not-exist", "/api/v1/nothing"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_script_or_style(client: FlaskClient, login_as) -> None:
    from .factories import small_journey

    login_as(Role.ADMIN)
    from cxjourney.extensions import db

    small_journey(db.session)
    for url in (
        "/login",
        "/journey/",
        "/journey/touchpoints/hotline",
        "/journey/stages",
        "/admin/users",
        "/admin/teams",
        "/admin/audit/",
    ):
        html = client.get(url).get_data(as_text=True)
        assert "<script>" not in html, url
        assert "<style" not in html, url
        assert " style=" not in html, url
        assert " on" + "click=" not in html, url


def test_production_refuses_a_missing_or_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (None, "", DEV_SECRET_KEY, "short"):

        class Config(ProductionConfig):
            SECRET_KEY = key
            SQLALCHEMY_DATABASE_URI = "sqlite://"

        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app(Config)


def test_production_sets_secure_cookies() -> None:
    class Config(ProductionConfig):
        SECRET_KEY = "x" * 64
        SQLALCHEMY_DATABASE_URI = "sqlite://"

    app = create_app(Config)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["DEMO_ALLOWED"] is False


def test_error_pages_are_html_and_api_errors_are_json(client: FlaskClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    api = client.get("/api/v1/no/such/thing")
    assert api.status_code == 404
    assert api.get_json()["error"]["code"] == "not_found"
    assert set(api.get_json()["error"]) == {"code", "message", "fields"}
    anonymous = client.get("/api/v1/journey")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")


def test_posting_a_form_without_csrf_token_is_refused(client: FlaskClient, login_as) -> None:
    login_as(Role.ADMIN)
    response = client.post("/admin/teams/new", data={"name": "Ohne Token"})
    assert response.status_code == 400
    listing = client.get("/admin/teams").get_data(as_text=True)
    assert "Ohne Token" not in listing
