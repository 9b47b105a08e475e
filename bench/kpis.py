"""Time of the full KPI report (what ``GET /api/v1/reports/kpis`` computes) for a 12-month
window over a million journey events, against ``SELECT count(*) FROM journey_event`` timed
in the same run on the same data.

    .venv/bin/python bench/kpis.py --events 1000000 --customers 100000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The URL only says which PostgreSQL server to use: the benchmark creates its own database
(``cxjourney_bench_kpis`` by default) next to the one named, migrates it, loads the demo
journey without customers (``cxjourney demo --customers 0 --complaints 0``: stages,
touchpoints, teams, users, categories, SLA policies), generates the data in bulk with
``COPY`` and drops the database again at the end. The named database is never touched.
With ``--sqlite`` the same data goes into a SQLite instance in a temporary folder too, and
gets its own ratio.

Generated with a fixed seed, spread over the two years before the report's end:
customers acquired over three years (15 % of them churned, 10 % referred, four segments),
journey events, feedback (3 % of the events' count; NPS, CSAT, CES, a fifth anonymous),
complaints (2 %; 80 % answered, 70 % resolved with a timeline entry, a few reopened, SLA
dues, some breached) and revenue and cost records (1.5 per customer).

The report window is the last 12 full calendar months (local time), so the comparison
window is the 12 months before it. Each measurement runs once unmeasured, then ``--runs``
times; the median counts. Target: the report takes at most 5 × the count. Exit status 1
on a miss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import URL, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The sibling benchmark's database helpers.
from pages import ROOT, create_bench_database, drop_bench_database, run_cli

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TARGET_FACTOR = 5.0  # the report should take at most 5 × SELECT count(*) FROM journey_event
ZONE = ZoneInfo("Europe/Berlin")
CHANNELS = ["PHONE", "EMAIL", "LETTER", "WEB", "APP", "CHAT", "IN_PERSON", "SMS"]
SEGMENTS = ["private", "business", "heat", "solar"]
SEVERITIES = ["LOW", "MEDIUM", "MEDIUM", "HIGH", "CRITICAL"]
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]


CUSTOMER = Table(
    "customer",
    (
        "external_ref",
        "name",
        "segment",
        "acquired_at",
        "churned_at",
        "contact_consent",
        "created_at",
        "updated_at",
    ),
)
EVENT = Table(
    "journey_event",
    ("customer_id", "touchpoint_id", "occurred_at", "channel", "source", "created_at"),
)
FEEDBACK = Table(
    "feedback_response",
    (
        "touchpoint_id",
        "kind",
        "score",
        "channel",
        "submitted_at",
        "customer_id",
        "contact_consent",
        "source",
        "created_at",
    ),
)
COMPLAINT = Table(
    "complaint",
    (
        "reference",
        "customer_id",
        "touchpoint_id",
        "channel",
        "category_id",
        "severity",
        "subject",
        "description",
        "desired_outcome",
        "status",
        "team_id",
        "assignee_id",
        "routed_by",
        "created_by_id",
        "received_at",
        "created_at",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "reopen_count",
        "sla_policy_id",
        "first_response_due_at",
        "resolution_due_at",
        "paused_seconds",
        "version",
    ),
)
COMPLAINT_EVENT = Table(
    "complaint_event", ("complaint_id", "kind", "at", "actor_id", "actor_label", "data")
)
VALUE = Table(
    "customer_value", ("customer_id", "kind", "amount", "occurred_on", "source", "created_at")
)


@dataclass(frozen=True)
class Keys:
    """Ids of the demo journey the generated rows refer to."""

    touchpoints: list[int]
    team: int
    category: list[int]
    policy: int
    agents: list[int]


# --- writers ---------------------------------------------------------------------------------


class Store:
    """Bulk rows into one database: COPY on PostgreSQL, executemany on SQLite."""

    def write(self, table: Table, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError


class PgStore(Store):
    def __init__(self, url: URL) -> None:
        self.conn = psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            dbname=url.database,
        )

    def write(self, table: Table, rows: Iterable[Sequence[Any]]) -> None:
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        self.conn.commit()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql).fetchall())  # type: ignore[arg-type]

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)  # type: ignore[arg-type]
        self.conn.commit()

    def finish(self) -> None:
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        self.conn.close()


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: UTC times without offset, text amounts."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)

    def write(self, table: Table, rows: Iterable[Sequence[Any]]) -> None:
        marks = ", ".join("?" for _ in table.columns)
        statement = f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})"  # noqa: S608 - constants
        self.conn.executemany(statement, ([_sqlite_value(v) for v in row] for row in rows))
        self.conn.commit()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql).fetchall()

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)
        self.conn.commit()

    def finish(self) -> None:
        self.conn.execute("ANALYZE")
        self.conn.commit()
        self.conn.close()


# --- data ------------------------------------------------------------------------------------


def report_window(now: datetime) -> tuple[datetime, datetime]:
    """The last 12 full calendar months, local time, in UTC."""
    local = now.astimezone(ZONE)
    end = datetime(local.year, local.month, 1, tzinfo=ZONE)
    start = datetime(local.year - 1, local.month, 1, tzinfo=ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


def demo_keys(store: Store) -> Keys:
    agents = [
        i for (i,) in store.query("SELECT id FROM \"user\" WHERE role IN ('AGENT', 'TEAM_LEAD')")
    ]
    if not agents:
        agents = [i for (i,) in store.query('SELECT id FROM "user"')]
    return Keys(
        touchpoints=[i for (i,) in store.query("SELECT id FROM touchpoint ORDER BY id")],
        team=store.query("SELECT min(id) FROM team")[0][0],
        category=[i for (i,) in store.query("SELECT id FROM category ORDER BY id")],
        policy=store.query("SELECT min(id) FROM sla_policy")[0][0],
        agents=agents,
    )


def generate(
    store: Store, *, customers: int, events: int, seed: int, end: datetime, now: datetime
) -> None:
    """Customers, events, feedback, complaints with their timelines, value records."""
    rng = random.Random(seed)
    keys = demo_keys(store)
    first = end - timedelta(days=730)
    span = (now - first).total_seconds()

    def moment(after: datetime = first) -> datetime:
        low = max(after, first)
        return low + timedelta(seconds=rng.random() * max((now - low).total_seconds(), 1.0))

    people: list[tuple[datetime, datetime | None]] = []
    for _ in range(customers):
        acquired = end - timedelta(days=1095) + timedelta(seconds=rng.random() * span * 1.5)
        acquired = min(acquired, now - DAY)
        churned = moment(acquired + DAY) if rng.random() < 0.15 else None
        people.append((acquired, churned))
    store.write(
        CUSTOMER,
        (
            (f"B-{n:07d}", f"Bench {n}", rng.choice(SEGMENTS), a, c, False, now, now)
            for n, (a, c) in enumerate(people)
        ),
    )
    ids = [i for (i,) in store.query("SELECT id FROM customer ORDER BY id")]
    if len(ids) != customers:
        sys.exit(f"{len(ids)} customers stored, expected {customers}")
    # Every tenth was referred by the customer before it.
    store.execute(
        "UPDATE customer SET referred_by_id = id - 1 "
        "WHERE id % 10 = 0 AND id > (SELECT min(id) FROM customer)"
    )
    print(f"  {customers:,} customers", flush=True)

    store.write(
        EVENT,
        (
            (
                rng.choice(ids),
                rng.choice(keys.touchpoints),
                moment(),
                rng.choice(CHANNELS),
                "bench",
                now,
            )
            for _ in range(events)
        ),
    )
    print(f"  {events:,} journey events", flush=True)

    def feedback() -> Iterator[tuple[Any, ...]]:
        for _ in range(events * 3 // 100):
            kind = rng.choice(["NPS", "NPS", "CSAT", "CES"])
            score = {"NPS": rng.randint(0, 10), "CSAT": rng.randint(1, 5)}.get(
                kind, rng.randint(1, 7)
            )
            customer = rng.choice(ids) if rng.random() < 0.8 else None
            at = moment()
            yield (rng.choice(keys.touchpoints), kind, score, rng.choice(CHANNELS), at, customer)

    store.write(FEEDBACK, ((*row, False, "API", now) for row in feedback()))
    print(f"  {events * 3 // 100:,} feedback responses", flush=True)

    complaint_count = events * 2 // 100
    plans: list[tuple[datetime, datetime | None, int, bool]] = []
    rows = []
    for n in range(complaint_count):
        received = moment()
        answered = (
            received + timedelta(hours=rng.expovariate(1 / 20)) if rng.random() < 0.8 else None
        )
        resolved = (
            received + timedelta(hours=rng.expovariate(1 / 90)) if rng.random() < 0.7 else None
        )
        if answered is not None and answered > now:
            answered = None
        if resolved is not None and resolved > now:
            resolved = None
        reopened = resolved is not None and rng.random() < 0.05
        agent = rng.choice(keys.agents)
        status = "RESOLVED" if resolved is not None else "IN_PROGRESS"
        plans.append((received, resolved, agent, reopened))
        rows.append(
            (
                f"BX-{n:07d}",
                rng.choice(ids),
                rng.choice(keys.touchpoints),
                rng.choice(CHANNELS),
                rng.choice(keys.category),
                rng.choice(SEVERITIES),
                "Bench complaint",
                "Generated.",
                "",
                status,
                keys.team,
                agent,
                "bench",
                agent if rng.random() < 0.6 else rng.choice(keys.agents),
                received,
                received,
                resolved or received,
                answered,
                resolved,
                1 if reopened else 0,
                keys.policy,
                received + timedelta(hours=24),
                received + timedelta(days=5),
                0,
                1,
            )
        )
    store.write(COMPLAINT, rows)
    complaint_ids = [
        i for (i,) in store.query("SELECT id FROM complaint WHERE routed_by = 'bench' ORDER BY id")
    ]

    def timeline() -> Iterator[tuple[Any, ...]]:
        resolve = json.dumps({"from": "in_progress", "to": "resolved"})
        for complaint_id, (received, resolved, agent, reopened) in zip(
            complaint_ids, plans, strict=True
        ):
            yield (complaint_id, "CREATED", received, agent, "bench", None)
            if resolved is not None:
                yield (complaint_id, "STATUS_CHANGED", resolved, agent, "bench", resolve)
                if reopened:
                    yield (complaint_id, "REOPENED", resolved + DAY, agent, "bench", None)

    store.write(COMPLAINT_EVENT, timeline())
    print(f"  {complaint_count:,} complaints with their timelines", flush=True)

    def values() -> Iterator[tuple[Any, ...]]:
        for customer_id, (acquired, _churned) in zip(ids, people, strict=True):
            day = acquired.astimezone(ZONE).date()
            yield (customer_id, "REVENUE", Decimal(rng.randint(100, 500_000)) / 100, day)
            if rng.random() < 0.5:
                cost_day = day + timedelta(days=rng.randint(0, 600))
                yield (customer_id, "COST", Decimal(rng.randint(100, 50_000)) / 100, cost_day)

    store.write(VALUE, ((*row, "bench", now) for row in values()))
    print("  value records", flush=True)
    store.finish()


# --- timing ----------------------------------------------------------------------------------


def median_seconds(action: Callable[[], object], runs: int) -> float:
    action()  # warm: caches, plans, pages
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def time_report(env: dict[str, str], runs: int, now: datetime) -> tuple[float, float, Any]:
    """(report seconds, count seconds, the report) in this process, through the app."""
    os.environ.update(env)
    from sqlalchemy import text

    from cxjourney import create_app
    from cxjourney.analytics.kpis import kpi_report, resolve_filters
    from cxjourney.extensions import db

    app = create_app()
    start, end = report_window(now)
    with app.app_context():
        session = db.session
        timezone = app.config["BABEL_DEFAULT_TIMEZONE"]

        def run_report() -> Any:
            filters = resolve_filters(session)
            result = kpi_report(
                session, start=start, end=end, filters=filters, now=now, timezone=timezone
            )
            session.rollback()
            return result

        def run_count() -> Any:
            result = session.execute(text("SELECT count(*) FROM journey_event")).scalar()
            session.rollback()
            return result

        report_s = median_seconds(run_report, runs)
        count_s = median_seconds(run_count, runs)
        result = run_report()
        db.engine.dispose()
    return report_s, count_s, result


def measure(label: str, env: dict[str, str], runs: int, now: datetime) -> tuple[float, float]:
    """Time in a fresh interpreter (one app per database)."""
    import subprocess

    code = (
        "import sys, json; sys.path.insert(0, 'bench'); import kpis; "
        "from datetime import datetime; "
        f"r, c, rep = kpis.time_report({{}}, {runs}, datetime.fromisoformat({now.isoformat()!r})); "
        "print(json.dumps({'report': r, 'count': c, 'contacts': rep.metrics['contacts'].value, "
        "'churn_rate': rep.metrics['churn_rate'].value, "
        "'complaints': rep.metrics['complaints'].value}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if completed.returncode != 0:
        sys.exit(f"{label}: timing failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    print(
        f"  {label}: report {figures['report'] * 1000:.1f} ms, count "
        f"{figures['count'] * 1000:.1f} ms (contacts {figures['contacts']:,}, complaints "
        f"{figures['complaints']:,}, churn rate {figures['churn_rate']:.2f} %)",
        flush=True,
    )
    return float(figures["report"]), float(figures["count"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs (median counts)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sqlite", action="store_true", help="also on SQLite")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="a PostgreSQL URL; only its server and credentials are used",
    )
    parser.add_argument("--bench-database", default="cxjourney_bench_kpis")
    args = parser.parse_args(argv)

    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    if url.database == args.bench_database:
        parser.error("--bench-database must differ from the database in --database-url")
    url = url.set(drivername="postgresql+psycopg")

    now = datetime.now(UTC).replace(microsecond=0)
    _start, end = report_window(now)
    bench_url = create_bench_database(url, args.bench_database)
    tmp = Path(tempfile.mkdtemp(prefix="cxjourney-bench-kpis-"))
    results: dict[str, tuple[float, float]] = {}
    try:
        base = {
            **os.environ,
            "CXJOURNEY_ENV": "development",
            "SECRET_KEY": f"bench-kpis-{args.seed}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for name in ("REDIS_URL", "DATABASE_URL"):
            base.pop(name, None)
        envs = {
            "postgresql": {
                **base,
                "DATABASE_URL": bench_url.render_as_string(hide_password=False),
                "CXJOURNEY_INSTANCE_PATH": str(tmp / "pg-instance"),
            }
        }
        if args.sqlite:
            envs["sqlite"] = {**base, "CXJOURNEY_INSTANCE_PATH": str(tmp / "sqlite-instance")}
        for name, env in envs.items():
            print(f"{name}: migrating, loading the demo journey, generating …", flush=True)
            run_cli(env, "db", "upgrade")
            run_cli(env, "demo", "--customers", "0", "--complaints", "0")
            began = time.perf_counter()
            store: Store = (
                PgStore(bench_url)
                if name == "postgresql"
                else SqliteStore(tmp / "sqlite-instance" / "cxjourney.sqlite")
            )
            generate(
                store,
                customers=args.customers,
                events=args.events,
                seed=args.seed,
                end=end,
                now=now,
            )
            print(f"  generated in {time.perf_counter() - began:.0f} s", flush=True)
            results[name] = measure(name, env, args.runs, now)
    finally:
        drop_bench_database(url, args.bench_database)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'database':<11} {'report ms':>10} {'count ms':>9} {'ratio':>6}")
    failed = False
    for name, (report_s, count_s) in results.items():
        ratio = report_s / count_s if count_s else float("inf")
        print(f"{name:<11} {report_s * 1000:10.1f} {count_s * 1000:9.1f} {ratio:6.2f}")
        verdict = "meets" if ratio <= TARGET_FACTOR else "MISSES"
        print(f"  {name}: report = {ratio:.2f} × count — {verdict} the target of ≤ 5 ×")
        failed = failed or ratio > TARGET_FACTOR
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
