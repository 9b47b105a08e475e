"""Journey events from source systems: check a batch, store it in list order, read a timeline.

Batches are checked with one lookup of customers and one of touchpoints per batch, and
stored in list order (never ORM objects in bulk): on PostgreSQL with ``COPY`` through the
session's own connection and transaction, elsewhere with one Core ``INSERT`` executed for
many rows. Either way ids follow the order of the list: events at the same instant keep
the order they were sent in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask_babel import format_number
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, any_, cast, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..audit.services import record_audit
from ..auth.models import User
from ..errors import ValidationError
from ..journey.models import Channel, Touchpoint
from .models import Customer, JourneyEvent
from .services import REF_PATTERN

MAX_BATCH = 10_000
# More keys than this in one IN (...) would pass SQLite's limit of bound parameters.
LOOKUP_CHUNK = 10_000
MAX_TIME_TEXT = 40
# Years that lie inside [EARLIEST, LATEST) in every time zone.
FAST_YEARS = (1900, 2199)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
CHANNEL_VALUES = frozenset(c.value for c in Channel)
# A dict lookup instead of Channel(text): the import parses one channel per row.
CHANNELS_BY_VALUE = {c.value: c for c in Channel}
# Columns written by COPY, in the order of the rows handed to it.
COPY_COLUMNS = ("customer_id", "touchpoint_id", "occurred_at", "channel", "source", "created_at")
# Rows handed to COPY in one write.
COPY_CHUNK = 5000
FIELDS = ("customer_ref", "touchpoint", "occurred_at", "channel")


class EventInput(NamedTuple):
    """One event as a source system sends it: references and time still unresolved.

    A tuple, so that a CSV record in this column order can be checked as it is.
    """

    customer_ref: str
    touchpoint: str
    occurred_at: str | datetime  # ISO 8601 text, or an aware datetime
    channel: str | Channel


class CheckedEvent(NamedTuple):
    """An event whose references resolved; ``customer_id`` is None for a customer to create.

    ``occurred_at`` is aware, in UTC or in the offset or zone it was given in.
    """

    index: int
    customer_ref: str
    customer_id: int | None
    touchpoint_id: int
    occurred_at: datetime
    channel: Channel


@dataclass
class CheckedBatch:
    """The events that passed, in list order, and the problems of the others by index."""

    accepted: list[CheckedEvent] = field(default_factory=list)
    problems: dict[int, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEvent:
    occurred_at: datetime
    touchpoint_key: str
    touchpoint_name: str
    channel: Channel
    source: str


# --- parsing -----------------------------------------------------------------------------


def parse_time(value: str | datetime, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time as aware UTC; without an offset it means ``zone``.

    Raises ValueError with a message for people.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > MAX_TIME_TEXT:
            raise ValueError(str(_l("Expected an ISO 8601 date and time.")))
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValueError(
                str(_l("Expected an ISO 8601 date and time, e.g. 2026-03-02T09:30:00+01:00."))
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    parsed = parsed.astimezone(UTC)
    if not EARLIEST <= parsed < LATEST:
        raise ValueError(str(_l("The time must lie between 1900 and 2200.")))
    return parsed


def parse_channel(value: str | Channel) -> Channel:
    """A channel of the fixed vocabulary. Raises ValueError naming the allowed values."""
    if isinstance(value, Channel):
        return value
    channel = CHANNELS_BY_VALUE.get(value.strip().lower()) if isinstance(value, str) else None
    if channel is None:
        raise ValueError(
            str(_l("Use one of: %(values)s.", values=", ".join(c.value for c in Channel)))
        )
    return channel


# --- bulk lookups ------------------------------------------------------------------------


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), LOOKUP_CHUNK):
        yield keys[start : start + LOOKUP_CHUNK]


def customer_ids_by_ref(session: Session, refs: Iterable[str]) -> dict[str, int]:
    """Ids of the customers with these references (PostgreSQL: one query with an array;
    elsewhere one query per 10,000 references)."""
    wanted = sorted({r for r in refs if r})
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter instead of thousands of bound ones: the statement is the
        # same text every time, parsed and planned cheaply however many references.
        rows = session.execute(
            select(Customer.external_ref, Customer.id).where(
                Customer.external_ref == any_(cast(wanted, ARRAY(String)))
            )
        )
        return {ref: id_ for ref, id_ in rows}  # noqa: C416 - Row pairs
    found: dict[str, int] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Customer.external_ref, Customer.id).where(Customer.external_ref.in_(chunk))
        )
        found.update({ref: id_ for ref, id_ in rows})  # noqa: C416 - Row pairs
    return found


def touchpoints_by_key(session: Session, keys: Iterable[str]) -> dict[str, tuple[int, bool]]:
    """(id, archived) of the touchpoints with these keys (one query per 10,000 keys)."""
    wanted = sorted({k for k in keys if k})
    found: dict[str, tuple[int, bool]] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Touchpoint.key, Touchpoint.id, Touchpoint.archived).where(
                Touchpoint.key.in_(chunk)
            )
        )
        found.update({key: (id_, archived) for key, id_, archived in rows})
    return found


# --- locking -----------------------------------------------------------------------------
#
# journey_event has no foreign-key constraints (bulk loads, see its model). What the
# constraints would guard – an event for a customer that a concurrent merge deletes – is
# guarded by table locks instead, on PostgreSQL: writers take ROW EXCLUSIVE before they
# look up customers (writers never block each other or readers), a merge takes SHARE
# before it moves events (it waits for the writers in flight, and new ones wait for it;
# once it has committed their lookup no longer finds the duplicate). SQLite serialises
# writers, and a transaction that read before another committed cannot write.


def _lock_events(session: Session, mode: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE {JourneyEvent.__tablename__} IN {mode} MODE"))


def lock_for_event_writes(session: Session) -> None:
    """Take the events table for writing, before looking up the events' customers."""
    _lock_events(session, "ROW EXCLUSIVE")


def lock_out_event_writes(session: Session) -> None:
    """Keep event writes out until the transaction ends (before customers are deleted)."""
    _lock_events(session, "SHARE")


# --- checking ----------------------------------------------------------------------------


def _hashable(value: object) -> bool:
    return isinstance(value, str)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _check_one(
    index: int,
    event: EventInput,
    *,
    customers: Mapping[str, int],
    touchpoints: Mapping[str, tuple[int, bool]],
    zone: ZoneInfo,
    create_customers: bool,
) -> CheckedEvent | dict[str, str]:
    problems: dict[str, str] = {}
    ref = _text(event.customer_ref)
    customer_id = customers.get(ref)
    if not ref:
        problems["customer_ref"] = str(_l("This field is required."))
    elif customer_id is None and not create_customers:
        problems["customer_ref"] = str(_l("No customer with the reference %(ref)s.", ref=ref))
    elif customer_id is None and not REF_PATTERN.match(ref):
        problems["customer_ref"] = str(
            _l("Use 1–64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit.")
        )
    key = _text(event.touchpoint)
    touchpoint = touchpoints.get(key)
    if not key:
        problems["touchpoint"] = str(_l("This field is required."))
    elif touchpoint is None:
        problems["touchpoint"] = str(_l("No touchpoint with the key %(key)s.", key=key))
    elif touchpoint[1]:
        problems["touchpoint"] = str(_l("The touchpoint %(key)s is archived.", key=key))
    occurred_at = channel = None
    try:
        occurred_at = parse_time(event.occurred_at, zone)
    except ValueError as exc:
        problems["occurred_at"] = str(exc)
    try:
        channel = parse_channel(event.channel)
    except ValueError as exc:
        problems["channel"] = str(exc)
    if problems or touchpoint is None or occurred_at is None or channel is None:
        return problems
    return CheckedEvent(index, ref, customer_id, touchpoint[0], occurred_at, channel)


def check_events(
    session: Session,
    events: Sequence[EventInput] | Sequence[Sequence[str]],
    *,
    zone: ZoneInfo,
    create_customers: bool = False,
) -> CheckedBatch:
    """Check every event of a batch; one query for its customers and one for its touchpoints.

    ``events`` are EventInputs or plain sequences in the same column order (CSV records).
    Unknown customers pass only with ``create_customers`` (and a valid reference).
    """
    lock_for_event_writes(session)
    # Each distinct text once (a batch names few customers and fewer touchpoints many times).
    customers = customer_ids_by_ref(session, map(_text, {e[0] for e in events if _hashable(e[0])}))
    touchpoints = touchpoints_by_key(session, map(_text, {e[1] for e in events if _hashable(e[1])}))
    live = {key: id_ for key, (id_, archived) in touchpoints.items() if not archived}
    batch = CheckedBatch()
    accepted = batch.accepted
    fromisoformat = datetime.fromisoformat
    # The common case inline (this runs once per imported row); anything unusual goes
    # through _check_one, which finds every problem of the row with its message.
    for index, event in enumerate(events):
        ref, key, when, channel_text = event
        if type(ref) is str and type(key) is str and type(when) is str:
            customer_id = customers.get(ref)
            touchpoint_id = live.get(key)
            channel = (
                CHANNELS_BY_VALUE.get(channel_text) or CHANNELS_BY_VALUE.get(channel_text.lower())
                if type(channel_text) is str
                else None
            )
            if (
                customer_id is not None
                and touchpoint_id is not None
                and channel is not None
                and len(when) <= MAX_TIME_TEXT
            ):
                try:
                    parsed = fromisoformat(when)
                except ValueError:
                    pass
                else:
                    # Clear of the limits by more than any offset: no conversion needed
                    # to know it lies inside them (the exact test is _check_one's).
                    if FAST_YEARS[0] < parsed.year < FAST_YEARS[1]:
                        if parsed.tzinfo is None:
                            parsed = parsed.replace(tzinfo=zone)
                        accepted.append(
                            CheckedEvent(index, ref, customer_id, touchpoint_id, parsed, channel)
                        )
                        continue
        outcome = _check_one(
            index,
            EventInput(*event),
            customers=customers,
            touchpoints=touchpoints,
            zone=zone,
            create_customers=create_customers,
        )
        if isinstance(outcome, CheckedEvent):
            accepted.append(outcome)
        else:
            batch.problems[index] = outcome
    return batch


# --- storing -----------------------------------------------------------------------------


def create_missing_customers(
    session: Session,
    events: Sequence[CheckedEvent],
    *,
    source: str,
    actor: User | None,
    at: datetime,
) -> dict[str, int]:
    """Create the customers the events name but the database lacks; return their ids.

    A created customer is named by its reference and acquired at its earliest event in
    ``events`` (the customers import can correct both later). Each creation is audited.
    """
    first_seen: dict[str, datetime] = {}
    for event in events:
        if event.customer_id is None:
            seen = first_seen.get(event.customer_ref)
            if seen is None or event.occurred_at < seen:
                first_seen[event.customer_ref] = event.occurred_at
    if not first_seen:
        return {}
    session.execute(
        insert(Customer.__table__),
        [
            {
                "external_ref": ref,
                "name": ref,
                "acquired_at": acquired_at,
                "contact_consent": False,
                "created_at": at,
                "updated_at": at,
            }
            for ref, acquired_at in first_seen.items()
        ],
    )
    created = customer_ids_by_ref(session, first_seen)
    for ref, customer_id in created.items():
        record_audit(
            session,
            actor=actor,
            at=at,
            action="customer.created",
            entity_type="customer",
            entity_id=customer_id,
            entity_label=ref,
            after={
                "external_ref": ref,
                "acquired_at": first_seen[ref].isoformat(),
                "created_from": source,
            },
        )
    return created


def insert_events(
    session: Session,
    events: Sequence[CheckedEvent],
    *,
    source: str,
    at: datetime,
    create_customers: bool = False,
    actor: User | None = None,
) -> int:
    """Store checked events in their order (ids follow it); return how many were stored.

    With ``create_customers`` the customers they name but the database lacks are created
    first. The caller commits.
    """
    if not events:
        return 0
    created = (
        create_missing_customers(session, events, source=source, actor=actor, at=at)
        if create_customers
        else {}
    )
    source = source[:120]
    connection = session.connection()
    if _can_copy(connection):
        _copy_events(connection, events, created=created, source=source, at=at)
        return len(events)
    rows = [
        {
            "customer_id": event.customer_id
            if event.customer_id is not None
            else created[event.customer_ref],
            "touchpoint_id": event.touchpoint_id,
            "occurred_at": event.occurred_at,
            "channel": event.channel,
            "source": source,
            "created_at": at,
        }
        for event in events
    ]
    session.execute(insert(JourneyEvent.__table__), rows)
    return len(rows)


def _can_copy(connection: Connection) -> bool:
    """PostgreSQL through psycopg 3: the driver offers COPY FROM STDIN."""
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def _copy_text(value: str) -> str:
    """``value`` as a field of COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_events(
    connection: Connection,
    events: Sequence[CheckedEvent],
    *,
    created: Mapping[str, int],
    source: str,
    at: datetime,
) -> None:
    """Store checked events with COPY, in the session's transaction, as text written by
    hand: ids and ISO 8601 times need no escaping, the source is escaped once; customers
    without an id are looked up in ``created``.

    COPY takes each row's id from the sequence in the order the rows arrive, so ids
    follow the list as with the INSERT; a failing row aborts the transaction like a
    failing INSERT would.
    """
    driver = connection.connection.driver_connection
    if driver is None:  # pragma: no cover - a checked-out connection always has one
        raise RuntimeError("no driver connection")
    # The enum column stores the name.
    names = {channel: channel.name for channel in Channel}
    tail = f"\t{_copy_text(source)}\t{at.astimezone(UTC).isoformat()}\n"
    statement = f"COPY {JourneyEvent.__tablename__} ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, len(events), COPY_CHUNK):
            copy.write(
                "".join(
                    [
                        f"{created[ref] if customer_id is None else customer_id}"
                        f"\t{touchpoint_id}\t{occurred_at.isoformat()}\t{names[channel]}{tail}"
                        for _index, ref, customer_id, touchpoint_id, occurred_at, channel in (
                            events[start : start + COPY_CHUNK]
                        )
                    ]
                )
            )


def problem_fields(problems: Mapping[int, Mapping[str, str]], prefix: str) -> dict[str, str]:
    """``{3: {"touchpoint": …}}`` → ``{"events[3].touchpoint": …}`` in index order."""
    return {
        f"{prefix}[{index}].{name}": message
        for index in sorted(problems)
        for name, message in problems[index].items()
    }


def record_events(
    session: Session,
    events: Sequence[EventInput],
    *,
    source: str,
    at: datetime,
    zone: ZoneInfo,
    create_customers: bool = False,
    actor: User | None = None,
) -> int:
    """Store a batch of events, all or nothing; return how many were stored.

    Raises ValidationError naming every problem as ``events[i].field`` (nothing stored),
    or for a batch that is empty or larger than 10,000 events.
    """
    if not 1 <= len(events) <= MAX_BATCH:
        raise ValidationError(
            {"events": str(_l("Send between 1 and %(n)s events.", n=format_number(MAX_BATCH)))}
        )
    batch = check_events(session, events, zone=zone, create_customers=create_customers)
    if batch.problems:
        raise ValidationError(problem_fields(batch.problems, "events"))
    return insert_events(
        session,
        batch.accepted,
        source=source,
        at=at,
        create_customers=create_customers,
        actor=actor,
    )


# --- reading -----------------------------------------------------------------------------


def customer_timeline_events(
    session: Session, customer: Customer, limit: int = 50
) -> list[TimelineEvent]:
    """The customer's latest ``limit`` journey events, newest first (same instant: last sent
    first)."""
    rows = session.execute(
        select(
            JourneyEvent.occurred_at,
            Touchpoint.key,
            Touchpoint.name,
            JourneyEvent.channel,
            JourneyEvent.source,
        )
        .join(Touchpoint, Touchpoint.id == JourneyEvent.touchpoint_id)
        .where(JourneyEvent.customer_id == customer.id)
        .order_by(JourneyEvent.occurred_at.desc(), JourneyEvent.id.desc())
        .limit(max(0, limit))
    )
    return [TimelineEvent(*row) for row in rows]


def source_for_file(name: str) -> str:
    """The ``source`` of events read from a file: ``csv:<file name>`` (no directories)."""
    base = re.split(r"[\\/]", name)[-1]
    return f"csv:{base}"[:120]
