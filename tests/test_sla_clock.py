"""SLA clock arithmetic: business calendars, holidays, DST and around-the-clock time."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cxjourney.complaints.sla_clock import (
    AroundTheClock,
    BusinessCalendar,
    Clock,
    calendar_from_settings,
)

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
GERMANY = BusinessCalendar()  # Mon-Fri 08:00-18:00 Europe/Berlin, nationwide DE holidays
BAVARIA = BusinessCalendar(subdivision="BY")
BERLIN_STATE = BusinessCalendar(subdivision="BE")
EVERY_DAY = BusinessCalendar(workdays=frozenset(range(7)))


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def local(moment: datetime) -> datetime:
    """Show a result as Berlin wall time, so assertions read like the business rule."""
    assert moment.tzinfo is UTC
    return moment.astimezone(BERLIN)


# --- business calendar: add -------------------------------------------------------------


def test_christmas_acceptance_example() -> None:
    # Dec 24 is no public holiday (1 h left that day); Dec 25-26 are, Dec 26-27 is a weekend.
    due = GERMANY.add(berlin(2026, 12, 24, 17, 0), 4 * HOUR)
    assert local(due) == berlin(2026, 12, 28, 11, 0)
    assert due == datetime(2026, 12, 28, 10, 0, tzinfo=UTC)


def test_friday_afternoon_continues_on_monday() -> None:
    assert local(GERMANY.add(berlin(2026, 3, 13, 16, 0), 4 * HOUR)) == berlin(2026, 3, 16, 10, 0)


def test_received_on_saturday_starts_counting_monday_morning() -> None:
    assert local(GERMANY.add(berlin(2026, 3, 14, 10, 30), HOUR)) == berlin(2026, 3, 16, 9, 0)


def test_received_before_opening_starts_at_opening() -> None:
    assert local(GERMANY.add(berlin(2026, 3, 17, 6, 30), 2 * HOUR)) == berlin(2026, 3, 17, 10, 0)


def test_received_after_closing_starts_next_morning() -> None:
    assert local(GERMANY.add(berlin(2026, 3, 17, 19, 0), 2 * HOUR)) == berlin(2026, 3, 18, 10, 0)


def test_received_exactly_at_closing_starts_next_morning() -> None:
    assert local(GERMANY.add(berlin(2026, 3, 17, 18, 0), 30 * 60)) == berlin(2026, 3, 18, 8, 30)


def test_result_exactly_at_closing_stays_at_closing() -> None:
    assert local(GERMANY.add(berlin(2026, 3, 13, 16, 0), 2 * HOUR)) == berlin(2026, 3, 13, 18, 0)


def test_full_day_from_opening_ends_at_that_days_closing() -> None:
    assert local(GERMANY.add(berlin(2026, 3, 17, 8, 0), 10 * HOUR)) == berlin(2026, 3, 17, 18, 0)


@pytest.mark.parametrize(
    "start",
    [berlin(2026, 3, 17, 10, 17, 5), berlin(2026, 3, 14, 10, 41), berlin(2026, 3, 17, 18, 0)],
)
def test_adding_zero_does_not_move(start: datetime) -> None:
    result = GERMANY.add(start, 0)
    assert result == start
    assert result.tzinfo is UTC


def test_two_hundred_business_hours_skip_whole_days() -> None:
    # Twenty full working days from Monday Jan 5; Jan 6 (Epiphany) is only a holiday in BY.
    start = berlin(2026, 1, 5, 8, 0)
    assert local(GERMANY.add(start, 200 * HOUR)) == berlin(2026, 1, 30, 18, 0)
    assert local(BAVARIA.add(start, 200 * HOUR)) == berlin(2026, 2, 2, 18, 0)


def test_fractional_seconds_are_kept() -> None:
    due = GERMANY.add(berlin(2026, 3, 17, 9, 0), 1.5)
    assert local(due) == berlin(2026, 3, 17, 9, 0) + timedelta(seconds=1.5)


def test_output_is_utc_for_input_in_another_zone() -> None:
    start = datetime(2026, 3, 17, 9, 0, tzinfo=ZoneInfo("America/New_York"))  # 14:00 Berlin
    due = GERMANY.add(start, HOUR)
    assert due.tzinfo is UTC
    assert local(due) == berlin(2026, 3, 17, 15, 0)


# --- holidays ---------------------------------------------------------------------------


def test_epiphany_is_a_holiday_in_bavaria_only() -> None:
    epiphany = date(2026, 1, 6)  # a Tuesday
    assert not BAVARIA.is_working_day(epiphany)
    assert GERMANY.is_working_day(epiphany)
    assert BERLIN_STATE.is_working_day(epiphany)
    start = berlin(2026, 1, 5, 17, 0)
    assert local(GERMANY.add(start, 2 * HOUR)) == berlin(2026, 1, 6, 9, 0)
    assert local(BERLIN_STATE.add(start, 2 * HOUR)) == berlin(2026, 1, 6, 9, 0)
    assert local(BAVARIA.add(start, 2 * HOUR)) == berlin(2026, 1, 7, 9, 0)


def test_easter_holidays_are_skipped() -> None:
    assert not GERMANY.is_working_day(date(2026, 4, 3))  # Good Friday
    assert not GERMANY.is_working_day(date(2026, 4, 6))  # Easter Monday
    due = GERMANY.add(berlin(2026, 4, 2, 17, 0), 2 * HOUR)
    assert local(due) == berlin(2026, 4, 7, 9, 0)


def test_labour_day_is_skipped() -> None:
    assert not GERMANY.is_working_day(date(2026, 5, 1))  # a Friday
    assert local(GERMANY.add(berlin(2026, 4, 30, 17, 0), 2 * HOUR)) == berlin(2026, 5, 4, 9, 0)


def test_christmas_eve_is_a_working_day_and_christmas_is_not() -> None:
    assert GERMANY.is_working_day(date(2026, 12, 24))
    assert not GERMANY.is_working_day(date(2026, 12, 25))
    assert not GERMANY.is_working_day(date(2026, 12, 26))


def test_weekends_are_not_working_days() -> None:
    assert not GERMANY.is_working_day(date(2026, 3, 14))
    assert not GERMANY.is_working_day(date(2026, 3, 15))
    assert EVERY_DAY.is_working_day(date(2026, 3, 15))


# --- daylight saving time ----------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25)])
def test_dst_sunday_still_has_ten_business_hours(day: date) -> None:
    midnight = datetime.combine(day, time(0, 0), tzinfo=BERLIN)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=BERLIN)
    assert EVERY_DAY.between(midnight, next_midnight) == 10 * HOUR
    # Counting from midnight, the tenth hour ends exactly at 18:00 local.
    assert local(EVERY_DAY.add(midnight, 10 * HOUR)) == datetime.combine(
        day, time(18, 0), tzinfo=BERLIN
    )


def test_span_across_spring_forward_keeps_local_hours() -> None:
    # Sat 17:00 CET + 3 h: one hour on Saturday, then 08:00-10:00 CEST on Sunday.
    due = EVERY_DAY.add(berlin(2026, 3, 28, 17, 0), 3 * HOUR)
    assert local(due) == berlin(2026, 3, 29, 10, 0)
    assert due == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def test_span_across_fall_back_keeps_local_hours() -> None:
    due = EVERY_DAY.add(berlin(2026, 10, 24, 17, 0), 3 * HOUR)
    assert local(due) == berlin(2026, 10, 25, 10, 0)
    assert due == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)


def test_window_spanning_the_switch_counts_real_elapsed_time() -> None:
    night_shift = BusinessCalendar(workdays=frozenset(range(7)), opens=time(1), closes=time(5))
    spring = night_shift.between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0))
    autumn = night_shift.between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0))
    assert (spring, autumn) == (3 * HOUR, 5 * HOUR)


# --- business calendar: between ----------------------------------------------------------


def test_between_within_one_day() -> None:
    assert GERMANY.between(berlin(2026, 3, 17, 9, 15), berlin(2026, 3, 17, 11, 45)) == 2.5 * HOUR


def test_between_across_a_weekend() -> None:
    assert GERMANY.between(berlin(2026, 3, 13, 17, 0), berlin(2026, 3, 16, 9, 0)) == 2 * HOUR


def test_between_across_christmas() -> None:
    assert GERMANY.between(berlin(2026, 12, 24, 17, 0), berlin(2026, 12, 28, 11, 0)) == 4 * HOUR


def test_between_outside_working_hours_is_zero() -> None:
    assert GERMANY.between(berlin(2026, 3, 13, 18, 0), berlin(2026, 3, 16, 8, 0)) == 0


def test_between_a_whole_year() -> None:
    # 2026 has 261 weekdays; 7 nationwide holidays fall on them (Oct 3 and Dec 26 are Saturdays).
    assert GERMANY.between(berlin(2026, 1, 1), berlin(2027, 1, 1)) == (261 - 7) * 10 * HOUR


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=-1)])
def test_between_with_end_not_after_start_is_zero(offset: timedelta) -> None:
    start = berlin(2026, 3, 17, 10, 0)
    assert GERMANY.between(start, start + offset) == 0


# --- properties ---------------------------------------------------------------------------


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible test data, not secrets


def _random_moment(rng: random.Random) -> datetime:
    start = datetime(2025, 12, 1, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(400 * 24 * HOUR))


def _random_working_moment(rng: random.Random, calendar: BusinessCalendar) -> datetime:
    """A moment strictly after an opening and at most at the closing of a working day."""
    while True:
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(365))
        if calendar.is_working_day(day):
            break
    opens = datetime.combine(day, calendar.opens, tzinfo=BERLIN).astimezone(UTC)
    closes = datetime.combine(day, calendar.closes, tzinfo=BERLIN).astimezone(UTC)
    return opens + timedelta(seconds=rng.randint(1, int((closes - opens).total_seconds())))


@pytest.mark.parametrize("calendar", [GERMANY, BAVARIA, EVERY_DAY])
def test_between_measures_what_add_added(calendar: BusinessCalendar) -> None:
    rng = _rng(20261224)
    for _ in range(500):
        start = _random_moment(rng)
        seconds = rng.randint(0, 200 * HOUR)
        assert calendar.between(start, calendar.add(start, seconds)) == seconds, (start, seconds)


@pytest.mark.parametrize("calendar", [GERMANY, BAVARIA, EVERY_DAY])
def test_add_lands_on_a_working_moment_it_was_measured_to(calendar: BusinessCalendar) -> None:
    rng = _rng(4711)
    for _ in range(500):
        end = _random_working_moment(rng, calendar)
        start = end - timedelta(seconds=rng.randint(1, 30 * 24 * HOUR))
        assert calendar.add(start, calendar.between(start, end)) == end, (start, end)


def test_add_is_monotonic_in_seconds() -> None:
    rng = _rng(7)
    for _ in range(200):
        start = _random_moment(rng)
        shorter, longer = sorted(rng.randint(1, 100 * HOUR) for _ in range(2))
        assert GERMANY.add(start, shorter) <= GERMANY.add(start, longer)


# --- around the clock ----------------------------------------------------------------------


def test_around_the_clock_counts_nights_and_weekends() -> None:
    clock = AroundTheClock()
    due = clock.add(berlin(2026, 3, 13, 16, 0), 4 * HOUR)
    assert due.tzinfo is UTC
    assert local(due) == berlin(2026, 3, 13, 20, 0)


def test_around_the_clock_counts_a_dst_night_as_real_time() -> None:
    clock = AroundTheClock()
    # The local clock jumps from 02:00 to 03:00, so 00:00-12:00 local is 11 real hours.
    assert clock.between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 29, 12, 0)) == 11 * HOUR
    assert local(clock.add(berlin(2026, 3, 29, 0, 0), 11 * HOUR)) == berlin(2026, 3, 29, 12, 0)


def test_around_the_clock_handles_a_year_and_round_trips() -> None:
    clock = AroundTheClock()
    start = berlin(2026, 1, 1, 9, 0)
    due = clock.add(start, 365 * 24 * HOUR)
    assert due == datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    assert clock.between(start, due) == 365 * 24 * HOUR


def test_around_the_clock_between_reversed_is_zero() -> None:
    clock = AroundTheClock()
    assert clock.between(berlin(2026, 1, 2), berlin(2026, 1, 1)) == 0


def test_both_calendars_satisfy_the_clock_protocol() -> None:
    clocks: list[Clock] = [AroundTheClock(), GERMANY]
    start = berlin(2026, 3, 17, 9, 0)
    assert [local(clock.add(start, HOUR)) for clock in clocks] == [berlin(2026, 3, 17, 10, 0)] * 2


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("clock", [AroundTheClock(), GERMANY])
def test_naive_start_is_rejected(clock: Clock) -> None:
    naive = datetime(2026, 3, 17, 9, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.add(naive, HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.between(naive, berlin(2026, 3, 18))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.between(berlin(2026, 3, 16), naive)


@pytest.mark.parametrize("clock", [AroundTheClock(), GERMANY])
@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_negative_or_non_finite_seconds_are_rejected(clock: Clock, seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        clock.add(berlin(2026, 3, 17, 9, 0), seconds)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"workdays": frozenset()}, "workdays"),
        ({"workdays": frozenset({7})}, "workdays"),
        ({"opens": time(18), "closes": time(8)}, "closes"),
        ({"country": "XX"}, "country"),
        ({"subdivision": "ZZ"}, "subdivision"),
    ],
)
def test_calendar_rejects_bad_fields(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**overrides)  # type: ignore[arg-type]


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults_match_the_default_calendar() -> None:
    assert calendar_from_settings({}) == BusinessCalendar()


def test_settings_as_config_provides_them() -> None:
    calendar = calendar_from_settings(
        {
            "SLA_TIMEZONE": "Europe/Berlin",
            "SLA_WORKDAYS": "mon-fri",
            "SLA_HOURS": "08:00-18:00",
            "SLA_HOLIDAY_COUNTRY": "DE",
            "SLA_HOLIDAY_SUBDIVISION": "",
        }
    )
    assert calendar == BusinessCalendar()
    assert calendar.subdivision is None


def test_settings_with_everything_changed() -> None:
    calendar = calendar_from_settings(
        {
            "SLA_TIMEZONE": "Europe/Vienna",
            "SLA_WORKDAYS": "mon,tue,wed,thu,fri,sat",
            "SLA_HOURS": " 09:30 - 17:00 ",
            "SLA_HOLIDAY_COUNTRY": "at",
            "SLA_HOLIDAY_SUBDIVISION": "9",
        }
    )
    assert calendar == BusinessCalendar(
        timezone="Europe/Vienna",
        workdays=frozenset(range(6)),
        opens=time(9, 30),
        closes=time(17, 0),
        country="AT",
        subdivision="9",
    )


@pytest.mark.parametrize(
    ("workdays", "expected"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("mon,wed", {0, 2}),
        ("Mon, Wed-Fri", {0, 2, 3, 4}),
        ("fri-mon", {4, 5, 6, 0}),
        ("sun", {6}),
        ("monday,tuesday", {0, 1}),
        ([0, 6], {0, 6}),
    ],
)
def test_settings_workday_forms(workdays: object, expected: set[int]) -> None:
    assert calendar_from_settings({"SLA_WORKDAYS": workdays}).workdays == expected


def test_settings_bavaria() -> None:
    calendar = calendar_from_settings({"SLA_HOLIDAY_SUBDIVISION": "by"})
    assert calendar.subdivision == "BY"
    assert not calendar.is_working_day(date(2026, 1, 6))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SLA_HOLIDAY_COUNTRY", "XX"),
        ("SLA_HOLIDAY_SUBDIVISION", "ZZ"),
        ("SLA_HOURS", "18:00-08:00"),
        ("SLA_HOURS", "08:00-08:00"),
        ("SLA_HOURS", "8-18"),
        ("SLA_HOURS", "08:00-25:00"),
        ("SLA_HOURS", ""),
        ("SLA_WORKDAYS", ""),
        ("SLA_WORKDAYS", " , "),
        ("SLA_WORKDAYS", "mon-fry"),
        ("SLA_WORKDAYS", "weekdays"),
        ("SLA_WORKDAYS", []),
        ("SLA_WORKDAYS", [7]),
        ("SLA_TIMEZONE", "Mars/Olympus"),
        ("SLA_TIMEZONE", ""),
        ("SLA_TIMEZONE", 1),
    ],
)
def test_settings_errors_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        calendar_from_settings({key: value})
