"""Password resets called as the worker calls them: redelivered jobs, the file mailer, the
per-IP throttle."""

from __future__ import annotations

import email
import os
import re
from collections.abc import AsyncIterator
from email.policy import default
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from puppies.errors import ConfigError
from puppies.mail import FileMailer, Mail, create_mailer
from puppies.settings import Settings
from resolvers.runtime import Resources
from resolvers.users import bulk, recovery
from resolvers.users.passwords import hash_password_sync

TOKEN = re.compile(r"prt_[A-Za-z0-9_-]{43}")


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    r = Resources.open(clean)
    try:
        yield r
    finally:
        await r.close()


async def _user(res: Resources, name: str = "rosa") -> int:
    ids = await bulk.insert_users(
        res, [(name, f"{name}@example.com", name.title(), "")], hash_password_sync("x" * 12)
    )
    return ids[name]


def _mails(directory: Path) -> list[email.message.EmailMessage]:
    names = sorted(n for n in os.listdir(directory) if n.endswith(".eml"))
    return [email.message_from_bytes((directory / n).read_bytes(), policy=default) for n in names]


async def test_a_redelivered_reset_job_mails_once(res: Resources, tmp_path: Path):
    await _user(res)
    mailer = FileMailer(tmp_path, res.settings)
    first = await recovery.send_password_reset(res, mailer, "users:1", "ROSA@example.com")
    again = await recovery.send_password_reset(res, mailer, "users:1", "rosa@example.com")
    assert (first, again) == ("mailed", "already-mailed")
    (mail,) = _mails(tmp_path)
    assert mail["To"] == "rosa@example.com"
    assert TOKEN.search(mail.get_content())
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".partial")]
    assert (
        await recovery.send_password_reset(res, mailer, "users:2", "nobody@example.com")
        == "no-account"
    )
    assert len(_mails(tmp_path)) == 1


async def test_a_job_that_died_after_sending_sends_a_new_link_and_only_it_works(
    res: Resources, tmp_path: Path
):
    await _user(res)
    mailer = FileMailer(tmp_path, res.settings)
    await recovery.send_password_reset(res, mailer, "users:7", "rosa@example.com")
    async with res.db.transaction() as s:  # as if the worker died before marking it mailed
        await s.execute(text("UPDATE users.password_resets SET mailed_at = NULL"))
    assert await recovery.send_password_reset(res, mailer, "users:7", "rosa@example.com") == (
        "mailed"
    )
    old, new = (TOKEN.findall(m.get_content())[0] for m in _mails(tmp_path))
    async with res.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM users.password_resets"))).scalar() == 1
    from puppies.auth.keys import KeyRing

    ring = KeyRing(res.settings.keys_dir).load()
    stale = await recovery.reset_password(res, ring, token=old, new_password="new passphrase 99")
    assert stale.errors and stale.errors[0].code == "INVALID_TOKEN"
    fresh = await recovery.reset_password(res, ring, token=new, new_password="new passphrase 99")
    assert fresh.session is not None and not fresh.errors


async def test_requests_are_throttled_per_ip_too(res: Resources):
    settings = res.settings.model_copy(update={"password_reset_max_per_ip": 2})
    throttled = Resources(settings=settings, db=res.db, redis=res.redis, _owns_redis=False)
    for i in range(2):
        assert (
            await recovery.request_password_reset(throttled, f"a{i}@example.com", "10.0.0.9") == []
        )
    (limited,) = await recovery.request_password_reset(throttled, "a9@example.com", "10.0.0.9")
    assert limited.code == "RATE_LIMITED"
    # another address from another IP is not affected
    assert await recovery.request_password_reset(throttled, "b@example.com", "10.0.0.10") == []
    async with res.db.session() as s:
        events = (
            await s.execute(
                text(
                    "SELECT count(*) FROM users.outbox "
                    "WHERE event_type = 'password_reset.requested'"
                )
            )
        ).scalar()
    assert events == 3  # the refused request wrote nothing


def test_the_mail_backend_follows_the_settings(tmp_path: Path):
    dev = Settings(data_dir=tmp_path, environment="development")
    assert isinstance(create_mailer(dev), FileMailer)
    assert create_mailer(dev).directory == tmp_path / "mail"  # type: ignore[attr-defined]
    smtp = Settings(smtp_host="mail.example.com", environment="development")
    assert type(create_mailer(smtp)).__name__ == "SmtpMailer"
    production = Settings(environment="production", router_principal_secret=SecretStr("s" * 40))
    with pytest.raises(ConfigError, match="SMTP_HOST"):
        create_mailer(production)
    with pytest.raises(ConfigError, match="production"):
        create_mailer(production.model_copy(update={"mail_backend": "file"}))


async def test_the_file_mailer_writes_readable_eml(tmp_path: Path):
    mailer = FileMailer(tmp_path / "mail", Settings(mail_from="Pups <hi@pups.example>"))
    message_id = await mailer.send(Mail(to="x@example.com", subject="Hi", text="héllo\n"))
    (mail,) = _mails(tmp_path / "mail")
    assert mail["Message-ID"] == message_id and message_id.endswith("@pups.example>")
    assert (mail["From"], mail["Subject"], mail.get_content()) == (
        "Pups <hi@pups.example>",
        "Hi",
        "héllo\n",
    )
