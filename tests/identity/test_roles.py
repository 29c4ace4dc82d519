"""Roles: on the account, in the access token, managed by admins (and by operators at the
command line), re-checked by the resolvers whatever the router let through."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

from tests.identity.conftest import LOG_IN, IdentityApi
from tests.support.client import PASSWORD, Account
from tests.support.stack import RunningStack

SET_ROLE = """mutation($u: ID!, $r: Role!) { setUserRole(userId: $u, role: $r) { id role } }"""
ME = "{ me { id role } }"


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def cli_set_role(stack: RunningStack, username: str, role: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "puppies.cli", "users", "set-role", username, role],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def log_in(api: IdentityApi, account: Account) -> str:
    body = await api.data(LOG_IN, {"l": account.username, "p": PASSWORD})
    return str(body["logIn"]["session"]["accessToken"])


async def test_a_new_account_is_a_user_and_its_token_says_so(api: IdentityApi) -> None:
    account = await api.account("plain")
    assert claims(account.token)["roles"] == ["user"]
    assert (await api.data(ME, token=account.token))["me"]["role"] == "USER"
    # the role is the account's own business
    other = await api.account("other")
    body = await api.data(
        "query($id: ID!) { user(id: $id) { role } }", {"id": account.id}, token=other.token
    )
    assert body["user"]["role"] is None


async def test_an_operator_makes_an_admin_who_makes_a_moderator(
    api: IdentityApi, running: RunningStack
) -> None:
    admin = await api.account("admin")
    done = cli_set_role(running, admin.username, "admin")
    assert done.returncode == 0, done.stderr
    assert "is now admin" in done.stdout
    admin_token = await log_in(api, admin)
    assert claims(admin_token)["roles"] == ["user", "moderator", "admin"]

    mod = await api.account("mod")
    body = await api.data(SET_ROLE, {"u": mod.id, "r": "MODERATOR"}, token=admin_token)
    assert body["setUserRole"]["id"] == mod.id
    mod_token = await log_in(api, mod)
    assert claims(mod_token)["roles"] == ["user", "moderator"]
    assert (await api.data(ME, token=mod_token))["me"]["role"] == "MODERATOR"

    # back to user: the database decides at once, the next token says so
    await api.data(SET_ROLE, {"u": mod.id, "r": "USER"}, token=admin_token)
    assert claims(await log_in(api, mod))["roles"] == ["user"]


async def test_only_admins_change_roles_and_never_their_own(
    api: IdentityApi, running: RunningStack
) -> None:
    admin = await api.account("admin2")
    assert cli_set_role(running, admin.username, "admin").returncode == 0
    admin_token = await log_in(api, admin)
    user = await api.account("user")
    target = await api.account("target")

    # the router refuses a token without the admin role (@policy admin)...
    body = await api.gql(SET_ROLE, {"u": target.id, "r": "ADMIN"}, token=user.token)
    assert body["data"] == {"setUserRole": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    # ...and the resolver refuses it too, for a subgraph reached without the router
    direct = await api.http.post(
        running.subgraph_url("users"),
        json={"query": SET_ROLE, "variables": {"u": target.id, "r": "ADMIN"}},
        headers={"authorization": f"Bearer {user.token}"},
    )
    assert direct.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # a stale token claiming admin is not enough: the resolver reads the database
    assert cli_set_role(running, admin.username, "user").returncode == 0
    body = await api.gql(SET_ROLE, {"u": target.id, "r": "ADMIN"}, token=admin_token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert cli_set_role(running, admin.username, "admin").returncode == 0

    body = await api.gql(SET_ROLE, {"u": admin.id, "r": "USER"}, token=admin_token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await api.gql(SET_ROLE, {"u": "123", "r": "USER"}, token=admin_token)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await api.gql(SET_ROLE, {"u": target.id, "r": "KING"}, token=admin_token)
    assert body["errors"][0]["extensions"]["code"] in (
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_USER_INPUT",
    )
    body = await api.gql(SET_ROLE, {"u": target.id, "r": "USER"})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"


def test_the_command_line_refuses_unknown_accounts(running: RunningStack) -> None:
    done = cli_set_role(running, "nobody_here_at_all", "admin")
    assert done.returncode != 0
    assert "no account named 'nobody_here_at_all'" in done.stderr
