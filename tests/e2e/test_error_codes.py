"""Issue 9, bug 4: every error has `extensions.code`, whatever was wrong with the request,
from the router and from each subgraph called directly (the router adds codes to its own
errors; a subgraph's are checked here where it makes them)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.client import Api
from tests.support.stack import SUBGRAPHS

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
BAD_REQUESTS: dict[str, dict[str, Any]] = {
    "no query": {"json": {"variables": {}}},
    "query not a string": {"json": {"query": 5}},
    "variables not an object": {"json": {"query": "{ __typename }", "variables": [1]}},
    "unknown operation name": {"json": {"query": "query A { __typename }", "operationName": "B"}},
    "batch": {"json": [{"query": "{ __typename }"}]},
    "not JSON": {"content": b"{ nope", "headers": {"content-type": "application/json"}},
    "syntax error": {"json": {"query": "{ __typename "}},
    "unknown field": {"json": {"query": "{ nope }"}},
    "undefined variable": {"json": {"query": "query($x: Int) { __typename(y: $y) }"}},
    "missing variable": {"json": {"query": "query($x: Int!) { __typename }"}},
    "variable of the wrong type": {
        "json": {"query": "query($x: Int) { __typename }", "variables": {"x": "one"}}
    },
    "mutation over GET": {"method": "GET", "params": {"query": "mutation { __typename }"}},
}
SUBGRAPH_ONLY: dict[str, dict[str, Any]] = {
    "_entities of an unknown type": {
        "json": {"query": ENTITIES, "variables": {"r": [{"__typename": "Nope", "id": "1"}]}}
    },
    "_entities without __typename": {
        "json": {"query": ENTITIES, "variables": {"r": [{"id": "1"}]}}
    },
}


def _codes(r: httpx.Response) -> list[object]:
    body = r.json()
    assert body.get("errors"), (r.status_code, body)
    assert r.status_code < 500, (r.status_code, body)
    return [e.get("extensions", {}).get("code") for e in body["errors"]]


async def _send(http: httpx.AsyncClient, url: str, case: dict[str, Any]) -> httpx.Response:
    case = dict(case)
    method = case.pop("method", "POST")
    return await http.request(method, url, **case)


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
async def test_every_error_from_the_router_has_a_code(api: Api, case: str) -> None:
    r = await _send(api.http, api.stack.graphql_url, BAD_REQUESTS[case])
    assert all(_codes(r)), r.text


@pytest.mark.parametrize("name", SUBGRAPHS)
async def test_every_error_from_a_subgraph_has_a_code(api: Api, name: str) -> None:
    url = api.stack.subgraph_url(name)
    for case, request in {**BAD_REQUESTS, **SUBGRAPH_ONLY}.items():
        r = await _send(api.http, url, request)
        codes = _codes(r)
        assert all(codes), (name, case, r.text)
        assert "INTERNAL_SERVER_ERROR" not in codes, (name, case, r.text)


async def test_entities_name_what_is_wrong_with_a_representation(api: Api) -> None:
    r = await _send(
        api.http, api.stack.subgraph_url("posts"), SUBGRAPH_ONLY["_entities of an unknown type"]
    )
    [error] = r.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "representations.0"}
    assert "an entity of this subgraph (Comment, Post, User)" in error["message"]


async def test_a_subscription_over_plain_http_is_told_to_use_a_websocket(api: Api) -> None:
    r = await api.http.post(
        api.stack.subgraph_url("posts"),
        json={"query": 'subscription { postLikeChanged(postId: "1") { liked } }'},
    )
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "open a WebSocket to /graphql" in error["message"]
