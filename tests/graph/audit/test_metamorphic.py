"""Metamorphic checks on the audit suites (tests/graph/audit/suites), where no oracle knows the
right answer: random valid operations (tests/graph/oracle/operations.py) must get the same
answer when

- sibling selections are reversed, at every level;
- every selection set is wrapped in an inline fragment;
- the operation's selection is moved into a named fragment;
- the root fields get other aliases (the answer's keys renamed back; when every root
  selection is a field);
- a copy of a root field is added under `@include(if: false)`.

"The same answer" is the same data and errors at the same places (see test_oracle.places).
Every subgraph query the router sends must validate.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
    validate,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.graph.audit.suites import NAMES, subgraphs
from tests.graph.fixtures.federation import FederatedGraph
from tests.graph.oracle.check import places
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


def _copy(node: Any, **changes: Any) -> Any:
    kwargs = {k: getattr(node, k) for k in node.keys}
    kwargs.update(changes)
    return type(node)(**kwargs)


def _map_sets(doc: DocumentNode, fn: Any) -> DocumentNode:
    def walk(node: Any) -> Any:
        if isinstance(node, SelectionSetNode):
            return fn(_copy(node, selections=tuple(walk(s) for s in node.selections)))
        if isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set is not None:
            return _copy(node, selection_set=walk(node.selection_set))
        if isinstance(node, OperationDefinitionNode | FragmentDefinitionNode):
            return _copy(node, selection_set=walk(node.selection_set))
        return node

    return _copy(doc, definitions=tuple(walk(d) for d in doc.definitions))


def reversed_siblings(doc: DocumentNode) -> DocumentNode:
    return _map_sets(doc, lambda s: _copy(s, selections=tuple(reversed(s.selections))))


def wrapped_in_inline_fragments(doc: DocumentNode) -> DocumentNode:
    return _map_sets(
        doc,
        lambda s: SelectionSetNode(
            selections=(InlineFragmentNode(type_condition=None, directives=(), selection_set=s),)
        ),
    )


def in_named_fragment(doc: DocumentNode, root: str) -> DocumentNode:
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    frag = FragmentDefinitionNode(
        name=NameNode(value="MetaTop"),
        type_condition=NamedTypeNode(name=NameNode(value=root)),
        directives=(),
        selection_set=op.selection_set,
    )
    spread = FragmentSpreadNode(name=NameNode(value="MetaTop"), directives=())
    new_op = _copy(op, selection_set=SelectionSetNode(selections=(spread,)))
    rest = tuple(d for d in doc.definitions if d is not op)
    return DocumentNode(definitions=(new_op, *rest, frag))


def renamed_root_aliases(doc: DocumentNode) -> tuple[DocumentNode, dict[str, str]]:
    """Root fields (outside fragments) under fresh aliases; new key -> old key."""
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    back: dict[str, str] = {}
    sels = []
    for s in op.selection_set.selections:
        if isinstance(s, FieldNode):
            old = s.alias.value if s.alias else s.name.value
            new = back.get(old) or f"renamed_{old}"
            back[new] = old
            s = _copy(s, alias=NameNode(value=new))
        sels.append(s)
    new_op = _copy(op, selection_set=SelectionSetNode(selections=tuple(sels)))
    return DocumentNode(definitions=tuple(new_op if d is op else d for d in doc.definitions)), back


def with_skipped_copy(doc: DocumentNode) -> DocumentNode:
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    first = next((s for s in op.selection_set.selections if isinstance(s, FieldNode)), None)
    if first is None:
        return doc
    copy = parse("{ x @include(if: false) }").definitions[0]
    directive = copy.selection_set.selections[0].directives  # type: ignore[attr-defined]
    skipped = _copy(first, directives=tuple(directive))
    new_op = _copy(
        op, selection_set=SelectionSetNode(selections=(skipped, *op.selection_set.selections))
    )
    return DocumentNode(definitions=tuple(new_op if d is op else d for d in doc.definitions))


def answer(s: Suite, doc: DocumentNode, variables: dict[str, Any], loop: Any) -> dict[str, Any]:
    for sub in s.graph.subgraphs.values():
        sub.invalid.clear()
    result = loop.run_until_complete(s.graph.run(s.gateway, print_ast(doc), variables))
    assert s.graph.invalid_subgraph_queries() == [], (print_ast(doc), result)
    return result


def _codes(r: dict[str, Any]) -> list[Any]:
    return [(e.get("extensions") or {}).get("code") for e in r.get("errors") or ()]


def same(a: dict[str, Any], b: dict[str, Any], context: str) -> None:
    if "data" not in b:
        # Unsatisfiable by design (a field no subgraph can reach from where it is asked,
        # e.g. non-resolvable-interface-object): every rewrite fails in the same way.
        assert "data" not in a and _codes(a) == _codes(b), context
        return
    assert a.get("data") == b.get("data"), context
    assert places(a.get("data"), a.get("errors")) == places(b.get("data"), b.get("errors")), context


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
    base = answer(s, doc, variables, loop)
    context = f"{s.name}\n{query}\n{variables}\n{base}"
    assert "data" in base or _codes(base) == ["QUERY_PLANNING_FAILED"], context
    root = s.gateway.api_schema.query_type.name  # type: ignore[union-attr]
    for rewrite in (
        reversed_siblings(doc),
        wrapped_in_inline_fragments(doc),
        in_named_fragment(doc, root),
        with_skipped_copy(doc),
    ):
        same(answer(s, rewrite, variables, loop), base, f"{context}\n{print_ast(rewrite)}")
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    if not all(isinstance(x, FieldNode) for x in op.selection_set.selections):
        return  # a root field inside a fragment would keep its old key
    renamed, back = renamed_root_aliases(doc)
    got = answer(s, renamed, variables, loop)
    if "data" not in base:
        same(got, base, context)
        return
    if isinstance(got.get("data"), dict):
        got["data"] = {back.get(k, k): v for k, v in got["data"].items()}
    for e in got.get("errors") or ():
        if e.get("path"):
            e["path"] = [back.get(e["path"][0], e["path"][0]), *e["path"][1:]]
    same(got, base, f"{context}\n{print_ast(renamed)}")
