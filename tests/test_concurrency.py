"""Acceptance: concurrent intake and concurrent edits under gunicorn with several workers.

Runs on PostgreSQL only: the point is row locks and row versions between processes, and
SQLite serialises every writer, so the races could not happen there.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth import services as auth_services
from cxjourney.auth.models import Role
from cxjourney.complaints.models import AssignmentStrategy, Complaint
from cxjourney.complaints.routing import RuleInput, save_rule

from .factories import T0, make_category, make_customer, make_team, make_touchpoint

INTAKES = 50
CLIENT_THREADS = 16
AGENTS = 4
RACE_ROUNDS = 8
REFERENCE = re.compile(r"CX-\d{4}-\d{6}")


@dataclass(frozen=True)
class Server:
    port: int
    token: str
    agents: list[str]  # emails


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _set_up(session: Session) -> tuple[str, list[str]]:
    """A team of four agents taking turns (round robin), a customer, touchpoint, category."""
    team = make_team(session, "Eingangsteam")
    touchpoint = make_touchpoint(session, "hotline", owner_team=team)
    make_category(session)
    make_customer(session)
    agents = [
        auth_services.create_user(
            session,
            email=f"agent{n}@example.org",
            name=f"Agent {n}",
            role=Role.AGENT,
            password="correct-horse-battery",
            team=team,
            language="en",
            actor=None,
            at=T0,
        )
        for n in range(1, AGENTS + 1)
    ]
    rule = RuleInput(
        "Alles an das Eingangsteam",
        1,
        team,
        touchpoint=touchpoint,
        strategy=AssignmentStrategy.ROUND_ROBIN,
    )
    save_rule(session, None, rule, actor=None, at=T0)
    token = auth_services.issue_token(session, agents[0], actor=None, at=T0)
    session.commit()
    return token, [a.email for a in agents]


def _request(
    port: int, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        return _send(connection, method, path, token, body)
    finally:
        connection.close()


def _send(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    token: str,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    payload = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        payload = json.dumps(body)
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else None


@pytest.fixture
def server(app: Flask, db_session: Session, tmp_path: Path) -> Iterator[Server]:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip(
            "concurrency acceptance needs PostgreSQL (SQLite serialises all writers): "
            "run with TEST_DATABASE_URL=postgresql+psycopg://…"
        )
    token, agents = _set_up(db_session)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CXJOURNEY_INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": secrets.token_hex(32),
    }
    env.pop("REDIS_URL", None)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    # Two processes with eight threads each: up to 16 requests at once, in two workers.
    command = [gunicorn, "--workers", "2", "--threads", "8", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "cxjourney:create_app()"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
            try:
                if _request(port, "GET", "/api/v1/me", token)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not start")
            time.sleep(0.2)
        yield Server(port, token, agents)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _log_complaint(server: Server, n: int) -> tuple[int, Any]:
    body = {
        "customer_ref": "K-1000",
        "touchpoint": "hotline",
        "channel": "phone",
        "category": "billing",
        "severity": "medium",
        "subject": f"Rechnung {n} doppelt abgebucht",
        "description": "Der Betrag wurde zweimal abgebucht.",
    }
    return _request(server.port, "POST", "/api/v1/complaints", server.token, body)


def _log_in_parallel(server: Server) -> list[tuple[int, Any]]:
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        return list(pool.map(lambda n: _log_complaint(server, n), range(INTAKES)))


def test_parallel_intake_gets_distinct_references_and_fair_turns(
    server: Server, db_session: Session
) -> None:
    answers = _log_in_parallel(server)
    assert [status for status, _body in answers] == [201] * INTAKES, answers[:3]
    references = [body["reference"] for _status, body in answers]
    assert len(set(references)) == INTAKES
    assert all(REFERENCE.fullmatch(ref) for ref in references)
    per_agent = Counter(body["assignee"] for _status, body in answers)
    assert set(per_agent) == set(server.agents)
    assert max(per_agent.values()) - min(per_agent.values()) <= 1, per_agent
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Complaint)) == INTAKES


def _race(server: Server, reference: str, version: int) -> list[tuple[int, Any]]:
    """Two transitions of the same version, released at the same moment."""
    barrier = threading.Barrier(2)
    body = {"to": "in_progress", "version": version}
    path = f"/api/v1/complaints/{reference}/transition"

    def attempt() -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            connection.connect()  # only the request itself waits for the barrier
            barrier.wait(timeout=30)
            return _send(connection, "POST", path, server.token, body)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda _n: attempt(), range(2)))


def test_concurrent_transitions_of_one_version_let_exactly_one_win(server: Server) -> None:
    created = [body for _status, body in _log_in_parallel(server)][:RACE_ROUNDS]
    true_races = 0
    for complaint in created:
        reference = complaint["reference"]
        assert complaint["version"] >= 1
        answers = _race(server, reference, complaint["version"])
        assert sorted(status for status, _body in answers) == [200, 409], answers
        loser = next(body for status, body in answers if status == 409)
        assert loser["error"]["code"] == "conflict"
        # The early version check says "in the meantime"; the row version (both requests
        # read the same version and raced to write it) says "at the same moment".
        true_races += "same moment" in loser["error"]["message"]
        status, after = _request(
            server.port, "GET", f"/api/v1/complaints/{reference}", server.token
        )
        assert status == 200
        assert after["status"] == "in_progress"
        assert after["version"] == complaint["version"] + 1
        moves = [e for e in after["timeline"] if e["kind"] == "status_changed"]
        assert [(e["data"]["from"], e["data"]["to"]) for e in moves] == [("new", "in_progress")]
    # The rounds really overlapped: at least one was decided by the row version.
    assert true_races >= 1
