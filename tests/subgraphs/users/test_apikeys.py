"""API keys: created once, stored hashed, scoped, revocable; verified in the users process
and, through the internal endpoint, in another subgraph."""

from __future__ import annotations

import hashlib

import asyncpg
import httpx
import strawberry

from puppies.settings import Settings
from subgraphs.common import Info, SubgraphSpec, build_schema, create_subgraph_app
from tests.subgraphs.users.conftest import UsersApi, make_settings
from tests.support.graphql import GraphQLClient, error_code
from tests.support.servers import serve_asgi

CREATE = """mutation($n: String!, $s: [String!]!) { createApiKey(input: {name: $n, scopes: $s}) {
  key apiKey { id name prefix tier scopes revokedAt } errors { code } } }"""
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }"
UPDATE = 'mutation { updateProfile(input: {bio: "via key"}) { bio } }'


async def test_create_use_revoke(users_api: UsersApi, settings: Settings) -> None:
    acct = await users_api.sign_up("partner")
    gql = users_api.gql
    body = await gql.data(CREATE, {"n": "reporting", "s": ["read:profile"]}, token=acct.token)
    created = body["createApiKey"]
    key, meta = created["key"], created["apiKey"]
    assert key.startswith(f"pk_{meta['prefix']}_")
    assert meta["tier"] == "FREE" and meta["scopes"] == ["read:profile"]
    # Stored hashed: the secret is nowhere in the table.
    assert settings.database_url
    conn = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        row = await conn.fetchrow("SELECT * FROM users.api_keys")
        assert row is not None and key not in str(dict(row))
        assert row["secret_hash"] == hashlib.sha256(key.split("_", 2)[2].encode()).hexdigest()
    finally:
        await conn.close()

    me = await gql.data("{ me { username } }", token=key)  # Bearer pk_...
    assert me["me"]["username"] == "partner"
    me = await gql.data("{ me { username } }", headers={"x-api-key": key})
    assert me["me"]["username"] == "partner"
    # The key lacks write:profile.
    assert error_code(await gql(UPDATE, token=key)) == "FORBIDDEN"
    # Keys cannot mint keys.
    body = await gql(CREATE, {"n": "child", "s": ["read:profile"]}, token=key)
    assert error_code(body) == "FORBIDDEN"
    # Listing shows it, without the secret.
    keys = await gql.data("{ apiKeys { id name } }", token=acct.token)
    assert keys["apiKeys"] == [{"id": meta["id"], "name": "reporting"}]

    revoked = await gql.data(REVOKE, {"id": meta["id"]}, token=acct.token)
    assert revoked["revokeApiKey"]["revokedAt"] is not None
    r = await gql.post("{ me { username } }", token=key)
    assert r.status_code == 401
    assert error_code(r.json()) == "UNAUTHENTICATED" and "revoked" in r.text


async def test_api_key_bad_paths(users_api: UsersApi) -> None:
    a, b = await users_api.sign_up("keyowner"), await users_api.sign_up("stranger")
    gql = users_api.gql
    body = await gql(CREATE, {"n": "x", "s": ["delete:everything"]}, token=a.token)
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "scopes"
    assert (
        error_code(await gql(CREATE, {"n": " ", "s": ["read:profile"]}, token=a.token))
        == "BAD_USER_INPUT"
    )
    assert error_code(await gql(CREATE, {"n": "x", "s": []}, token=a.token)) == "BAD_USER_INPUT"
    assert error_code(await gql(CREATE, {"n": "x", "s": ["read:profile"]})) == "UNAUTHENTICATED"
    made = await gql.data(CREATE, {"n": "mine", "s": ["read:profile"]}, token=a.token)
    key_id = made["createApiKey"]["apiKey"]["id"]
    assert error_code(await gql(REVOKE, {"id": key_id}, token=b.token)) == "NOT_FOUND"
    assert error_code(await gql(REVOKE, {"id": key_id})) == "UNAUTHENTICATED"
    key = made["createApiKey"]["key"]
    forged = key[:-3] + ("aaa" if not key.endswith("aaa") else "bbb")
    r = await gql.post("{ me { id } }", token=forged)
    assert r.status_code == 401 and error_code(r.json()) == "UNAUTHENTICATED"
    r = await gql.post("{ me { id } }", headers={"x-api-key": "pk_nonsense"})
    assert r.status_code == 401 and "malformed" in r.text
    # The internal verification endpoint the other subgraphs call.
    verify = users_api.url + "/internal/api-keys/verify"
    r = await users_api.http.post(verify, json={"key": key})
    assert r.status_code == 200
    assert r.json() == {
        "id": key_id,
        "userId": a.id,
        "tier": "free",
        "scopes": ["read:profile"],
        "clientName": None,
    }
    r = await users_api.http.post(verify, json={"key": forged})
    assert r.status_code == 401 and "not valid" in r.json()["error"]
    r = await users_api.http.post(verify, content=b"nope")
    assert r.status_code == 400


@strawberry.type
class ProbeQuery:
    @strawberry.field
    def viewer_id(self, info: Info) -> str | None:
        v = info.context.viewer
        return None if v.user_id is None else f"{v.kind}:{v.user_id}"

    @strawberry.field
    def can_write_posts(self, info: Info) -> bool:
        info.context.viewer.require_scope("write:posts")
        return True


async def test_another_subgraph_verifies_tokens_and_keys_remotely(
    users_api: UsersApi, settings: Settings
) -> None:
    """A second subgraph built on subgraphs.common with the defaults: the JWKS and the API
    keys come from the users subgraph over HTTP."""
    acct = await users_api.sign_up("remote")
    made = await users_api.gql.data(CREATE, {"n": "poster", "s": ["write:posts"]}, token=acct.token)
    key = made["createApiKey"]["key"]
    other_settings = make_settings(settings, jwks_url=users_api.url + "/.well-known/jwks.json")
    spec = SubgraphSpec(
        name="probe", schema=build_schema(ProbeQuery), make_loaders=lambda resources, viewer: None
    )
    app = create_subgraph_app(spec, other_settings)
    async with serve_asgi(app) as url, httpx.AsyncClient() as http:
        gql = GraphQLClient(http, url)
        body = await gql.data("{ viewerId }", token=acct.token)
        assert body["viewerId"] == f"user:{acct.id}"
        body = await gql.data("{ viewerId canWritePosts }", token=key)
        assert body == {"viewerId": f"api_key:{acct.id}", "canWritePosts": True}
        jwks_fetches = app.state.authenticator.keys.fetches
        assert jwks_fetches == 1
        verifier = app.state.authenticator.api_keys
        calls = verifier.calls
        await gql.data("{ viewerId }", token=key)  # cached verdict: no second call
        assert verifier.calls == calls

        await users_api.gql.data(
            REVOKE, {"id": made["createApiKey"]["apiKey"]["id"]}, token=acct.token
        )
        verifier.cache_seconds = 0  # the documented bound on revocation lag, shortened
        verifier._cache.clear()
        r = await gql.post("{ viewerId }", token=key)
        assert r.status_code == 401 and "revoked" in r.text
        # A logged-in session has every scope; anonymous has none.
        assert (await gql.data("{ canWritePosts }", token=acct.token))["canWritePosts"]
        assert error_code(await gql("{ canWritePosts }")) == "UNAUTHENTICATED"
