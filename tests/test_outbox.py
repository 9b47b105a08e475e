"""The notification outbox against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role, User
from cxjourney.extensions import db
from cxjourney.notifications import services
from cxjourney.notifications.mailer import SmtpMailer, mailer_from_config
from cxjourney.notifications.models import OutboxMessage, OutboxStatus
from cxjourney.notifications.services import (
    SendReport,
    enqueue_message,
    retry_delay,
    send_pending,
)

from .conftest import ROOT, make_user
from .factories import T0

ASSIGNED = {
    "reference": "CX-2026-000042",
    "subject": "Zählerstand falsch übernommen",
    "touchpoint_name": "Erste Rechnung",
    "team_name": "Abrechnung",
    "url": "http://cx.example/complaints/CX-2026-000042",
}


# --- a real SMTP server ---------------------------------------------------------------------


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    received: list[EmailMessage] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.received.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox

    def mailer(self) -> SmtpMailer:
        return SmtpMailer(
            {
                "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": self.port,
                "MAIL_FROM": "cxjourney <noreply@cx.example>",
                "MAIL_TIMEOUT": 5,
            }
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_smtp_server(port: int | None = None, delay: float = 0.0) -> Iterator[SmtpServer]:
    inbox = Inbox(delay=delay)
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield SmtpServer(controller.port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


# --- helpers --------------------------------------------------------------------------------


def _enqueue(session: Session, recipient: User | None, **overrides: Any) -> OutboxMessage | None:
    arguments: dict[str, Any] = {
        "kind": "complaint_assigned",
        "recipient": recipient,
        "template": "complaint_assigned",
        "context": ASSIGNED,
        "dedupe_key": None,
        "at": T0,
    }
    arguments.update(overrides)
    return enqueue_message(session, **arguments)


def _messages(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _one(session: Session) -> OutboxMessage:
    messages = _messages(session)
    assert len(messages) == 1
    return messages[0]


# --- enqueue --------------------------------------------------------------------------------


def test_enqueue_renders_in_german_for_a_german_user(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT, email="de@example.org", language="de")
    message = _enqueue(db_session, user)
    db_session.commit()
    assert message is not None
    assert message.language == "de"
    assert message.to_address == "de@example.org"
    assert message.status is OutboxStatus.PENDING
    assert message.next_attempt_at == T0
    assert message.subject == (
        "Beschwerde CX-2026-000042 wurde Ihnen zugewiesen: Zählerstand falsch übernommen"
    )
    assert message.body.startswith("Guten Tag,\n\ndie Beschwerde CX-2026-000042 wurde Ihnen")
    assert "Touchpoint: Erste Rechnung" in message.body
    assert "Team: Abrechnung" in message.body
    assert "http://cx.example/complaints/CX-2026-000042" in message.body
    assert "Bitte antworten Sie nicht darauf." in message.body


def test_enqueue_renders_in_english_for_an_english_user(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT, email="en@example.org", language="en")
    message = _enqueue(db_session, user)
    assert message is not None
    assert message.language == "en"
    assert message.subject.startswith("Complaint CX-2026-000042 assigned to you")
    assert message.body.startswith("Hello,\n\nComplaint CX-2026-000042 has been assigned to you.")
    assert "Guten Tag" not in message.body


def test_a_user_without_a_language_gets_the_default_language(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT, language=None)
    message = _enqueue(db_session, user)
    assert message is not None
    assert message.language == "de"  # BABEL_DEFAULT_LOCALE
    assert "Guten Tag," in message.body


def test_the_recipients_language_wins_over_the_page_language(
    app: Flask, db_session: Session
) -> None:
    user = make_user(db_session, Role.AGENT, email="de@example.org", language="de")
    # An English-speaking agent's request causes the mail to a German colleague.
    with app.test_request_context(headers={"Accept-Language": "en"}):
        message = _enqueue(db_session, user)
    assert message is not None
    assert message.language == "de"
    assert "Guten Tag," in message.body


def test_escalation_shows_the_clock_and_the_due_time_in_the_configured_timezone(
    db_session: Session,
) -> None:
    german = make_user(db_session, Role.TEAM_LEAD, email="lead@example.org", language="de")
    english = make_user(db_session, Role.TEAM_LEAD, email="lead.en@example.org", language="en")
    context = {
        "reference": "CX-2026-000042",
        "subject": "Zählerstand",
        "clock": "first_response",
        "due_at": T0,  # 09:30 UTC is 10:30 in Berlin (CET)
        "url": "http://cx.example/complaints/CX-2026-000042",
    }
    messages = [
        _enqueue(
            db_session,
            user,
            kind="complaint_escalated",
            template="complaint_escalated",
            context=context,
        )
        for user in (german, english)
    ]
    de, en = messages
    assert de is not None
    assert en is not None
    assert de.subject == "Eskalation: Beschwerde CX-2026-000042 (erste Antwort)"
    assert "Servicelevel: erste Antwort" in de.body
    assert "Fällig: 2. März 2026" in de.body
    assert "10:30" in de.body
    assert en.subject == "Escalation: complaint CX-2026-000042 (first response)"
    assert "Service level: first response" in en.body
    assert "Due: March 2, 2026" in en.body
    assert "10:30" in en.body


@pytest.mark.parametrize(
    ("clock", "german"), [("next_update", "nächste Rückmeldung"), ("resolution", "Lösung")]
)
def test_escalation_names_every_clock(db_session: Session, clock: str, german: str) -> None:
    user = make_user(db_session, Role.TEAM_LEAD, language="de")
    message = _enqueue(
        db_session,
        user,
        template="complaint_escalated",
        context={"reference": "CX-1", "subject": "s", "clock": clock, "due_at": T0, "url": "u"},
    )
    assert message is not None
    assert f"({german})" in message.subject


def test_the_same_dedupe_key_twice_stores_one_message(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT)
    first = _enqueue(db_session, user, dedupe_key="complaint:42:assigned:7")
    second = _enqueue(db_session, user, dedupe_key="complaint:42:assigned:7")
    db_session.commit()
    assert first is not None
    assert second is None
    assert len(_messages(db_session)) == 1


def test_a_dedupe_key_stored_by_a_parallel_transaction_keeps_the_callers_transaction(
    app: Flask, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(db_session, Role.AGENT)
    with Session(bind=db.engine) as other:
        _enqueue(other, other.get(User, user.id), dedupe_key="complaint:42:assigned:7")
        other.commit()
    # The check ran before the other transaction committed: only the unique constraint
    # (inside a SAVEPOINT) sees the duplicate.
    monkeypatch.setattr(services, "find_message_by_dedupe_key", _missing_once())
    earlier = _enqueue(db_session, user, dedupe_key="complaint:42:earlier")
    duplicate = _enqueue(db_session, user, dedupe_key="complaint:42:assigned:7")
    db_session.commit()
    assert earlier is not None
    assert duplicate is None
    keys = [m.dedupe_key for m in _messages(db_session)]
    assert sorted(keys) == ["complaint:42:assigned:7", "complaint:42:earlier"]


def _missing_once() -> Any:
    real = services.find_message_by_dedupe_key
    calls = {"n": 0}

    def find(session: Session, dedupe_key: str) -> OutboxMessage | None:
        calls["n"] += 1
        if dedupe_key == "complaint:42:assigned:7" and calls["n"] == 2:
            return None  # the pre-check of the duplicate, before the parallel commit
        return real(session, dedupe_key)

    return find


def test_enqueue_commits_nothing_behind_the_callers_back(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT)
    assert _enqueue(db_session, user, dedupe_key="k") is not None
    db_session.rollback()
    assert _messages(db_session) == []


def test_an_inactive_recipient_gets_no_message(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT)
    user.active = False
    db_session.commit()
    assert _enqueue(db_session, user) is None
    assert _messages(db_session) == []


def test_a_message_without_any_address_is_skipped(db_session: Session) -> None:
    assert _enqueue(db_session, None, to_address="  ") is None
    assert _messages(db_session) == []


def test_an_explicit_address_needs_no_user(db_session: Session) -> None:
    message = _enqueue(db_session, None, to_address="team@example.org")
    assert message is not None
    assert message.recipient_id is None
    assert message.language == "de"


def test_secrets_never_go_into_a_message(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT)
    with pytest.raises(ValueError, match="token"):
        _enqueue(db_session, user, context={**ASSIGNED, "token": "cxj_secret"})
    assert _messages(db_session) == []


# --- send -----------------------------------------------------------------------------------


def test_send_delivers_the_message_over_smtp(db_session: Session, smtp: SmtpServer) -> None:
    user = make_user(db_session, Role.AGENT, email="de@example.org", language="de")
    _enqueue(db_session, user)
    db_session.commit()

    report = send_pending(db_session, smtp.mailer(), now=T0)

    assert report == SendReport(sent=1, failed=0, retried=0)
    [mail] = smtp.inbox.received
    assert mail["X-Envelope-To"] == "de@example.org"
    assert mail["To"] == "de@example.org"
    assert mail["From"] == "cxjourney <noreply@cx.example>"
    assert mail["Subject"] == (
        "Beschwerde CX-2026-000042 wurde Ihnen zugewiesen: Zählerstand falsch übernommen"
    )
    assert mail["Message-ID"].endswith("@cx.example>")
    assert mail["Date"]
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    body = mail.get_content()
    assert "die Beschwerde CX-2026-000042 wurde Ihnen zugewiesen." in body
    assert "Zählerstand falsch übernommen" in body
    message = _one(db_session)
    assert message.status is OutboxStatus.SENT
    assert message.sent_at == T0
    assert message.attempts == 1
    assert message.claimed_until is None
    assert message.last_error is None


def test_a_second_run_sends_nothing_more(db_session: Session, smtp: SmtpServer) -> None:
    user = make_user(db_session, Role.AGENT)
    _enqueue(db_session, user)
    _enqueue(db_session, user, dedupe_key="second")
    db_session.commit()
    assert send_pending(db_session, smtp.mailer(), now=T0).sent == 2

    again = send_pending(db_session, smtp.mailer(), now=T0 + timedelta(hours=1))

    assert again == SendReport(sent=0, failed=0, retried=0)
    assert len(smtp.inbox.received) == 2


def test_messages_not_yet_due_wait(db_session: Session, smtp: SmtpServer) -> None:
    _enqueue(db_session, make_user(db_session, Role.AGENT), at=T0 + timedelta(minutes=1))
    db_session.commit()
    assert send_pending(db_session, smtp.mailer(), now=T0).attempted == 0
    assert smtp.inbox.received == []


def test_a_server_that_is_down_gets_retries_with_backoff_until_it_is_up(
    db_session: Session,
) -> None:
    port = free_port()  # nothing listens here yet
    mailer = SmtpServer(port, Inbox()).mailer()
    _enqueue(db_session, make_user(db_session, Role.AGENT))
    db_session.commit()

    assert send_pending(db_session, mailer, now=T0) == SendReport(retried=1)
    message = _one(db_session)
    assert message.status is OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.next_attempt_at == T0 + timedelta(minutes=1)
    assert message.last_error.startswith("ConnectionRefusedError")
    assert message.claimed_until is None

    # not due before the backoff has passed
    assert send_pending(db_session, mailer, now=T0 + timedelta(seconds=59)).attempted == 0

    second_try = T0 + timedelta(minutes=1)
    assert send_pending(db_session, mailer, now=second_try) == SendReport(retried=1)
    message = _one(db_session)
    assert message.attempts == 2
    assert message.next_attempt_at == second_try + timedelta(minutes=2)

    with running_smtp_server(port=port) as server:
        third_try = second_try + timedelta(minutes=2)
        assert send_pending(db_session, mailer, now=third_try) == SendReport(sent=1)
    assert len(server.inbox.received) == 1
    message = _one(db_session)
    assert message.status is OutboxStatus.SENT
    assert message.attempts == 3
    assert message.sent_at == third_try
    assert message.last_error is None


def test_the_backoff_doubles_from_one_minute_and_stops_at_six_hours() -> None:
    minutes = [retry_delay(n) / timedelta(minutes=1) for n in range(1, 12)]
    assert minutes == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360]
    assert retry_delay(10_000) == timedelta(hours=6)


def test_after_the_last_allowed_attempt_the_message_is_failed(
    app: Flask, db_session: Session
) -> None:
    assert app.config["OUTBOX_MAX_ATTEMPTS"] == 8
    mailer = SmtpServer(free_port(), Inbox()).mailer()
    _enqueue(db_session, make_user(db_session, Role.AGENT))
    db_session.commit()
    reports = [send_pending(db_session, mailer, now=T0 + timedelta(hours=7 * n)) for n in range(9)]
    assert [r.retried for r in reports] == [1] * 7 + [0, 0]
    assert [r.failed for r in reports] == [0] * 7 + [1, 0]
    message = _one(db_session)
    assert message.status is OutboxStatus.FAILED
    assert message.attempts == 8
    assert message.last_error.startswith("ConnectionRefusedError")


def test_the_error_recorded_names_no_address(db_session: Session) -> None:
    error = OSError("mailbox someone.private@example.org unavailable")
    assert services.describe_error(error) == "OSError: mailbox <address> unavailable"


def test_two_concurrent_senders_deliver_each_message_exactly_once(
    app: Flask, db_session: Session
) -> None:
    count = 30
    for n in range(count):
        _enqueue(db_session, None, to_address=f"r{n}@example.org", dedupe_key=f"m{n}")
    db_session.commit()
    reports: list[SendReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    with running_smtp_server(delay=0.01) as server:
        mailer = server.mailer()

        def sender() -> None:
            try:
                with app.app_context(), Session(bind=db.engine) as session:
                    start.wait()
                    reports.append(send_pending(session, mailer, now=T0))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sender) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    assert errors == []
    recipients = sorted(m["To"] for m in server.inbox.received)
    assert recipients == sorted(f"r{n}@example.org" for n in range(count))
    assert sum(r.sent for r in reports) == count
    assert all(m.status is OutboxStatus.SENT and m.attempts == 1 for m in _messages(db_session))


def test_a_claimed_message_is_left_to_its_sender(db_session: Session, smtp: SmtpServer) -> None:
    _enqueue(db_session, make_user(db_session, Role.AGENT))
    db_session.commit()
    message = _one(db_session)
    message.claimed_until = T0 + timedelta(minutes=5)  # another sender is at work
    db_session.commit()
    assert send_pending(db_session, smtp.mailer(), now=T0 + timedelta(minutes=4)).attempted == 0
    # that sender died: its claim runs out and the message goes out after all
    assert send_pending(db_session, smtp.mailer(), now=T0 + timedelta(minutes=6)).sent == 1


# --- mailer and command line ----------------------------------------------------------------


def test_no_mail_server_means_no_mailer() -> None:
    assert mailer_from_config({"MAIL_SERVER": None}) is None
    assert mailer_from_config({"MAIL_SERVER": "smtp.example.org"}) is not None


def _cli(app: Flask, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CXJOURNEY_INSTANCE_PATH": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "cxjourney.cli", "outbox", *args],
        env=environment,
        cwd=tmp_path,  # no .env of the project
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_outbox_send_delivers_due_messages(
    app: Flask, db_session: Session, smtp: SmtpServer, tmp_path: Path
) -> None:
    _enqueue(db_session, make_user(db_session, Role.AGENT, email="de@example.org"))
    db_session.commit()

    result = _cli(app, tmp_path, "send", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port))

    assert result.returncode == 0, result.stderr
    assert "Sent 1, retry scheduled for 0, failed 0." in result.stdout
    assert [m["To"] for m in smtp.inbox.received] == ["de@example.org"]
    assert _one(db_session).status is OutboxStatus.SENT


def test_cli_outbox_send_without_mail_server_keeps_the_messages(
    app: Flask, db_session: Session, tmp_path: Path
) -> None:
    user = make_user(db_session, Role.AGENT)
    _enqueue(db_session, user)
    _enqueue(db_session, user, dedupe_key="second")
    db_session.commit()

    result = _cli(app, tmp_path, "send")

    assert result.returncode == 0, result.stderr
    assert "Mail is not configured (MAIL_SERVER is unset); 2 messages waiting." in result.stdout
    assert {m.status for m in _messages(db_session)} == {OutboxStatus.PENDING}


def test_cli_outbox_list_filters_by_status(app: Flask, db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT)
    _enqueue(db_session, user, dedupe_key="a")
    sent = _enqueue(db_session, user, dedupe_key="b")
    assert sent is not None
    sent.status = OutboxStatus.SENT
    db_session.commit()
    runner = app.test_cli_runner()

    everything = runner.invoke(args=["outbox", "list"])
    only_sent = runner.invoke(args=["outbox", "list", "--status", "sent"])

    assert everything.exit_code == 0, everything.output
    assert everything.stdout.count("\tpending\t") == 1
    assert everything.stdout.count("\tsent\t") == 1
    assert only_sent.stdout.count("\tsent\t") == 1
    assert "\tpending\t" not in only_sent.stdout


# --- the admin page -------------------------------------------------------------------------


def test_admins_see_the_outbox_newest_first_with_bodies_escaped(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    admin = login_as(Role.ADMIN)
    _enqueue(db_session, admin, dedupe_key="older")
    _enqueue(
        db_session,
        admin,
        dedupe_key="newer",
        at=T0 + timedelta(minutes=1),
        context={**ASSIGNED, "subject": "<script>alert(1)</script>"},
    )
    db_session.commit()

    page = client.get("/admin/outbox/")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.index("&lt;script&gt;") < html.index("Zählerstand falsch übernommen")
    assert "admin@example.org" in html
    assert 'href="/admin/outbox/"' in html  # the nav link


def test_the_outbox_page_filters_by_status_and_paginates(
    client: FlaskClient, db_session: Session, login_as: Any
) -> None:
    admin = login_as(Role.ADMIN)
    for n in range(51):
        _enqueue(db_session, None, to_address=f"r{n}@example.org", at=T0 + timedelta(seconds=n))
    failed = _enqueue(db_session, None, to_address="failed@example.org", at=T0)
    assert failed is not None
    failed.status = OutboxStatus.FAILED
    failed.last_error = "ConnectionRefusedError: [Errno 111] Connection refused"
    db_session.commit()
    assert admin is not None

    first = client.get("/admin/outbox/").get_data(as_text=True)
    second = client.get("/admin/outbox/?page=2").get_data(as_text=True)
    only_failed = client.get("/admin/outbox/?status=failed").get_data(as_text=True)

    assert "r50@example.org" in first
    assert "r0@example.org" not in first
    assert "r0@example.org" in second
    assert "failed@example.org" in only_failed
    assert "r50@example.org" not in only_failed
    assert "Connection refused" in only_failed


@pytest.mark.parametrize(
    "role", [Role.AGENT, Role.TEAM_LEAD, Role.TOUCHPOINT_MANAGER, Role.VIEWER], ids=str
)
def test_the_outbox_page_is_forbidden_for_other_roles(
    client: FlaskClient, login_as: Any, role: Role
) -> None:
    login_as(role)
    page = client.get("/admin/outbox/")
    assert page.status_code == 403
    assert 'href="/admin/outbox/"' not in client.get("/account").get_data(as_text=True)


def test_the_mail_templates_are_extracted_for_translation() -> None:
    assert "[jinja2: templates/**.txt]" in (ROOT / "babel.cfg").read_text(encoding="utf-8")
