"""Marshmallow fields for the API's conventions: times and money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from marshmallow import fields

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def to_utc_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Timestamp(fields.Field):
    """ISO 8601 in; a time without offset means the configured timezone. UTC with Z out."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's protocol
        "invalid": "Expected an ISO 8601 date and time, e.g. 2026-03-02T09:30:00+01:00.",
        "range": "The time must lie between 1900 and 2200.",
    }

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else to_utc_z(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise self.make_error("invalid") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=local_zone())
        parsed = parsed.astimezone(UTC)
        if not EARLIEST <= parsed < LATEST:
            raise self.make_error("range")
        return parsed


class Money(fields.Field):
    """A decimal string with at most two decimals ("12.50"); numbers are accepted too."""

    default_error_messages = {  # noqa: RUF012
        "invalid": 'Expected an amount such as "12.50".',
        "range": "The amount must be between 0 and 9999999999.99.",
    }

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else f"{value:.2f}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.make_error("invalid")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise self.make_error("invalid")
        if not Decimal(0) <= amount < Decimal("10000000000"):
            raise self.make_error("range")
        return amount.quantize(Decimal("0.01"))
