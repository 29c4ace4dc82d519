"""Refresh rotation, reuse detection (family revocation), expiry, logOut."""

from __future__ import annotations

import asyncpg

from puppies.settings import Settings
from tests.subgraphs.users.conftest import LOG_IN, PASSWORD, UsersApi
from tests.support.graphql import error_code

REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  session { accessToken refreshToken user { id } } errors { code message } } }"""
LOG_OUT = "mutation($t: String!) { logOut(refreshToken: $t) }"
ME = "{ me { id } }"


async def _sql(settings: Settings, query: str, *args: object) -> object:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_refresh_rotates(users_api: UsersApi) -> None:
    acct = await users_api.sign_up("rotor")
    first = (await users_api.gql.data(REFRESH, {"t": acct.refresh}))["refreshSession"]
    s1 = first["session"]
    assert s1["user"]["id"] == acct.id and s1["refreshToken"] != acct.refresh
    assert (await users_api.gql.data(ME, token=s1["accessToken"]))["me"]["id"] == acct.id
    second = (await users_api.gql.data(REFRESH, {"t": s1["refreshToken"]}))["refreshSession"]
    assert second["session"]["refreshToken"] not in (acct.refresh, s1["refreshToken"])


async def test_reusing_a_rotated_token_revokes_the_family(
    users_api: UsersApi, settings: Settings
) -> None:
    acct = await users_api.sign_up("victim")
    other = await users_api.gql.data(LOG_IN, {"l": "victim", "p": PASSWORD})
    other_refresh = other["logIn"]["session"]["refreshToken"]  # a second device: own family
    s1 = (await users_api.gql.data(REFRESH, {"t": acct.refresh}))["refreshSession"]["session"]

    reuse = await users_api.gql(REFRESH, {"t": acct.refresh})  # the thief replays the old one
    assert error_code(reuse) == "UNAUTHENTICATED"
    assert "already used" in reuse["errors"][0]["message"]
    assert reuse["data"] is None
    # ... and the legitimate holder of the newest token is logged out too.
    after = await users_api.gql(REFRESH, {"t": s1["refreshToken"]})
    assert error_code(after) == "UNAUTHENTICATED"
    # The other device's family is untouched.
    ok = await users_api.gql.data(REFRESH, {"t": other_refresh})
    assert ok["refreshSession"]["session"]["user"]["id"] == acct.id
    rows = await _sql(
        settings,
        "SELECT family_id, count(*) FILTER (WHERE revoked_at IS NULL) "
        "AS live FROM users.refresh_tokens GROUP BY 1 ORDER BY 2",
    )
    assert [r["live"] for r in rows] == [0, 2]  # type: ignore[attr-defined]


async def test_bad_and_expired_refresh_tokens(users_api: UsersApi, settings: Settings) -> None:
    acct = await users_api.sign_up("expiry")
    for bad in ("", "garbage", "rt_" + "A" * 43):
        body = await users_api.gql(REFRESH, {"t": bad})
        assert error_code(body) == "UNAUTHENTICATED", bad
    body = await users_api.gql(REFRESH, {"t": None})
    assert error_code(body) == "BAD_USER_INPUT"  # null for a String!
    await _sql(settings, "UPDATE users.refresh_tokens SET expires_at = now() - interval '1 s'")
    body = await users_api.gql(REFRESH, {"t": acct.refresh})
    assert error_code(body) == "UNAUTHENTICATED"
    assert "expired" in body["errors"][0]["message"]


async def test_log_out(users_api: UsersApi) -> None:
    acct = await users_api.sign_up("leaver")
    assert (await users_api.gql.data(LOG_OUT, {"t": acct.refresh}))["logOut"] is True
    assert (await users_api.gql.data(LOG_OUT, {"t": acct.refresh}))["logOut"] is False
    assert error_code(await users_api.gql(REFRESH, {"t": acct.refresh})) == "UNAUTHENTICATED"
    assert (
        error_code(await users_api.gql(LOG_OUT, {"t": "rt_unknown_token_value"}))
        == "UNAUTHENTICATED"
    )
