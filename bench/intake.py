"""Throughput and latency of complaint intake (``POST /api/v1/complaints``) under gunicorn,
against a bare Flask endpoint that inserts one row, on the same stack.

    .venv/bin/python bench/intake.py --duration 30 --clients 16 --workers 2 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The URL only says which PostgreSQL server to use: the benchmark creates its own database
(``cxjourney_bench_intake`` by default) next to the one named, migrates it, loads the demo
company (its customers, categories, routing rules and SLA policies, 1,500 complaints), issues
an API token for the demo agent, serves the app and the baseline with gunicorn, and drops
the database again at the end. The named database is never touched.

Targets, one after the other in the same run (each with a short warm-up first):

* ``bare-insert``  ``POST /`` of ``bench/bare_insert_app.py``: Flask + Flask-SQLAlchemy,
  parse the JSON body, insert one row into a one-table schema, commit, answer 201
* ``intake``       ``POST /api/v1/complaints`` with the agent's bearer token: validation,
  routing (rules, round-robin row lock, least-loaded counts), SLA dues, reference, timeline

Both get the same bodies: customers, touchpoints, channels, categories and severities drawn
from the demo (fixed seed), so routing takes every path. Each target is driven by
``--clients`` threads with keep-alive ``http.client`` connections (they reconnect whenever
the server closes). Reported: requests/s of successful (201) answers, p50/p95 latency in ms,
errors (any other answer or exception) and intake's throughput relative to the bare insert.
Afterwards the complaints in the database are counted against the 201 answers. Exit status
1 when any request failed or the count differs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The sibling benchmark's database and server helpers.
from pages import (
    BIN,
    ROOT,
    Server,
    create_bench_database,
    drop_bench_database,
    start_gunicorn,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AGENT_EMAIL = "agent@stadtwerke-lindenau.example"
USER_AGENT = "cxjourney-bench/1"
TARGET_RATIO = 0.40  # intake should reach at least 40 % of the bare insert's throughput
CHANNELS = ["phone", "email", "letter", "fax", "web", "chat", "app", "in_person"]
SEVERITIES = ["low", "medium", "medium", "medium", "high", "critical"]


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    headers: dict[str, str]


@dataclass
class Result:
    target: Target
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: int) -> float | None:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else None
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000


# --- set-up ----------------------------------------------------------------------------------


def cli(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [str(BIN / "cxjourney"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if completed.returncode != 0:
        sys.exit(f"cxjourney {' '.join(args)} failed:\n{completed.stdout}{completed.stderr}")
    return completed.stdout


def api_get(port: int, path: str, token: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 200:
        sys.exit(f"GET {path}: {response.status} {body[:300]!r}")
    return json.loads(body)


def wait_until_up(server: Server, method: str, path: str, timeout: float = 60.0) -> None:
    """Until the server answers anything below 500 (both targets answer GET with 4xx)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"gunicorn ({server.name}) exited:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request(method, path)
            status = conn.getresponse().status
            conn.close()
        except OSError:
            time.sleep(0.2)
            continue
        if status < 500:
            return
        time.sleep(0.2)
    sys.exit(f"gunicorn ({server.name}) did not answer {path} in {timeout:.0f} s")


def bodies(port: int, token: str, count: int = 1000) -> list[bytes]:
    """Complaint bodies from the demo's customers, touchpoints and categories (fixed seed)."""
    customers = [
        c["external_ref"] for c in api_get(port, "/api/v1/customers?limit=200", token)["items"]
    ]
    categories = [c["key"] for c in api_get(port, "/api/v1/categories", token)["items"]]
    journey = api_get(port, "/api/v1/journey", token)
    touchpoints = [tp["key"] for tp in journey["touchpoints"] if not tp.get("archived")]
    if not (customers and categories and touchpoints):
        sys.exit("the demo has no customers, categories or touchpoints to complain about")
    rng = random.Random(2026)
    return [
        json.dumps(
            {
                "customer_ref": rng.choice(customers),
                "touchpoint": rng.choice(touchpoints),
                "channel": rng.choice(CHANNELS),
                "category": rng.choice(categories),
                "severity": rng.choice(SEVERITIES),
                "subject": f"Benchmark {n}: Rechnung doppelt abgebucht",
                "description": "Der Abschlag wurde zweimal abgebucht. Bitte erstatten.",
            }
        ).encode()
        for n in range(count)
    ]


# --- load ------------------------------------------------------------------------------------


def drive(port: int, target: Target, payloads: list[bytes], clients: int, seconds: float) -> Result:
    """``clients`` threads POST ``target`` as fast as they can for ``seconds``."""
    result = Result(target)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]
    headers = {**target.headers, "Content-Type": "application/json", "User-Agent": USER_AGENT}

    def client(offset: int) -> None:
        latencies: list[float] = []
        errors: list[str] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = offset
        start.wait()
        while (now := time.perf_counter()) < deadline[0]:
            body = payloads[n % len(payloads)]
            n += clients
            try:
                conn.request("POST", target.path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            if response.status == 201:
                latencies.append(time.perf_counter() - now)
            else:
                errors.append(f"HTTP {response.status} {answer[:200]!r}")
        conn.close()
        with lock:
            result.latencies += latencies
            result.errors += len(errors)
            result.first_errors += errors[: 5 - len(result.first_errors)]

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - began
    return result


# --- report ----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def report(results: list[Result]) -> str:
    bare = results[0]
    rows = [("target", "path", "requests", "req/s", "p50 ms", "p95 ms", "errors", "vs bare")]
    for r in results:
        ratio = f"{r.rps / bare.rps * 100:.1f} %" if bare.rps else "–"
        rows.append(
            (
                r.target.name,
                f"POST {r.target.path}",
                str(len(r.latencies)),
                f"{r.rps:.1f}",
                _ms(r.percentile(50)),
                _ms(r.percentile(95)),
                str(r.errors),
                ratio,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def count_complaints(url: URL, subject_prefix: str) -> int:
    with psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database,
    ) as conn:
        row = conn.execute(
            "SELECT count(*) FROM complaint WHERE subject LIKE %s", (subject_prefix + "%",)
        ).fetchone()
    return int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30, help="seconds per target")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds per target")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="a PostgreSQL URL; only its server and credentials are used",
    )
    parser.add_argument("--bench-database", default="cxjourney_bench_intake")
    args = parser.parse_args(argv)

    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    if url.database == args.bench_database:
        parser.error("--bench-database must differ from the database in --database-url")
    url = url.set(drivername="postgresql+psycopg")

    bench_url = create_bench_database(url, args.bench_database)
    tmp = Path(tempfile.mkdtemp(prefix="cxjourney-bench-intake-"))
    servers: list[Server] = []
    results: list[Result] = []
    stored = -1
    try:
        env = {
            **os.environ,
            "DATABASE_URL": bench_url.render_as_string(hide_password=False),
            "CXJOURNEY_INSTANCE_PATH": str(tmp / "instance"),
            "CXJOURNEY_ENV": "development",
            "SECRET_KEY": secrets.token_hex(32),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("REDIS_URL", None)
        print(f"database {args.bench_database}: migrating and loading the demo …", flush=True)
        cli(env, "db", "upgrade")
        began = time.perf_counter()
        cli(env, "demo", "--reset")
        print(f"  demo loaded in {time.perf_counter() - began:.1f} s", flush=True)
        token = cli(env, "users", "token", AGENT_EMAIL).strip().splitlines()[-1]

        # The baseline's table exists before its workers start (they would race to create it).
        subprocess.run(
            [sys.executable, "-c", "from bench.bare_insert_app import create_app; create_app()"],
            env=env,
            cwd=ROOT,
            check=True,
        )
        bare = start_gunicorn(
            "bare-insert",
            "bench.bare_insert_app:create_app()",
            env,
            args.workers,
            args.threads,
            tmp,
        )
        servers.append(bare)
        app = start_gunicorn("app", "cxjourney:create_app()", env, args.workers, args.threads, tmp)
        servers.append(app)
        wait_until_up(bare, "GET", "/")
        wait_until_up(app, "GET", "/login")
        payloads = bodies(app.port, token)
        targets = [
            (bare.port, Target("bare-insert", "/", {})),
            (
                app.port,
                Target("intake", "/api/v1/complaints", {"Authorization": f"Bearer {token}"}),
            ),
        ]
        print(
            f"{len(targets)} targets × {args.duration:g} s, {args.clients} clients, "
            f"gunicorn {args.workers} workers × {args.threads} threads, {os.cpu_count()} CPUs",
            flush=True,
        )
        warmed = 0
        for port, target in targets:
            if args.warmup > 0:
                warm = drive(port, target, payloads, args.clients, args.warmup)
                warmed += len(warm.latencies) if target.name == "intake" else 0
            result = drive(port, target, payloads, args.clients, args.duration)
            print(f"  {target.name:<12} {result.rps:8.1f} req/s", flush=True)
            results.append(result)
        stored = count_complaints(bench_url, "Benchmark ") - warmed
    finally:
        for server in servers:
            server.stop()
        drop_bench_database(url, args.bench_database)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(report(results))
    bare_result, intake = results
    ratio = intake.rps / bare_result.rps if bare_result.rps else 0.0
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    print(
        f"\nintake: {ratio * 100:.1f} % of the bare insert's throughput — {verdict} the target "
        f"of ≥ {TARGET_RATIO * 100:.0f} %"
    )
    print(f"complaints stored by the measured run: {stored} (201 answers: {len(intake.latencies)})")
    failed = sum(r.errors for r in results)
    for r in results:
        for message in r.first_errors:
            print(f"  error on {r.target.name}: {message}", file=sys.stderr)
    if failed:
        print(f"{failed} requests failed", file=sys.stderr)
    if stored != len(intake.latencies):
        print("the database does not hold one complaint per 201 answer", file=sys.stderr)
    return 1 if failed or stored != len(intake.latencies) else 0


if __name__ == "__main__":
    sys.exit(main())
