"""Progressive @override (Federation 2.7): composition keeps the label, the planner routes the
field to the subgraph taking it over while its label is on, and the router decides the labels
per operation (percent(N) rolls, router.yaml's override_labels).

Subgraphs: executable graphql-core subgraphs whose answers say which subgraph resolved a field
(`status` is "orders:..." or "fulfillment:..."), composed by our composition (the same
subgraphs as tests/graph/composition/cases/progressive_override, where Apollo's composition
prints the same supergraph)."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from graph.app import create_app
from graph.config import config_from_mapping
from graph.plugins.progressive_override import LabelRule, ProgressiveOverrideStage, percent_of
from graph.serving.request import HTTP, RouterRequest
from tests.graph.composition.conftest import load_case
from tests.graph.fixtures.executable import SubgraphDef
from tests.graph.fixtures.federation import FederatedGraph
from tests.graph.serving.servers import ServerThread

ORDERS = {"1": {"id": "1", "number": "A-1"}, "2": {"id": "2", "number": "A-2"}}


def _by(who: str) -> dict[str, Any]:
    def order(o: dict[str, Any]) -> dict[str, Any]:
        found = (
            ORDERS[o["id"]]
            if "id" in o
            else next(v for v in ORDERS.values() if v["number"] == o["number"])
        )
        return {
            **found,
            "status": f"{who}:shipped",
            "carrier": f"{who}:ups",
            "total": 10,
            "shippedAt": "today",
        }

    return {"__resolveReference": order}


def subgraphs() -> list[SubgraphDef]:
    sdl = {s.name: s.sdl for s in load_case("progressive_override")}
    return [
        SubgraphDef(
            "orders",
            sdl["orders"],
            {
                "Query": {
                    "order": lambda _, id: _by("orders")["__resolveReference"]({"id": id}),
                    "orders": lambda _: [
                        _by("orders")["__resolveReference"](o) for o in ORDERS.values()
                    ],
                },
                "Order": _by("orders"),
            },
        ),
        SubgraphDef("fulfillment", sdl["fulfillment"], {"Order": _by("fulfillment")}),
    ]


@pytest.fixture(scope="module")
def graph() -> FederatedGraph:
    return FederatedGraph(subgraphs())


async def test_labels_off_the_field_stays_where_it_was(graph: FederatedGraph) -> None:
    gateway = graph.gateway()
    assert gateway.supergraph.label_fields == {
        "percent(25)": {("Order", "status")},
        "use-fulfillment": {("Order", "carrier")},
        "percent(0.5)": {("Order", "number")},
    }
    prepared = gateway.prepare('{ order(id: "1") { status carrier } }', None)
    assert [f.subgraph for f in prepared.plan.fetches()] == ["orders"]
    result = await gateway.execute(prepared, None)
    assert result == {"data": {"order": {"status": "orders:shipped", "carrier": "orders:ups"}}}


async def test_a_label_on_moves_its_field_only(graph: FederatedGraph) -> None:
    gateway = graph.gateway()
    prepared = gateway.prepare('{ order(id: "1") { status carrier total } }', None)
    assert gateway.override_labels_of(prepared) == {"percent(25)", "use-fulfillment"}
    moved = gateway.with_override_labels(prepared, frozenset({"percent(25)"}))
    assert [f.subgraph for f in moved.plan.fetches()] == ["orders", "fulfillment"]
    assert await gateway.execute(moved, None) == {
        "data": {"order": {"status": "fulfillment:shipped", "carrier": "orders:ups", "total": 10}}
    }
    both = gateway.with_override_labels(prepared, frozenset({"percent(25)", "use-fulfillment"}))
    result = await gateway.execute(both, None)
    assert result["data"]["order"]["carrier"] == "fulfillment:ups"
    # one plan per set of labels, kept with the operation: the same set, the same plan
    again = gateway.with_override_labels(prepared, frozenset({"percent(25)"}))
    assert again is moved and again.plan is moved.plan
    # labels that do not concern the operation change nothing
    assert gateway.with_override_labels(prepared, frozenset({"percent(0.5)"})) is prepared
    assert graph.invalid_subgraph_queries() == []


def _request(graph_gateway: Any, query: str, headers: dict[str, str] | None = None) -> Any:
    request = RouterRequest(
        HTTP,
        None,  # type: ignore[arg-type]
        [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        graph_gateway,
    )
    request.prepared = graph_gateway.prepare(query, None)
    return request


async def test_percent_labels_roll_per_operation(graph: FederatedGraph) -> None:
    gateway = graph.gateway()
    stage = ProgressiveOverrideStage({}, random.Random(11).random)
    moved = 0
    runs = 2000
    for _ in range(runs):
        request = _request(gateway, '{ order(id: "1") { status } }')
        await stage.on_operation(request)
        subgraphs_used = {f.subgraph for f in request.prepared.plan.fetches()}
        moved += "fulfillment" in subgraphs_used
    assert 0.2 < moved / runs < 0.3  # percent(25), a fixed seed
    # any other label is off unless router.yaml turns it on
    request = _request(gateway, '{ order(id: "1") { carrier } }')
    await stage.on_operation(request)
    assert {f.subgraph for f in request.prepared.plan.fetches()} == {"orders"}


async def test_labels_from_configuration(graph: FederatedGraph) -> None:
    gateway = graph.gateway()
    stage = ProgressiveOverrideStage(
        {
            "percent(25)": False,  # the rollout paused
            "use-fulfillment": LabelRule(header="x-beta", equals="yes"),
        },
        lambda: 0.0,  # every roll would turn a percent label on
    )
    query = '{ order(id: "1") { status carrier } }'
    for headers, carrier in (({"x-beta": "yes"}, "fulfillment"), ({"x-beta": "no"}, "orders")):
        request = _request(gateway, query, headers)
        await stage.on_operation(request)
        result = await gateway.execute(request.prepared, None)
        assert result["data"]["order"] == {
            "status": "orders:shipped",
            "carrier": f"{carrier}:ups",
        }


def test_percent_of() -> None:
    assert percent_of("percent(25)") == 25.0
    assert percent_of("percent(0.5)") == 0.5
    assert percent_of("percent(101)") is None
    assert percent_of("use-fulfillment") is None


async def test_through_the_router(graph: FederatedGraph) -> None:
    config = config_from_mapping(
        {
            "override_labels": {
                "use-fulfillment": True,
                "percent(25)": {"header": "x-rollout"},
            }
        }
    )
    with graph.served() as sdl:
        server = ServerThread(lambda: create_app(sdl, config), lifespan="on").start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                query = {"query": "{ orders { status carrier } }"}
                plain = (await http.post("/graphql", json=query)).json()
                rollout = (
                    await http.post("/graphql", json=query, headers={"x-rollout": "1"})
                ).json()
        finally:
            server.stop()
    assert plain == {
        "data": {"orders": [{"status": "orders:shipped", "carrier": "fulfillment:ups"}] * 2}
    }
    assert rollout == {
        "data": {"orders": [{"status": "fulfillment:shipped", "carrier": "fulfillment:ups"}] * 2}
    }


def test_bad_label_rules_are_config_errors() -> None:
    from graph.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"override_labels": {"x": {"equals": "1"}}})
    assert "override_labels" in str(caught.value)
