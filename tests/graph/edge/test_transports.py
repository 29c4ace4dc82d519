"""Every edge policy over every transport: HTTP (POST), server-sent events, multipart
(`Accept: multipart/mixed` only) and graphql-transport-ws, one test per transport per policy.

One stack for the module: the users and posts subgraphs and a router, each a real
`puppies` process, on the test session's PostgreSQL and Redis; the router has everything on
(authentication, the persisted-query list of client `acme`, authorization directives,
`free` keys limited to 3 requests a minute, cost enforced with a small `free` maximum). Each
test uses API keys of its own, so its rate-limit budget is its own."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from graph.composition import Subgraph, compose
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port
from puppies.settings import Settings
from resolvers.runtime import Resources
from resolvers.users.apikeys import set_api_key_client
from tests.graph.edge.stack import CREATE_KEY, SECRET, router_config
from tests.graph.serving.test_sse import read_events
from tests.subgraphs.users.conftest import PASSWORD, SIGN_UP
from tests.support.incremental import MultipartParts, merge_payloads
from tests.support.servers import run_cli
from tests.support.tmp import private_tmp_dir

TRANSPORTS = ["http", "sse", "multipart", "websocket"]
ME = "{ me { username } }"
ACME_ME = "query AcmeMe { me { username } }"
FREE_LIMIT = 3  # requests per minute of a free key
FREE_MAX_COST = 50
DEAR = "{ posts(first: 100) { edges { node { id text } } } }"  # estimated well over 50


@dataclass
class Answer:
    """What one operation got, whatever the transport: the HTTP status and headers (None on
    WebSocket), every result payload merged, or the WebSocket close code."""

    status: int | None = None
    headers: httpx.Headers | None = None
    result: dict[str, Any] = field(default_factory=dict)
    closed: int | None = None
    reason: str = ""

    @property
    def codes(self) -> list[str]:
        return [e["extensions"]["code"] for e in self.result.get("errors", [])]


@dataclass
class TransportStack:
    router: str
    users: str
    settings: Settings
    keys_made: int = 0
    token: str = ""

    async def key(self, scopes: list[str] | None = None) -> tuple[str, str]:
        """A new free API key (id, key), of a new owner every 15 keys (20 live keys each)."""
        if not self.token or self.keys_made % 15 == 0:
            name = f"tr_{secrets.token_hex(4)}"
            signed = await send(
                "http",
                self.router,
                SIGN_UP,
                {"u": name, "e": f"{name}@example.com", "p": PASSWORD},
            )
            self.token = signed.result["data"]["signUp"]["session"]["accessToken"]
        self.keys_made += 1
        made = await send(
            "http",
            self.router,
            CREATE_KEY,
            {"n": "transports", "s": scopes or ["read:profile", "read:posts"]},
            {"authorization": f"Bearer {self.token}"},
        )
        created = made.result["data"]["createApiKey"]
        assert created["apiKey"]["tier"] == "FREE", created
        return created["apiKey"]["id"], created["key"]


async def send(
    transport: str,
    router: str,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One operation over ``transport`` with ``headers`` (on WebSocket: the connection_init
    payload, as browsers send credentials)."""
    body = {"query": query, "variables": variables or {}}
    if transport == "websocket":
        return await _over_ws(router, body, headers or {})
    if transport == "legacy-websocket":
        return await _over_legacy_ws(router, body, headers or {})
    if transport == "get":
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.get(
                router + "/graphql",
                params={"query": query, "variables": json.dumps(variables or {})},
                headers={**(headers or {}), "accept": "application/graphql-response+json"},
            )
        return Answer(response.status_code, response.headers, response.json())
    accept = {
        "http": "application/graphql-response+json",
        "sse": "text/event-stream",
        "multipart": 'multipart/mixed;deferSpec="20220824"',
    }[transport]
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream(
            "POST", router + "/graphql", json=body, headers={**(headers or {}), "accept": accept}
        ) as response,
    ):
        answer = Answer(response.status_code, response.headers)
        kind = response.headers.get("content-type", "")
        if kind.startswith("text/event-stream"):
            events = await read_events(response)
            assert events[-1][0] == "complete", events
            answer.result = merge_payloads([data for name, data in events if name == "next"])
        elif kind.startswith("multipart/mixed"):
            answer.result = merge_payloads([p.body async for p in MultipartParts(response)])
        else:  # a refusal before any stream, or plain JSON
            await response.aread()
            answer.result = response.json()
    return answer


async def _over_ws(router: str, body: dict[str, Any], init: dict[str, str]) -> Answer:
    url = router.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await ws.recv())
            assert ack["type"] == "connection_ack", ack
            await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": body}))
            payloads = []
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "next":
                    payloads.append(message["payload"])
                elif message["type"] == "error":
                    return Answer(result={"errors": message["payload"]})
                elif message["type"] == "complete":
                    return Answer(result=merge_payloads(payloads))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            return Answer(closed=closed.rcvd.code, reason=closed.rcvd.reason)


async def _over_legacy_ws(router: str, body: dict[str, Any], init: dict[str, str]) -> Answer:
    """subscriptions-transport-ws (`graphql-ws`): a refused connection_init is answered
    with `connection_error` (its payload in `result["errors"]`) and the socket closed."""
    url = router.replace("http://", "ws://") + "/graphql"
    answer = Answer()
    async with connect(url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "connection_ack":
                    await ws.send(json.dumps({"type": "start", "id": "1", "payload": body}))
                elif message["type"] == "connection_error":
                    answer.result = {"errors": [message["payload"]]}
                elif message["type"] == "data":
                    answer.result = message["payload"]
                elif message["type"] in ("error", "complete"):
                    return answer
        except ConnectionClosed as closed:
            assert closed.rcvd is not None
            answer.closed, answer.reason = closed.rcvd.code, closed.rcvd.reason
            return answer


def _manifest(path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {"id": "acme-me-v1", "name": "AcmeMe", "type": "query", "body": ACME_ME}
                ],
            }
        )
    )


@pytest.fixture(scope="module")
def stack(settings: Settings, service_env: dict[str, str]) -> Iterator[TransportStack]:
    workdir = private_tmp_dir("edge-transports")
    env = {**service_env, "ROUTER_PRINCIPAL_SECRET": SECRET}
    users_port, posts_port, router_port = free_port(), free_port(), free_port()
    users = f"http://127.0.0.1:{users_port}"
    posts_env = {**env, "JWKS_URL": f"{users}/.well-known/jwks.json"}
    with (
        run_cli(["serve", "users", "--port", str(users_port)], env, port=users_port),
        run_cli(["serve", "posts", "--port", str(posts_port)], posts_env, port=posts_port),
    ):
        sources = []
        for name, port in (("users", users_port), ("posts", posts_port)):
            url = f"http://127.0.0.1:{port}/graphql"
            sdl = httpx.post(url, json={"query": "{ _service { sdl } }"}, timeout=30)
            sources.append(Subgraph(name, url, sdl.json()["data"]["_service"]["sdl"]))
        supergraph = workdir / "supergraph.graphql"
        supergraph.write_text(compose(sources))
        _manifest(workdir / "acme.json")
        redis_url = str(settings.redis_url)
        config = router_config(users, redis_url)
        config["include_subgraph_errors"] = {"all": False}
        config["authentication"]["router"]["jwt"]["revocations"] = {"redis": {"urls": [redis_url]}}
        config["rate_limits"] = {
            "enabled": True,
            "redis": {"urls": [redis_url]},
            "tiers": {"free": {"limit": FREE_LIMIT, "daily_quota": 1000}},
            "window": "1h",  # a GCRA bucket: nothing refills while a test counts
        }
        config["demand_control"] = {
            "enabled": True,
            "mode": "enforce",
            "strategy": {
                "static_estimated": {
                    "list_size": 10,
                    "max": 100000,
                    "max_per_tier": {"free": FREE_MAX_COST},
                }
            },
        }
        config["persisted_queries"] = {
            "enabled": True,
            "clients": {"acme": {"local_manifests": [str(workdir / "acme.json")]}},
        }
        router_yaml = workdir / "router.yaml"
        router_yaml.write_text(yaml.safe_dump(config))
        args = ["serve", "router", "--supergraph", str(supergraph), "--config", str(router_yaml)]
        args += ["--listen", f"127.0.0.1:{router_port}"]
        with run_cli(args, env, port=router_port):
            yield TransportStack(f"http://127.0.0.1:{router_port}", users, settings)


# ---- authentication: 401 + WWW-Authenticate on HTTP, SSE and multipart; 4403 on WebSocket


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_failing_credential_is_refused(stack: TransportStack, transport: str) -> None:
    unknown = {"x-api-key": f"pk_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"}
    keyring = KeyRing(stack.settings.keys_dir).load()
    old = issue_access_token(keyring, stack.settings, 1, now=time.time() - 3600, ttl_seconds=60)
    expired = {"authorization": f"Bearer {old.token}"}
    for headers, why in ((unknown, "not valid"), (expired, "expired")):
        answer = await send(transport, stack.router, ME, headers=headers)
        if transport == "websocket":
            assert answer.closed == 4403, answer
            continue
        assert answer.status == 401, answer
        assert answer.headers is not None
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        assert answer.codes == ["UNAUTHENTICATED"] and "data" not in answer.result
        assert why in answer.result["errors"][0]["message"]
    # without a credential: anonymous, answered
    anonymous = await send(transport, stack.router, ME)
    assert anonymous.result == {"data": {"me": None}}


# ---- rate limits: the 4th request of a free key (3 an hour) is refused


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_free_keys_limit(stack: TransportStack, transport: str) -> None:
    _, key = await stack.key()
    headers = {"x-api-key": key}
    for left in range(FREE_LIMIT - 1, -1, -1):
        admitted = await send(transport, stack.router, ME, headers=headers)
        assert admitted.result["data"]["me"]["username"].startswith("tr_"), admitted
        if admitted.headers is not None:  # every HTTP answer shows what is left
            assert f'"free";r={left};' in admitted.headers["ratelimit"]
    refused = await send(transport, stack.router, ME, headers=headers)
    assert refused.codes == ["RATE_LIMITED"], refused
    error = refused.result["errors"][0]["extensions"]
    assert error["policy"] == "free" and error["limit"] == FREE_LIMIT
    assert 1 <= error["retryAfter"] <= 1200  # one request per hour / 3
    if transport != "websocket":
        assert refused.status == 429 and refused.headers is not None
        assert int(refused.headers["retry-after"]) == error["retryAfter"]
        assert '"free";q=3;w=3600' in refused.headers["ratelimit-policy"]
        assert '"free";r=0;' in refused.headers["ratelimit"]


# ---- safelists: a partner's client runs only the operations of its own list


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_partners_unknown_operation(stack: TransportStack, transport: str) -> None:
    key_id, key = await stack.key()
    res = Resources.open(stack.settings)
    try:
        await set_api_key_client(res, int(key_id), "acme")
    finally:
        await res.close()
    headers = {"x-api-key": key}
    refused = await send(transport, stack.router, ME, headers=headers)
    assert refused.codes == ["PERSISTED_QUERY_NOT_IN_LIST"], refused
    assert "client 'acme'" in refused.result["errors"][0]["message"]
    if transport != "websocket":
        assert refused.status == 400
    listed = await send(transport, stack.router, ACME_ME, headers=headers)
    assert listed.result["data"]["me"]["username"].startswith("tr_"), listed
    # a key of no client is not held to acme's list
    _, other = await stack.key()
    free = await send(transport, stack.router, ME, headers={"x-api-key": other})
    assert free.result["data"]["me"] is not None


# ---- authorization: a field the key may not read is null with an error at its path


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_field_the_key_may_not_read(stack: TransportStack, transport: str) -> None:
    _, key = await stack.key(["read:profile"])
    query = "{ me { username } apiKeys { id } }"
    answer = await send(transport, stack.router, query, headers={"x-api-key": key})
    assert answer.result["data"]["me"]["username"].startswith("tr_"), answer
    assert answer.result["data"]["apiKeys"] is None
    assert answer.codes == ["UNAUTHORIZED_FIELD_OR_TYPE"]
    assert answer.result["errors"][0]["path"] == ["apiKeys"]
    if transport != "websocket":
        assert answer.status == 200
    # the owner's session may read it
    mine = await send(
        transport, stack.router, query, headers={"authorization": f"Bearer {stack.token}"}
    )
    assert isinstance(mine.result["data"]["apiKeys"], list) and "errors" not in mine.result


# ---- demand control: over the free tier's maximum refused, under it admitted


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_cost_limit(stack: TransportStack, transport: str) -> None:
    _, key = await stack.key()
    headers = {"x-api-key": key}
    dear = await send(transport, stack.router, DEAR, headers=headers)
    assert dear.codes == ["COST_ESTIMATED_TOO_EXPENSIVE"], dear
    assert "data" not in dear.result
    if transport != "websocket":
        assert dear.status == 400
    cheap = await send(transport, stack.router, ME, headers=headers)
    assert cheap.result["data"]["me"]["username"].startswith("tr_"), cheap


# ---- a revoked account (deleteAccount): refused alike on every transport, open sockets end

REVOKED_TRANSPORTS = ["http", "get", "sse", "multipart", "websocket", "legacy-websocket"]
DELETE = """mutation($input: DeleteAccountInput!) { deleteAccount(input: $input) {
  deletionRequestedAt errors { code } } }"""
NOTIFICATIONS = "subscription { notificationAdded { id } }"


async def _account(stack: TransportStack) -> dict[str, str]:
    name = f"rv_{secrets.token_hex(4)}"
    variables = {"u": name, "e": f"{name}@example.com", "p": PASSWORD}
    signed = await send("http", stack.router, SIGN_UP, variables)
    token = signed.result["data"]["signUp"]["session"]["accessToken"]
    return {"authorization": f"Bearer {token}"}


async def _delete(stack: TransportStack, bearer: dict[str, str]) -> None:
    """deleteAccount through the router, then wait until this router refuses the token
    (the revocation reaches it over Redis pub/sub)."""
    deleted = await send("http", stack.router, DELETE, {"input": {"password": PASSWORD}}, bearer)
    assert deleted.result["data"]["deleteAccount"]["errors"] == [], deleted
    deadline = time.monotonic() + 60
    while (await send("http", stack.router, ME, headers=bearer)).status != 401:
        assert time.monotonic() < deadline, "the revocation never reached the router"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("transport", REVOKED_TRANSPORTS)
async def test_a_revoked_accounts_token_is_refused(stack: TransportStack, transport: str) -> None:
    bearer = await _account(stack)
    before = await send(transport, stack.router, ME, headers=bearer)
    assert before.result["data"]["me"]["username"].startswith("rv_"), before
    await _delete(stack, bearer)
    answer = await send(transport, stack.router, ME, headers=bearer)
    if transport == "websocket":  # the protocol has only its close code to say it
        assert answer.closed == 4403 and "revoked" in answer.reason, answer
        return
    assert answer.codes == ["UNAUTHENTICATED"] and "data" not in answer.result, answer
    assert "revoked" in answer.result["errors"][0]["message"]
    if transport == "legacy-websocket":
        assert answer.closed == 4403, answer
        return
    assert answer.status == 401, answer
    assert answer.headers is not None
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_an_open_subscription_of_a_revoked_account_ends(
    stack: TransportStack, protocol: str
) -> None:
    """The socket was accepted before the revocation; its subscription streams until the
    router checks the credential again (every few seconds while operations run,
    graph/serving/transports/ws.py) and closes the socket with 4403."""
    bearer = await _account(stack)
    legacy = protocol == "graphql-ws"
    start, result = ("start", "data") if legacy else ("subscribe", "next")
    url = stack.router.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": bearer}))
        payload = {"query": NOTIFICATIONS}
        await ws.send(json.dumps({"type": start, "id": "sub", "payload": payload}))
        await ws.send(json.dumps({"type": start, "id": "me", "payload": {"query": ME}}))
        while True:  # the socket works: the query sent after the subscription is answered
            message = json.loads(await ws.recv())
            if message["type"] == result and message["id"] == "me":
                assert message["payload"]["data"]["me"]["username"].startswith("rv_")
                break
        await _delete(stack, bearer)
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # nothing but keep-alives and the end of the query
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                assert message["type"] in ("ka", "complete"), message
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert "revoked" in closed.value.rcvd.reason
