"""A real SMTP server process for tests: aiosmtpd's `Mailbox` handler, which stores every
message it accepts in a Maildir that the test reads."""

from __future__ import annotations

import asyncio
import contextlib
import mailbox
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from puppies.embedded import free_port
from tests.support.servers import wait_listening
from tests.support.tmp import private_tmp_dir


@dataclass(frozen=True)
class SmtpServer:
    port: int
    maildir: Path

    @property
    def env(self) -> dict[str, str]:
        """Settings that send mail to this server (plain SMTP: it is a local relay)."""
        return {
            "MAIL_BACKEND": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_SECURITY": "none",
        }

    def messages(self, to: str | None = None, subject: str | None = None) -> list[EmailMessage]:
        """Every message received (to this address, with this subject, if given), in the
        order they arrived."""
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        found = []
        for key in sorted(box.keys(), key=_arrival):
            with box.get_file(key) as f:
                msg = message_from_bytes(f.read(), policy=default)
            assert isinstance(msg, EmailMessage)
            if to is not None and to.lower() not in str(msg["To"]).lower():
                continue
            if subject is not None and str(msg["Subject"]) != subject:
                continue
            found.append(msg)
        return found

    async def wait_for(
        self, to: str, count: int = 1, *, subject: str | None = None, timeout: float = 60
    ) -> list[EmailMessage]:
        """The messages to `to` (with `subject`) once there are at least `count`; fail after
        `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            got = self.messages(to, subject)
            if len(got) >= count:
                return got
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(got)} of {count} mails to {to} arrived")
            await asyncio.sleep(0.1)


def _arrival(key: str) -> tuple[int, int, str]:
    """Maildir names start `<seconds>.M<microseconds>P<pid>...`: sort by arrival."""
    seconds, _, rest = key.partition(".")
    micros = rest[1 : rest.find("P")] if rest.startswith("M") and "P" in rest else "0"
    return (int(seconds) if seconds.isdigit() else 0, int(micros) if micros.isdigit() else 0, key)


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    directory = private_tmp_dir("smtp")
    maildir = directory / "maildir"
    mailbox.Maildir(maildir, create=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(maildir),
        ],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, proc, 30)
        yield SmtpServer(port, maildir)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        shutil.rmtree(directory, ignore_errors=True)
