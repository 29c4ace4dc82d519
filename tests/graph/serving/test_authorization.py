"""The authorization stage through real routers and a real subgraph, over HTTP, server-sent
events and graphql-transport-ws: removed fields come back null with
UNAUTHORIZED_FIELD_OR_TYPE errors at their paths and are never fetched; reject mode refuses
the operation; scopes, policies and require_authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from graph.app import create_app
from graph.config import config_from_mapping
from graph.serving.pipeline import Pipeline, build_stages
from tests.graph.serving.servers import ServerThread
from tests.graph.serving.shop import RESOLVED, HeaderIdentity, shop_app, shop_supergraph
from tests.graph.serving.test_pipeline import codes, over_sse, over_ws

POLICIES = {"auditor": [{"kinds": ["user"], "scopes": ["audit"]}, {"tiers": ["enterprise"]}]}


@pytest.fixture(scope="module")
def shop_sdl() -> Iterator[str]:
    server = ServerThread(shop_app).start()
    yield shop_supergraph(f"{server.url}/graphql")
    server.stop()


@pytest.fixture(scope="module")
def shop_router(shop_sdl: str) -> Iterator[Callable[[dict[str, Any]], str]]:
    """``shop_router(router_yaml) -> URL``: a router whose callers say who they are with an
    ``x-test-principal`` header (a stand-in for authentication, in front of every stage)."""
    started: list[ServerThread] = []

    def start(config: dict[str, Any]) -> str:
        parsed = config_from_mapping(config)

        def factory() -> Any:
            router = create_app(shop_sdl, parsed)
            stages = [HeaderIdentity(), *build_stages(parsed, router.gateway, router.metrics)]
            router.pipeline = Pipeline(parsed, router.gateway, router.metrics, stages)
            return router

        server = ServerThread(factory, lifespan="on").start()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()


def directives(**options: Any) -> dict[str, Any]:
    return {"authorization": {"directives": {"policies": POLICIES, **options}}}


async def post(url: str, query: str, who: str | None = None, **body: Any) -> tuple[int, Any]:
    headers = {"x-test-principal": who} if who else {}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": query, **body}, headers=headers)
    return response.status_code, response.json()


def paths(errors: list[dict[str, Any]]) -> list[list[Any]]:
    return [e["path"] for e in errors if e["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"]


QUERY = '{ product(id: "1") { name price margin } audit }'


async def test_anonymous_caller_gets_nulls_and_errors_over_http(shop_router: Any) -> None:
    url = shop_router(directives())
    before = RESOLVED["audit"]
    status, body = await post(url, QUERY)
    assert status == 200
    # price is Int!: its null nulls the product; audit is String!: it nulls data.
    assert body["data"] is None
    assert sorted(paths(body["errors"])) == [["audit"], ["product", "margin"], ["product", "price"]]
    assert all(e["message"] == "Unauthorized field or type" for e in body["errors"])
    assert RESOLVED["audit"] == before  # never fetched
    _, body = await post(url, '{ product(id: "2") { name margin } }')
    assert body["data"] == {"product": {"name": "product 2", "margin": None}}
    assert paths(body["errors"]) == [["product", "margin"]]


async def test_authorized_callers_get_everything(shop_router: Any) -> None:
    url = shop_router(directives())
    _, body = await post(url, QUERY, "user;read:margins,audit")
    assert body == {
        "data": {"product": {"name": "product 1", "price": 42, "margin": 5}, "audit": "all clear"}
    }
    # an enterprise API key holds the auditor policy, not the margins scope
    _, body = await post(url, QUERY, "api_key;;enterprise")
    assert body["data"] is not None and body["data"]["audit"] == "all clear"
    assert body["data"]["product"] == {"name": "product 1", "price": 42, "margin": None}
    assert paths(body["errors"]) == [["product", "margin"]]


async def test_user_sessions_can_hold_every_scope(shop_router: Any) -> None:
    url = shop_router(directives(user_scopes="all"))
    _, body = await post(url, '{ product(id: "1") { margin } }', "user")
    assert body == {"data": {"product": {"margin": 5}}}
    _, body = await post(url, '{ product(id: "1") { margin } }', "api_key;other")
    assert paths(body["errors"]) == [["product", "margin"]]


async def test_reject_unauthorized_refuses_the_whole_operation(shop_router: Any) -> None:
    url = shop_router(directives(reject_unauthorized=True))
    before = RESOLVED["product"]
    _, body = await post(url, '{ product(id: "1") { name margin } }', "user")
    assert "data" not in body
    assert paths(body["errors"]) == [["product", "margin"]]
    assert RESOLVED["product"] == before
    _, body = await post(url, '{ product(id: "1") { name } }')
    assert body == {"data": {"product": {"name": "product 1"}}}


async def test_mutations_are_not_run_when_removed(shop_router: Any) -> None:
    url = shop_router(directives())
    before = RESOLVED["order"]
    _, body = await post(url, 'mutation { order(id: "3") { name } }', "api_key;read:margins")
    assert body["data"] is None and paths(body["errors"]) == [["order"]]
    assert RESOLVED["order"] == before
    _, body = await post(url, 'mutation { order(id: "3") { name } }', "api_key;write:orders")
    assert body == {"data": {"order": {"name": "product 3"}}}


async def test_errors_in_extensions_or_not_at_all(shop_router: Any) -> None:
    quiet = shop_router(directives(errors={"response": "extensions"}))
    _, body = await post(quiet, '{ product(id: "1") { name margin } }')
    assert "errors" not in body
    assert body["data"] == {"product": {"name": "product 1", "margin": None}}
    assert paths(body["extensions"]["authorizationErrors"]) == [["product", "margin"]]
    silent = shop_router(directives(errors={"response": "disabled"}))
    _, body = await post(silent, '{ product(id: "1") { name margin } }')
    assert body == {"data": {"product": {"name": "product 1", "margin": None}}}


async def test_dry_run_reports_and_removes_nothing(shop_router: Any) -> None:
    url = shop_router(directives(dry_run=True))
    _, body = await post(url, '{ product(id: "1") { name margin } }')
    assert body["data"] == {"product": {"name": "product 1", "margin": 5}}
    assert paths(body["errors"]) == [["product", "margin"]]


async def test_require_authentication(shop_router: Any) -> None:
    url = shop_router({"authorization": {"require_authentication": True}})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": "{ products { name } }"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert codes(response.json()["errors"]) == ["UNAUTHENTICATED"]
    # before parsing: even a document that does not parse gets the 401
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": "{ products {"})
    assert response.status_code == 401
    status, body = await post(url, '{ product(id: "1") { name } }', "user")
    assert status == 200 and body["data"]["product"]["name"] == "product 1"


async def test_the_same_over_sse(shop_router: Any) -> None:
    url = shop_router(directives())
    status, events = await over_sse(url, '{ product(id: "1") { name margin } me { name } }')
    assert status == 200 and isinstance(events, list)
    kind, body = events[0]
    assert kind == "next"
    assert body["data"] is None  # me is Account!: its null nulls data
    assert sorted(paths(body["errors"])) == [["me"], ["product", "margin"]]
    status, events = await over_sse(url, '{ product(id: "1") { name margin } }')
    assert isinstance(events, list)
    assert events[0][1]["data"] == {"product": {"name": "product 1", "margin": None}}
    reject = shop_router(directives(reject_unauthorized=True))
    # refused before any stream starts, like an operation that does not validate
    _, refusal = await over_sse(reject, "{ me { name } }")
    assert isinstance(refusal, dict) and "data" not in refusal, (status, refusal)
    assert paths(refusal["errors"]) == [["me"]]


async def test_the_same_over_websocket(shop_router: Any) -> None:
    url = shop_router(directives())
    messages = await over_ws(url, '{ product(id: "1") { name margin } }')
    assert messages[0]["type"] == "next"
    payload = messages[0]["payload"]
    assert payload["data"] == {"product": {"name": "product 1", "margin": None}}
    assert paths(payload["errors"]) == [["product", "margin"]]
    # a subscription whose only root field is removed never starts
    before = RESOLVED["secretTicks"]
    messages = await over_ws(url, "subscription { secretTicks }")
    assert messages[-1]["type"] == "error"
    assert paths(messages[-1]["payload"]) == [["secretTicks"]]
    assert RESOLVED["secretTicks"] == before
    ticks = await over_ws(url, "subscription { ticks(n: 2) }")
    assert [m["payload"]["data"]["ticks"] for m in ticks if m["type"] == "next"] == [0, 1]


async def test_unconfigured_policy_is_never_granted(shop_router: Any) -> None:
    url = shop_router({})
    _, body = await post(url, "{ audit }", "api_key;;enterprise")
    assert body["data"] is None and paths(body["errors"]) == [["audit"]]
