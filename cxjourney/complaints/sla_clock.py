"""SLA clocks: count policy minutes in business time or around the clock.

Pure time arithmetic for the first-response, next-update and resolution clocks. Complaints
store aware UTC datetimes, so every function takes aware datetimes and returns aware UTC.
Business time is counted in the calendar's local time: working hours ``[opens, closes)`` on
working days, public holidays taken from the ``holidays`` package only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "AroundTheClock",
    "BusinessCalendar",
    "Clock",
    "calendar_from_settings",
]

# A calendar whose working days are all holidays would make `add` run forever; ten years
# without a single working minute can only be a configuration mistake.
_MAX_IDLE_DAYS = 3660

_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NUMBERS = {name[:3]: number for number, name in enumerate(_DAY_NAMES)} | {
    name: number for number, name in enumerate(_DAY_NAMES)
}
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class Clock(Protocol):
    """What an SLA policy needs from a clock: move forward by counted time, and measure it."""

    def add(self, start: datetime, seconds: float) -> datetime:
        """Return the moment `seconds` of counted time after `start` (aware UTC)."""
        ...

    def between(self, start: datetime, end: datetime) -> float:
        """Return the counted seconds in ``[start, end)``; 0 if `end` <= `start`."""
        ...


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime would silently be read as server-local time and skew every due date.
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}.")


def _require_duration(seconds: float) -> timedelta:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}.")
    # One rounding to microseconds here; all later arithmetic is exact timedelta arithmetic,
    # which is what makes `between(a, add(a, s)) == s` hold without tolerance.
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class AroundTheClock:
    """Counted time is wall time: every second of every day counts."""

    def add(self, start: datetime, seconds: float) -> datetime:
        """Return `start` plus `seconds`, in UTC.

        Raises ValueError for a naive `start` or negative `seconds`.
        """
        _require_aware(start, "start")
        return start.astimezone(UTC) + _require_duration(seconds)

    def between(self, start: datetime, end: datetime) -> float:
        """Return the seconds from `start` to `end`, or 0 if `end` <= `start`.

        Raises ValueError for a naive datetime.
        """
        _require_aware(start, "start")
        _require_aware(end, "end")
        # Subtracting datetimes that share a tzinfo compares wall times and would miss a DST
        # hour; UTC makes the difference elapsed time.
        elapsed = end.astimezone(UTC) - start.astimezone(UTC)
        return max(0.0, elapsed.total_seconds())


@lru_cache(maxsize=512)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # Building a holidays object evaluates every rule for the year; SLA clocks ask per day.
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@lru_cache(maxsize=64)
def _region_error(country: str, subdivision: str | None) -> str | None:
    """Return why the holidays package rejects this region, or None if it knows it."""
    try:
        holidays.country_holidays(country)
    except NotImplementedError:
        return f"unknown holiday country {country!r}"
    if subdivision is not None:
        try:
            holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            return f"unknown holiday subdivision {subdivision!r} for country {country!r}"
    return None


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {key!r}") from None


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours ``[opens, closes)`` local time on workdays that are not public holidays."""

    timezone: str = "Europe/Berlin"
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday=0
    opens: time = time(8, 0)
    closes: time = time(18, 0)
    country: str = "DE"
    subdivision: str | None = None  # e.g. "BY" for Bavaria; None = nationwide holidays only

    def __post_init__(self) -> None:
        # Fail when the calendar is built, not at the first due-date computation in production.
        _zone(self.timezone)
        if not self.workdays:
            raise ValueError("workdays must name at least one day.")
        if not self.workdays <= set(range(7)):
            raise ValueError(f"workdays must be numbers 0 (Monday) to 6, got {set(self.workdays)}.")
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens}).")
        error = _region_error(self.country, self.subdivision or None)
        if error is not None:
            raise ValueError(error)

    def is_working_day(self, day: date) -> bool:
        """Return whether `day` is a workday and not a public holiday."""
        if day.weekday() not in self.workdays:
            return False
        return day not in _holiday_dates(self.country, self.subdivision or None, day.year)

    def add(self, start: datetime, seconds: float) -> datetime:
        """Return the moment `seconds` of business time after `start`, in UTC.

        Counting begins at the next opening when `start` is outside working hours; a result
        exactly at a closing time stays there. `add(start, 0)` returns `start` unmoved.
        Raises ValueError for a naive `start` or negative `seconds`.
        """
        _require_aware(start, "start")
        remaining = _require_duration(seconds)
        start = start.astimezone(UTC)
        if not remaining:
            return start
        for _day, opens_at, closes_at in self._windows_from(self._local_date(start)):
            counting_from = max(opens_at, start)
            if counting_from >= closes_at:
                continue
            available = closes_at - counting_from
            if remaining <= available:  # `<=` keeps a result at closing time on that day
                return counting_from + remaining
            remaining -= available
        raise AssertionError("unreachable: _windows_from is endless")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> float:
        """Return the business seconds in ``[start, end)``; 0 if `end` <= `start`.

        Raises ValueError for a naive datetime.
        """
        _require_aware(start, "start")
        _require_aware(end, "end")
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return 0.0
        last_day = self._local_date(end)
        total = timedelta()
        for day, opens_at, closes_at in self._windows_from(self._local_date(start)):
            if day > last_day:
                break
            overlap = min(closes_at, end) - max(opens_at, start)
            if overlap > timedelta():
                total += overlap
        return total.total_seconds()

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(_zone(self.timezone)).date()

    def _windows_from(self, first_day: date) -> Iterator[tuple[date, datetime, datetime]]:
        """Yield (day, opens, closes) in UTC for each working day from `first_day` on, endlessly.

        A day's window lies within that local date, so windows of earlier days end before
        any moment on `first_day` and need not be looked at.
        """
        zone = _zone(self.timezone)
        idle_days = 0
        day = first_day
        while True:
            if self.is_working_day(day):
                idle_days = 0
                # Converting each day's local wall times separately keeps 08:00-18:00 at ten
                # real hours on DST days, since the switch happens outside working hours.
                opens_at = datetime.combine(day, self.opens, tzinfo=zone).astimezone(UTC)
                closes_at = datetime.combine(day, self.closes, tzinfo=zone).astimezone(UTC)
                # Hours starting inside the spring-forward gap can resolve past the closing
                # instant; such a window is empty rather than negative.
                yield day, opens_at, max(opens_at, closes_at)
            else:
                idle_days += 1
                if idle_days > _MAX_IDLE_DAYS:
                    raise ValueError("this calendar has no working day in ten years.")
            day += timedelta(days=1)


def calendar_from_settings(settings: Mapping[str, object]) -> BusinessCalendar:
    """Build the business calendar from SLA_* config keys.

    Keys: SLA_TIMEZONE (default "Europe/Berlin"), SLA_WORKDAYS ("mon-fri" or
    "mon,tue,wed,thu,fri,sat"), SLA_HOURS ("08:00-18:00"), SLA_HOLIDAY_COUNTRY ("DE"),
    SLA_HOLIDAY_SUBDIVISION ("" for nationwide, or e.g. "BY"). A missing or None key takes
    its default. Raises ValueError naming the key when a value is malformed or unknown.
    """
    timezone = _setting_str(settings, "SLA_TIMEZONE", "Europe/Berlin")
    try:
        _zone(timezone)
    except ValueError as exc:
        raise ValueError(f"SLA_TIMEZONE: {exc}.") from None

    workdays = _parse_workdays(settings.get("SLA_WORKDAYS", "mon-fri"))
    opens, closes = _parse_hours(_setting_str(settings, "SLA_HOURS", "08:00-18:00"))

    country = _setting_str(settings, "SLA_HOLIDAY_COUNTRY", "DE").strip().upper()
    if _region_error(country, None) is not None:
        raise ValueError(
            f"SLA_HOLIDAY_COUNTRY: {country!r} is not a country the holidays package knows."
        )
    subdivision = _setting_str(settings, "SLA_HOLIDAY_SUBDIVISION", "").strip().upper() or None
    if subdivision is not None and _region_error(country, subdivision) is not None:
        raise ValueError(
            f"SLA_HOLIDAY_SUBDIVISION: {subdivision!r} is not a subdivision of {country!r} "
            "that the holidays package knows."
        )
    return BusinessCalendar(
        timezone=timezone,
        workdays=workdays,
        opens=opens,
        closes=closes,
        country=country,
        subdivision=subdivision,
    )


def _setting_str(settings: Mapping[str, object], key: str, default: str) -> str:
    value = settings.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string, got {type(value).__name__}.")
    return value


def _parse_workdays(value: object) -> frozenset[int]:
    """Parse "mon-fri", "mon,wed,fri" or mixes like "mon-wed,sat"; ranges may wrap (fri-mon)."""
    if value is None:
        value = "mon-fri"
    if not isinstance(value, str):
        return _workday_numbers(value)
    days: set[int] = set()
    for part in value.split(","):
        token = part.strip().lower()
        if not token:
            continue
        first, sep, last = token.partition("-")
        start = _day_number(first.strip(), value)
        if not sep:
            days.add(start)
            continue
        end = _day_number(last.strip(), value)
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    if not days:
        raise ValueError("SLA_WORKDAYS: name at least one working day, e.g. 'mon-fri'.")
    return frozenset(days)


def _workday_numbers(value: object) -> frozenset[int]:
    # Config classes may hand over day numbers directly instead of the environment's string.
    if not isinstance(value, Iterable):
        raise ValueError(f"SLA_WORKDAYS: expected a string like 'mon-fri', got {value!r}.")
    days = frozenset(value)
    if not days:
        raise ValueError("SLA_WORKDAYS: name at least one working day, e.g. 'mon-fri'.")
    if not all(isinstance(day, int) and 0 <= day <= 6 for day in days):
        raise ValueError(f"SLA_WORKDAYS: day numbers must be 0 (Monday) to 6, got {value!r}.")
    return days


def _day_number(token: str, value: str) -> int:
    try:
        return _DAY_NUMBERS[token]
    except KeyError:
        raise ValueError(
            f"SLA_WORKDAYS: unknown day {token!r} in {value!r}; use mon, tue, wed, thu, fri, "
            "sat, sun, as a list ('mon,wed') or a range ('mon-fri')."
        ) from None


def _parse_hours(value: str) -> tuple[time, time]:
    match = _HOURS_RE.match(value)
    if match is None:
        raise ValueError(f"SLA_HOURS: expected 'HH:MM-HH:MM' such as '08:00-18:00', got {value!r}.")
    open_hour, open_minute, close_hour, close_minute = (int(group) for group in match.groups())
    try:
        opens, closes = time(open_hour, open_minute), time(close_hour, close_minute)
    except ValueError:
        raise ValueError(f"SLA_HOURS: {value!r} is not a valid time of day range.") from None
    if closes <= opens:
        raise ValueError(
            f"SLA_HOURS: closing time must be after opening time on the same day, got {value!r}."
        )
    return opens, closes
