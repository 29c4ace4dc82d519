"""The demand-control stage through real routers and a real subgraph, over HTTP,
server-sent events and graphql-transport-ws: over budget refused in enforce mode and
admitted (and reported) in measure mode, under budget admitted, a maximum per tier, the
estimated and actual cost in extensions."""

from __future__ import annotations

from typing import Any

from tests.graph.serving.shop import RESOLVED
from tests.graph.serving.test_authorization import post, shop_router, shop_sdl
from tests.graph.serving.test_pipeline import codes, over_sse, over_ws

__all__ = ["shop_router", "shop_sdl"]  # the fixtures


def demand_control(mode: str = "enforce", expose: str = "on_request", **static: Any) -> Any:
    return {
        "demand_control": {
            "enabled": True,
            "mode": mode,
            "strategy": {"static_estimated": {"list_size": 10, "max": 10, **static}},
            "cost_in_extensions": expose,
        }
    }


CHEAP = "{ products(first: 3) { name } }"  # 3 products: 3
DEAR = "{ products(first: 20) { name } }"  # 20 products: 20


async def test_over_budget_refused_and_under_budget_admitted_over_http(shop_router: Any) -> None:
    url = shop_router(demand_control())
    before = RESOLVED["products"]
    _, body = await post(url, DEAR)
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "COST_ESTIMATED_TOO_EXPENSIVE",
        "cost.estimated": 20.0,
        "cost.max": 10.0,
    }
    assert error["message"] == "query estimated cost 20 exceeded configured maximum 10"
    assert RESOLVED["products"] == before  # never reached the subgraph
    status, body = await post(url, CHEAP)
    assert status == 200 and len(body["data"]["products"]) == 3


async def test_the_same_over_sse_and_websocket(shop_router: Any) -> None:
    url = shop_router(demand_control())
    _, refusal = await over_sse(url, DEAR)
    assert isinstance(refusal, dict) and codes(refusal["errors"]) == [
        "COST_ESTIMATED_TOO_EXPENSIVE"
    ]
    _, events = await over_sse(url, CHEAP)
    assert isinstance(events, list) and len(events[0][1]["data"]["products"]) == 3
    messages = await over_ws(url, DEAR)
    assert messages[-1]["type"] == "error"
    assert codes(messages[-1]["payload"]) == ["COST_ESTIMATED_TOO_EXPENSIVE"]
    messages = await over_ws(url, CHEAP)
    assert messages[0]["type"] == "next" and len(messages[0]["payload"]["data"]["products"]) == 3


async def test_measure_mode_admits_and_reports(shop_router: Any) -> None:
    url = shop_router(demand_control("measure"))
    _, body = await post(url, DEAR, extensions={"cost": True})
    assert len(body["data"]["products"]) == 20
    assert body["extensions"]["cost"] == {
        "strategy": "static_estimated",
        "max": 10.0,
        "estimated": 20.0,
        "result": "COST_ESTIMATED_TOO_EXPENSIVE",
        "actual": 20.0,
    }
    _, body = await post(url, DEAR)  # not asked: not said
    assert "extensions" not in body


async def test_actual_cost_counts_what_came_back(shop_router: Any) -> None:
    url = shop_router(demand_control("measure", "always", max=1000))
    # first: 30 is the estimate; the subgraph returns at most 20 products
    _, body = await post(url, "{ products(first: 30) { name } }")
    assert len(body["data"]["products"]) == 20
    cost = body["extensions"]["cost"]
    assert (cost["estimated"], cost["actual"], cost["result"]) == (30.0, 20.0, "COST_OK")
    never = shop_router(demand_control(expose="never"))
    _, body = await post(never, CHEAP, extensions={"cost": True})
    assert "extensions" not in body


async def test_a_maximum_per_tier(shop_router: Any) -> None:
    url = shop_router(demand_control(max_per_tier={"enterprise": 100, "free": 2}))
    assert "data" in (await post(url, DEAR, "api_key;;enterprise"))[1]
    _, body = await post(url, CHEAP, "api_key;;free")
    assert codes(body["errors"]) == ["COST_ESTIMATED_TOO_EXPENSIVE"]
    assert body["errors"][0]["extensions"]["cost.max"] == 2.0
    assert "data" in (await post(url, CHEAP))[1]  # anonymous: max


async def test_an_operation_that_cannot_be_costed(shop_router: Any) -> None:
    # window's @listSize requires exactly one of first and last
    query = "{ window(first: 1, last: 2) { name } }"
    before = RESOLVED["window"]
    _, body = await post(shop_router(demand_control()), query)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "COST_QUERY_PARSE_FAILURE"
    assert "exactly one slicing argument (first, last), but found 2" in error["message"]
    assert RESOLVED["window"] == before
    # measure mode does not refuse it
    _, body = await post(shop_router(demand_control("measure")), query)
    assert len(body["data"]["window"]) == 1


async def test_one_operation_costed_by_its_variables_each_time(shop_router: Any) -> None:
    """The stage keeps estimates per operation and cost key: the same document with other
    list sizes is costed again, with the same ones it gets the same answer."""
    url = shop_router(demand_control())
    query = "query($n: Int) { products(first: $n) { name } }"
    for n, admitted in ((20, False), (3, True), (20, False), (3, True), (11, False)):
        _, body = await post(url, query, variables={"n": n})
        if admitted:
            assert len(body["data"]["products"]) == n
        else:
            assert body["errors"][0]["extensions"]["cost.estimated"] == float(n)
