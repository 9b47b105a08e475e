"""Deliver one outbox message over SMTP (``smtplib``); the outbox decides when and how often."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, Protocol


class Mailer(Protocol):
    """What ``send_pending`` needs: send one plain-text mail or raise."""

    def send(self, *, to: str, subject: str, body: str) -> str:
        """Send the mail; return its Message-ID. Any exception means: not sent."""
        ...


@dataclass(frozen=True)
class SmtpSettings:
    server: str
    port: int = 25
    use_tls: bool = False  # STARTTLS
    use_ssl: bool = False  # implicit TLS
    username: str | None = None
    password: str | None = None
    sender: str = "cxjourney <noreply@localhost>"
    timeout: float = 10

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        return cls(
            server=str(config["MAIL_SERVER"]),
            port=int(config.get("MAIL_PORT") or 25),
            use_tls=bool(config.get("MAIL_USE_TLS")),
            use_ssl=bool(config.get("MAIL_USE_SSL")),
            username=config.get("MAIL_USERNAME") or None,
            password=config.get("MAIL_PASSWORD") or None,
            sender=str(config.get("MAIL_FROM") or cls.sender),
            timeout=float(config.get("MAIL_TIMEOUT") or 10),
        )


class SmtpMailer:
    """Send plain-text UTF-8 mail through one SMTP server, one connection per message."""

    def __init__(self, config: Mapping[str, Any] | SmtpSettings) -> None:
        self.settings = (
            config if isinstance(config, SmtpSettings) else SmtpSettings.from_config(config)
        )

    def build(self, *, to: str, subject: str, body: str) -> EmailMessage:
        """Return the message as it goes on the wire (From, To, Subject, Date, Message-ID)."""
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        domain = parseaddr(self.settings.sender)[1].rpartition("@")[2] or "localhost"
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(body, charset="utf-8")
        return message

    def send(self, *, to: str, subject: str, body: str) -> str:
        """Send one message; raise ``smtplib.SMTPException`` or ``OSError`` when it fails."""
        message = self.build(to=to, subject=subject, body=body)
        settings = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if settings.use_ssl:
            smtp = smtplib.SMTP_SSL(
                settings.server, settings.port, timeout=settings.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
        with smtp:
            if settings.use_tls and not settings.use_ssl:
                smtp.starttls(context=context)
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
        return str(message["Message-ID"])


def mailer_from_config(config: Mapping[str, Any]) -> SmtpMailer | None:
    """Return a mailer for ``MAIL_SERVER``, or None when mail is not configured."""
    if not config.get("MAIL_SERVER"):
        return None
    return SmtpMailer(config)
