"""Throughput and latency of the journey pages against a bare Flask endpoint, under gunicorn.

    .venv/bin/python bench/pages.py --duration 20 --clients 8 --workers 2 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

The URL only says which PostgreSQL server to use: the benchmark creates its own database
(``cxjourney_bench`` by default) next to the one named, migrates it, loads the demo company,
serves it with gunicorn, and drops it again at the end. The named database is never touched.

Targets, one after the other in the same run (each with a short warm-up first):

* ``bare``        ``/`` of ``bench/bare_app.py``: Flask + Flask-SQLAlchemy + ``SELECT 1``
* ``map``         ``/journey/`` signed in as the demo touchpoint manager
* ``touchpoint``  ``/journey/touchpoints/hotline``, same session

Each target is driven by ``--clients`` threads with keep-alive ``http.client`` connections
(they reconnect whenever the server closes: gunicorn's sync workers close after every
response). Reported: requests/s of successful responses, p50/p95 latency in ms, errors
(non-200 answers and exceptions) and each page's throughput relative to ``bare``.
Exit status 1 when any request failed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOGIN_EMAIL = "manager@stadtwerke-lindenau.example"
LOGIN_PASSWORD = "cxjourney-demo"
USER_AGENT = "cxjourney-bench/1"
MAP_TARGET_RATIO = 0.25  # the map page should reach at least 25 % of the bare throughput


@dataclass(frozen=True)
class Target:
    name: str
    server: str  # "bare" or "app"
    path: str


TARGETS = [
    Target("bare", "bare", "/"),
    Target("map", "app", "/journey/"),
    Target("touchpoint", "app", "/journey/touchpoints/hotline"),
]


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


# --- database --------------------------------------------------------------------------------


def _connect_admin(url: URL) -> psycopg.Connection:
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
    )


def create_bench_database(url: URL, name: str) -> URL:
    """(Re)create database ``name`` on the server of ``url``; returns its URL."""
    with _connect_admin(url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:  # left over from an interrupted run: start from a fresh schema anyway
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url.set(database=name)


def drop_bench_database(url: URL, name: str) -> None:
    with _connect_admin(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# --- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: dict[str, str], *args: str) -> None:
    completed = subprocess.run(
        [str(BIN / "cxjourney"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if completed.returncode != 0:
        sys.exit(f"cxjourney {' '.join(args)} failed:\n{completed.stdout}{completed.stderr}")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_gunicorn(
    name: str, app: str, env: dict[str, str], workers: int, threads: int, logdir: Path
) -> Server:
    port = free_port()
    log = logdir / f"gunicorn-{name}.log"
    command = [str(BIN / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    if threads > 1:
        command += ["--threads", str(threads)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, app], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(name, port, process, log)


def wait_until_up(server: Server, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"gunicorn ({server.name}) exited:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request("GET", path)
            status = conn.getresponse().status
            conn.close()
        except OSError:
            time.sleep(0.2)
            continue
        if status < 500:
            return
        time.sleep(0.2)
    sys.exit(f"gunicorn ({server.name}) did not answer {path} in {timeout:.0f} s")


# --- HTTP ------------------------------------------------------------------------------------


def _cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie()
        cookie.load(header)
        for key, morsel in cookie.items():
            jar[key] = morsel.value


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def login(port: int) -> str:
    """Sign in through the real form; returns the Cookie header of the session."""
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login", headers={"User-Agent": USER_AGENT})
    response = conn.getresponse()
    page = response.read().decode()
    _cookies(response, jar)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    if not match:
        sys.exit("no csrf_token on /login")
    body = urllib.parse.urlencode(
        {"email": LOGIN_EMAIL, "password": LOGIN_PASSWORD, "csrf_token": match.group(1)}
    )
    conn.request(
        "POST",
        "/login",
        body=body,
        headers={
            "User-Agent": USER_AGENT,
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": _cookie_header(jar),
        },
    )
    response = conn.getresponse()
    response.read()
    _cookies(response, jar)
    conn.close()
    if response.status != 302 or "/login" in (response.getheader("Location") or ""):
        sys.exit(f"login failed: {response.status} {response.getheader('Location')}")
    return _cookie_header(jar)


def drive(
    port: int, target: Target, headers: dict[str, str], clients: int, seconds: float
) -> Result:
    """``clients`` threads request ``target`` as fast as they can for ``seconds``."""
    result = Result(target)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client() -> None:
        latencies: list[float] = []
        errors: list[str] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        while (now := time.perf_counter()) < deadline[0]:
            try:
                conn.request("GET", target.path, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            if response.status == 200:
                latencies.append(time.perf_counter() - now)
            else:
                errors.append(f"HTTP {response.status} {response.getheader('Location') or ''}")
        conn.close()
        with lock:
            result.latencies += latencies
            result.errors += len(errors)
            result.first_errors += errors[: 5 - len(result.first_errors)]

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
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
    bare = next(r for r in results if r.target.name == "bare")
    rows = [("target", "path", "requests", "req/s", "p50 ms", "p95 ms", "errors", "vs bare")]
    for r in results:
        ratio = f"{r.rps / bare.rps * 100:.1f} %" if bare.rps else "–"
        rows.append(
            (
                r.target.name,
                r.target.path,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds per target")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per target")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        help="a PostgreSQL URL; only its server and credentials are used",
    )
    parser.add_argument("--bench-database", default="cxjourney_bench")
    args = parser.parse_args(argv)

    url = make_url(args.database_url)
    if not url.drivername.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    if url.database == args.bench_database:
        parser.error("--bench-database must differ from the database in --database-url")
    url = url.set(drivername="postgresql+psycopg")

    bench_url = create_bench_database(url, args.bench_database)
    tmp = Path(tempfile.mkdtemp(prefix="cxjourney-bench-"))
    servers: list[Server] = []
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
        run_cli(env, "db", "upgrade")
        run_cli(env, "demo", "--reset")

        bare = start_gunicorn(
            "bare", "bench.bare_app:create_app()", env, args.workers, args.threads, tmp
        )
        servers.append(bare)
        app = start_gunicorn("app", "cxjourney:create_app()", env, args.workers, args.threads, tmp)
        servers.append(app)
        wait_until_up(bare, "/")
        wait_until_up(app, "/login")
        ports = {"bare": bare.port, "app": app.port}
        base_headers = {"User-Agent": USER_AGENT, "Accept-Language": "de-DE,de;q=0.9"}
        headers = {"bare": base_headers, "app": {**base_headers, "Cookie": login(app.port)}}

        print(
            f"{len(TARGETS)} targets × {args.duration:g} s, {args.clients} clients, "
            f"gunicorn {args.workers} workers × {args.threads} threads, {os.cpu_count()} CPUs",
            flush=True,
        )
        results = []
        for target in TARGETS:
            port, target_headers = ports[target.server], headers[target.server]
            if args.warmup > 0:
                drive(port, target, target_headers, args.clients, args.warmup)
            result = drive(port, target, target_headers, args.clients, args.duration)
            print(f"  {target.name:<11} {result.rps:8.1f} req/s", flush=True)
            results.append(result)
    finally:
        for server in servers:
            server.stop()
        drop_bench_database(url, args.bench_database)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(report(results))
    bare_rps = results[0].rps
    map_result = next(r for r in results if r.target.name == "map")
    ratio = map_result.rps / bare_rps if bare_rps else 0.0
    verdict = "meets" if ratio >= MAP_TARGET_RATIO else "MISSES"
    print(
        f"\nmap page: {ratio * 100:.1f} % of bare throughput — {verdict} the target "
        f"of ≥ {MAP_TARGET_RATIO * 100:.0f} %"
    )
    errors = sum(r.errors for r in results)
    for r in results:
        for message in r.first_errors:
            print(f"  error on {r.target.name}: {message}", file=sys.stderr)
    if errors:
        print(f"{errors} requests failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
