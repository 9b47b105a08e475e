"""Report windows: half-open ``[start, end)`` in UTC, their default comparison window, the
calendar-month points of the churn average and the value-record cut-off of the lifetime value.

Local means the configured timezone (``BABEL_DEFAULT_TIMEZONE``); every datetime here is
timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from ..errors import ValidationError


@dataclass(frozen=True)
class Window:
    """A half-open interval ``[start, end)`` of aware UTC datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Window bounds must be timezone-aware.")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """00:00 local on ``day``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def is_month_start(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment`` is the first of a month at 00:00 local."""
    local = moment.astimezone(zone)
    return local.day == 1 and local_midnight(local.date(), zone) == moment


def _month_index(moment: datetime, zone: ZoneInfo) -> int:
    local = moment.astimezone(zone)
    return local.year * 12 + local.month - 1


def _month_start(index: int, zone: ZoneInfo) -> datetime:
    return local_midnight(date(index // 12, index % 12 + 1, 1), zone)


def default_comparison(window: Window, zone: ZoneInfo) -> Window:
    """The window just before ``window``.

    When both bounds are the first of a month at 00:00 local: the same number of calendar
    months just before the start. Otherwise: the same duration (elapsed time) ending at the
    start.
    """
    if is_month_start(window.start, zone) and is_month_start(window.end, zone):
        months = _month_index(window.end, zone) - _month_index(window.start, zone)
        start = _month_start(_month_index(window.start, zone) - months, zone)
        return Window(start, window.start)
    return Window(window.start - (window.end - window.start), window.start)


def month_starts_inside(window: Window, zone: ZoneInfo) -> list[datetime]:
    """The first of every calendar month at 00:00 local strictly inside ``window``."""
    points = []
    index = _month_index(window.start, zone) + 1
    while (point := _month_start(index, zone)) < window.end:
        if point > window.start:
            points.append(point)
        index += 1
    return points


def churn_points(window: Window, zone: ZoneInfo) -> list[datetime]:
    """Where the churn rate's average of active customers is taken: start, month starts
    strictly inside, end (a 12-month window has 13 points)."""
    return [window.start, *month_starts_inside(window, zone), window.end]


def value_cutoff(moment: datetime, zone: ZoneInfo) -> date:
    """The first day whose value records do not count at ``moment``.

    A record dated D counts at t when 00:00 local on D is before t, so the records that
    count are exactly those with ``occurred_on < value_cutoff(t)``.
    """
    day = moment.astimezone(zone).date()
    return day + timedelta(days=1) if local_midnight(day, zone) < moment else day


def resolve_windows(
    start: datetime,
    end: datetime,
    compare_start: datetime | None,
    compare_end: datetime | None,
    zone: ZoneInfo,
) -> tuple[Window, Window]:
    """The report window and its comparison window (the default one unless both compare
    bounds are given).

    Raises ValidationError naming ``to`` when the window is empty or reversed,
    ``compare_from``/``compare_to`` when only one of them is given, and ``compare_to`` when
    the comparison window is empty or reversed.
    """
    problems: dict[str, str] = {}
    if start >= end:
        problems["to"] = str(_l("Must be later than from."))
    if (compare_start is None) != (compare_end is None):
        missing = "compare_to" if compare_end is None else "compare_from"
        problems[missing] = str(_l("Give both compare_from and compare_to, or neither."))
    elif compare_start is not None and compare_end is not None and compare_start >= compare_end:
        problems["compare_to"] = str(_l("Must be later than compare_from."))
    if problems:
        raise ValidationError(problems)
    window = Window(start.astimezone(UTC), end.astimezone(UTC))
    if compare_start is not None and compare_end is not None:
        return window, Window(compare_start.astimezone(UTC), compare_end.astimezone(UTC))
    return window, default_comparison(window, zone)
