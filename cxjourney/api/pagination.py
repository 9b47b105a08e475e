"""Cursor pagination: ``{"items": [...], "next": <cursor or null>}`` for every list."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import marshmallow as ma
from flask_smorest import abort

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class PageArgsSchema(ma.Schema):
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT, validate=ma.validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("o") or not raw[1:].isdigit():
        abort(422, messages={"query": {"cursor": ["Invalid cursor."]}})
    return int(raw[1:])


def paginate(
    items: Sequence[T], args: dict[str, Any], dump: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """One page of an already ordered, bounded sequence (journey-sized lists)."""
    offset = decode_cursor(args.get("cursor"))
    limit = int(args.get("limit") or DEFAULT_LIMIT)
    page = items[offset : offset + limit]
    has_more = offset + limit < len(items)
    return {
        "items": [dump(item) for item in page],
        "next": encode_cursor(offset + limit) if has_more else None,
    }
