"""Two languages from the first line: complete catalogues, no stray strings, locale choice."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role

from .conftest import ROOT, login, make_user

TEMPLATES = ROOT / "templates"
PACKAGE = ROOT / "cxjourney"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def _extracted() -> set[str]:
    method_map = [("cxjourney/**.py", "python"), ("templates/**.html", "jinja2")]
    messages: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map, keywords={**KEYWORDS}
    ):
        messages.add(message[0] if isinstance(message, tuple) else message)
    return messages


def _catalogue(locale: str):  # type: ignore[no-untyped-def]
    path = PACKAGE / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


@pytest.mark.parametrize("locale", ["de", "en"])
def test_every_string_in_the_code_is_translated(locale: str) -> None:
    catalogue = _catalogue(locale)
    missing, fuzzy = [], []
    for msgid in sorted(_extracted()):
        entry = catalogue.get(msgid)
        strings = entry.string if entry is not None else None
        ok = all(strings) if isinstance(strings, tuple | list) else bool(strings)
        if not ok:
            missing.append(msgid)
        elif entry.fuzzy:
            fuzzy.append(msgid)
    assert missing == [], f"{len(missing)} untranslated in {locale}: {missing[:10]}"
    assert fuzzy == [], f"fuzzy in {locale}: {fuzzy[:10]}"


def test_german_translations_keep_every_placeholder() -> None:
    for entry in _catalogue("de"):
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for text in strings:
            # a singular form may leave out %(num)d, as German "ein"/"eine" does
            assert set(PLACEHOLDER.findall(text)) <= wanted, entry.id
            assert wanted - {"num"} <= set(PLACEHOLDER.findall(text)), entry.id


_JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.S)
_TAG = re.compile(r"<[^>]*>", re.S)
_VISIBLE_ATTRIBUTE = re.compile(r'\b(?:aria-label|title|alt|placeholder)="([^"]*)"')


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_template_has_no_text_outside_the_catalogue(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for value in _VISIBLE_ATTRIBUTE.findall(source):
        assert not re.search(r"[A-Za-zÄÖÜäöüß]", _JINJA.sub("", value)), (path.name, value)
    text = _TAG.sub(" ", _JINJA.sub(" ", source))
    text = re.sub(r"&\w+;|&#\d+;", " ", text)
    words = re.findall(r"[A-Za-zÄÖÜäöüß]{2,}", text)
    assert words == [], f"{path.name}: untranslated text {words[:10]}"


def _flash_calls() -> list[tuple[str, int, ast.expr]]:
    return [
        (path.name, node.lineno, node.args[0])
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "flash"
    ]


def test_flash_messages_go_through_the_catalogue() -> None:
    calls = _flash_calls()
    assert calls, "no flash() calls found: the scan is broken"
    for filename, lineno, message in calls:
        literal = isinstance(message, ast.Constant | ast.JoinedStr | ast.BinOp)
        translated = isinstance(message, ast.Call) and getattr(message.func, "id", "") in {
            "_",
            "ngettext",
            "gettext",
        }
        # a variable holds a message a service already translated (exc.message, field errors)
        assert not literal, f"{filename}:{lineno} flashes a literal string"
        assert translated or isinstance(message, ast.Name | ast.Attribute), (filename, lineno)


def test_language_from_profile_then_browser_then_default(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    assert '<html lang="de">' in client.get("/login").get_data(as_text=True)
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in page.get_data(as_text=True)
    assert "Sign in" in page.get_data(as_text=True)
    german = client.get("/login", headers={"Accept-Language": "de-AT"}).get_data(as_text=True)
    assert "Anmelden" in german
    user = make_user(db_session, Role.VIEWER, language="en")
    login(client, user.email)
    page = client.get("/journey/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_dates_are_shown_in_the_configured_timezone_and_locale(app: Flask) -> None:
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # 10:30 in Berlin (CET)
    summer = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)  # 11:30 in Berlin (CEST)
    with app.test_request_context(headers={"Accept-Language": "de"}):
        text = render_template_string("{{ a|datetime }} / {{ b|datetime }}", a=moment, b=summer)
        assert text == "02.03.2026, 10:30:00 / 01.07.2026, 11:30:00"
        assert render_template_string("{{ 1234.5|number(2) }}") == "1.234,50"
        assert render_template_string("{{ 12.5|money }}") == "12,50\xa0€"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert "10:30:00" in render_template_string("{{ a|datetime }}", a=moment)
        assert render_template_string("{{ 1234.5|number(2) }}") == "1,234.50"
        assert render_template_string("{{ none|datetime }}") == "–"
