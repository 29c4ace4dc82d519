"""signUp, logIn (with throttling), me, updateProfile, user lookups: good and bad paths."""

from __future__ import annotations

import asyncpg
import httpx

from puppies.settings import Settings
from subgraphs.users.app import create_app
from tests.subgraphs.users.conftest import LOG_IN, PASSWORD, SIGN_UP, UsersApi, make_settings
from tests.support.graphql import GraphQLClient, error_code
from tests.support.servers import serve_asgi

ME = "{ me { id username displayName bio email followerCount followingCount createdAt } }"


async def _count_users(settings: Settings) -> int:
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM users.users"))
    finally:
        await conn.close()


async def test_sign_up_then_me(users_api: UsersApi) -> None:
    body = await users_api.gql.data(SIGN_UP, {"u": "Rex_1", "e": "Rex@Example.com", "p": PASSWORD})
    payload = body["signUp"]
    assert payload["errors"] == []
    s = payload["session"]
    assert s["user"]["username"] == "Rex_1" and s["user"]["displayName"] == "Rex_1"
    assert s["refreshToken"].startswith("rt_") and s["accessToken"].count(".") == 2
    me = (await users_api.gql.data(ME, token=s["accessToken"]))["me"]
    assert me["id"] == s["user"]["id"]
    assert me["email"] == "rex@example.com"  # normalised; visible to its owner only
    assert me["followerCount"] == 0 and me["followingCount"] == 0
    assert (await users_api.gql.data(ME))["me"] is None  # logged out: null


async def test_sign_up_expected_failures(users_api: UsersApi, settings: Settings) -> None:
    await users_api.sign_up("rex")
    before = await _count_users(settings)
    gql = users_api.gql
    taken = await gql.data(SIGN_UP, {"u": "REX", "e": "REX@example.com", "p": PASSWORD})
    errors = {e["code"]: e["field"] for e in taken["signUp"]["errors"]}
    assert errors == {"USERNAME_TAKEN": "username", "EMAIL_TAKEN": "email"}
    assert taken["signUp"]["session"] is None

    weak = await gql.data(SIGN_UP, {"u": "fido", "e": "fido@example.com", "p": "short"})
    assert weak["signUp"]["errors"][0]["code"] == "WEAK_PASSWORD"
    weak = await gql.data(SIGN_UP, {"u": "fido", "e": "fido@example.com", "p": "fido-is-great"})
    assert weak["signUp"]["errors"][0]["code"] == "WEAK_PASSWORD"
    assert await _count_users(settings) == before


async def test_sign_up_malformed_input(users_api: UsersApi, settings: Settings) -> None:
    gql = users_api.gql
    body = await gql(SIGN_UP, {"u": "no spaces!", "e": "a@example.com", "p": PASSWORD})
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "username"
    body = await gql(SIGN_UP, {"u": "okname", "e": "not-an-email", "p": PASSWORD})
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "email"
    body = await gql(SIGN_UP, {"u": "okname", "e": "a@example.com", "p": 12345})
    assert error_code(body) == "BAD_USER_INPUT"  # wrong variable type
    assert await _count_users(settings) == 0


async def test_log_in_by_username_or_email(users_api: UsersApi) -> None:
    acct = await users_api.sign_up("bella")
    for login in ("bella", "BELLA", "Bella@Example.com"):
        body = await users_api.gql.data(LOG_IN, {"l": login, "p": PASSWORD})
        assert body["logIn"]["errors"] == []
        assert body["logIn"]["session"]["user"]["id"] == acct.id
    wrong = await users_api.gql.data(LOG_IN, {"l": "bella", "p": "wrong password!"})
    assert wrong["logIn"]["session"] is None
    assert wrong["logIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    nobody = await users_api.gql.data(LOG_IN, {"l": "nobody", "p": PASSWORD})
    assert nobody["logIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    empty = await users_api.gql(LOG_IN, {"l": "  ", "p": PASSWORD})
    assert error_code(empty) == "BAD_USER_INPUT"


async def test_log_in_throttled_per_account(users_api: UsersApi, settings: Settings) -> None:
    await users_api.sign_up("max")
    for _ in range(settings.login_max_failures_per_account):
        body = await users_api.gql.data(LOG_IN, {"l": "max", "p": "not the password"})
        assert body["logIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    # Now even the right password is refused, by username or by email.
    for login in ("max", "max@example.com"):
        body = await users_api.gql.data(LOG_IN, {"l": login, "p": PASSWORD})
        assert body["logIn"]["session"] is None
        assert body["logIn"]["errors"][0]["code"] == "RATE_LIMITED"
        assert "account" in body["logIn"]["errors"][0]["message"]


async def test_log_in_throttled_per_ip(clean: Settings) -> None:
    settings = make_settings(clean, login_max_failures_per_ip=3)
    async with serve_asgi(create_app(settings)) as url, httpx.AsyncClient() as http:
        gql = GraphQLClient(http, url)
        ok = await gql.data(SIGN_UP, {"u": "luna", "e": "luna@example.com", "p": PASSWORD})
        assert ok["signUp"]["session"]
        for name in ("a1", "a2", "a3"):  # three different accounts, one address
            body = await gql.data(LOG_IN, {"l": name, "p": "guessing"})
            assert body["logIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
        body = await gql.data(LOG_IN, {"l": "luna", "p": PASSWORD})
        assert body["logIn"]["errors"][0]["code"] == "RATE_LIMITED"
        assert "ip" in body["logIn"]["errors"][0]["message"]
        # Another client address (as told by a trusted proxy on loopback) is not throttled.
        body = await gql.data(
            LOG_IN, {"l": "luna", "p": PASSWORD}, headers={"x-forwarded-for": "203.0.113.9"}
        )
        assert body["logIn"]["session"]["user"]["username"] == "luna"


async def test_update_profile(users_api: UsersApi) -> None:
    acct = await users_api.sign_up("coco")
    q = """mutation($i: UpdateProfileInput!) { updateProfile(input: $i) {
             id displayName bio } }"""
    body = await users_api.gql.data(
        q, {"i": {"displayName": "  Coco   the Dog ", "bio": "woof"}}, token=acct.token
    )
    assert body["updateProfile"] == {"id": acct.id, "displayName": "Coco the Dog", "bio": "woof"}
    body = await users_api.gql(q, {"i": {"bio": "x" * 281}}, token=acct.token)
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "bio"
    body = await users_api.gql(q, {"i": {"bio": "anonymous"}})
    assert error_code(body) == "UNAUTHENTICATED"
    me = await users_api.gql.data("{ me { bio displayName } }", token=acct.token)
    assert me["me"] == {"bio": "woof", "displayName": "Coco the Dog"}


async def test_user_lookups(users_api: UsersApi) -> None:
    acct = await users_api.sign_up("Daisy")
    gql = users_api.gql
    body = await gql.data("query($id: ID!) { user(id: $id) { username email } }", {"id": acct.id})
    assert body["user"] == {"username": "Daisy", "email": None}  # not the owner
    body = await gql.data('{ userByUsername(username: "daisy") { id } }')
    assert body["userByUsername"] == {"id": acct.id}
    assert (await gql.data('{ userByUsername(username: "ghost") { id } }'))[
        "userByUsername"
    ] is None
    assert (await gql.data('{ user(id: "123") { id } }'))["user"] is None
    body = await gql('{ user(id: "abc") { id } }')
    assert error_code(body) == "BAD_USER_INPUT"
