"""The oracle with `@defer` and `@stream`: every random operation of test_oracle.py becomes a
random incremental variant (selections moved into `... @defer` fragments, `@defer` on the
operation's own fragments, `@stream(initialCount:)` on list fields; with and without labels,
with `if:` as a literal or a variable), and

- answered whole (a client that takes no parts) the variant gives the monolithic answer to the
  plain operation (graphql-core leaves directives it does not know alone) — test_oracle.py's
  `compare`, with every subgraph query valid;
- answered in parts, in both wire formats, the parts merged as a client merges them
  (tests/support/incremental.py) give that whole answer, except where a null in a non-null
  position inside a deferred part stops at that part instead of nulling more (the incremental
  delivery RFC): there only the data the whole answer nulled may differ, and errors of parts
  never delivered (under such a null) are missing. The framing holds (`hasNext`, v0.2's
  pending/completed ids) and the parts' subgraph queries are valid too.

`ORACLE_INCREMENTAL_EXAMPLES` sets how many (`make test-deep` runs many more).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    print_ast,
    validate,
    visit,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graph.execution.incremental import DEFER_SPEC_20220824, INCREMENTAL_V02
from graph.execution.validation import RULES_WITH_INCREMENTAL
from tests.graph.oracle.check import Case, compare
from tests.graph.oracle.test_oracle import cases
from tests.support.incremental import merge_payloads, same_answer

EXAMPLES = int(
    os.environ.get(
        "ORACLE_INCREMENTAL_EXAMPLES", int(os.environ.get("ORACLE_EXAMPLES", "150")) // 2
    )
)


def _directive(text: str) -> DirectiveNode:
    """`@name(args)` parsed (from a field of a throwaway document)."""
    op = parse(f"{{ f {text} }}").definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    field = op.selection_set.selections[0]
    assert isinstance(field, FieldNode) and field.directives
    return field.directives[0]


class _Incremental(Visitor):
    """Draws, for every selection set, whether to defer the selections from some point on;
    for every inline fragment and fragment spread, whether to defer it; for every list
    field, whether to stream it. New `if:` variables go to `definitions` and `values`."""

    def __init__(self, draw: st.DrawFn, info: TypeInfo, values: dict[str, Any]) -> None:
        super().__init__()
        self.draw = draw
        self.info = info
        self.values = values
        self.definitions: list[str] = []
        self.labels = 0

    def _args(self, directive: str, extra: str = "") -> str:
        args = [extra] if extra else []
        if self.draw(st.booleans()):
            self.labels += 1
            args.append(f'label: "{directive[0]}{self.labels}"')
        how = self.draw(st.sampled_from(["", "", "true", "false", "var", "default"]))
        if how in ("true", "false"):
            args.append(f"if: {how}")
        elif how:
            name = f"d{len(self.definitions)}"
            if how == "var":
                self.definitions.append(f"${name}: Boolean!")
                self.values[name] = self.draw(st.booleans())
            else:
                default = str(self.draw(st.booleans())).lower()
                self.definitions.append(f"${name}: Boolean = {default}")
                if self.draw(st.booleans()):
                    self.values[name] = self.draw(st.booleans())
            args.append(f"if: ${name}")
        return f"@{directive}({', '.join(args)})" if args else f"@{directive}"

    def leave_selection_set(self, node: SelectionSetNode, *_: Any) -> Any:
        sels = list(node.selections)
        if self.draw(st.integers(min_value=0, max_value=2)) != 0:
            return None
        split = self.draw(st.integers(min_value=0, max_value=len(sels) - 1))
        fragment = InlineFragmentNode(
            type_condition=None,
            directives=(_directive(self._args("defer")),),
            selection_set=SelectionSetNode(selections=tuple(sels[split:])),
        )
        return SelectionSetNode(selections=(*sels[:split], fragment))

    def _defer_fragment(self, node: Any) -> Any:
        if self.draw(st.integers(min_value=0, max_value=3)) != 0:
            return None
        return node.__class__(
            **{k: getattr(node, k) for k in node.keys if k != "directives"},
            directives=(*(node.directives or ()), _directive(self._args("defer"))),
        )

    def leave_inline_fragment(self, node: InlineFragmentNode, *_: Any) -> Any:
        return self._defer_fragment(node)

    def leave_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> Any:
        return self._defer_fragment(node)

    def leave_field(self, node: FieldNode, *_: Any) -> Any:
        field = self.info.get_field_def()
        if field is None:
            return None
        t = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if not isinstance(t, GraphQLList) or self.draw(st.integers(0, 2)) != 0:
            return None
        count = self.draw(st.integers(min_value=0, max_value=2))
        return FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=node.arguments,
            directives=(
                *(node.directives or ()),
                _directive(self._args("stream", f"initialCount: {count}")),
            ),
            selection_set=node.selection_set,
        )


@st.composite
def incremental_cases(draw: st.DrawFn) -> tuple[Case, str, dict[str, Any]]:
    case, query, variables = draw(cases())
    values = dict(variables)
    info = TypeInfo(case.gateway.api_schema)
    rewrite = _Incremental(draw, info, values)
    document = visit(parse(query), TypeInfoVisitor(info, rewrite))
    text = print_ast(document)
    if rewrite.definitions:
        head = "query Q(" if "query Q(" in text else "query Q"
        extra = ", ".join(rewrite.definitions)
        text = (
            text.replace("query Q(", f"query Q({extra}, ", 1)
            if head == "query Q("
            else text.replace("query Q", f"query Q({extra})", 1)
        )
    assume("@defer" in text or "@stream" in text)
    assume(not validate(case.gateway.api_schema, parse(text), RULES_WITH_INCREMENTAL))
    return case, text, values


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


async def _parts(execution: Any) -> list[dict[str, Any]]:
    return [p async for p in execution.payloads()]


def check(
    case: Case, query: str, variables: dict[str, Any], loop: asyncio.AbstractEventLoop
) -> None:
    """The variant answered whole equals the monolithic answer; answered in parts, in both
    formats, its merged parts equal the whole answer (module docstring)."""
    compare(case, query, variables, loop)
    whole = loop.run_until_complete(case.graph.run(case.gateway, query, variables))
    prepared = case.gateway.prepare(query, None)
    for fmt in (DEFER_SPEC_20220824, INCREMENTAL_V02):
        execution = case.gateway.incremental(prepared, variables, fmt)
        if execution is None:  # nothing deferred with these variables
            continue
        payloads = loop.run_until_complete(_parts(execution))
        merged = merge_payloads(payloads)
        context = f"seed {case.world.seed} {fmt}\n{query}\n{variables}\n{payloads}\n{whole}"
        assert same_answer(merged, whole), context
    invalid = case.graph.invalid_subgraph_queries()
    assert invalid == [], f"seed {case.world.seed}\n{query}\n{invalid}"


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
@pytest.mark.timeout(max(300, EXAMPLES * 2))
@given(incremental_cases())
def test_incremental_answer_merges_into_the_monolithic_answer(
    loop: asyncio.AbstractEventLoop, drawn: tuple[Case, str, dict[str, Any]]
) -> None:
    case, query, variables = drawn
    check(case, query, variables, loop)
