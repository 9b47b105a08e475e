"""Rows per second and peak memory of ``cxjourney import events`` on PostgreSQL and SQLite,
against PostgreSQL's own ``COPY`` of the same file into a bare table, in the same run.

    .venv/bin/python bench/import_events.py --rows 1000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The URL only says which PostgreSQL server to use: the benchmark creates its own database
(``cxjourney_bench_import`` by default) next to the one named, migrates it, loads the demo
journey with a few customers (``cxjourney demo --customers N --complaints 0``), and drops it
again at the end. SQLite gets the same demo in a temporary instance folder. The named
database is never touched.

The CSV (``customer_ref,touchpoint,occurred_at,channel``) is drawn with a fixed seed from the
demo's customers and live touchpoints over two years, with times with and without offsets
and channels in mixed case, so every row is valid. Measured, one after the other:

* ``copy``             ``COPY bare_event FROM STDIN (FORMAT csv, HEADER)`` through psycopg's
  ``cursor.copy``: a table with the four columns (time as ``timestamptz``), no indexes
* ``import postgresql``  ``cxjourney import events FILE`` as a subprocess
* ``copy journey_event``  for information, the floor of any importer on this schema: COPY
  into a temporary table, then one ``INSERT … SELECT`` that resolves the references in SQL
  into ``journey_event`` (primary key, customer index, BRIN time index; no foreign keys)
* ``import sqlite``      the same against the SQLite instance

Reported: seconds, rows/s, the importer's peak RSS (``wait4`` of the subprocess) and its
rate relative to ``copy``. Targets: import on PostgreSQL at ≥ 25 % of COPY's rate, peak RSS
under 300 MB. Exit status 1 on a miss, or when a database holds another number of rows
than the file.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The sibling benchmark's database helpers.
from pages import BIN, ROOT, create_bench_database, drop_bench_database, run_cli

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_RATIO = 0.25  # the import should reach at least 25 % of COPY's rate on PostgreSQL
TARGET_PEAK_MB = 300.0
CHANNELS = ["phone", "email", "Letter", "web", "app", "chat", "in_person", "SMS"]
FILE_NAME = "events.csv"


@dataclass(frozen=True)
class Measure:
    name: str
    seconds: float
    rows: int  # rows in the database afterwards
    peak_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _pg_connect(url: URL) -> psycopg.Connection:
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


def demo_keys(url: URL) -> tuple[list[str], list[str]]:
    """Customer references and live touchpoint keys of the demo."""
    with _pg_connect(url) as conn:
        refs = [r for (r,) in conn.execute("SELECT external_ref FROM customer ORDER BY id")]
        keys = [
            k for (k,) in conn.execute("SELECT key FROM touchpoint WHERE NOT archived ORDER BY id")
        ]
    return refs, keys


def write_csv(path: Path, rows: int, refs: list[str], keys: list[str], seed: int) -> None:
    """``rows`` valid events; a third with a naive local time, the rest with an offset."""
    rng = random.Random(seed)
    start = datetime(2024, 11, 1, tzinfo=UTC)
    span = int(timedelta(days=730).total_seconds())
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("customer_ref,touchpoint,occurred_at,channel\n")
        lines = []
        for index in range(rows):
            at = start + timedelta(seconds=rng.randrange(span))
            if index % 3 == 0:
                text = at.strftime("%Y-%m-%dT%H:%M:%S")
            else:
                text = at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
            lines.append(f"{rng.choice(refs)},{rng.choice(keys)},{text},{rng.choice(CHANNELS)}\n")
            if len(lines) >= 10_000:
                out.writelines(lines)
                lines = []
        out.writelines(lines)


def copy_baseline(url: URL, path: Path) -> Measure:
    """PostgreSQL's COPY of the file into a bare four-column table (no indexes)."""
    with _pg_connect(url) as conn:
        conn.execute(
            "CREATE TABLE bare_event (customer_ref varchar(64), touchpoint varchar(64), "
            "occurred_at timestamptz, channel varchar(32))"
        )
        began = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(
                "COPY bare_event (customer_ref, touchpoint, occurred_at, channel) "
                "FROM STDIN (FORMAT csv, HEADER true)"
            ) as copy,
            path.open("rb") as source,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - began
        (count,) = conn.execute("SELECT count(*) FROM bare_event").fetchone() or (0,)
        conn.execute("DROP TABLE bare_event")
    return Measure("copy", seconds, int(count))


def copy_floor(url: URL, path: Path) -> Measure:
    """The floor of any importer into the real table: COPY into a bare table, then one
    ``INSERT … SELECT`` resolving the keys in SQL into ``journey_event`` (its primary key
    and two indexes), in one transaction. Measured last; its rows are not kept."""
    with _pg_connect(url) as conn:
        began = time.perf_counter()
        with conn.transaction():
            conn.execute(
                "CREATE TEMP TABLE floor_event (customer_ref varchar(64), "
                "touchpoint varchar(64), occurred_at timestamptz, channel varchar(32))"
            )
            with (
                conn.cursor() as cur,
                cur.copy("COPY floor_event FROM STDIN (FORMAT csv, HEADER true)") as copy,
                path.open("rb") as source,
            ):
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
            inserted = conn.execute(
                "INSERT INTO journey_event "
                "(customer_id, touchpoint_id, occurred_at, channel, source, created_at) "
                "SELECT c.id, t.id, f.occurred_at, upper(f.channel), 'bench:floor', now() "
                "FROM floor_event f JOIN customer c ON c.external_ref = f.customer_ref "
                "JOIN touchpoint t ON t.key = f.touchpoint"
            ).rowcount
        seconds = time.perf_counter() - began
    return Measure("copy journey_event", seconds, inserted)


def run_import(name: str, env: dict[str, str], path: Path, batch: int | None) -> Measure:
    """``cxjourney import events`` as a subprocess: wall time and its peak RSS."""
    command = [str(BIN / "cxjourney"), "import", "events", str(path)]
    if batch:
        command += ["--batch-size", str(batch)]
    began = time.perf_counter()
    with (path.parent / f"{name.replace(' ', '-')}.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
        _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = (path.parent / f"{name.replace(' ', '-')}.log").read_text(errors="replace")
        sys.exit(f"{name} failed ({process.returncode}):\n{tail[-2000:]}")
    # ru_maxrss is in KiB on Linux.
    return Measure(name, seconds, 0, usage.ru_maxrss / 1024)


def count_pg(url: URL) -> int:
    with _pg_connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM journey_event WHERE source = %s", (f"csv:{FILE_NAME}",)
        ).fetchone()
    return int(row[0]) if row else 0


def count_sqlite(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT count(*) FROM journey_event WHERE source = ?", (f"csv:{FILE_NAME}",)
        ).fetchone()
    return int(row[0]) if row else 0


def report(measures: list[Measure], copy: Measure) -> str:
    rows = [("target", "rows", "seconds", "rows/s", "peak MB", "vs copy")]
    rows += [
        (
            m.name,
            f"{m.rows:,}",
            f"{m.seconds:.1f}",
            f"{m.rate:,.0f}",
            "–" if m.peak_mb is None else f"{m.peak_mb:.0f}",
            f"{m.rate / copy.rate * 100:.1f} %" if copy.rate else "–",
        )
        for m in measures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="events in the CSV file")
    parser.add_argument("--customers", type=int, default=2000, help="demo customers")
    parser.add_argument("--batch-size", type=int, default=None, help="the importer's option")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="a PostgreSQL URL; only its server and credentials are used",
    )
    parser.add_argument("--bench-database", default="cxjourney_bench_import")
    args = parser.parse_args(argv)

    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    if url.database == args.bench_database:
        parser.error("--bench-database must differ from the database in --database-url")
    url = url.set(drivername="postgresql+psycopg")

    bench_url = create_bench_database(url, args.bench_database)
    tmp = Path(tempfile.mkdtemp(prefix="cxjourney-bench-import-"))
    measures: list[Measure] = []
    try:
        base = {
            **os.environ,
            "CXJOURNEY_ENV": "development",
            "SECRET_KEY": "bench-import-" + str(args.seed),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for name in ("REDIS_URL", "DATABASE_URL"):
            base.pop(name, None)
        pg_env = {
            **base,
            "DATABASE_URL": bench_url.render_as_string(hide_password=False),
            "CXJOURNEY_INSTANCE_PATH": str(tmp / "pg-instance"),
        }
        sqlite_env = {**base, "CXJOURNEY_INSTANCE_PATH": str(tmp / "sqlite-instance")}
        demo = ("demo", "--seed", str(args.seed), "--customers", str(args.customers))
        print(f"database {args.bench_database}: migrating and loading the demo …", flush=True)
        run_cli(pg_env, "db", "upgrade")
        run_cli(pg_env, *demo, "--complaints", "0")
        refs, keys = demo_keys(bench_url)
        path = tmp / FILE_NAME
        print(f"writing {args.rows:,} events ({len(refs)} customers, {len(keys)} touchpoints) …")
        write_csv(path, args.rows, refs, keys, args.seed)
        print(f"  {path.stat().st_size / 1e6:.0f} MB", flush=True)

        copy = copy_baseline(bench_url, path)
        print(f"  copy              {copy.rate:10,.0f} rows/s", flush=True)
        measures.append(copy)
        pg = run_import("import postgresql", pg_env, path, args.batch_size)
        pg = Measure(pg.name, pg.seconds, count_pg(bench_url), pg.peak_mb)
        print(f"  import postgresql {pg.rate:10,.0f} rows/s", flush=True)
        measures.append(pg)
        floor = copy_floor(bench_url, path)
        print(f"  copy journey_event{floor.rate:10,.0f} rows/s", flush=True)
        measures.append(floor)
        if not args.skip_sqlite:
            run_cli(sqlite_env, "db", "upgrade")
            run_cli(sqlite_env, *demo, "--complaints", "0")
            lite = run_import("import sqlite", sqlite_env, path, args.batch_size)
            database = tmp / "sqlite-instance" / "cxjourney.sqlite"
            lite = Measure(lite.name, lite.seconds, count_sqlite(database), lite.peak_mb)
            print(f"  import sqlite     {lite.rate:10,.0f} rows/s", flush=True)
            measures.append(lite)
    finally:
        drop_bench_database(url, args.bench_database)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(report(measures, copy))
    failed = False
    for m in measures:
        if m.rows != args.rows:
            print(f"{m.name}: {m.rows:,} rows stored, the file has {args.rows:,}", file=sys.stderr)
            failed = True
    ratio = pg.rate / copy.rate if copy.rate else 0.0
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"\nimport on PostgreSQL: {ratio * 100:.1f} % of COPY's rate — {verdict} the target "
        f"of ≥ {TARGET_RATIO * 100:.0f} %"
    )
    failed = failed or ratio < TARGET_RATIO
    for m in measures:
        if m.peak_mb is not None:
            verdict = "meets" if m.peak_mb < TARGET_PEAK_MB else "MISSES"
            print(
                f"{m.name}: peak {m.peak_mb:.0f} MB — {verdict} the target of "
                f"< {TARGET_PEAK_MB:.0f} MB"
            )
            failed = failed or m.peak_mb >= TARGET_PEAK_MB
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
