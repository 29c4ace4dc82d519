"""The oracle: on random federated graphs (tests/graph/oracle/world.py) and random valid
operations (tests/graph/oracle/operations.py), the router's answer equals graphql-core's
answer on the monolithic schema over the same data: the same `data`, and errors at the same
places (an error's place is where its path first meets a null in the data: graphql-core stops
completing an object at its first non-null failure, the router may learn of more failures
below the same null). Every subgraph query the router sends must validate against that
subgraph's schema, and every error the router returns has a code.

The worlds are taken in batches (`ORACLE_BATCH_WORLDS` per test, each world composed once and
asked many operations); `ORACLE_EXAMPLES` operations in all over `ORACLE_WORLDS` worlds,
starting at world `ORACLE_FIRST_WORLD` (give parallel processes distinct ranges).
`make test` runs a bounded number; `make test-deep` 100,000 in two processes. With
`ORACLE_REPORT=<file>` every batch appends a line with what it ran. A failure hypothesis finds
is shrunk to a small operation; it becomes a named regression test in
test_oracle_regressions.py.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pytest
from graphql import execute, parse, validate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph.composition import CompositionError
from graph.execution.errors import RequestError
from graph.execution.gateway import Gateway
from tests.graph.fixtures.federation import FederatedGraph
from tests.graph.oracle.operations import operations
from tests.graph.oracle.world import World, make_world

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "150"))
WORLDS = int(os.environ.get("ORACLE_WORLDS", "40"))
FIRST_WORLD = int(os.environ.get("ORACLE_FIRST_WORLD", "0"))
BATCH_WORLDS = max(1, min(32, int(os.environ.get("ORACLE_BATCH_WORLDS", "10"))))
BATCHES = math.ceil(WORLDS / BATCH_WORLDS)
PER_BATCH = math.ceil(EXAMPLES / BATCHES)
REPORT = os.environ.get("ORACLE_REPORT")


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


_COUNTS: dict[int, dict[str, int]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if REPORT and _COUNTS:
        with open(REPORT, "a") as out:
            for batch, counts in sorted(_COUNTS.items()):
                out.write(json.dumps({"batch": batch, "first_world": FIRST_WORLD, **counts}) + "\n")


@pytest.mark.parametrize("batch", range(BATCHES))
@settings(
    max_examples=PER_BATCH,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 1000,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@pytest.mark.timeout(max(300, PER_BATCH))
@given(data=st.data())
def test_federated_answer_equals_monolithic_answer(
    loop: asyncio.AbstractEventLoop, batch: int, data: st.DataObject
) -> None:
    counts = _COUNTS.setdefault(batch, {"compared": 0, "invalid": 0, "no_world": 0})
    first = FIRST_WORLD + batch * BATCH_WORLDS
    last = min(FIRST_WORLD + WORLDS, first + BATCH_WORLDS) - 1
    case = case_for(data.draw(st.integers(min_value=first, max_value=last), label="world"))
    if case is None:
        counts["no_world"] += 1
        assume(False)
    assert case is not None
    query, variables = data.draw(operations(case.gateway.api_schema), label="operation")
    try:
        compare(case, query, variables, loop)
    except Invalid:
        counts["invalid"] += 1
        assume(False)
    counts["compared"] += 1
