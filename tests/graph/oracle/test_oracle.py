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
from typing import Any

import pytest
from graphql import parse, validate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.graph.oracle.check import Case, Invalid, case_for, compare
from tests.graph.oracle.operations import operations

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "150"))
WORLDS = int(os.environ.get("ORACLE_WORLDS", "40"))
FIRST_WORLD = int(os.environ.get("ORACLE_FIRST_WORLD", "0"))
BATCH_WORLDS = max(1, min(32, int(os.environ.get("ORACLE_BATCH_WORLDS", "10"))))
BATCHES = math.ceil(WORLDS / BATCH_WORLDS)
PER_BATCH = math.ceil(EXAMPLES / BATCHES)
REPORT = os.environ.get("ORACLE_REPORT")


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


_COUNTS: dict[int, dict[str, int]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if REPORT and _COUNTS:
        with open(REPORT, "a") as out:
            for batch, counts in sorted(_COUNTS.items()):
                out.write(json.dumps({"batch": batch, "first_world": FIRST_WORLD, **counts}) + "\n")


@st.composite
def cases(draw: st.DrawFn) -> tuple[Case, str, dict[str, Any]]:
    """A world of the first `ORACLE_WORLDS` and a valid operation on it (for
    test_oracle_incremental.py, which makes incremental variants of it)."""
    case = case_for(draw(st.integers(min_value=0, max_value=WORLDS - 1)))
    assume(case is not None)
    assert case is not None
    query, variables = draw(operations(case.gateway.api_schema))
    assume(not validate(case.gateway.api_schema, parse(query)))
    return case, query, variables


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
