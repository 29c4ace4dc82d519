"""The oracle: on random federated graphs (tests/graph/oracle/world.py) and random valid
operations (tests/graph/oracle/operations.py), the router's answer equals graphql-core's
answer on the monolithic schema over the same data: the same `data`, and errors at the same
places (an error's place is where its path first meets a null in the data: graphql-core stops
completing an object at its first non-null failure, the router may learn of more failures
below the same null). Every subgraph query the router sends must validate against that
subgraph's schema.

`make test` runs a bounded number of cases; `ORACLE_EXAMPLES=100000 make test-deep` (what
`make test-deep` runs) many more. A failure hypothesis finds is shrunk to a small operation;
it becomes a named regression test in test_oracle_regressions.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pytest
from graphql import execute, parse, validate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph.composition import CompositionError
from graph.execution.gateway import Gateway
from tests.graph.fixtures.federation import FederatedGraph
from tests.graph.oracle.operations import operations
from tests.graph.oracle.world import World, make_world

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "150"))
WORLDS = int(os.environ.get("ORACLE_WORLDS", "40"))


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


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


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


def compare(
    case: Case, query: str, variables: dict[str, Any], loop: asyncio.AbstractEventLoop
) -> None:
    document = parse(query)
    if validate(case.gateway.api_schema, document):
        assume(False)
    for sub in case.graph.subgraphs.values():
        sub.invalid.clear()
        sub._documents.clear()
    expected = execute(case.monolith, document, variable_values=variables)
    assert not hasattr(expected, "__await__")
    got = loop.run_until_complete(case.graph.run(case.gateway, query, variables))
    context = f"seed {case.world.seed}\n{query}\n{variables}\n{got}\n{expected}"
    assert "data" in got, context
    assert got["data"] == expected.data, context
    want = places(expected.data, [dict(e.formatted) for e in expected.errors or ()])
    assert places(got["data"], got.get("errors")) == want, context
    for e in got.get("errors") or ():
        assert (e.get("extensions") or {}).get("code"), context
    invalid = case.graph.invalid_subgraph_queries()
    assert invalid == [], f"{context}\n{invalid}"


@st.composite
def cases(draw: st.DrawFn) -> tuple[Case, str, dict[str, Any]]:
    seed = draw(st.integers(min_value=0, max_value=WORLDS - 1))
    case = case_for(seed)
    assume(case is not None)
    assert case is not None
    query, variables = draw(operations(case.gateway.api_schema))
    return case, query, variables


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 1000,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@pytest.mark.timeout(max(300, EXAMPLES))
@given(cases())
def test_federated_answer_equals_monolithic_answer(
    loop: asyncio.AbstractEventLoop, drawn: tuple[Case, str, dict[str, Any]]
) -> None:
    case, query, variables = drawn
    compare(case, query, variables, loop)
