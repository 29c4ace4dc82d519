"""@defer and @stream through a real router over real HTTP, SSE and WebSocket.

The shop (tests/graph/serving/deferred_shop.py): products and inventory answer at once, reviews'
`Product.reviews` waits for a gate the test opens. The multipart responses are parsed as they
arrive with python-multipart (tests/support/incremental.py), so a test sees exactly what a
client sees, and when: the order of the parts and the moment each one arrived."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets

from graph.app import create_app
from graph.config import config_from_mapping
from tests.graph.fixtures.federation import FederatedGraph
from tests.graph.serving.deferred_shop import GATE, SUBGRAPHS
from tests.graph.serving.servers import ServerThread
from tests.graph.serving.test_sse import read_events
from tests.support.incremental import MultipartParts, Part, merge_payloads

APOLLO = "multipart/mixed;deferSpec=20220824, application/json"
V02 = "multipart/mixed;incrementalSpec=v0.2, application/json"
FORMATS = {"20220824": APOLLO, "v0.2": V02}

SLOW = """{ products { id name ... @defer(label: "reviews") { reviews { body } } } }"""
SLOW_PLAIN = "{ products { id name reviews { body } } }"


@pytest.fixture(scope="module")
def shop_sdl() -> Iterator[str]:
    with FederatedGraph(SUBGRAPHS).served() as sdl:
        yield sdl


@pytest.fixture(scope="module")
def start_shop(shop_sdl: str) -> Iterator[Callable[..., str]]:
    started: list[ServerThread] = []

    def start(config: dict[str, Any] | None = None) -> str:
        parsed = config_from_mapping(config or {})
        server = ServerThread(lambda: create_app(shop_sdl, parsed), lifespan="on").start()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def shop(start_shop: Callable[..., str]) -> str:
    return start_shop()


@pytest.fixture
async def http(shop: str) -> AsyncIterator[httpx.AsyncClient]:
    GATE.reset()
    async with httpx.AsyncClient(base_url=shop, timeout=60) as client:
        yield client
    GATE.open()  # nothing stays blocked after a test


async def whole(http: httpx.AsyncClient, query: str, variables: Any = None) -> Any:
    """The answer to `query` as one JSON response (the gate open)."""
    GATE.open()
    r = await http.post("/graphql", json={"query": query, "variables": variables})
    assert r.headers["content-type"].startswith("application/json"), r.headers
    return r.json()


async def parts(
    http: httpx.AsyncClient,
    query: str,
    accept: str,
    variables: Any = None,
    *,
    open_after: int | None = None,
) -> list[Part]:
    """Every part of a multipart response; with `open_after`, the gate opens once that many
    parts have arrived (so those parts were sent while reviews was still blocked)."""
    out: list[Part] = []
    async with http.stream(
        "POST",
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"accept": accept},
    ) as response:
        assert response.status_code == 200
        async for part in MultipartParts(response):
            assert part.headers["content-type"] == "application/json"
            out.append(part)
            if open_after is not None and len(out) == open_after:
                GATE.open()
    return out


@pytest.mark.parametrize("fmt", FORMATS)
async def test_first_part_arrives_before_the_slow_deferred_field(
    http: httpx.AsyncClient, fmt: str
) -> None:
    async with http.stream(
        "POST", "/graphql", json={"query": SLOW}, headers={"accept": FORMATS[fmt]}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == (
            'multipart/mixed;boundary="graphql";deferSpec=20220824'
            if fmt == "20220824"
            else 'multipart/mixed;boundary="graphql";incrementalSpec=v0.2'
        )
        received = MultipartParts(response)
        first = await anext(received)
        # The router has asked reviews for the deferred field, and reviews has not
        # answered: the first part came while that fetch was still held.
        assert await asyncio.to_thread(GATE.waiting.wait, 30)
        assert GATE.answered_at is None
        assert first.body["data"] == {
            "products": [
                {"id": "1", "name": "Table"},
                {"id": "2", "name": "Chair"},
                {"id": "3", "name": "Lamp"},
            ]
        }
        assert first.body["hasNext"] is True
        GATE.open()
        rest = [p async for p in received]
    assert GATE.answered_at is not None
    assert first.received < GATE.answered_at <= rest[-1].received
    assert rest[-1].body["hasNext"] is False
    merged = merge_payloads([first.body, *(p.body for p in rest)])
    assert merged == await whole(http, SLOW_PLAIN)
    if fmt == "20220824":
        assert {i["label"] for p in rest for i in p.body["incremental"]} == {"reviews"}
    else:
        assert [p["label"] for p in first.body["pending"]] == ["reviews"] * 3


async def test_a_fast_fragment_does_not_wait_for_a_slow_one(http: httpx.AsyncClient) -> None:
    query = """{ products { name
      ... @defer(label: "stock") { inStock }
      ... @defer(label: "reviews") { reviews { body } } } }"""
    got = await parts(http, query, APOLLO, open_after=2)
    assert [sorted({i["label"] for i in p.body.get("incremental", ())}) for p in got] == [
        [],
        ["stock"],
        ["reviews"],
    ]
    assert got[1].body["incremental"][0] == {
        "data": {"inStock": True},
        "path": ["products", 0],
        "label": "stock",
    }
    expected = await whole(http, "{ products { name inStock reviews { body } } }")
    assert merge_payloads([p.body for p in got]) == expected


@pytest.mark.parametrize("fmt", FORMATS)
async def test_nested_defers_and_stream(http: httpx.AsyncClient, fmt: str) -> None:
    query = """query ($n: Int!) { products @stream(initialCount: $n) { name
      ... @defer { price ... @defer { inStock reviews { body } } } } }"""
    GATE.open()
    got = await parts(http, query, FORMATS[fmt], {"n": 1})
    assert got[0].body["data"] == {"products": [{"name": "Table"}]}
    expected = await whole(http, "{ products { name price inStock reviews { body } } }")
    assert merge_payloads([p.body for p in got]) == expected


async def test_v02_sends_nothing_twice(http: httpx.AsyncClient) -> None:
    query = '{ product(id: "1") { id name ... @defer { id name price } } }'
    got = await parts(http, query, V02)
    assert got[0].body == {
        "data": {"product": {"id": "1", "name": "Table"}},
        "pending": [{"id": "0", "path": ["product"]}],
        "hasNext": True,
    }
    assert got[1].body == {
        "incremental": [{"id": "0", "data": {"price": 100}}],
        "completed": [{"id": "0"}],
        "hasNext": False,
    }


async def test_clients_without_multipart_get_the_whole_response(
    http: httpx.AsyncClient,
) -> None:
    expected = await whole(http, SLOW_PLAIN)
    for accept in ("application/json", "application/graphql-response+json", "*/*"):
        r = await http.post("/graphql", json={"query": SLOW}, headers={"accept": accept})
        assert r.status_code == 200
        assert not r.headers["content-type"].startswith("multipart")
        assert r.json() == expected


async def test_defer_turned_off_by_its_variable(http: httpx.AsyncClient) -> None:
    query = "query ($d: Boolean!) { products { name ... @defer(if: $d) { inStock } } }"
    expected = await whole(http, "{ products { name inStock } }")
    r = await http.post(
        "/graphql", json={"query": query, "variables": {"d": False}}, headers={"accept": APOLLO}
    )
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == expected
    # a client that takes only multipart gets the one result as one part
    got = await parts(http, query, "multipart/mixed;deferSpec=20220824", {"d": False})
    assert [p.body for p in got] == [{**expected, "hasNext": False}]
    got = await parts(http, query, APOLLO, {"d": True})
    assert len(got) == 2
    assert merge_payloads([p.body for p in got]) == expected


@pytest.mark.parametrize("fmt", FORMATS)
async def test_errors_stay_in_their_part(http: httpx.AsyncClient, fmt: str) -> None:
    # warehouse's resolver fails (a nullable field): an error in the deferred part only
    query = '{ product(id: "2") { name ... @defer(label: "w") { warehouse } } }'
    got = await parts(http, query, FORMATS[fmt])
    assert got[0].body["data"] == {"product": {"name": "Chair"}}
    assert "errors" not in got[0].body
    merged = merge_payloads([p.body for p in got])
    assert merged["data"] == {"product": {"name": "Chair", "warehouse": None}}
    assert [e["path"] for e in merged["errors"]] == [["product", "warehouse"]]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_null_stops_at_its_part(http: httpx.AsyncClient, fmt: str) -> None:
    # Lamp's review has no stars (`stars: Int!`): without @defer the null reaches the
    # non-null list of products and takes all the data; in a deferred fragment it stops at
    # the fragment (the incremental delivery RFC): that part fails, the rest is delivered.
    GATE.open()
    assert (await whole(http, "{ products { name reviews { stars } } }"))["data"] is None
    query = "{ products { name ... @defer { reviews { stars } } } }"
    got = await parts(http, query, FORMATS[fmt])
    body = got[-1].body
    if fmt == "20220824":
        failed = [i for i in body["incremental"] if i["data"] is None]
        assert [i["path"] for i in failed] == [["products", 2]]
    else:
        failed = [c for c in body["completed"] if "errors" in c]
        assert len(failed) == 1
    merged = merge_payloads([p.body for p in got])
    assert merged["data"] == {
        "products": [
            {"name": "Table", "reviews": [{"stars": 5}, {"stars": 3}]},
            {"name": "Chair", "reviews": [{"stars": 4}]},
            {"name": "Lamp"},
        ]
    }
    assert [e["path"] for e in merged["errors"]] == [["products", 2, "reviews", 0, "stars"]]


async def test_a_part_pending_at_the_router_timeout_fails(
    start_shop: Callable[..., str],
) -> None:
    url = start_shop({"traffic_shaping": {"router": {"timeout": "3s"}}})
    GATE.reset()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            got = await parts(client, SLOW, APOLLO)
    finally:
        GATE.open()
    assert got[0].body["hasNext"] is True
    last = got[-1].body
    assert last["hasNext"] is False
    codes = {e["extensions"]["code"] for i in last["incremental"] for e in i["errors"]}
    assert codes == {"GATEWAY_TIMEOUT"}
    assert all(i["data"] is None for i in last["incremental"])


async def test_server_sent_events_carry_the_parts(http: httpx.AsyncClient) -> None:
    GATE.open()
    async with http.stream(
        "POST", "/graphql", json={"query": SLOW}, headers={"accept": "text/event-stream"}
    ) as response:
        events = await read_events(response)
    assert [kind for kind, _ in events] == ["next", "next", "complete"]
    assert events[0][1]["pending"]  # incrementalSpec=v0.2
    merged = merge_payloads([body for kind, body in events if kind == "next"])
    assert merged == await whole(http, SLOW_PLAIN)


async def test_websocket_sends_each_part_as_next(http: httpx.AsyncClient, shop: str) -> None:
    GATE.open()
    url = shop.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SLOW}}))
        messages = []
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            messages.append(message)
            if message["type"] in ("complete", "error"):
                break
    assert [m["type"] for m in messages] == ["next", "next", "complete"]
    merged = merge_payloads([m["payload"] for m in messages[:-1]])
    assert merged == await whole(http, SLOW_PLAIN)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            '{ products { ... @defer(label: "a") { name } ... @defer(label: "a") { price } } }',
            'label argument "a" must be unique',
        ),
        (
            "query ($l: String) { products { ... @defer(label: $l) { name } } }",
            "label argument must be a static string",
        ),
        (
            '{ product(id: "1") @stream { name } }',
            'Stream directive cannot be used on non-list field "product"',
        ),
        (
            "{ products @stream(initialCount: 1) { name } products { name } }",
            "differing stream directives",
        ),
    ],
)
async def test_invalid_incremental_directives(
    http: httpx.AsyncClient, query: str, message: str
) -> None:
    r = await http.post(
        "/graphql",
        json={"query": query},
        headers={"accept": "application/graphql-response+json, " + APOLLO},
    )
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert message in errors[0]["message"], errors
