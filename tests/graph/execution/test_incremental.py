"""@defer and @stream through the Gateway: metamorphic checks on the audit suites.

For every operation of the issue-12 regression cases (their answers are known to be right),
variants with `@defer` fragments and `@stream` fields are generated (tests/support/
incremental.py's client merge puts their parts back together):

- answered whole (a client that takes no parts) a variant gives exactly the operation's
  answer, and its plan sends only valid subgraph queries;
- answered in parts, in both wire formats, the merged parts give the same answer, except
  where a null in a non-null position inside a deferred part stops at that part instead of
  nulling more (the incremental delivery RFC): there the errors are the same and only the
  data the whole answer nulled may differ.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import (
    DirectiveNode,
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    print_ast,
    visit,
)

from graph.execution.gateway import Gateway
from graph.execution.incremental import DEFER_SPEC_20220824, INCREMENTAL_V02
from graph.planning import format_plan
from tests.graph.audit.suites import subgraphs
from tests.graph.audit.test_repros import REPROS
from tests.graph.fixtures.federation import FederatedGraph
from tests.support.incremental import merge_payloads, same_answer

_DEFER = DirectiveNode(name=NameNode(value="defer"), arguments=())


def _deferred(selection_set: SelectionSetNode, split: int) -> SelectionSetNode:
    """The selections from `split` on, moved into a `... @defer` fragment."""
    sels = list(selection_set.selections)
    if split >= len(sels):
        return selection_set
    frag = InlineFragmentNode(
        type_condition=None,
        directives=(_DEFER,),
        selection_set=SelectionSetNode(selections=tuple(sels[split:])),
    )
    return SelectionSetNode(selections=(*sels[:split], frag))


class _Rewrite(Visitor):
    """Defers part of every selection set deeper than `min_depth` (the root is depth 0);
    adds `@stream(initialCount: 1)` to list fields when `stream`."""

    def __init__(self, type_info: TypeInfo, split: int, min_depth: int, stream: bool) -> None:
        super().__init__()
        self.type_info = type_info
        self.split = split
        self.min_depth = min_depth
        self.stream = stream
        self.depth = 0

    def enter_selection_set(self, *_: Any) -> None:
        self.depth += 1

    def leave_selection_set(self, node: SelectionSetNode, *_: Any) -> Any:
        self.depth -= 1
        if self.depth >= self.min_depth and not any(
            s.name.value == "__typename" for s in node.selections if isinstance(s, FieldNode)
        ):
            return _deferred(node, self.split)
        return None

    def leave_field(self, node: FieldNode, *_: Any) -> Any:
        field = self.type_info.get_field_def()
        if not self.stream or field is None or node.directives:
            return None
        t = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if not isinstance(t, GraphQLList):
            return None
        stream = parse("{ f @stream(initialCount: 1) }").definitions[0]
        assert isinstance(stream, OperationDefinitionNode)
        directive = stream.selection_set.selections[0].directives
        return FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=node.arguments,
            directives=directive,
            selection_set=node.selection_set,
        )


def variants(gateway: Gateway, query: str) -> list[str]:
    out: list[str] = []
    for split in (0, 1):
        for min_depth in (0, 1):
            for stream in (False, True):
                info = TypeInfo(gateway.api_schema)
                doc = visit(
                    parse(query), TypeInfoVisitor(info, _Rewrite(info, split, min_depth, stream))
                )
                text = print_ast(doc)
                if "@defer" in text or "@stream" in text:
                    out.append(text)
    return sorted(set(out))


CASES = [r for r in REPROS if r.suite != "non-resolvable-interface-object"]


@pytest.mark.parametrize("case", CASES, ids=[r.id for r in CASES])
async def test_deferred_variants_answer_like_the_operation(case: Any) -> None:
    graph = FederatedGraph(subgraphs(case.suite))
    gateway = graph.gateway()
    try:
        expected = await graph.run(gateway, case.query)
        assert expected["data"] == case.data
        found = variants(gateway, case.query)
        assert found
        for query in found:
            whole = await graph.run(gateway, query)
            assert whole == expected, (query, format_plan(gateway.prepare(query, None).plan))
            prepared = gateway.prepare(query, None)
            for fmt in (DEFER_SPEC_20220824, INCREMENTAL_V02):
                execution = gateway.incremental(prepared, None, fmt)
                assert execution is not None
                payloads = [p async for p in execution.payloads()]
                merged = merge_payloads(payloads)
                assert same_answer(merged, expected), (query, fmt, payloads, expected)
        assert graph.invalid_subgraph_queries() == []
    finally:
        await gateway.aclose()


async def test_a_deferred_part_fetches_apart_and_after_the_initial_payload() -> None:
    """The initial payload's fetches never include a deferred field, even one from the
    same subgraph: it goes back to that subgraph through the entity's key."""
    graph = FederatedGraph(subgraphs("simple-entity-call"))
    gateway = graph.gateway()
    try:
        query = "{ user { id ... @defer { nickname } } }"
        plan = gateway.prepare(query, None).plan
        assert plan.node is not None and plan.deferred
        primary = [f.operation for f in _fetches(plan.node)]
        assert all("nickname" not in op for op in primary), primary
        deferred = [f.operation for d in plan.deferred for f in _fetches(d.node)]
        assert any("_entities" in op and "nickname" in op for op in deferred), deferred
    finally:
        await gateway.aclose()


def _fetches(node: Any) -> list[Any]:
    from graph.planning.plan import QueryPlan

    return QueryPlan("query", node).fetches() if node is not None else []
