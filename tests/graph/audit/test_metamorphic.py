"""Metamorphic checks on the audit suites (Python ports in tests/graph/audit/suites), where no
oracle knows the right answer: random valid operations (tests/graph/oracle/operations.py)
must get the same answer under the rewrites of tests/graph/audit/rewrites.py, and every
subgraph query the router sends must validate. (The same checks against the audit's own
subgraphs, all 46 suites: tests/graph/audit/live.py.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from graphql import DocumentNode, parse, print_ast, validate
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.graph.audit.rewrites import check_rewrites
from tests.graph.audit.suites import NAMES, subgraphs
from tests.graph.fixtures.federation import FederatedGraph
from tests.graph.oracle.operations import operations

EXAMPLES = int(os.environ.get("METAMORPHIC_EXAMPLES", "60"))


class Suite:
    def __init__(self, name: str) -> None:
        self.name = name
        self.graph = FederatedGraph(subgraphs(name))
        self.gateway = self.graph.gateway()


@cache
def suite(name: str) -> Suite:
    return Suite(name)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def answer(s: Suite, doc: DocumentNode, variables: dict[str, Any], loop: Any) -> dict[str, Any]:
    for sub in s.graph.subgraphs.values():
        sub.invalid.clear()
    result = loop.run_until_complete(s.graph.run(s.gateway, print_ast(doc), variables))
    assert s.graph.invalid_subgraph_queries() == [], (print_ast(doc), result)
    return result


@st.composite
def cases(draw: st.DrawFn) -> tuple[Suite, str, dict[str, Any]]:
    s = suite(draw(st.sampled_from(NAMES)))
    query, variables = draw(operations(s.gateway.api_schema))
    return s, query, variables


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.timeout(max(300, EXAMPLES * 2))
@given(cases())
def test_answers_survive_rewrites(
    loop: asyncio.AbstractEventLoop, drawn: tuple[Suite, str, dict[str, Any]]
) -> None:
    s, query, variables = drawn
    doc = parse(query)
    if validate(s.gateway.api_schema, doc):
        assume(False)
    root = s.gateway.api_schema.query_type.name  # type: ignore[union-attr]
    check_rewrites(
        doc, root, lambda d: answer(s, d, variables, loop), f"{s.name}\n{query}\n{variables}"
    )
