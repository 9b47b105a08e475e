"""CSV imports: encodings and delimiters, rejected-row reports with line numbers, strict
mode, customer creation, upserts, and constant memory on large files."""

from __future__ import annotations

import csv
import gc
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.customers.models import ChurnReason, Customer, CustomerValue, JourneyEvent, ValueKind
from cxjourney.customers.services import create_churn_reason
from cxjourney.imports.csv_source import detect_delimiter, detect_encoding
from cxjourney.journey.models import Touchpoint

from .factories import T0, make_customer, small_journey

EVENT_HEADER = "customer_ref,touchpoint,occurred_at,channel"


def _write(path: Path, lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def _run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["import", *[str(a) for a in args]])


def _count(session: Session, model: type) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model)) or 0


def _events(session: Session) -> list[tuple[str, str, datetime]]:
    session.rollback()
    rows = session.execute(
        select(Customer.external_ref, Touchpoint.key, JourneyEvent.occurred_at)
        .join(Customer, Customer.id == JourneyEvent.customer_id)
        .join(Touchpoint, Touchpoint.id == JourneyEvent.touchpoint_id)
        .order_by(JourneyEvent.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def journey(db_session: Session) -> None:
    small_journey(db_session)
    make_customer(db_session, "K-1")
    make_customer(db_session, "K-2")
    db_session.commit()


# --- format detection ----------------------------------------------------------------------


def test_encodings_are_told_apart() -> None:
    assert detect_encoding("\ufeffcustomer_ref;name\nK-1;Jürgen\n".encode()) == "utf-8-sig"
    assert detect_encoding("customer_ref;name\nK-1;Jürgen\n".encode()) == "utf-8-sig"
    assert detect_encoding("customer_ref;name\nK-1;Jürgen\n".encode("cp1252")) == "cp1252"
    assert detect_encoding("customer_ref\tname\n".encode("utf-16")) == "utf-16"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(delimiter: str) -> None:
    text = delimiter.join(EVENT_HEADER.split(",")) + "\n"
    text += delimiter.join(["K-1", "app", "2026-03-01T10:00:00+01:00", "app"]) + "\n"

    assert detect_delimiter(text, EVENT_HEADER.split(",")) == delimiter


# --- events ----------------------------------------------------------------------------------


def test_events_in_utf8_with_bom_are_imported_in_file_order(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "events.csv",
        [
            EVENT_HEADER,
            "K-1,website,2026-03-01T10:00:00+01:00,web",
            "K-1,app,2026-03-01T10:00:00+01:00,app",
            "K-2,hotline,2026-03-01 12:00,phone",  # naive: Europe/Berlin
        ],
        encoding="utf-8-sig",
        newline="\r\n",
    )

    result = _run(app, "events", path)

    assert result.exit_code == 0, result.output
    assert "loaded 3, rejected 0" in result.stdout, result.stderr
    assert _events(db_session) == [
        ("K-1", "website", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ("K-1", "app", datetime(2026, 3, 1, 9, 0, tzinfo=UTC)),
        ("K-2", "hotline", datetime(2026, 3, 1, 11, 0, tzinfo=UTC)),
    ]
    assert db_session.scalar(select(JourneyEvent.source).limit(1)) == "csv:events.csv"
    assert not (tmp_path / "events.rejected.csv").exists()


def test_rejected_rows_are_reported_with_their_line_numbers(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "events.csv",
        [
            EVENT_HEADER,
            "K-1,website,2026-03-01T10:00:00+01:00,web",  # line 2
            "K-404,app,2026-03-01T10:00:00+01:00,app",  # line 3: unknown customer
            "",  # line 4: blank, skipped
            "K-1,nowhere,gestern,pigeon",  # line 5: three problems
            "K-1,app,2026-03-01T10:00:00+01:00",  # line 6: a field short
            'K-2,hotline,2026-03-01T10:00:00+01:00,"phone"',  # line 7
        ],
    )
    report_path = tmp_path / "out" / "rejected.csv"

    result = _run(app, "events", path, "--report", report_path, "--batch-size", "2")

    assert result.exit_code == 0, result.output
    assert "loaded 2, rejected 3" in result.stdout
    assert [(e[0], e[1]) for e in _events(db_session)] == [("K-1", "website"), ("K-2", "hotline")]
    rows = _report(report_path)
    assert [(r["line"], r["column"]) for r in rows] == [
        ("3", "customer_ref"),
        ("5", "touchpoint"),
        ("5", "occurred_at"),
        ("5", "channel"),
        ("6", ""),
    ]
    assert "K-404" in rows[0]["reason"]
    assert "line 3, customer_ref" in result.stderr


def test_strict_stores_nothing_when_one_row_is_bad(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    good = [f"K-1,app,2026-03-01T10:{m:02d}:00+01:00,app" for m in range(30)]
    path = _write(tmp_path / "events.csv", [EVENT_HEADER, *good, "K-1,app,not a time,app", *good])

    result = _run(app, "events", path, "--strict", "--batch-size", "10")

    assert result.exit_code == 1
    assert "loaded 0, rejected 1" in result.stdout
    assert "nothing was stored" in result.stderr
    assert _count(db_session, JourneyEvent) == 0
    assert _report(tmp_path / "events.rejected.csv")[0]["line"] == "32"


def test_strict_stores_everything_when_all_rows_are_good(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    rows = [f"K-1,app,2026-03-01T10:{m:02d}:00+01:00,app" for m in range(25)]
    path = _write(tmp_path / "events.csv", [EVENT_HEADER, *rows])

    result = _run(app, "events", path, "--strict", "--batch-size", "10")

    assert result.exit_code == 0, result.output
    assert _count(db_session, JourneyEvent) == 25


def test_unknown_customers_are_created_with_create_customers(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "events.csv",
        [
            EVENT_HEADER,
            "NEW-7,app,2026-03-03T10:00:00Z,app",
            "NEW-7,website,2026-03-01T10:00:00Z,web",
            "bad ref!,website,2026-03-01T10:00:00Z,web",
        ],
    )

    without = _run(app, "events", path)
    assert "loaded 0, rejected 3" in without.stdout
    result = _run(app, "events", path, "--create-customers")

    assert result.exit_code == 0, result.output
    assert "loaded 2, rejected 1" in result.stdout
    customer = db_session.scalar(select(Customer).where(Customer.external_ref == "NEW-7"))
    assert customer is not None
    assert customer.name == "NEW-7"
    assert customer.acquired_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert db_session.scalar(select(func.count()).select_from(Customer)) == 3


def test_a_bad_header_stops_before_anything_is_stored(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "events.csv",
        ["customer_ref,touchpoint,occured_at,channel", "K-1,app,2026-03-01T10:00:00Z,app"],
    )

    result = _run(app, "events", path)

    assert result.exit_code == 1
    # Named in the configured language (German by default): the missing and the unknown one.
    assert ": occurred_at;" in result.stderr
    assert ": occured_at." in result.stderr
    assert _count(db_session, JourneyEvent) == 0


def _write_events(path: Path, rows: int) -> Path:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    keys = ("website", "app", "hotline")
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(EVENT_HEADER + "\n")
        for i in range(rows):
            at = (start + timedelta(seconds=i)).isoformat()
            handle.write(f"K-{1 + i % 2},{keys[i % 3]},{at},app\n")
    return path


def _peak_import(app: Flask, path: Path) -> tuple[int, Any]:
    gc.collect()
    tracemalloc.start()
    try:
        result = _run(app, "events", path, "--batch-size", "2000")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def test_a_large_file_is_imported_in_constant_memory(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    small = _write_events(tmp_path / "small.csv", 20_000)
    large = _write_events(tmp_path / "large.csv", 60_000)
    _peak_import(app, _write_events(tmp_path / "warm.csv", 2_000))  # caches, compiled SQL

    small_peak, small_result = _peak_import(app, small)
    large_peak, large_result = _peak_import(app, large)

    assert small_result.exit_code == 0, small_result.output
    assert large_result.exit_code == 0, large_result.output
    assert "loaded 60000, rejected 0" in large_result.stdout
    assert _count(db_session, JourneyEvent) == 82_000
    # Three times the rows, (nearly) the same peak: memory follows the batch, not the file.
    assert large_peak < small_peak * 1.3 + 1_000_000, (small_peak, large_peak)
    assert large_peak < 16 * 1024 * 1024


# --- customers -------------------------------------------------------------------------------

CUSTOMER_HEADER = (
    "customer_ref;name;email;phone;segment;acquired_at;churned_at;churn_reason;referred_by;"
    "revenue;cost"
)


def test_customers_in_windows_1252_with_semicolons_keep_their_umlauts(
    app: Flask, db_session: Session, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "kunden.csv",
        [
            CUSTOMER_HEADER,
            "K-10;Jürgen Müßig;JM@Example.org;030 123;privat;2025-01-15;;;;1200,50;99",
            "K-11;Åsa Öberg-Weiß;;;gewerbe;2025-02-01T08:00:00Z;;;K-10;;",
        ],
        encoding="cp1252",
        newline="\r\n",
    )

    result = _run(app, "customers", path)

    assert result.exit_code == 0, result.output
    assert "loaded 2, rejected 0" in result.stdout
    db_session.rollback()
    juergen = db_session.scalar(select(Customer).where(Customer.external_ref == "K-10"))
    asa = db_session.scalar(select(Customer).where(Customer.external_ref == "K-11"))
    assert juergen.name == "Jürgen Müßig"
    assert juergen.email == "jm@example.org"
    assert juergen.acquired_at == datetime(2025, 1, 14, 23, 0, tzinfo=UTC)  # local midnight
    assert asa.name == "Åsa Öberg-Weiß"
    assert asa.referred_by_id == juergen.id
    values = db_session.execute(
        select(CustomerValue.kind, CustomerValue.amount, CustomerValue.occurred_on)
        .where(CustomerValue.customer_id == juergen.id)
        .order_by(CustomerValue.kind)
    ).all()
    assert [tuple(v) for v in values] == [
        (ValueKind.COST, Decimal("99.00"), date(2025, 1, 15)),
        (ValueKind.REVENUE, Decimal("1200.50"), date(2025, 1, 15)),
    ]


def test_customers_upsert_updates_existing_ones_and_keeps_what_the_file_lacks(
    app: Flask, db_session: Session, tmp_path: Path
) -> None:
    existing = make_customer(
        db_session,
        "K-1",
        name="Alt",
        email="alt@example.org",
        segment="privat",
        contact_consent=True,
    )
    existing_id = existing.id
    create_churn_reason(db_session, key="price", name="Preis", actor=None, at=T0)
    db_session.commit()
    path = _write(
        tmp_path / "kunden.csv",
        [
            "customer_ref,name,email,churned_at,churn_reason,revenue",
            "K-1,Neu,,2026-01-31T12:00:00Z,price,10",
            "K-2,Zweiter,zwei@example.org,,,",
        ],
    )

    first = _run(app, "customers", path)
    again = _run(app, "customers", path)

    assert first.exit_code == 0, first.output
    assert "loaded 1, rejected 1" in first.stdout  # K-2 is new and has no acquired_at
    assert "acquired_at" in first.stderr
    assert again.exit_code == 0
    db_session.rollback()
    db_session.expire_all()
    customer = db_session.get(Customer, existing_id)
    assert customer.name == "Neu"
    assert customer.email is None  # an empty cell clears
    assert customer.segment == "privat"  # a missing column keeps
    assert customer.contact_consent is True
    assert customer.churned_at == datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    assert customer.churn_reason.key == "price"
    assert _count(db_session, Customer) == 1
    # Imported twice, stored once: the file states the figure, it does not add to it.
    assert db_session.scalars(select(CustomerValue.amount)).all() == [Decimal("10.00")]


def test_a_referrer_further_down_the_file_is_found_and_a_missing_one_rejected(
    app: Flask, db_session: Session, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "kunden.csv",
        [
            "customer_ref,name,acquired_at,referred_by",
            "K-1,Erste,2025-01-01,K-2",  # K-2 further down, itself referred by K-3
            "K-2,Zweite,2025-01-01,K-3",
            "K-3,Dritte,2025-01-01,",
            "K-4,Vierte,2025-01-01,K-99",  # nobody
            "K-5,Fünfte,2025-01-01,K-5",  # themselves
        ],
    )

    result = _run(app, "customers", path, "--report", tmp_path / "r.csv")

    assert result.exit_code == 0, result.output
    assert "loaded 3, rejected 2" in result.stdout
    db_session.rollback()
    refs = dict(db_session.execute(select(Customer.external_ref, Customer.referred_by_id)).all())
    ids = dict(db_session.execute(select(Customer.external_ref, Customer.id)).all())
    assert refs == {"K-1": ids["K-2"], "K-2": ids["K-3"], "K-3": None}
    assert sorted((r["line"], r["column"]) for r in _report(tmp_path / "r.csv")) == [
        ("5", "referred_by"),
        ("6", "referred_by"),
    ]


def test_customers_strict_stores_nothing_on_one_bad_row(
    app: Flask, db_session: Session, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "kunden.csv",
        [
            "customer_ref,name,acquired_at,churn_reason",
            "K-1,Erste,2025-01-01,",
            "K-2,Zweite,2025-01-01,unknown-reason",
        ],
    )

    result = _run(app, "customers", path, "--strict")

    assert result.exit_code == 1
    assert _count(db_session, Customer) == 0
    assert _count(db_session, ChurnReason) == 0


def test_a_wrong_encoding_is_reported_by_line_and_strict_stores_nothing(
    app: Flask, db_session: Session, journey: None, tmp_path: Path
) -> None:
    """A file said to be UTF-8 that holds a Windows-1252 byte: that line is named."""
    path = tmp_path / "events.csv"
    path.write_bytes(
        f"{EVENT_HEADER}\nK-1,app,2026-03-01T10:00:00Z,app\n".encode()
        + "K-2,app,2026-03-01T11:00:00Z,Telefon ö\n".encode("cp1252")
    )
    report_path = tmp_path / "rejected.csv"

    result = _run(app, "events", path, "--encoding", "utf-8", "--strict", "--report", report_path)

    assert result.exit_code == 1
    assert [r["line"] for r in _report(report_path)] == ["3"]
    assert "utf-8" in _report(report_path)[0]["reason"]
    assert _count(db_session, JourneyEvent) == 0
