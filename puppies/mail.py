"""Outgoing mail: a real SMTP client (aiosmtplib), or .eml files for development.

Mail is never sent from a request: a domain writes an outbox event in its transaction and
a worker job renders and sends the mail (docs/social.md, "Mail"). This module only sends.

- `SmtpMailer`: SMTP to `SMTP_HOST:SMTP_PORT`, with STARTTLS (587), implicit TLS (465) or
  none (a local relay), and login when `SMTP_USERNAME` is set.
- `FileMailer`: writes each mail as `<MAIL_DIR>/<utc time>-<id>.eml` (default
  `.puppies/mail/`), atomically (written aside, then renamed), for a developer to open.

`create_mailer(settings)` picks one (`MAIL_BACKEND`: `auto` means SMTP when `SMTP_HOST` is
set, files otherwise; production without `SMTP_HOST` is a configuration error).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib

from puppies.errors import ConfigError, PuppiesError
from puppies.settings import Settings

log = logging.getLogger(__name__)


class MailError(PuppiesError):
    """The mail could not be handed to the server; the job that sent it is retried."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> str:
        """Hand `mail` over for delivery; returns its Message-ID."""
        ...


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "puppies.localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.text)
    return message


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ConfigError("SMTP_HOST is not set: say which SMTP server sends the mail")
        self.settings = settings

    async def send(self, mail: Mail) -> str:
        s = self.settings
        message = build_message(s, mail)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=s.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {s.smtp_host}:{s.smtp_port} refused the mail: {exc}") from exc
        return str(message["Message-ID"])


class FileMailer:
    def __init__(self, directory: Path, settings: Settings) -> None:
        self.directory = directory
        self.settings = settings

    async def send(self, mail: Mail) -> str:
        message = build_message(self.settings, mail)
        message_id = str(message["Message-ID"])
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{message_id.strip('<>').split('@')[0]}.eml"
        await asyncio.to_thread(self._write, name, message.as_bytes())
        log.info("mail to %s written to %s", mail.to, self.directory / name)
        return message_id

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, self.directory / name)


def create_mailer(settings: Settings) -> Mailer:
    backend = settings.resolved_mail_backend
    if backend == "smtp":
        return SmtpMailer(settings)
    if settings.environment == "production":
        raise ConfigError("MAIL_BACKEND=file is for development; set SMTP_HOST in production")
    return FileMailer(settings.resolved_mail_dir, settings)
