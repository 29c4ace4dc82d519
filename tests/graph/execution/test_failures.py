"""Partial failure, timeouts, null propagation, error pass-through and request errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from graph.execution.errors import RequestError
from graph.execution.gateway import Gateway, GatewayOptions, SubgraphOptions
from tests.graph.fixtures.subgraphs import USERS, SubgraphServer


async def run(gw: Gateway, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    return await gw.execute(gw.prepare(query, None), variables)


async def test_failed_subgraph_leaves_the_rest_intact(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    servers["reviews"].fail_status = 500
    result = await run(gateway, "{ topProducts(first: 2) { name reviews { body } } }")
    assert result["data"] == {
        "topProducts": [
            {"name": "Product 1", "reviews": None},
            {"name": "Product 2", "reviews": None},
        ]
    }
    [error] = result["errors"]
    assert error["extensions"] == {"code": "SUBREQUEST_HTTP_ERROR", "serviceName": "reviews"}
    assert error["path"][0] == "topProducts"


async def test_failed_root_subgraph_nulls_its_fields_only(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    servers["accounts"].fail_status = 502
    result = await run(gateway, "{ me { name } topProducts(first: 1) { name } }")
    assert result["data"] == {"me": None, "topProducts": [{"name": "Product 1"}]}
    assert [e["path"] for e in result["errors"]] == [["me"]]


async def test_slow_subgraph_times_out_with_a_path_and_code(
    sdl: str, servers: dict[str, SubgraphServer]
) -> None:
    # generous both ways: the timeout is seconds, the subgraph's delay far longer still
    servers["inventory"].delay = 30.0
    gw = Gateway.from_supergraph_sdl(
        sdl,
        GatewayOptions(
            subgraphs={"inventory": SubgraphOptions(timeout=2)},
            default=SubgraphOptions(timeout=60),
        ),
    )
    try:
        started = time.monotonic()
        result = await run(gw, "{ topProducts(first: 1) { name inStock } }")
        elapsed = time.monotonic() - started
    finally:
        await gw.aclose()
    assert elapsed < 30  # answered without waiting for the subgraph
    assert result["data"] == {"topProducts": [{"name": "Product 1", "inStock": None}]}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "SUBREQUEST_TIMEOUT"
    assert error["path"] == ["topProducts", 0]


async def test_null_in_non_null_field_nulls_the_nearest_nullable_parent(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    broken = {**USERS, "u2": {**USERS["u2"], "name": None}}
    servers["accounts"].overrides["user"] = broken
    result = await run(gateway, "{ topProducts(first: 1) { reviews { author { id name } } } }")
    reviews = result["data"]["topProducts"][0]["reviews"]
    authors = [r["author"] for r in reviews]
    assert None in authors  # u2's author object is nulled (User.name is String!)
    assert {"id": "u1", "name": "Ada Lovelace"} in authors
    paths = [e["path"] for e in result["errors"]]
    assert all(p[-1] == "name" and p[:2] == ["topProducts", 0] for p in paths)


async def test_null_propagates_up_to_data(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    servers["accounts"].overrides["users"] = [{"id": "u9", "name": None}]
    result = await run(gateway, "{ users { id name } }")
    assert result["data"] is None  # users: [User!]! and User.name: String!
    assert result["errors"][0]["path"] == ["users", 0, "name"]


def _raise(**_: Any) -> Any:
    raise ValueError("database on fire")


@pytest.mark.parametrize("include", [True, False])
async def test_subgraph_error_details_only_when_allowed(
    sdl: str, servers: dict[str, SubgraphServer], include: bool
) -> None:
    servers["accounts"].overrides["me"] = _raise
    gw = Gateway.from_supergraph_sdl(
        sdl, GatewayOptions(subgraphs={"accounts": SubgraphOptions(include_errors=include)})
    )
    try:
        result = await run(gw, "{ me { name } }")
    finally:
        await gw.aclose()
    assert result["data"] == {"me": None}
    [error] = result["errors"]
    assert error["path"] == ["me"]
    if include:
        assert error["message"] == "database on fire"
        assert error["extensions"]["serviceName"] == "accounts"
    else:
        assert error["message"] == "Subgraph errors redacted"
        assert "database" not in str(error)


@pytest.mark.parametrize(
    ("query", "name", "code"),
    [
        ("{ me { name ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ me { nope } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ secret }", None, "GRAPHQL_VALIDATION_FAILED"),  # @inaccessible
        ("query A { me { id } }", "B", "BAD_REQUEST"),
        ("query A { me { id } } query B { me { id } }", None, "BAD_REQUEST"),
    ],
)
def test_request_errors(gateway: Gateway, query: str, name: str | None, code: str) -> None:
    with pytest.raises(RequestError) as info:
        gateway.prepare(query, name)
    assert info.value.code == code
    assert all(e["extensions"]["code"] == code for e in info.value.errors)


def test_parser_token_limit(gateway: Gateway) -> None:
    with pytest.raises(RequestError) as info:
        gateway.prepare("{ me { id name username } }", None, max_tokens=5)
    assert info.value.code == "GRAPHQL_PARSE_FAILED"


async def test_variables_that_do_not_coerce_are_bad_user_input(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    prepared = gateway.prepare("query ($n: Int!) { topProducts(first: $n) { upc } }", None)
    result = await gateway.execute(prepared, {"n": "five"})
    assert "data" not in result
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    result = await gateway.execute(prepared, {})
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert servers["products"].calls == []


def test_prepared_operations_are_cached_in_a_bounded_lru(sdl: str) -> None:
    gw = Gateway.from_supergraph_sdl(sdl, GatewayOptions(plan_cache_size=2))
    a = gw.prepare("{ me { id } }", None)
    assert gw.prepare("{ me { id } }", None) is a
    gw.prepare("{ users { id } }", None)
    gw.prepare("{ topProducts { upc } }", None)
    assert gw.prepare("{ me { id } }", None) is not a  # evicted
    with pytest.raises(RequestError) as first:
        gw.prepare("{ nope }", None)
    with pytest.raises(RequestError) as second:
        gw.prepare("{ nope }", None)
    assert first.value is second.value  # failures are cached too


def test_differently_formatted_operations_share_one_plan(gateway: Gateway) -> None:
    a = gateway.prepare("{ me { id name } }", None)
    b = gateway.prepare("query {\n  me {\n    id,\n    name # the name\n  }\n}", None)
    assert b is a
    assert gateway.prepare("{ me { name id } }", None) is not a  # a different operation


async def test_null_item_in_a_list_of_non_null_nulls_the_list(
    gateway: Gateway, servers: dict[str, SubgraphServer]
) -> None:
    servers["reviews"].overrides["null_bodies"] = {"r5"}  # a review of p1
    result = await run(gateway, "{ topProducts(first: 2) { upc reviews { id body } } }")
    first, second = result["data"]["topProducts"]
    # Product.reviews is [Review!] and Review.body String!: the list becomes null.
    assert first == {"upc": "p1", "reviews": None}
    assert second["upc"] == "p2" and second["reviews"]
    [error] = result["errors"]
    assert error["path"][:3] == ["topProducts", 0, "reviews"] and error["path"][-1] == "body"
