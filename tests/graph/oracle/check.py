"""The oracle's comparison, shared by the property test (test_oracle.py), its regression
cases (test_oracle_regressions.py) and the long runs (deep.py): one world composed once and
served in-process through the Gateway's transport seam, one operation compared with
graphql-core's answer on the monolithic schema."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from graphql import execute, parse, validate

from graph.composition import CompositionError
from graph.execution.errors import RequestError
from graph.execution.gateway import Gateway
from tests.graph.fixtures.federation import FederatedGraph
from tests.graph.oracle.world import World, make_world


class Case:
    def __init__(self, seed: int) -> None:
        self.world: World = make_world(seed)
        self.graph = FederatedGraph(self.world.subgraphs())
        self.gateway: Gateway = self.graph.gateway()
        self.monolith = self.world.monolith()


@lru_cache(maxsize=64)
def case_for(seed: int) -> Case | None:
    try:
        return Case(seed)
    except CompositionError:
        return None  # the generator drew a graph composition rejects: not a router case


def places(data: Any, errors: list[dict[str, Any]] | None) -> set[tuple[Any, ...]]:
    """Where each error's path first meets a null (or leaves the data)."""
    out: set[tuple[Any, ...]] = set()
    for e in errors or ():
        path = e.get("path")
        if not path:
            out.add(("<no path>", e.get("message")))
            continue
        v: Any = data
        where: list[Any] = []
        for seg in path:
            if v is None:
                break
            where.append(seg)
            if isinstance(v, dict):
                v = v.get(seg)
            elif isinstance(v, list) and isinstance(seg, int) and seg < len(v):
                v = v[seg]
            else:
                v = None
        out.add(tuple(where))
    return out


class Invalid(Exception):
    """The drawn operation does not validate (graphql-core agrees with the router)."""


def compare(
    case: Case, query: str, variables: dict[str, Any], loop: asyncio.AbstractEventLoop
) -> None:
    for sub in case.graph.subgraphs.values():  # per case (a world serves many operations)
        sub.invalid.clear()
        sub.calls.clear()
    gateway = case.gateway
    try:
        prepared = gateway.prepare(query, None)
    except RequestError as exc:
        document = parse(query)
        if exc.code == "GRAPHQL_VALIDATION_FAILED" and validate(gateway.api_schema, document):
            raise Invalid() from None
        raise AssertionError(
            f"seed {case.world.seed}: the router rejects a valid operation\n{query}\n"
            f"{exc.to_response()}"
        ) from None
    expected = execute(case.monolith, prepared.document, variable_values=variables)
    assert not hasattr(expected, "__await__")
    got = loop.run_until_complete(gateway.execute(prepared, variables))
    context = f"seed {case.world.seed}\n{query}\n{variables}\n{got}\n{expected}"
    assert "data" in got, context
    assert got["data"] == expected.data, context
    want = places(expected.data, [dict(e.formatted) for e in expected.errors or ()])
    assert places(got["data"], got.get("errors")) == want, context
    for e in got.get("errors") or ():
        assert (e.get("extensions") or {}).get("code"), context
    invalid = case.graph.invalid_subgraph_queries()
    assert invalid == [], f"{context}\n{invalid}"
