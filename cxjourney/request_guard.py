"""One guard at the request boundary for the classes of hostile input every endpoint shares.

Before any view runs: JSON that does not parse, NUL bytes, text longer than any field
allows, text that is not valid Unicode, integers no column can hold and absurd nesting are
refused with a clear 400/422 naming where the problem is, so no handler ever turns them
into a 500. Path parameters that cannot name anything (NUL, absurd length, ids beyond any
column) are a 404. The API takes JSON bodies only, pages form data only (no JSON, no files
unless the view sets ``accepts_files``); anything else is a 415. Markup is not refused: it
is stored as typed and escaped on output.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, render_template, request
from flask_babel import gettext as _

from .web import json_error, wants_json

MAX_DEPTH = 32
# Integers every supported database stores in a BIGINT (and JSON clients keep exactly).
MAX_SAFE_INTEGER = 2**53 - 1
# Ids in paths name INTEGER primary keys; PostgreSQL refuses larger values with an error.
MAX_ID = 2**31 - 1
# Path values are keys, references and emails: nothing longer names anything.
MAX_PATH_TEXT = 256
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_unicode(text: str) -> bool:
    """False for lone surrogates ("\\ud800" in JSON): no database or encoder takes them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _problems_in_json(value: Any, path: str, depth: int, max_text: int) -> dict[str, str]:
    problems: dict[str, str] = {}
    if depth > MAX_DEPTH:
        return {path or "$": _("The document is nested too deeply.")}
    if isinstance(value, str):
        if "\x00" in value:
            problems[path or "$"] = _("Text must not contain NUL characters.")
        elif len(value) > max_text:
            problems[path or "$"] = _("Text is too long (at most %(n)d characters).", n=max_text)
        elif not _is_unicode(value):
            problems[path or "$"] = _("Text must be valid Unicode.")  # lone surrogates
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            problems[path or "$"] = _("Number out of range.")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            problems[path or "$"] = _("Number out of range.")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key or len(key) > 200 or not _is_unicode(key):
                problems[path or "$"] = _("Invalid field name.")
                continue
            problems.update(
                _problems_in_json(item, f"{path}.{key}" if path else key, depth + 1, max_text)
            )
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems.update(_problems_in_json(item, f"{path}[{index}]", depth + 1, max_text))
    return problems


def _reject(status: int, message: str, fields: dict[str, str] | None = None) -> Any:
    if wants_json():
        return json_error(status, message, fields=fields)
    return render_template("errors/generic.html", status=status, message=message), status


def _path_names_nothing(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value or len(value) > MAX_PATH_TEXT
    return isinstance(value, int) and abs(value) > MAX_ID


def _wrong_content_type() -> bool:
    """The API reads JSON only (webargs would take any other body as "no fields", so a PATCH
    would answer 200 and change nothing); pages read form data only (Flask-WTF would feed
    JSON values or uploaded files to text fields as they are)."""
    if wants_json():
        return bool(request.content_length) and not request.is_json
    view = current_app.view_functions.get(request.endpoint or "")
    return request.is_json or bool(request.files and not getattr(view, "accepts_files", False))


def guard_request() -> Any:
    max_text = current_app.config["MAX_TEXT_LENGTH"]
    if any(_path_names_nothing(v) for v in (request.view_args or {}).values()):
        abort(404)
    for name, value in [*request.args.items(multi=True), *request.form.items(multi=True)]:
        if "\x00" in name or "\x00" in value:
            return _reject(400, _("Text must not contain NUL characters."), {name: "NUL"})
        if len(value) > max_text:
            return _reject(
                400,
                _("Text is too long (at most %(n)d characters).", n=max_text),
                {name: _("too long")},
            )
    if request.method in WRITE_METHODS and _wrong_content_type():
        return _reject(415, _("Unsupported content type."))
    if request.method in WRITE_METHODS and request.is_json:
        raw = request.get_data(cache=True)
        if raw.strip():
            try:
                payload = request.get_json(silent=True)
            except RecursionError:
                return _reject(
                    422,
                    _("The input is not valid."),
                    {"$": _("The document is nested too deeply.")},
                )
            if payload is None and raw.strip() != b"null":
                return _reject(400, _("The request body is not valid JSON."))
            problems = _problems_in_json(payload, "", 0, max_text)
            if problems:
                return _reject(422, _("The input is not valid."), problems)
    return None


def init_app(app: Flask) -> None:
    app.before_request(guard_request)
