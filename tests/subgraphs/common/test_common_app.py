"""The shared subgraph factory over real HTTP: error codes, bad requests, auth, federation."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import strawberry
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys, issue_access_token
from puppies.pagination import Page, PageRequest
from puppies.redis import create_redis
from puppies.settings import Settings
from resolvers.errors import NotFound
from subgraphs.common import (
    Connection,
    Info,
    SubgraphSpec,
    build_schema,
    connection_from_page,
    create_subgraph_app,
)
from tests.support.servers import serve_asgi


@strawberry.federation.type(keys=["id"])
class Thing:
    id: strawberry.ID
    n: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, info: Info) -> Thing:
        return Thing(id=id, n=info.context.loaders["n"])


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, n: int) -> int:
        return n

    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError("secret internals /etc/passwd")

    @strawberry.field
    def missing(self) -> int:
        raise NotFound("no such thing", field="id")

    @strawberry.field
    def whoami(self, info: Info) -> int:
        return info.context.viewer.require_user()

    @strawberry.field
    def greet(self, info: Info, name: str) -> str:
        """Sets a header and a status on the sub-response, as FastAPI lets a resolver."""
        response = info.context.response
        assert response is not None
        response.headers["x-probe"] = "greeted"
        response.status_code = 203
        return f"héllo {name}"

    @strawberry.field
    def legacy(self) -> str:
        return "old \ud800 text"

    @strawberry.field
    def things(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Thing]:
        req = PageRequest.build(info.context.settings, first, after)
        keys = [k for k in range(1000, 0, -1) if req.after is None or k < req.after]
        rows = [(k, k) for k in keys[: req.first + 1]]
        has_next = len(rows) > req.first
        rows = rows[: req.first]
        page = Page(items=[r[1] for r in rows], keys=[r[0] for r in rows], has_next_page=has_next)
        return connection_from_page(page, lambda k: Thing(id=strawberry.ID(str(k)), n=k))


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def whoami(self, info: Info) -> AsyncIterator[int]:
        yield info.context.viewer.require_user()

    @strawberry.subscription
    async def whoami_forever(self, info: Info) -> AsyncIterator[int]:
        """The viewer, then nothing until the socket ends (a quiet live subscription)."""
        yield info.context.viewer.require_user()
        await asyncio.Event().wait()
        yield 0  # never


def _app(settings: Settings) -> Any:
    ring = KeyRing(settings.keys_dir).load()
    spec = SubgraphSpec(
        name="probe",
        schema=build_schema(Query, subscription=Subscription, types=[Thing]),
        make_loaders=lambda resources, viewer: {"n": 7},
        key_source=lambda resources: LocalKeys(ring),
    )
    return create_subgraph_app(spec, settings), ring


async def _post(
    client: httpx.AsyncClient, url: str, query: str, variables: Any = None, **kw: Any
) -> httpx.Response:
    return await client.post(url + "/graphql", json={"query": query, "variables": variables}, **kw)


@pytest.fixture
async def probe(settings: Settings):
    app, ring = _app(settings)
    async with serve_asgi(app) as url, httpx.AsyncClient() as client:
        yield url, client, ring


async def test_error_codes(probe) -> None:
    url, client, _ = probe
    r = await _post(client, url, "{ echo(n: 3) }")
    assert r.json() == {"data": {"echo": 3}}

    r = await _post(client, url, "{ echo(n: ")
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "Syntax Error" in err["message"]

    r = await _post(client, url, "{ nope }")
    assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

    r = await _post(client, url, "query($n: Int!) { echo(n: $n) }", {"n": "three"})
    err = r.json()["errors"][0]
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$n" in err["message"]

    r = await _post(client, url, "{ boom }")
    body = r.json()
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert body["errors"][0]["message"] == "Internal server error"
    assert "passwd" not in r.text and "Traceback" not in r.text

    r = await _post(client, url, "{ missing }")
    assert r.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}

    r = await _post(client, url, "{ whoami }")
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_garbage_requests(probe) -> None:
    url, client, _ = probe
    r = await client.post(
        url + "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    body = r.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "not valid JSON" in body["errors"][0]["message"]

    # JSON that is not an object (nor a batch of them): a coded 400, not the view's 500
    for raw in (b'"{ echo(n: 1) }"', b"42", b"null", b"true", b"[1]"):
        for content_type in ("application/json", "application/json; charset=utf-8"):
            r = await client.post(
                url + "/graphql", content=raw, headers={"content-type": content_type}
            )
            assert r.status_code == 400, (raw, content_type, r.text)
            error = r.json()["errors"][0]
            assert error["extensions"]["code"] == "BAD_REQUEST", (raw, error)
            assert "object" in error["message"], (raw, error)

    r = await client.post(url + "/graphql", json={"query": 42})
    assert r.status_code == 400
    assert "query" in r.json()["errors"][0]["message"]

    r = await client.post(url + "/graphql", json={"query": "{ echo(n: 1) }", "variables": [1]})
    assert r.status_code == 400
    assert "variables" in r.json()["errors"][0]["message"]


async def test_post_served_directly_keeps_what_fastapi_did(probe) -> None:
    """POST /graphql skips FastAPI (subgraphs/common/direct.py): what orjson cannot write
    is still answered, a resolver's status and headers still reach the
    client, and what is not a POST to /graphql still goes through FastAPI."""
    url, client, _ = probe
    # a lone surrogate (text stored before input was checked): orjson refuses to write it,
    # the json module does, as before
    r = await _post(client, url, "{ legacy }")
    assert r.status_code == 200
    assert json.loads(r.text) == {"data": {"legacy": "old \ud800 text"}}

    r = await _post(client, url, 'query { greet(name: "zoé") }')
    assert (r.status_code, r.headers["x-probe"]) == (203, "greeted")
    assert r.json() == {"data": {"greet": "héllo zoé"}}
    assert r.headers["content-type"] == "application/json"

    # a subscription over POST: refused with the same explanation
    r = await _post(client, url, "subscription { whoami }")
    assert r.status_code == 400
    assert "WebSocket" in r.json()["errors"][0]["message"]

    r = await client.get(url + "/graphql", params={"query": "{ echo(n: 4) }"})
    assert r.json() == {"data": {"echo": 4}}
    r = await client.put(url + "/graphql", json={"query": "{ echo(n: 4) }"})
    assert r.status_code == 405


async def test_plain_json_requests_are_answered_as_the_view_answers_them(probe) -> None:
    """A body sent as exactly `application/json` is run without Strawberry's view
    (DirectGraphQL.plain_json); with a charset it goes through the view: every kind of
    request gets the same status and body both ways."""
    url, client, _ = probe
    two = "query A { echo(n: 1) } query B { echo(n: 2) }"
    cases: list[object] = [
        {"query": "{ echo(n: 3) }"},
        {"query": "{ boom }"},
        {"query": "{ missing }"},
        {"query": ""},
        {"query": "{ nope }"},
        {"query": "{ echo(n: "},
        {"query": two},
        {"query": two, "operationName": "B"},
        {"query": two, "operationName": "C"},
        {"query": "subscription { whoami }"},
        {"query": "{ echo(n: 1) }", "extensions": {"x": 1}, "variables": None},
        {"query": "query($n: Int!) { echo(n: $n) }", "variables": {"n": "x"}},
        {"query": "query($n: Int!) { echo(n: $n) }", "variables": {"n": 5}},
        {"query": "{ echo(n: 1) }", "extensions": [1]},
        [{"query": "{ echo(n: 1) }"}],
    ]
    for case in cases:
        raw = json.dumps(case).encode()
        answers = []
        for content_type in ("application/json", "application/json; charset=utf-8"):
            r = await client.post(
                url + "/graphql", content=raw, headers={"content-type": content_type}
            )
            answers.append((r.status_code, r.json()))
        assert answers[0] == answers[1], case
    r = await client.post(
        url + "/graphql",
        content=json.dumps(cases[1]).encode(),
        headers={"content-type": "application/json"},
    )
    assert r.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert r.json()["errors"][0]["message"] == "Internal server error"


async def test_viewer_from_bearer_token(probe, settings: Settings) -> None:
    url, client, ring = probe
    token = issue_access_token(ring, settings, 12345).token
    r = await _post(client, url, "{ whoami }", headers={"authorization": f"Bearer {token}"})
    assert r.json() == {"data": {"whoami": 12345}}

    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    r = await _post(client, url, "{ echo(n: 1) }", headers={"authorization": f"Bearer {tampered}"})
    assert r.status_code == 401
    assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_federation_service_and_entities(probe) -> None:
    url, client, _ = probe
    r = await _post(client, url, "{ _service { sdl } }")
    sdl = r.json()["data"]["_service"]["sdl"]
    assert '@key(fields: "id")' in sdl and "federation/v2" in sdl
    r = await _post(
        client,
        url,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Thing { id n } } }",
        {"r": [{"__typename": "Thing", "id": "5"}]},
    )
    assert r.json() == {"data": {"_entities": [{"id": "5", "n": 7}]}}


async def test_connections_cursor_and_cap(probe, settings: Settings) -> None:
    url, client, _ = probe
    q = (
        "query($f: Int, $a: String) { things(first: $f, after: $a) { "
        "edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    )
    r = await _post(client, url, q, {"f": 2})
    conn = r.json()["data"]["things"]
    assert [e["node"]["id"] for e in conn["edges"]] == ["1000", "999"]
    assert conn["pageInfo"]["hasNextPage"] is True
    r = await _post(client, url, q, {"f": 2, "a": conn["pageInfo"]["endCursor"]})
    assert [e["node"]["id"] for e in r.json()["data"]["things"]["edges"]] == ["998", "997"]

    r = await _post(client, url, q, {"f": settings.max_page_size + 1})
    err = r.json()["errors"][0]
    assert err["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    r = await _post(client, url, q, {"f": 2, "a": "garbage!"})
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def _ws_whoami(url: str, init: dict[str, Any]) -> Any:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        try:
            ack = json.loads(await ws.recv())
        except ConnectionClosed as closed:
            return ("closed", closed.rcvd.code if closed.rcvd else None)
        assert ack["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": "subscription { whoami }"}}
            )
        )
        return json.loads(await ws.recv())


async def test_websocket_auth_from_connection_init(probe, settings: Settings) -> None:
    url, _, ring = probe
    token = issue_access_token(ring, settings, 777).token
    msg = await _ws_whoami(url, {"Authorization": f"Bearer {token}"})
    assert msg["type"] == "next" and msg["payload"]["data"] == {"whoami": 777}
    msg = await _ws_whoami(url, {})
    assert msg["type"] == "next"
    assert msg["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await _ws_whoami(url, {"authorization": "Bearer not-a-jwt"}) == ("closed", 4403)


async def test_websocket_connection_params_shapes(probe, settings: Settings) -> None:
    url, _, ring = probe
    token = issue_access_token(ring, settings, 778).token
    init: dict[str, Any]
    for init in (
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"authorization": "Bearer garbage", "headers": {"authorization": f"Bearer {token}"}},
        {"AUTHORIZATION": f"Bearer {token}"},
    ):
        msg = await _ws_whoami(url, init)
        assert msg["type"] == "next" and msg["payload"]["data"] == {"whoami": 778}, init
    for init in (
        {"headers": {"authorization": f"Bearer {token[:-3]}xyz"}},
        {"authorization": 42},
        {"x-api-key": "pk_nope_nope"},
    ):
        assert await _ws_whoami(url, init) == ("closed", 4403), init


async def test_websocket_params_win_over_a_bad_upgrade_header(probe, settings: Settings) -> None:
    url, _, ring = probe
    token = issue_access_token(ring, settings, 779).token
    ws_url = url.replace("http://", "ws://") + "/graphql"
    bad = {"Authorization": "Bearer not-a-jwt"}
    for init, expected in (({}, None), ({"Authorization": f"Bearer {token}"}, 779)):
        async with connect(
            ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers=bad,
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            if expected is None:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
                continue
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": "subscription { whoami }"},
                    }
                )
            )
            assert json.loads(await ws.recv())["payload"]["data"] == {"whoami": expected}


async def test_legacy_graphql_ws_refuses_a_bad_token_with_a_code(probe, settings: Settings) -> None:
    url, _, ring = probe
    ws_url = url.replace("http://", "ws://") + "/graphql"
    token = issue_access_token(ring, settings, 780).token
    async with connect(ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"headers": {"Authorization": f"Bearer {token}"}},
                }
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {"id": "1", "type": "start", "payload": {"query": "subscription { whoami }"}}
            )
        )
        msg = json.loads(await ws.recv())
        while msg["type"] == "ka":
            msg = json.loads(await ws.recv())
        assert msg["payload"]["data"] == {"whoami": 780}
    async with connect(ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": "Bearer not-a-jwt"}}
            )
        )
        msg = json.loads(await ws.recv())
        while msg["type"] == "ka":
            msg = json.loads(await ws.recv())
        assert msg["type"] == "connection_error"
        assert msg["payload"]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revoked_account_is_refused_over_http_and_both_websocket_protocols(
    probe, settings: Settings
) -> None:
    """Reached directly, the subgraph refuses a revoked account's token however it comes:
    the connection_init payload was authenticated without asking (refuse_revoked ran for
    the HTTP context only), so a revoked account could still subscribe."""
    url, client, ring = probe
    token = issue_access_token(ring, settings, 781, now=time.time() - 5).token
    redis = create_redis(settings)
    try:
        await redis.zadd(settings.revoked_subjects_key, {"781": time.time()})
        r = await _post(client, url, "{ whoami }", headers={"authorization": f"Bearer {token}"})
        assert [e["extensions"]["code"] for e in r.json()["errors"]] == ["UNAUTHENTICATED"]
        assert "revoked" in r.json()["errors"][0]["message"]
        assert await _ws_whoami(url, {"Authorization": f"Bearer {token}"}) == ("closed", 4403)
        ws_url = url.replace("http://", "ws://") + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
            init = {"headers": {"Authorization": f"Bearer {token}"}}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            msg = json.loads(await ws.recv())
            while msg["type"] == "ka":
                msg = json.loads(await ws.recv())
            assert msg["type"] == "connection_error", msg
            assert msg["payload"]["extensions"]["code"] == "UNAUTHENTICATED"
            assert "revoked" in msg["payload"]["message"]
        # another account's token is not refused
        other = issue_access_token(ring, settings, 782).token
        msg = await _ws_whoami(url, {"Authorization": f"Bearer {other}"})
        assert msg["payload"]["data"] == {"whoami": 782}
    finally:
        await redis.zrem(settings.revoked_subjects_key, "781")
        await redis.aclose()


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_an_open_direct_subscription_of_a_revoked_account_ends(
    probe, settings: Settings, protocol: str
) -> None:
    """Reached directly, a subgraph checked revocation at connection_init only: a
    subscription opened before the account was revoked went on for as long as the socket
    stayed open. It now ends (close 4403 with the reason) within a few seconds, as the
    router's own sockets do; another account's subscription goes on."""
    url, _, ring = probe
    ws_url = url.replace("http://", "ws://") + "/graphql"
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    first = "next" if protocol == "graphql-transport-ws" else "data"

    async def subscribed(user: int) -> Any:
        token = issue_access_token(ring, settings, user, now=time.time() - 5).token
        ws = await connect(ws_url, subprotocols=[protocol])  # type: ignore[list-item]
        init = {"Authorization": f"Bearer {token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = {"query": "subscription { whoamiForever }"}
        await ws.send(json.dumps({"id": "1", "type": start, "payload": query}))
        msg = json.loads(await ws.recv())
        while msg["type"] == "ka":
            msg = json.loads(await ws.recv())
        assert msg["type"] == first and msg["payload"]["data"] == {"whoamiForever": user}
        return ws

    revoked, other = await subscribed(791), await subscribed(792)
    redis = create_redis(settings)
    try:
        await redis.zadd(settings.revoked_subjects_key, {"791": time.time()})
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(60):
                while True:
                    assert json.loads(await revoked.recv())["type"] == "ka"
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403 and "revoked" in closed.value.rcvd.reason
        # the other account's socket is still open and answers
        await other.ping()
        assert other.close_code is None
    finally:
        await redis.zrem(settings.revoked_subjects_key, "791")
        await redis.aclose()
        await revoked.close()
        await other.close()


async def test_operations_are_parsed_and_validated_once_per_text(probe) -> None:
    from strawberry.extensions import ParserCache, ValidationCache

    from subgraphs.common.app import OPERATION_CACHE_SIZE

    url, client, _ = probe
    # the process-wide LRU caches the subgraph schemas use (keyed by their size)
    parsed: Any = ParserCache(maxsize=OPERATION_CACHE_SIZE).cached_parse_document
    validated: Any = ValidationCache(maxsize=OPERATION_CACHE_SIZE).cached_validate_document
    # a text that parses and validates is prepared once by the lean path
    # (subgraphs/common/execution.py) and never reaches Strawberry's caches
    query = "query Once($n: Int!) { echo(n: $n) } # cache probe"
    p0, v0 = parsed.cache_info(), validated.cache_info()
    for n in (1, 2, 3):
        r = await _post(client, url, query, {"n": n})
        assert r.json() == {"data": {"echo": n}}
    p1, v1 = parsed.cache_info(), validated.cache_info()
    assert (p1.misses - p0.misses, p1.hits - p0.hits) == (0, 0)
    assert (v1.misses - v0.misses, v1.hits - v0.hits) == (0, 0)

    # one that does not validate goes to Strawberry's execute, whose caches keep it
    for _ in range(3):
        r = await _post(client, url, "{ nope } # once")
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    p2, v2 = parsed.cache_info(), validated.cache_info()
    assert (p2.misses - p1.misses, p2.hits - p1.hits) == (1, 2)
    assert (v2.misses - v1.misses, v2.hits - v1.hits) == (1, 2)

    # cached validation errors keep their code; parse errors are never cached
    for _ in range(2):
        r = await _post(client, url, "{ nope } # cache probe")
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        r = await _post(client, url, "{ echo(n: # cache probe")
        err = r.json()["errors"][0]
        assert err["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        assert "Syntax Error" in err["message"]


def test_the_sub_response_is_fastapis() -> None:
    """DirectGraphQL's sub-response has exactly the state of FastAPI's (`Response()`, its
    content-length deleted, no status), and behaves as one when a resolver sets on it."""
    from starlette.responses import Response

    from subgraphs.common.direct import sub_response

    fastapis = Response()
    del fastapis.headers["content-length"]
    fastapis.status_code = None  # type: ignore[assignment]
    ours = sub_response()

    def state(response: Response) -> dict[str, object]:
        # `_headers`: the `headers` property's cache, made at the first access
        return {k: v for k, v in vars(response).items() if k != "_headers"}

    assert type(ours) is Response and state(ours) == state(fastapis)
    for response in (ours, fastapis):
        response.headers["x-probe"] = "1"
        response.status_code = 203
    assert state(ours) == state(fastapis) and vars(ours) == vars(fastapis)
