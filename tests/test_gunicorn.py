"""The app under gunicorn with several workers: login throttling shared through Redis."""

from __future__ import annotations

import http.client
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role

from .conftest import make_user

REDIS_URL = os.environ.get("CXJOURNEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gunicorn(app: Flask, db_session: Session, tmp_path: Path) -> Iterator[int]:
    if not _redis_available():
        if os.environ.get("CI"):
            pytest.fail("Redis is not running on 127.0.0.1:6379")
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": REDIS_URL,
        "CXJOURNEY_INSTANCE_PATH": str(tmp_path),
        "SECRET_KEY": secrets.token_hex(32),
    }
    gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
    process = subprocess.Popen(
        [gunicorn_bin, "--workers", "2", "--bind", f"127.0.0.1:{port}", "cxjourney:create_app()"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def _attempt(port: int, email: str, password: str) -> int:
    """One sign-in on a fresh connection (so the two workers share the attempts)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/login")
    page = connection.getresponse()
    html = page.read().decode()
    cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = urlencode({"email": email, "password": password, "csrf_token": token})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    connection.request("POST", "/login", body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_login_throttle_is_shared_by_all_workers_through_redis(
    gunicorn: int, db_session: Session
) -> None:
    email = f"throttle-{secrets.token_hex(4)}@example.org"
    make_user(db_session, Role.VIEWER, email=email)
    statuses = [_attempt(gunicorn, email, f"wrong-{i}") for i in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
