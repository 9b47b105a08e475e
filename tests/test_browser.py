"""End-to-end: a real browser (Debian's chromium via Playwright) against a real WSGI server.

The server runs in a background thread on the session's test app and database (SQLite temp
file or ``TEST_DATABASE_URL``); each test loads the demo company itself, and ``db_session``
empties the tables afterwards. Screenshots land in ``artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from cxjourney.auth.models import Role
from cxjourney.demo.services import DEMO_DOMAIN, DEMO_PASSWORD, DemoOptions, load_demo

from .conftest import ROOT
from .factories import T0

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    if os.environ.get("CI"):  # CI installs chromium: a missing one there is a failure
        pytest.fail(f"{CHROMIUM} is missing in CI", pytrace=False)
    pytest.skip(
        f"{CHROMIUM} is missing: the browser tests need Debian's chromium", allow_module_level=True
    )

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
MANAGER = f"manager@{DEMO_DOMAIN}"
MAX_TABS = 300
# Records Content-Security-Policy violations in the page (init scripts are not subject to CSP).
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@pytest.fixture(scope="module")
def live_server(app: Flask) -> Iterator[str]:
    """The app served by werkzeug in a thread; yields its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def demo(db_session: Session) -> Session:
    load_demo(db_session, DemoOptions(at=T0, customers=0, complaints=0))
    db_session.commit()
    return db_session


def _assert_lang(page: sync_api.Page, lang: str) -> None:
    assert page.locator("html").get_attribute("lang") == lang, page.url


def _csp_violations(page: sync_api.Page) -> list[str]:
    return list(page.evaluate("window.__cspViolations || []"))


def _tab_to(page: sync_api.Page, selector: str) -> int:
    """Press Tab until ``selector`` holds the focus; returns the number of presses."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return presses
    focused = page.evaluate("document.activeElement?.outerHTML.slice(0, 120)")
    pytest.fail(f"{selector} not reached in {MAX_TABS} Tab presses (focus on {focused})")


def _node_title(page: sync_api.Page, key: str) -> str:
    return page.locator(f'svg a.map-node[data-key="{key}"] > title').text_content() or ""


@pytest.mark.parametrize(("locale", "lang"), [("de-DE", "de"), ("en-US", "en")])
def test_manager_renames_a_touchpoint_reached_by_keyboard(
    live_server: str, browser: sync_api.Browser, demo: Session, locale: str, lang: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    new_name = f"Hotline {locale} neu"
    context = browser.new_context(locale=locale, base_url=live_server)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    console_errors: list[str] = []
    failed_responses: list[str] = []

    def on_console(msg: sync_api.ConsoleMessage) -> None:
        if msg.type == "error":
            console_errors.append(f"{msg.text} @ {msg.location.get('url') or page.url}")

    def on_response(response: sync_api.Response) -> None:
        if response.status >= 400:
            failed_responses.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console_errors.append(f"page error: {exc}"))
    page.on("response", on_response)
    csp: list[str] = []
    try:
        page.goto("/login")
        _assert_lang(page, lang)
        page.fill("input[name=email]", MANAGER)
        page.fill("input[name=password]", DEMO_PASSWORD)
        with page.expect_navigation():
            page.press("input[name=password]", "Enter")
        assert "/login" not in page.url, "login failed"

        page.goto("/journey/")
        _assert_lang(page, lang)
        node = page.locator('svg a.map-node[data-key="hotline"]')
        sync_api.expect(node).to_be_visible()
        assert _node_title(page, "hotline").splitlines()[0] == "Service-Hotline"
        page.screenshot(path=SCREENSHOTS / f"map-before-{locale}.png", full_page=True)
        csp += _csp_violations(page)

        _tab_to(page, 'a.map-node[data-key="hotline"]')
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == f"{live_server}/journey/touchpoints/hotline"
        _assert_lang(page, lang)
        sync_api.expect(page.locator("h1")).to_have_text("Service-Hotline")
        page.screenshot(path=SCREENSHOTS / f"touchpoint-{locale}.png", full_page=True)
        csp += _csp_violations(page)

        edit = page.locator('a[href="/journey/touchpoints/hotline/edit"]')
        edit.focus()
        with page.expect_navigation():
            page.keyboard.press("Enter")
        _assert_lang(page, lang)
        name = page.locator("input[name=name]")
        sync_api.expect(name).to_have_value("Service-Hotline")
        name.fill(new_name)
        csp += _csp_violations(page)
        with page.expect_navigation():
            page.locator("form.form button[type=submit]").click()
        assert page.url == f"{live_server}/journey/touchpoints/hotline"
        sync_api.expect(page.locator("h1")).to_have_text(new_name)
        sync_api.expect(page.locator(".flash-success")).to_contain_text(new_name)
        csp += _csp_violations(page)

        with page.expect_navigation():
            page.locator("nav.breadcrumbs a").click()
        assert page.url == f"{live_server}/journey/"
        _assert_lang(page, lang)
        assert _node_title(page, "hotline").splitlines()[0] == new_name
        label = page.locator('svg a.map-node[data-key="hotline"] text').text_content() or ""
        # The label may wrap over several <tspan>s, each line without its breaking space.
        assert label.replace(" ", "") == new_name.replace(" ", "")
        page.screenshot(path=SCREENSHOTS / f"map-after-{locale}.png", full_page=True)
        csp += _csp_violations(page)
    finally:
        context.close()
    assert csp == [], f"Content-Security-Policy violations: {csp}"
    assert console_errors == [], f"console errors: {console_errors}"
    assert failed_responses == [], f"failed requests: {failed_responses}"


@pytest.fixture
def complaint_desk(app: Flask, db_session: Session) -> dict[str, str]:
    """A touchpoint owned by Kundenservice, an agent and a team lead of that team, a customer
    who already has an open complaint about the touchpoint (for the duplicate hint)."""
    from .conftest import PASSWORD, make_user
    from .factories import (
        make_category,
        make_complaint,
        make_customer,
        make_touchpoint,
        settings_for,
    )

    make_touchpoint(db_session, "first-invoice", name="Erste Rechnung")
    make_category(db_session, "billing", "Rechnung")
    customer = make_customer(db_session, "K-4711", name="Erika Mustermann")
    agent = make_user(db_session, Role.AGENT, email="agent@example.org", team="Kundenservice")
    lead = make_user(
        db_session, Role.TEAM_LEAD, email="lead@example.org", team="Kundenservice", language="en"
    )
    earlier = make_complaint(
        db_session,
        settings_for(app.config),
        customer=customer,
        touchpoint="first-invoice",
        at=datetime.now(UTC) - timedelta(days=2),
    )
    db_session.commit()
    return {
        "agent": agent.email,
        "lead": lead.email,
        "password": PASSWORD,
        "earlier": earlier.reference,
    }


def _sign_in(page: sync_api.Page, email: str, password: str) -> None:
    page.goto("/login")
    # The field is autofocused; focusing it again waits for that instead of racing it.
    page.locator("#email").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/journey/")


def test_an_agent_logs_a_letter_by_keyboard_and_the_team_finds_it(
    live_server: str, browser: sync_api.Browser, complaint_desk: dict[str, str]
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="de-DE", base_url=live_server)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _sign_in(page, complaint_desk["agent"], complaint_desk["password"])

    # Find the customer from the intake form's search, by keyboard only.
    page.goto("/complaints/new")
    page.locator("#q").focus()  # autofocused; see _sign_in
    page.keyboard.type("K-4711")
    page.keyboard.press("Enter")
    page.wait_for_url("**/complaints/new?q=*")
    _tab_to(page, 'a[href*="customer=K-4711"]')
    page.keyboard.press("Enter")
    page.wait_for_url("**/complaints/new?customer=K-4711")
    assert complaint_desk["earlier"] in page.content()  # the history is shown first

    # The touchpoint select has the focus; a focused select picks an option as one types.
    page.locator("#touchpoint").focus()
    page.keyboard.type("Erste Rechnung")
    page.keyboard.press("Tab")
    page.keyboard.type("Brief")  # channel
    _tab_to(page, "#category")
    page.keyboard.type("Rechnung")
    _tab_to(page, "#subject")
    page.keyboard.type("Brief: Abschlag zu hoch")
    page.keyboard.press("Tab")
    page.keyboard.type("Die Kundin schreibt, der neue Abschlag sei doppelt so hoch.")
    _tab_to(page, "#subject")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter in a text field submits the form

    notice = page.locator(".notice")
    assert notice.is_visible()
    assert complaint_desk["earlier"] in notice.inner_text()  # the duplicate hint
    page.screenshot(path=str(SCREENSHOTS / "intake-duplicate-hint.png"), full_page=True)
    _tab_to(page, 'form.form button[type="submit"]:not([name="link_to"])')  # a new one
    page.keyboard.press("Enter")
    page.wait_for_url("**/complaints/CX-*")
    reference = page.url.rsplit("/", 1)[-1]
    assert reference != complaint_desk["earlier"]
    assert "Kundenservice" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "complaint-logged.png"), full_page=True)
    assert _csp_violations(page) == []
    assert errors == []
    context.close()

    # The owning team's lead finds it in the team queue.
    lead_context = browser.new_context(locale="en-US", base_url=live_server)
    lead_page = lead_context.new_page()
    _sign_in(lead_page, complaint_desk["lead"], complaint_desk["password"])
    lead_page.goto("/team-queue")
    assert reference in lead_page.locator("main").inner_text()
    lead_page.screenshot(path=str(SCREENSHOTS / "team-queue.png"), full_page=True)
    lead_context.close()


def test_a_manager_switches_the_heat_map_and_opens_a_hotspot(
    app: Flask, live_server: str, browser: sync_api.Browser, db_session: Session
) -> None:
    """The reports page: churn lift, then its change against the previous quarter (the
    default comparison of a quarter), then a hotspot's touchpoint page."""
    from .conftest import PASSWORD, make_user
    from .test_churn_report import _journeys

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _journeys(app, db_session)
    manager = make_user(db_session, Role.TOUCHPOINT_MANAGER, email="tm@example.org")
    db_session.commit()
    context = browser.new_context(locale="en-US", base_url=live_server)
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", manager.email)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.press("input[name=password]", "Enter")
        page.goto("/reports/journey?from=2026-01-01&to=2026-04-01")
        sync_api.expect(page.locator("h1")).to_have_text("Where customers leave")

        page.select_option("#report-measure", "churn_lift")
        with page.expect_navigation():
            page.click("form.report-form button[type=submit]")
        sync_api.expect(page.locator("div.map-scroll")).to_have_attribute(
            "data-measure", "churn_lift"
        )
        assert "1.67" in _node_title(page, "hotline")
        hotspot = page.locator('svg a.map-node.map-node-is-hotspot[data-key="hotline"]')
        sync_api.expect(hotspot).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "heat-map-churn-lift.png", full_page=True)

        page.select_option("#report-measure", "change_churn_lift")
        with page.expect_navigation():
            page.click("form.report-form button[type=submit]")
        sync_api.expect(page.locator("div.map-scroll")).to_have_attribute(
            "data-measure", "change_churn_lift"
        )
        window = page.locator("p.report-window").text_content() or ""
        assert "Oct 1, 2025" in window, window  # compared with the previous quarter
        sync_api.expect(page.locator("#heat-title")).to_contain_text("Change of Churn lift")

        with page.expect_navigation():
            page.click('ul.hotspot-list li[data-touchpoint="hotline"] a')
        assert page.url == f"{live_server}/journey/touchpoints/hotline"
        sync_api.expect(page.locator("h1")).to_have_text("Hotline")
        assert _csp_violations(page) == []
    finally:
        context.close()
