"""The metamorphic rewrites of an operation (an answer must not change under them), shared by
test_metamorphic.py (the Python ports of audit suites) and live.py (the audit's own subgraphs):

- sibling selections reversed, at every level;
- every selection set wrapped in an inline fragment;
- the operation's selection moved into a named fragment;
- root fields under other aliases (the answer's keys renamed back; when every root
  selection is a field);
- a copy of a root field added under `@include(if: false)`.

"The same answer" is the same data and errors at the same places (tests/graph/oracle/
check.places).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
)

from tests.graph.oracle.check import places


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


Answer = Callable[[DocumentNode], dict[str, Any]]


def check_rewrites(doc: DocumentNode, root: str, answer: Answer, context: str) -> None:
    """Every rewrite of `doc` gets the same answer as `doc` (AssertionError if not)."""
    base = answer(doc)
    context = f"{context}\n{print_ast(doc)}\n{base}"
    assert "data" in base or _codes(base) == ["QUERY_PLANNING_FAILED"], context
    for rewrite in (
        reversed_siblings(doc),
        wrapped_in_inline_fragments(doc),
        in_named_fragment(doc, root),
        with_skipped_copy(doc),
    ):
        same(answer(rewrite), base, f"{context}\n{print_ast(rewrite)}")
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    if not all(isinstance(x, FieldNode) for x in op.selection_set.selections):
        return  # a root field inside a fragment would keep its old key
    renamed, back = renamed_root_aliases(doc)
    got = answer(renamed)
    if "data" not in base:
        same(got, base, context)
        return
    if isinstance(got.get("data"), dict):
        got["data"] = {back.get(k, k): v for k, v in got["data"].items()}
    for e in got.get("errors") or ():
        if e.get("path"):
            e["path"] = [back.get(e["path"][0], e["path"][0]), *e["path"][1:]]
    same(got, base, f"{context}\n{print_ast(renamed)}")
