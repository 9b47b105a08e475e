"""The outbox: enqueue a rendered message in the caller's transaction, send it later.

A notification is written as an ``OutboxMessage`` row in the same transaction as the change
that caused it (a complaint assigned, a clock escalated), so it exists exactly when the change
does. ``send_pending`` (run by ``cxjourney outbox send`` from cron) delivers due rows, safe to
run from several processes at once: each row is claimed with a conditional UPDATE before it is
sent, so two senders never send the same message.
"""

from __future__ import annotations

import logging
import re
import smtplib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context, render_template
from flask_babel import force_locale
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.models import User
from ..extensions import begin_real_transaction
from .mailer import Mailer
from .models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

# How long a sender owns a claimed row; a sender that dies lets it go after this.
CLAIM_DURATION = timedelta(minutes=5)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
DEFAULT_MAX_ATTEMPTS = 8

# Context keys that must never reach a message, whatever a caller passes.
_SECRET_KEYS = frozenset({"password", "password_hash", "token", "token_hash", "session_nonce"})
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+")


@dataclass(frozen=True)
class SendReport:
    """What one ``send_pending`` run did."""

    sent: int = 0
    failed: int = 0  # gave up: the last allowed attempt failed
    retried: int = 0  # an attempt failed; another one is scheduled

    @property
    def attempted(self) -> int:
        return self.sent + self.failed + self.retried


@dataclass(frozen=True)
class OutboxPage:
    messages: list[OutboxMessage]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# --- enqueue --------------------------------------------------------------------------------


def find_message_by_dedupe_key(session: Session, dedupe_key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))


def message_language(recipient: User | None) -> str:
    """The recipient's language, else the app's default (``BABEL_DEFAULT_LOCALE``)."""
    languages = current_app.config.get("LANGUAGES") or ()
    if recipient is not None and recipient.language and recipient.language in languages:
        return recipient.language
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def render_message(template: str, context: Mapping[str, Any], *, language: str) -> tuple[str, str]:
    """Render ``templates/mail/<template>.subject.txt`` and ``.body.txt`` in ``language``.

    Needs an app context. Raises ValueError for context keys that name secrets.
    """
    secrets = _SECRET_KEYS & set(context)
    if secrets:
        raise ValueError(f"secrets do not belong in a message: {sorted(secrets)}")
    with force_locale(language):
        subject = render_template(f"mail/{template}.subject.txt", **context)
        body = render_template(f"mail/{template}.body.txt", **context)
    # One line: a subject is a header, and typed text must not add headers to it.
    subject = " ".join(subject.split())[:255]
    return subject, body.strip() + "\n"


def enqueue_message(
    session: Session,
    *,
    kind: str,
    recipient: User | None,
    to_address: str | None = None,
    template: str,
    context: Mapping[str, Any],
    dedupe_key: str | None,
    at: datetime,
    language: str | None = None,
) -> OutboxMessage | None:
    """Render a message in the recipient's language and store it as pending.

    ``language`` overrides the recipient's (a customer, who is not a user, has their own).

    ``to_address`` defaults to the recipient's email. Returns None, and stores nothing, when
    the recipient is inactive, there is no address, or a message with ``dedupe_key`` exists
    already (also when a parallel transaction stores it at the same moment). The caller
    commits. Needs an app context (templates, default language).
    """
    if recipient is not None and not recipient.active:
        return None
    address = (to_address or (recipient.email if recipient is not None else "") or "").strip()
    if not address:
        return None
    if dedupe_key is not None and find_message_by_dedupe_key(session, dedupe_key) is not None:
        return None
    language = language or message_language(recipient)
    subject, body = render_message(template, context, language=language)
    message = OutboxMessage(
        kind=kind,
        dedupe_key=dedupe_key,
        recipient_id=recipient.id if recipient is not None else None,
        to_address=address,
        language=language,
        subject=subject,
        body=body,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=at,
        claimed_until=None,
        created_at=at,
        sent_at=None,
        last_error=None,
    )
    if dedupe_key is None:
        session.add(message)  # nothing to race for: no savepoint needed
        return message
    begin_real_transaction(session)
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # Another transaction stored the same dedupe key between our check and our insert.
        if dedupe_key is None or find_message_by_dedupe_key(session, dedupe_key) is None:
            raise
        return None
    return message


# --- send -----------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1, 2, 4, 8 … minutes, at most 6 h."""
    return min(BACKOFF_BASE * 2 ** min(max(attempts - 1, 0), 20), BACKOFF_CAP)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    """Take the row for this sender, or learn that another one has it (committed either way).

    The WHERE repeats every condition of "due", so the database decides atomically: on
    PostgreSQL the second UPDATE waits for the first and then matches nothing; on SQLite
    writers are serialised anyway.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _due(now))
        .values(claimed_until=now + CLAIM_DURATION)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def describe_error(exc: BaseException) -> str:
    """Exception class and a short message without addresses (no personal data in logs)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _text in exc.recipients.values()})
        text = "recipient refused (" + ", ".join(codes) + ")"
    else:
        text = str(exc)
    text = _ADDRESS.sub("<address>", " ".join(text.split()))
    return f"{type(exc).__name__}: {text}"[:200].rstrip(": ")


def _configured_max_attempts() -> int:
    if has_app_context():
        return int(current_app.config.get("OUTBOX_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS)
    return DEFAULT_MAX_ATTEMPTS


def send_pending(
    session: Session,
    mailer: Mailer,
    *,
    now: datetime,
    batch: int = 100,
    max_attempts: int | None = None,
) -> SendReport:
    """Send up to ``batch`` due messages; safe to run from several processes at once.

    Each message is claimed (committed), sent, then marked sent or given a retry with
    exponential backoff; after ``max_attempts`` (default ``OUTBOX_MAX_ATTEMPTS``) failed
    attempts it is marked failed. This function commits: every claim and every outcome is
    its own transaction, so a crash leaves at most one message claimed, and that claim
    expires after five minutes (the message is then sent again: at least once, never twice
    by two live senders).
    """
    limit = max_attempts or _configured_max_attempts()
    due_ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(_due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
        )
    )
    session.commit()  # hold no snapshot or lock while sending
    started = time.monotonic()
    sent = failed = retried = 0
    for message_id in due_ids:
        # Claims are dated by the clock that runs on during a long batch, so a claim
        # never starts out expired for a sender that began later.
        claim_time = now + timedelta(seconds=time.monotonic() - started)
        if not _claim(session, message_id, claim_time):
            continue
        message = session.get(OutboxMessage, message_id, populate_existing=True)
        if message is None:  # deleted (erasure) between the claim and now
            continue
        try:
            mailer.send(to=message.to_address, subject=message.subject, body=message.body)
        except Exception as exc:  # any failure of the mailer means: not sent, try again
            message.attempts += 1
            message.last_error = describe_error(exc)
            message.claimed_until = None
            if message.attempts >= limit:
                message.status = OutboxStatus.FAILED
                failed += 1
            else:
                message.next_attempt_at = now + retry_delay(message.attempts)
                retried += 1
            log.warning("outbox message %s not sent: %s", message.id, message.last_error)
        else:
            message.attempts += 1
            message.status = OutboxStatus.SENT
            message.sent_at = now
            message.claimed_until = None
            message.last_error = None
            sent += 1
        session.commit()
    return SendReport(sent=sent, failed=failed, retried=retried)


# --- read -----------------------------------------------------------------------------------


def count_messages(session: Session, status: OutboxStatus | None = None) -> int:
    query = select(func.count()).select_from(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return session.scalar(query) or 0


def list_messages(
    session: Session,
    *,
    status: OutboxStatus | None = None,
    page: int = 1,
    per_page: int = 50,
) -> OutboxPage:
    """Return one page of the outbox, newest first, optionally only one status."""
    query = select(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    page = max(1, page)
    messages = session.scalars(
        query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return OutboxPage(list(messages), count_messages(session, status), page, per_page)
