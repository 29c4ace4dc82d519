"""Changing and resetting passwords through the router, with the mail read from a real SMTP
server process."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import text

from models.db import Database
from tests.social.conftest import DENIED, SocialApi
from tests.support.client import PASSWORD, Account
from tests.support.polling import eventually
from tests.support.smtp import SmtpServer

NEW_PASSWORD = "a much better passphrase 42"
LOG_IN = """mutation($l: String!, $p: String!) { logIn(input: {login: $l, password: $p}) {
  session { accessToken refreshToken } errors { code } } }"""
REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  session { accessToken } errors { code } } }"""
CHANGE = """mutation($c: String!, $n: String!) {
  changePassword(input: {currentPassword: $c, newPassword: $n}) {
    revokedSessions errors { code field message } } }"""
REQUEST = """mutation($e: String!) { requestPasswordReset(email: $e) {
  message errors { code field message } } }"""
RESET = """mutation($t: String!, $n: String!) { resetPassword(input: {token: $t, newPassword: $n}) {
  session { accessToken refreshToken user { id username } } errors { code field message } } }"""
API_KEY = """mutation { createApiKey(input: {name: "k", scopes: ["write:profile"]}) { key } }"""
RESET_MAIL = "Reset your Puppies password"
CHANGED_MAIL = "Your Puppies password was changed"
TOKEN = re.compile(r"prt_[A-Za-z0-9_-]{43}")


async def _log_in(api: SocialApi, who: Account, password: str) -> dict:
    return (await api.data(LOG_IN, {"l": who.username, "p": password}))["logIn"]


async def _refreshes(api: SocialApi, refresh: str) -> bool:
    body = await api.gql(REFRESH, {"t": refresh})
    return bool(body.get("data") and body["data"]["refreshSession"]["session"])


def _token(mail) -> str:
    found = TOKEN.findall(mail.get_content())
    assert found, mail.get_content()
    return str(found[0])


async def test_change_password_signs_out_the_other_sessions(api: SocialApi, smtp: SmtpServer):
    alice = await api.account("alice")  # this session stays
    other = await _log_in(api, alice, PASSWORD)  # a second device

    wrong = (
        await api.data(CHANGE, {"c": "not my password", "n": NEW_PASSWORD}, token=alice.token)
    )["changePassword"]
    assert wrong["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert wrong["errors"][0]["field"] == "currentPassword"
    for weak in ("short", PASSWORD, alice.username + "_is_great"):
        body = (await api.data(CHANGE, {"c": PASSWORD, "n": weak}, token=alice.token))[
            "changePassword"
        ]
        assert body["errors"][0]["code"] == "WEAK_PASSWORD", (weak, body)
        assert body["errors"][0]["field"] == "newPassword"
    assert (await _log_in(api, alice, PASSWORD))["session"]  # nothing changed so far

    changed = (await api.data(CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, token=alice.token))[
        "changePassword"
    ]
    assert changed == {"revokedSessions": 2, "errors": []}  # `other` and the log-in above
    assert not await _refreshes(api, other["session"]["refreshToken"])
    assert await _refreshes(api, alice.refresh)  # the session that changed it stays
    assert (await _log_in(api, alice, PASSWORD))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert (await _log_in(api, alice, NEW_PASSWORD))["session"]

    (notice,) = await smtp.wait_for(alice.email, subject=CHANGED_MAIL)
    assert alice.username in notice.get_content()


async def test_change_password_needs_a_session(api: SocialApi):
    alice = await api.account("alice")
    anonymous = await api.error(CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD})
    assert anonymous["extensions"]["code"] == DENIED  # the router's @policy(session)
    key = (await api.data(API_KEY, token=alice.token))["createApiKey"]["key"]
    with_key = await api.error(CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, token=key)
    assert with_key["extensions"]["code"] == DENIED
    assert (await _log_in(api, alice, PASSWORD))["session"]


async def test_reset_password_with_the_mailed_token(api: SocialApi, smtp: SmtpServer, db: Database):
    alice = await api.account("alice")
    phone = await _log_in(api, alice, PASSWORD)
    asked = (await api.data(REQUEST, {"e": alice.email.upper()}))["requestPasswordReset"]
    assert asked["errors"] == [] and "If an account uses this address" in asked["message"]

    (mail,) = await smtp.wait_for(alice.email, subject=RESET_MAIL)
    token = _token(mail)
    assert f"token={token}" in mail.get_content()  # the link of PASSWORD_RESET_URL
    async with db.session() as s:  # the token is stored only as its hash
        stored = (
            await s.execute(
                text(
                    "SELECT count(*) FROM users.password_resets WHERE token_hash = :t "
                    "OR request_id = :t"
                ),
                {"t": token},
            )
        ).scalar_one()
        leaked = (
            await s.execute(
                text("SELECT count(*) FROM users.outbox WHERE payload::text LIKE :t"),
                {"t": f"%{token}%"},
            )
        ).scalar_one()
    assert stored == leaked == 0

    weak = (await api.data(RESET, {"t": token, "n": "short"}))["resetPassword"]
    assert weak["session"] is None and weak["errors"][0]["code"] == "WEAK_PASSWORD"
    done = (await api.data(RESET, {"t": token, "n": NEW_PASSWORD}))["resetPassword"]
    assert done["errors"] == [] and done["session"]["user"]["id"] == alice.id
    assert await _refreshes(api, done["session"]["refreshToken"])
    # every earlier session is signed out; the old password is gone
    assert not await _refreshes(api, alice.refresh)
    assert not await _refreshes(api, phone["session"]["refreshToken"])
    assert (await _log_in(api, alice, PASSWORD))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert (await _log_in(api, alice, NEW_PASSWORD))["session"]

    again = (await api.data(RESET, {"t": token, "n": "yet another passphrase 7"}))["resetPassword"]
    assert again["session"] is None
    assert (again["errors"][0]["code"], again["errors"][0]["field"]) == ("INVALID_TOKEN", "token")
    await smtp.wait_for(alice.email, subject=CHANGED_MAIL)


async def test_a_reset_closes_every_other_link_and_links_expire(
    api: SocialApi, smtp: SmtpServer, db: Database
):
    alice = await api.account("alice")
    await api.data(REQUEST, {"e": alice.email})
    await smtp.wait_for(alice.email, 1, subject=RESET_MAIL)
    await api.data(REQUEST, {"e": alice.email})
    first, second = (_token(m) for m in await smtp.wait_for(alice.email, 2, subject=RESET_MAIL))
    assert first != second

    async with db.transaction() as s:  # the second link's hour is over
        await s.execute(
            text(
                "UPDATE users.password_resets SET expires_at = now() - interval '1 second' "
                "WHERE user_id = :u AND id = (SELECT max(id) FROM users.password_resets "
                "WHERE user_id = :u)"
            ),
            {"u": int(alice.id)},
        )
    tokens = {first, second}
    outcomes = {}
    for token in tokens:
        body = (await api.data(RESET, {"t": token, "n": NEW_PASSWORD}))["resetPassword"]
        outcomes[token] = body["errors"][0]["code"] if body["errors"] else "OK"
    assert sorted(outcomes.values()) == ["INVALID_TOKEN", "OK"]
    await api.data(REQUEST, {"e": alice.email})
    third = _token((await smtp.wait_for(alice.email, 3, subject=RESET_MAIL))[-1])
    # a successful reset closed the first link... and the third (made after) still works
    assert (await api.data(RESET, {"t": third, "n": "third passphrase here"}))["resetPassword"][
        "session"
    ]


async def test_the_answer_never_tells_whether_an_account_exists(
    api: SocialApi, smtp: SmtpServer, db: Database
):
    alice = await api.account("alice")
    nobody = f"nobody_{uuid.uuid4().hex[:8]}@example.com"
    known = await api.gql(REQUEST, {"e": alice.email})
    unknown = await api.gql(REQUEST, {"e": nobody})
    assert known == unknown

    # the unknown address's job ran, and mailed nothing
    async with db.session() as s:
        row = (
            await s.execute(
                text("SELECT id FROM users.outbox WHERE payload->>'email' = :e"), {"e": nobody}
            )
        ).scalar_one()
    job = f"users:{row}:users.mail_password_reset"

    async def job_done() -> bool:
        async with db.session() as s:
            pending = (
                await s.execute(
                    text("SELECT dispatched_at IS NULL FROM users.outbox WHERE id = :i"),
                    {"i": row},
                )
            ).scalar_one()
        if pending:
            return False
        from puppies.redis import create_redis
        from puppies.settings import load_settings

        redis = create_redis(load_settings(redis_url=api.stack.env["REDIS_URL"]))
        try:
            return bool(await redis.exists(f"arq:result:{job}"))
        finally:
            await redis.aclose()

    await eventually(job_done)
    await smtp.wait_for(alice.email, subject=RESET_MAIL)
    assert smtp.messages(nobody) == []

    # throttled per address, the same way for both
    for _ in range(2):
        await api.data(REQUEST, {"e": alice.email})
        await api.data(REQUEST, {"e": nobody})
    over_known = await api.gql(REQUEST, {"e": alice.email})
    over_unknown = await api.gql(REQUEST, {"e": nobody})
    assert over_known["data"]["requestPasswordReset"]["errors"][0]["code"] == "RATE_LIMITED"
    assert over_known == over_unknown


async def test_bad_reset_input(api: SocialApi):
    for email in ("not an address", "", "a@b"):
        error = await api.error(REQUEST, {"e": email})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            "email",
        )
    for token in ("", "prt_short", "rt_" + "x" * 43, "prt_" + "x" * 43):
        body = (await api.data(RESET, {"t": token, "n": NEW_PASSWORD}))["resetPassword"]
        assert body["session"] is None
        assert body["errors"][0]["code"] == "INVALID_TOKEN", (token, body)
