"""No bad input to any endpoint yields a 500, and a rejected request saves nothing.

Each class of bad input goes to every API write endpoint (admin token) and every HTML form
(signed in as admin, valid CSRF token): wrong types, missing fields and malformed bodies,
huge strings, NUL bytes, huge integers and markup. The API must answer a JSON error with a
4xx naming the field; pages must answer anything but a 5xx; after every rejected request
the database is as it was (row counts and the audit log, which records every change).
"""

from __future__ import annotations

import copy
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cxjourney.audit.models import AuditLog
from cxjourney.auth.models import ApiToken, Role, Team, User
from cxjourney.complaints.models import Category, Complaint, ComplaintEvent
from cxjourney.complaints.services import Settings
from cxjourney.customers.models import ChurnReason, Customer, CustomerValue, JourneyEvent
from cxjourney.extensions import limiter
from cxjourney.feedback.models import FeedbackLink, FeedbackResponse
from cxjourney.journey import services as journey
from cxjourney.journey.document import export_journey
from cxjourney.journey.models import Stage, Touchpoint, Transition

from .conftest import csrf_from, login, make_user
from .factories import (
    T0,
    make_complaint,
    make_customer,
    make_stage,
    make_touchpoint,
    small_journey,
)

MARKUP = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;"
HUGE_TEXT = "x" * 1_000_000
API_REJECTIONS = {400, 404, 409, 413, 415, 422}
NO_BODY = object()
SENTINEL = "__raw_json_goes_here__"
ADMIN_EMAIL = "api-admin@example.org"  # the api_token fixture's admin


# --- the database before and after ----------------------------------------------------------


FINGERPRINTED = (
    Stage,
    Touchpoint,
    Transition,
    Team,
    User,
    ApiToken,
    AuditLog,
    Customer,
    Category,
    ChurnReason,
    Complaint,
    ComplaintEvent,
    JourneyEvent,
    CustomerValue,
    FeedbackResponse,
    FeedbackLink,
)


def _fingerprint(session: Session) -> dict[str, int]:
    """Row counts; the audit log grows with every change, updates included."""
    session.rollback()  # see what the requests committed
    counts = [select(func.count()).select_from(m).scalar_subquery() for m in FINGERPRINTED]
    row = session.execute(select(*counts)).one()
    return {m.__name__: n for m, n in zip(FINGERPRINTED, row, strict=True)}


def _seed(session: Session) -> dict[str, Any]:
    """A fresh journey: the small one, plus an empty stage and an archived touchpoint."""
    session.rollback()
    for model in (
        FeedbackResponse,
        FeedbackLink,
        ComplaintEvent,
        Complaint,
        JourneyEvent,
        CustomerValue,
        Customer,
        Category,
        ChurnReason,
        Transition,
        Touchpoint,
        Stage,
        Team,
    ):
        session.execute(delete(model))
    session.commit()
    small_journey(session)
    complaint = make_complaint(
        session, Settings.from_config(current_app.config), customer=make_customer(session, "K-1")
    )
    make_stage(session, "renewal", "Verlängerung")
    fax = make_touchpoint(session, "fax-line", stage="support")
    journey.archive_touchpoint(session, fax, actor=None, at=T0)
    session.commit()
    seed: dict[str, Any] = {f"stage_{s.key}": s.id for s in session.scalars(select(Stage))}
    seed["team_online"] = session.scalar(select(Team.id).where(Team.name == "Online"))
    seed["transition_id"] = next(
        t.id
        for t in journey.list_transitions(session)
        if (t.source.key, t.target.key) == ("website", "app")
    )
    seed["document"] = export_journey(session)
    seed["complaint"] = complaint.reference
    seed["complaint_version"] = complaint.version
    return seed


# --- API write endpoints -------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # formatted with the seed
    body: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # a valid body
    required: tuple[str, ...] = ()
    path_text: bool = False  # path has a text parameter (a key)
    path_int: bool = False  # path has an integer parameter (an id)
    path_suffix: str = ""  # the part after the parameter (".../<ref>/notes")
    # paths that take a number as well as a decimal string (amounts: "12.50" or 12.5)
    numbers_ok: tuple[str, ...] = ()

    def url(self, seed: dict[str, Any], *, param: object = None) -> str:
        if param is not None:
            base = self.path.rsplit("/", 2 if self.path_suffix else 1)[0]
            return f"{base}/{param}" + (f"/{self.path_suffix}" if self.path_suffix else "")
        return self.path.format_map(seed)


API_WRITES = [
    Endpoint(
        "PUT",
        "/api/v1/journey",
        lambda s: copy.deepcopy(s["document"]),
        required=("stages", "touchpoints", "transitions"),
    ),
    Endpoint(
        "POST",
        "/api/v1/touchpoints",
        lambda s: {
            "key": "chat",
            "name": "Chat",
            "stage": "support",
            "owner_team": "Kundenservice",
            "manager": ADMIN_EMAIL,
            "description": "Live chat on the website",
            "channel": "chat",
            "exit": False,
        },
        required=("key", "name", "stage", "owner_team"),
    ),
    Endpoint(
        "PATCH",
        "/api/v1/touchpoints/hotline",
        lambda s: {
            "key": "hotline",
            "name": "Hotline 24/7",
            "stage": "support",
            "owner_team": "Online",
            "manager": ADMIN_EMAIL,
            "description": "Around the clock",
            "channel": "phone",
            "exit": False,
            "archived": False,
        },
        path_text=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/transitions",
        lambda s: {"source": "website", "target": "hotline"},
        required=("source", "target"),
    ),
    Endpoint("DELETE", "/api/v1/transitions/{transition_id}", path_int=True),
    Endpoint("POST", "/api/v1/teams", lambda s: {"name": "Backoffice"}, required=("name",)),
    Endpoint(
        "POST",
        "/api/v1/customers",
        lambda s: {
            "external_ref": "K-2",
            "name": "Erika Mustermann",
            "email": "erika@example.org",
            "phone": "030 1234",
            "segment": "privat",
            "acquired_at": "2025-01-01T00:00:00Z",
            "contact_consent": True,
        },
        required=("external_ref", "name", "acquired_at"),
    ),
    Endpoint(
        "PUT",
        "/api/v1/customers/K-1",
        lambda s: {"external_ref": "K-1", "name": "Max", "acquired_at": "2025-01-01T00:00:00Z"},
        required=("external_ref", "name", "acquired_at"),
        path_text=True,
    ),
    Endpoint(
        "PATCH",
        "/api/v1/customers/K-1",
        lambda s: {"name": "Max M.", "segment": "gewerbe", "churned_at": None},
        path_text=True,
    ),
    Endpoint(
        "POST",
        "/api/v1/categories",
        lambda s: {"key": "delivery", "name": "Lieferung"},
        required=("key", "name"),
    ),
    Endpoint(
        "POST",
        "/api/v1/churn-reasons",
        lambda s: {"key": "price", "name": "Preis"},
        required=("key", "name"),
    ),
    Endpoint(
        "POST",
        "/api/v1/complaints",
        lambda s: {
            "customer_ref": "K-1",
            "touchpoint": "hotline",
            "channel": "letter",
            "category": "billing",
            "severity": "high",
            "subject": "Rechnung",
            "description": "Zu hoch",
            "desired_outcome": "Korrektur",
            "received_at": "2026-03-01T10:00:00+01:00",
        },
        required=(
            "customer_ref",
            "touchpoint",
            "channel",
            "category",
            "severity",
            "subject",
            "description",
        ),
    ),
    Endpoint(
        "POST",
        "/api/v1/complaints/{complaint}/transition",
        lambda s: {"to": "in_progress", "note": "los", "version": s["complaint_version"]},
        required=("to", "version"),
        path_text=True,
        path_suffix="transition",
    ),
    Endpoint(
        "POST",
        "/api/v1/complaints/{complaint}/notes",
        lambda s: {"text": "Notiz"},
        required=("text",),
        path_text=True,
        path_suffix="notes",
    ),
    Endpoint(
        "POST",
        "/api/v1/complaints/{complaint}/replies",
        lambda s: {"text": "Antwort", "channel": "email"},
        required=("text", "channel"),
        path_text=True,
        path_suffix="replies",
    ),
    Endpoint(
        "POST",
        "/api/v1/complaints/{complaint}/assign",
        lambda s: {"assignee": None, "team": "Online"},
        required=("assignee",),
        path_text=True,
        path_suffix="assign",
    ),
    Endpoint(
        "POST",
        "/api/v1/events",
        lambda s: {
            "events": [
                {
                    "customer_ref": "K-1",
                    "touchpoint": "hotline",
                    "occurred_at": "2026-03-01T10:00:00+01:00",
                    "channel": "letter",
                }
            ]
        },
        required=("events",),
    ),
    Endpoint(
        "POST",
        "/api/v1/customers/K-1/values",
        lambda s: {"kind": "revenue", "amount": "12.50", "occurred_on": "2026-03-01"},
        required=("kind", "amount", "occurred_on"),
        path_text=True,
        path_suffix="values",
        numbers_ok=("amount",),
    ),
    Endpoint(
        "POST",
        "/api/v1/feedback",
        lambda s: {
            "touchpoint": "hotline",
            "kind": "nps",
            "score": 3,
            "comment": "Zu lange gewartet",
            "channel": "phone",
            "submitted_at": "2026-03-01T10:00:00+01:00",
            "customer_ref": "K-1",
            "complaint_ref": s["complaint"],
            "contact_consent": True,
        },
        required=("touchpoint", "kind", "score", "channel"),
    ),
]


@dataclass(frozen=True)
class Variant:
    label: str
    expect: int | None  # the exact status, or None: anything below 500
    field: str | None = None  # the field or JSON path the error must name
    json: Any = NO_BODY
    raw: str | bytes | None = None
    content_type: str = "application/json"
    url: str | None = None


def _leaves(value: Any, path: str = "", steps: tuple[Any, ...] = ()) -> Iterator[tuple]:
    """(JSON path, steps to it, value) for every scalar and list; only a list's first item."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else key, (*steps, key))
        return
    yield path, steps, value
    if isinstance(value, list) and value:
        yield from _leaves(value[0], f"{path}[0]", (*steps, 0))


def _with(body: Any, steps: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = value
    return changed


def _without(body: Any, steps: tuple[Any, ...]) -> Any:
    changed = copy.deepcopy(body)
    target = changed
    for step in steps[:-1]:
        target = target[step]
    del target[steps[-1]]
    return changed


def _raw(body: Any, steps: tuple[Any, ...], literal: str) -> str:
    """The body as JSON text with ``literal`` (not valid Python JSON output) at ``steps``."""
    return json.dumps(_with(body, steps, SENTINEL)).replace(f'"{SENTINEL}"', literal)


def _text_leaves(body: Any) -> Iterator[tuple]:
    for path, steps, value in _leaves(body):
        if isinstance(value, str) or value is None:
            yield path, steps, value


def _wrong_types_for(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [123, "maybe", ["x"], {"x": "y"}]
    if isinstance(value, int):
        return ["1", 1.5, ["x"], {"x": "y"}]
    if isinstance(value, list):
        return ["x", 1, {"x": "y"}]
    return [123, 1.5, True, ["x"], {"x": "y"}]


def _api_wrong_types(ep: Endpoint, seed: dict[str, Any]) -> Iterator[Variant]:
    if ep.body is None:
        for param in ("abc", "-1", "1.5"):
            yield Variant(f"id {param}", 404, url=ep.url(seed, param=param))
        return
    body = ep.body(seed)
    for path, steps, value in _leaves(body):
        for wrong in _wrong_types_for(value):
            if path in ep.numbers_ok and type(wrong) in (int, float):
                continue
            yield Variant(f"{path}={wrong!r}", 422, path, json=_with(body, steps, wrong))


def _api_missing_and_malformed(ep: Endpoint, seed: dict[str, Any]) -> Iterator[Variant]:
    body = ep.body(seed) if ep.body else None
    if body is not None:
        for name in ep.required:
            yield Variant(f"without {name}", 422, name, json=_without(body, (name,)))
        for path, steps, _value in _leaves(body):
            required_in_item = path.endswith((".key", ".name", ".source", ".target"))
            if len(steps) > 1 and required_in_item:
                yield Variant(f"without {path}", 422, path, json=_without(body, steps))
        if ep.required:
            yield Variant("empty object", 422, ep.required[0], json={})
            yield Variant("no body at all", 422)
        yield Variant("JSON null", 422, raw="null")
        yield Variant("a list", 422, json=[body])
        yield Variant("a string", 422, json="text")
        yield Variant("a number", 422, json=5)
    yield Variant("invalid JSON", 400, raw='{"name": ')
    yield Variant("invalid UTF-8", 400, raw=b'{"name": "\xff\xfe"}')
    yield Variant("JSON sent as text/plain", 415, raw='{"name": "x"}', content_type="text/plain")
    yield Variant(
        "form-encoded", 415, raw="name=x", content_type="application/x-www-form-urlencoded"
    )
    yield Variant("nested too deeply", 422, raw="[" * 100 + "]" * 100)
    yield Variant("nested past the parser", 422, raw="[" * 100_000 + "]" * 100_000)


def _api_huge_strings(ep: Endpoint, seed: dict[str, Any]) -> Iterator[Variant]:
    if ep.path_text:
        yield Variant("huge key in the path", 404, url=ep.url(seed, param="k" * 30_000))
    if ep.body is None:
        yield Variant("huge extra field", 422, "note", json={"note": HUGE_TEXT})
        return
    body = ep.body(seed)
    for path, steps, _value in _text_leaves(body):
        yield Variant(f"huge {path}", 422, path, json=_with(body, steps, HUGE_TEXT))
    yield Variant("huge field name", 422, "$", json={**body, "k" * 1000: "x"})


def _api_nul_bytes(ep: Endpoint, seed: dict[str, Any]) -> Iterator[Variant]:
    if ep.path_text:
        yield Variant("NUL in the path", 404, url=ep.url(seed, param="hot%00line"))
    if ep.body is None:
        yield Variant("NUL in a field name", 422, "$", json={"no\x00te": 1})
        yield Variant("NUL in a value", 422, "note", json={"note": "a\x00b"})
        return
    body = ep.body(seed)
    for path, steps, _value in _text_leaves(body):
        yield Variant(f"NUL in {path}", 422, path, json=_with(body, steps, "a\x00b"))
        yield Variant(f"lone surrogate in {path}", 422, path, raw=_raw(body, steps, '"a\\ud800b"'))
    yield Variant("NUL in a field name", 422, "$", json={**body, "na\x00me": "x"})
    for path, steps, value in _leaves(body):
        if isinstance(value, list) and value and isinstance(value[0], dict):
            item = {**value[0], "na\x00me": "x"}
            yield Variant(
                f"NUL in a field name in {path}[0]",
                422,
                f"{path}[0]",
                json=_with(body, (*steps, 0), item),
            )


def _api_huge_integers(ep: Endpoint, seed: dict[str, Any]) -> Iterator[Variant]:
    if ep.path_int:
        for number in (10**30, 2**63, 2**31):
            yield Variant(f"id {number}", 404, url=ep.url(seed, param=number))
    if ep.body is None:
        yield Variant("huge number in the body", 422, "note", json={"note": 10**30})
        yield Variant("5000 digits in the body", 400, raw='{"note": ' + "9" * 5000 + "}")
        return
    body = ep.body(seed)
    for path, steps, _value in _leaves(body):
        for number in (10**30, -(10**30), 10**400):
            label = f"{path}={str(number)[:4]}…({len(str(number))} chars)"
            yield Variant(label, 422, path, json=_with(body, steps, number))
        yield Variant(f"{path}=1e400", 422, path, raw=_raw(body, steps, "1e400"))
        yield Variant(f"{path}=5000 digits", 400, raw=_raw(body, steps, "9" * 5000))


def _api_markup(ep: Endpoint, seed: dict[str, Any]) -> Iterator[Variant]:
    if ep.body is None:
        yield Variant("markup in the body", None, json={"note": MARKUP})
        return
    body = ep.body(seed)
    for path, steps, _value in _text_leaves(body):
        yield Variant(f"markup in {path}", None, json=_with(body, steps, MARKUP))


API_KINDS = {
    "wrong_types": _api_wrong_types,
    "missing_fields_and_malformed_bodies": _api_missing_and_malformed,
    "huge_strings": _api_huge_strings,
    "nul_bytes": _api_nul_bytes,
    "huge_integers": _api_huge_integers,
    "markup": _api_markup,
}


def _send_api(
    client: FlaskClient, ep: Endpoint, seed: dict[str, Any], variant: Variant, token: str
) -> Any:
    kwargs: dict[str, Any] = {"method": ep.method, "headers": {"Authorization": f"Bearer {token}"}}
    if variant.raw is not None:
        kwargs.update(data=variant.raw, content_type=variant.content_type)
    elif variant.json is not NO_BODY:
        kwargs["json"] = variant.json
    return client.open(variant.url or ep.url(seed), **kwargs)


def _api_problems(response: Any, variant: Variant, label: str) -> list[str]:
    status = response.status_code
    problems = []
    if variant.expect is not None and status != variant.expect:
        problems.append(f"{label}: got {status}, expected {variant.expect}")
    elif status >= 400 and status not in API_REJECTIONS:
        problems.append(f"{label}: got {status}")
    if status not in API_REJECTIONS:
        return problems
    error = (response.get_json(silent=True) or {}).get("error")
    if not isinstance(error, dict) or set(error) != {"code", "message", "fields"}:
        problems.append(f"{label}: {status} without the JSON error shape")
    elif variant.field is not None and variant.field not in error["fields"]:
        problems.append(f"{label}: the error does not name {variant.field}: {error['fields']}")
    return problems


@pytest.mark.parametrize("kind", list(API_KINDS))
def test_bad_api_input_is_a_json_4xx_and_saves_nothing(
    client: FlaskClient, db_session: Session, api_token, kind: str
) -> None:
    token = api_token(Role.ADMIN)
    seed = _seed(db_session)
    problems: list[str] = []
    sent = 0
    for ep in API_WRITES:
        for variant in API_KINDS[kind](ep, seed):
            before = _fingerprint(db_session)
            response = _send_api(client, ep, seed, variant, token)
            sent += 1
            label = f"{ep.method} {ep.path} [{variant.label}]"
            problems += _api_problems(response, variant, label)
            if _fingerprint(db_session) != before:
                if response.status_code >= 400:
                    problems.append(f"{label}: rejected ({response.status_code}) but saved")
                seed = _seed(db_session)
    assert sent > len(API_WRITES)
    assert not problems, "\n".join(problems)


# --- HTML forms ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    path: str  # formatted with the seed
    fields: Callable[[dict[str, Any]], dict[str, str]]  # valid input
    int_param: str | None = None  # the seed key in the path that holds an id
    text_param: str | None = None  # the key in the path


TOUCHPOINT_FORM = {
    "name": "Chat",
    "key": "chat",
    "stage": "support",
    "channel": "chat",
    "owner_team": "Kundenservice",
    "manager": "",
    "description": "Live chat on the website",
}

FORMS = [
    Form("/account", lambda s: {"lang-language": "en"}),
    Form(
        "/account",
        # a wrong current password: every field is read, and no variant changes the password
        lambda s: {
            "pw-current_password": "not-the-password",
            "pw-new_password": "a-new-long-password",
            "pw-confirm": "a-new-long-password",
        },
    ),
    Form(
        "/admin/users/new",
        lambda s: {
            "email": "new.agent@example.org",
            "name": "New Agent",
            "role": "agent",
            "team": "",
            "language": "",
            "active": "y",
            "password": "another-long-password",
        },
    ),
    Form(
        "/admin/users/{user_id}",
        lambda s: {
            "email": "target@example.org",
            "name": "Target Person",
            "role": "agent",
            "team": "",
            "language": "de",
            "active": "y",
            "password": "",
        },
        int_param="user_id",
    ),
    Form("/admin/teams/new", lambda s: {"name": "Backoffice", "active": "y"}),
    Form(
        "/admin/teams/{team_online}",
        lambda s: {"name": "Online Sales", "active": "y"},
        int_param="team_online",
    ),
    Form("/journey/touchpoints/new", lambda s: dict(TOUCHPOINT_FORM)),
    Form(
        "/journey/touchpoints/hotline/edit",
        lambda s: {**TOUCHPOINT_FORM, "key": "hotline", "name": "Hotline 24/7"},
        text_param="hotline",
    ),
    Form("/journey/touchpoints/island/archive", lambda s: {}, text_param="island"),
    Form("/journey/touchpoints/fax-line/restore", lambda s: {}, text_param="fax-line"),
    Form(
        "/journey/transitions",
        lambda s: {"source": "website", "target": "hotline", "back": "website"},
    ),
    Form(
        "/journey/transitions/{transition_id}/delete",
        lambda s: {"back": "website"},
        int_param="transition_id",
    ),
    Form("/journey/stages", lambda s: {"key": "onboarding", "name": "Onboarding"}),
    Form(
        "/journey/stages/{stage_usage}/rename",
        lambda s: {f"s{s['stage_usage']}-name": "Nutzung und Pflege"},
        int_param="stage_usage",
    ),
    Form(
        "/journey/stages/{stage_support}/move",
        lambda s: {"direction": "up"},
        int_param="stage_support",
    ),
    Form("/journey/stages/{stage_renewal}/delete", lambda s: {}, int_param="stage_renewal"),
    Form(
        "/feedback/new",
        lambda s: {
            "touchpoint": "hotline",
            "kind": "nps",
            "score": "3",
            "comment": "Zu lange gewartet",
            "channel": "phone",
            "customer_ref": "K-1",
            "contact_consent": "y",
        },
    ),
    Form(
        "/customers/K-1/churn",
        lambda s: {"churned_on": "2026-01-15", "churn_reason": "", "save": "y"},
        text_param="K-1",
    ),
    Form("/customers/K-1/merge", lambda s: {"duplicate": "K-2", "confirm": "y"}, text_param="K-1"),
    Form(
        "/admin/feedback-links/",
        lambda s: {"touchpoint": "hotline", "kind": "nps", "label": "Hotline-Ansage"},
    ),
    Form("/logout", lambda s: {}),
    Form("/login", lambda s: {"email": "admin@example.org", "password": "wrong-password!"}),
]


@dataclass(frozen=True)
class FormPost:
    label: str
    expect: int | None  # the exact status, or None: anything below 500
    send: Callable[[FlaskClient, str, str], Any]  # (client, url, csrf token) → response
    url: str | None = None


def _post(data: dict[str, Any], *, csrf: bool = True) -> Callable[[FlaskClient, str, str], Any]:
    def send(client: FlaskClient, url: str, token: str) -> Any:
        return client.post(url, data={**data, "csrf_token": token} if csrf else data)

    return send


def _upload(data: dict[str, Any], field: str) -> Callable[[FlaskClient, str, str], Any]:
    def send(client: FlaskClient, url: str, token: str) -> Any:
        upload = {**data, field: (io.BytesIO(b"not text"), "file.txt"), "csrf_token": token}
        return client.post(url, data=upload, content_type="multipart/form-data")

    return send


def _post_json(body: Any) -> Callable[[FlaskClient, str, str], Any]:
    def send(client: FlaskClient, url: str, token: str) -> Any:
        payload = {**body, "csrf_token": token} if isinstance(body, dict) else body
        return client.post(url, json=payload, headers={"X-CSRFToken": token})

    return send


def _form_fields(form: Form, seed: dict[str, Any]) -> dict[str, str]:
    """The form's fields; forms that are only a button get one extra field to play with."""
    return form.fields(seed) or {"note": "x"}


SELECT_FIELDS = {
    "lang-language",
    "role",
    "team",
    "language",
    "stage",
    "channel",
    "owner_team",
    "manager",
    "source",
    "target",
    "direction",
    "touchpoint",
    "kind",
}


def _form_wrong_types(form: Form, seed: dict[str, Any]) -> Iterator[FormPost]:
    data = form.fields(seed)
    fields = _form_fields(form, seed)
    yield FormPost("JSON body", 415, _post_json(fields))
    yield FormPost("JSON list body", 415, _post_json([1, 2]))
    yield FormPost("JSON with numbers", 415, _post_json(dict.fromkeys(fields, 5)))
    for name in fields:
        yield FormPost(f"file as {name}", 415, _upload(data, name))
        yield FormPost(f"{name} twice", None, _post({**data, name: [fields[name], "other"]}))
        if name in SELECT_FIELDS:
            yield FormPost(f"{name} not a choice", None, _post({**data, name: "no-such-choice"}))
    if form.int_param:
        yield FormPost("id not a number", 404, _post(data), url=_with_param(form, seed, "abc"))


def _form_missing(form: Form, seed: dict[str, Any]) -> Iterator[FormPost]:
    data = form.fields(seed)
    for name in data:
        yield FormPost(f"without {name}", None, _post({k: v for k, v in data.items() if k != name}))
    yield FormPost("only the CSRF token", None, _post({}))
    yield FormPost("no CSRF token", 400, _post(data, csrf=False))
    yield FormPost("nothing at all", 400, _post({}, csrf=False))


def _form_huge_strings(form: Form, seed: dict[str, Any]) -> Iterator[FormPost]:
    data = form.fields(seed)
    for name in _form_fields(form, seed):
        yield FormPost(f"huge {name}", 400, _post({**data, name: HUGE_TEXT}))
    if form.text_param:
        url = form.path.format_map(seed).replace(form.text_param, "k" * 30_000)
        yield FormPost("huge key in the path", 404, _post(data), url=url)


def _form_nul_bytes(form: Form, seed: dict[str, Any]) -> Iterator[FormPost]:
    data = form.fields(seed)
    for name in _form_fields(form, seed):
        yield FormPost(f"NUL in {name}", 400, _post({**data, name: "a\x00b"}))
    yield FormPost("NUL in a field name", 400, _post({**data, "na\x00me": "x"}))
    if form.text_param:
        url = form.path.format_map(seed).replace(form.text_param, "hot%00line")
        yield FormPost("NUL in the path", 404, _post(data), url=url)


def _with_param(form: Form, seed: dict[str, Any], value: object) -> str:
    return form.path.format_map({**seed, form.int_param: value})


def _form_huge_integers(form: Form, seed: dict[str, Any]) -> Iterator[FormPost]:
    data = form.fields(seed)
    for name in _form_fields(form, seed):
        for number in (str(10**30), "9" * 5000):  # form values are text: a number is a string
            yield FormPost(f"{name}={number[:8]}…", None, _post({**data, name: number}))
    if form.int_param:
        for number in (10**30, 2**63, 2**31):
            yield FormPost(f"id {number}", 404, _post(data), url=_with_param(form, seed, number))


def _form_markup(form: Form, seed: dict[str, Any]) -> Iterator[FormPost]:
    data = form.fields(seed)
    for name in _form_fields(form, seed):
        yield FormPost(f"markup in {name}", None, _post({**data, name: MARKUP}))


FORM_KINDS = {
    "wrong_types": _form_wrong_types,
    "missing_fields": _form_missing,
    "huge_strings": _form_huge_strings,
    "nul_bytes": _form_nul_bytes,
    "huge_integers": _form_huge_integers,
    "markup": _form_markup,
}


@pytest.mark.parametrize("kind", list(FORM_KINDS))
def test_bad_form_input_gets_no_500_and_a_rejection_saves_nothing(
    app: Flask, client: FlaskClient, db_session: Session, login_as, kind: str
) -> None:
    admin = login_as(Role.ADMIN)
    target = make_user(db_session, Role.AGENT, email="target@example.org")
    token = csrf_from(client.get("/account").get_data(as_text=True))
    anonymous = app.test_client()  # /login is for the signed-out
    anonymous_token = csrf_from(anonymous.get("/login").get_data(as_text=True))
    seed = {**_seed(db_session), "user_id": target.id}
    problems: list[str] = []
    for form in FORMS:
        signing_in = form.path == "/login"
        for post in FORM_KINDS[kind](form, seed):
            limiter.reset()  # failed sign-ins count; this is not about throttling
            before = _fingerprint(db_session)
            url = post.url or form.path.format_map(seed)
            if signing_in:
                response = post.send(anonymous, url, anonymous_token)
            else:
                response = post.send(client, url, token)
            label = f"POST {form.path} [{post.label}]"
            status = response.status_code
            if status >= 500:
                problems.append(f"{label}: {status}")
            elif post.expect is not None and status != post.expect:
                problems.append(f"{label}: got {status}, expected {post.expect}")
            if _fingerprint(db_session) != before:
                if status >= 400:
                    problems.append(f"{label}: rejected ({status}) but saved")
                seed = {**_seed(db_session), "user_id": target.id}
            if form.path == "/logout" and client.get("/account").status_code != 200:
                login(client, admin.email)  # the logout form did its job; sign in again
                token = csrf_from(client.get("/account").get_data(as_text=True))
    assert not problems, "\n".join(problems)


# --- markup is stored as typed and shown escaped -----------------------------------------------


def _pages_show_markup_escaped(client: FlaskClient, urls: list[str]) -> list[str]:
    problems = []
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        if "<script>alert" in html:
            problems.append(f"{url}: markup unescaped")
        if ESCAPED not in html:
            problems.append(f"{url}: the escaped name is missing")
    return problems


def test_markup_sent_to_the_api_is_stored_as_typed_and_shown_escaped(
    client: FlaskClient, db_session: Session, api_token, login_as
) -> None:
    small_journey(db_session)
    headers = {"Authorization": f"Bearer {api_token(Role.ADMIN)}"}
    team = client.post("/api/v1/teams", json={"name": MARKUP}, headers=headers)
    assert team.status_code == 201
    created = client.post(
        "/api/v1/touchpoints",
        json={
            "key": "evil",
            "name": MARKUP,
            "stage": "support",
            "owner_team": MARKUP,
            "description": f"Call us {MARKUP}",
        },
        headers=headers,
    )
    assert created.status_code == 201
    stored = client.get("/api/v1/touchpoints/evil", headers=headers).get_json()
    assert (stored["name"], stored["owner_team"]) == (MARKUP, MARKUP)
    login_as(Role.ADMIN)
    urls = [
        "/journey/",
        "/journey/touchpoints",
        "/journey/touchpoints/evil",
        "/journey/touchpoints/evil/edit",
        "/admin/teams",
        "/admin/audit/",
    ]
    assert _pages_show_markup_escaped(client, urls) == []


def test_markup_typed_into_forms_is_shown_escaped(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    small_journey(db_session)
    login_as(Role.ADMIN)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    posts = {
        "/journey/stages": {"key": "evil-stage", "name": MARKUP},
        "/admin/teams/new": {"name": MARKUP, "active": "y"},
        "/journey/touchpoints/new": {**TOUCHPOINT_FORM, "key": "evil", "name": MARKUP},
    }
    for url, data in posts.items():
        assert client.post(url, data={**data, "csrf_token": token}).status_code == 302, url
    urls = ["/journey/stages", "/admin/teams", "/journey/", "/journey/touchpoints/evil"]
    assert _pages_show_markup_escaped(client, urls) == []


# --- a rejected request saves nothing ------------------------------------------------------


def _changed_document(session: Session) -> dict[str, Any]:
    """A valid document that changes a lot: renames, a new stage, team and touchpoint,
    a touchpoint left out (so archived) and a new transition."""
    document = export_journey(session)
    document["stages"][0]["name"] = "Kauf (neu)"
    document["stages"].append({"key": "renewal", "name": "Verlängerung", "position": 9})
    document["touchpoints"] = [tp for tp in document["touchpoints"] if tp["key"] != "island"]
    document["touchpoints"][0]["name"] = "Website (neu)"
    document["touchpoints"].append(
        {"key": "chat", "name": "Chat", "stage": "renewal", "owner_team": "A new team"}
    )
    document["transitions"].append({"source": "website", "target": "chat"})
    return document


def test_a_rejected_journey_put_saves_nothing(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    headers = {"Authorization": f"Bearer {api_token(Role.ADMIN)}"}
    small_journey(db_session)
    good = _changed_document(db_session)
    bad_item = copy.deepcopy(good)
    bad_item["touchpoints"][-1]["exit"] = "sometimes"
    # the importer ignores "validation" (GET adds it) and would succeed; the schema refuses
    bad_for_the_schema_only = {**good, "validation": "not an object"}
    for document, field in [
        (bad_item, f"touchpoints[{len(good['touchpoints']) - 1}].exit"),
        (bad_for_the_schema_only, "validation"),
    ]:
        before, exported = _fingerprint(db_session), export_journey(db_session)
        response = client.put("/api/v1/journey", json=document, headers=headers)
        assert response.status_code == 422
        fields = response.get_json()["error"]["fields"]
        assert any(name.startswith(field) for name in fields), fields
        assert _fingerprint(db_session) == before
        assert export_journey(db_session) == exported
    # and the good document goes through, so the rejections above were about the bad part
    assert client.put("/api/v1/journey", json=good, headers=headers).status_code == 200
    assert _fingerprint(db_session)["Touchpoint"] == before["Touchpoint"] + 1


def test_a_rejected_touchpoint_post_saves_nothing(
    client: FlaskClient, db_session: Session, api_token
) -> None:
    headers = {"Authorization": f"Bearer {api_token(Role.ADMIN)}"}
    small_journey(db_session)
    good = {"key": "chat", "name": "Chat", "stage": "support", "owner_team": "Kundenservice"}
    bad_bodies = {
        "owner_team": {**good, "owner_team": "No such team"},
        "stage": {**good, "stage": "nowhere"},
        "key": {**good, "key": "hotline"},  # taken
        "manager": {**good, "manager": "nobody@example.org"},
        "exit": {**good, "exit": "sometimes"},
        "name": {**good, "name": HUGE_TEXT},
        "description": {**good, "description": "a\x00b"},
    }
    for field, body in bad_bodies.items():
        before = _fingerprint(db_session)
        response = client.post("/api/v1/touchpoints", json=body, headers=headers)
        assert response.status_code == 422, field
        assert field in response.get_json()["error"]["fields"]
        assert _fingerprint(db_session) == before, field
    assert client.post("/api/v1/touchpoints", json=good, headers=headers).status_code == 201
    assert _fingerprint(db_session)["Touchpoint"] == before["Touchpoint"] + 1


# --- size limit ------------------------------------------------------------------------------


def test_a_body_over_the_size_limit_is_refused_with_413(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    api_token,
    login_as,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small_journey(db_session)
    headers = {"Authorization": f"Bearer {api_token(Role.ADMIN)}"}
    login_as(Role.ADMIN)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 4096)
    before = _fingerprint(db_session)
    body = {"key": "chat", "name": "Chat", "stage": "support", "owner_team": None}
    responses = {
        "API body": client.post(
            "/api/v1/touchpoints", json={**body, "description": "x" * 5000}, headers=headers
        ),
        "API, only declared": client.post(
            "/api/v1/touchpoints",
            json=body,
            headers=headers,
            environ_overrides={"CONTENT_LENGTH": str(10**9)},
        ),
        "form": client.post(
            "/journey/stages", data={"key": "k", "name": "x" * 5000, "csrf_token": token}
        ),
    }
    for label, response in responses.items():
        assert response.status_code == 413, label
    assert responses["API body"].get_json()["error"]["code"] == "payload_too_large"
    assert responses["API, only declared"].get_json()["error"]["code"] == "payload_too_large"
    assert _fingerprint(db_session) == before
    # under the limit the same request goes through
    small = client.post("/api/v1/touchpoints", json=body, headers=headers)
    assert small.status_code == 201


# --- reads: bad query strings and path values ------------------------------------------------


def _get_urls(app: Flask) -> Iterator[tuple[str, str, int | None]]:
    """(rule, URL, expected status or None) with bad path values and query strings."""
    query = (
        f"?limit={10**30}&cursor=%25%25%25&page={10**30}&measure={MARKUP}"
        f"&archived=maybe&stage={'x' * 5000}&entity_type={MARKUP}&include_archived=perhaps"
    )
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith(("static", "api-docs.")):
            continue
        if not rule.arguments:
            yield rule.rule, rule.rule + query, None
            yield rule.rule, rule.rule + "?limit=1%002", 400
            continue
        # Every parameter gets the same bad value of its kind (text or integer).
        pattern = re.sub(r"<int:\w+>", "{int}", re.sub(r"<(?!int:)\w+>", "{text}", rule.rule))
        for text, number in (
            ("a%00b", 10**30),
            ("k" * 30_000, 2**31),
            (MARKUP, 0),
            (MARKUP, "-1"),
        ):
            yield rule.rule, pattern.format(text=text, int=number), 404


def test_bad_query_strings_and_path_values_on_reads_get_no_500(
    app: Flask, client: FlaskClient, db_session: Session, api_token, login_as
) -> None:
    small_journey(db_session)
    headers = {"Authorization": f"Bearer {api_token(Role.ADMIN)}"}
    login_as(Role.ADMIN)
    problems = []
    urls = list(_get_urls(app))
    for rule, url, expect in urls:
        response = client.get(url, headers=headers if url.startswith("/api/") else {})
        status = response.status_code
        if status >= 500 or (expect is not None and status != expect):
            problems.append(f"GET {rule} [{url[:80]}]: {status}, expected {expect or '< 500'}")
        if url.startswith("/api/") and status >= 400 and "error" not in (response.get_json() or {}):
            problems.append(f"GET {rule} [{url[:80]}]: {status} without the JSON error shape")
    assert len(urls) > 20
    assert not problems, "\n".join(problems)


def test_every_api_write_endpoint_gets_the_bad_input(app: Flask) -> None:
    """A new write endpoint without an entry in API_WRITES fails here, not silently."""
    adapter = app.url_map.bind("localhost")
    placeholders = defaultdict(lambda: "1")
    covered = {
        (ep.method, adapter.match(ep.path.format_map(placeholders), method=ep.method)[0])
        for ep in API_WRITES
    }
    writes = {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.endpoint.startswith("api-docs")
        for method in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert writes - covered == set()
