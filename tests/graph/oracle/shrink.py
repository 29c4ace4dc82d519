"""A failing operation made small, for the long runs (deep.py) that draw without hypothesis:
greedy edits of the document (drop a selection, replace one by `__typename`, splice an inline
fragment into its parent, inline a fragment spread, drop a directive or an alias), each kept
when the operation still fails; unused fragments and variables are dropped after every edit.
An edit that makes the operation invalid does not fail the predicate (the comparison calls
an invalid operation no failure), so it is not kept."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

Fails = Callable[[str, dict[str, Any]], bool]
_EDITS = ("remove", "typename", "splice", "inline", "undirect", "unalias")


def shrink(
    fails: Fails, query: str, variables: dict[str, Any], budget: int = 1500
) -> tuple[str, dict[str, Any]]:
    """The smallest operation found (with its variables) that still `fails`."""
    doc = parse(query)
    best, best_vars = query, dict(variables)
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        for candidate in _candidates(doc):
            text, values = _clean(candidate, best_vars)
            if len(text) >= len(best):
                continue
            tries += 1
            if fails(text, values):
                doc, best, best_vars = parse(text), text, values
                improved = True
                break
            if tries >= budget:
                break
    return best, best_vars


def _selection_sets(doc: DocumentNode) -> list[SelectionSetNode]:
    out: list[SelectionSetNode] = []

    def walk(ss: SelectionSetNode | None) -> None:
        if ss is None:
            return
        out.append(ss)
        for s in ss.selections:
            walk(getattr(s, "selection_set", None))

    for d in doc.definitions:
        walk(getattr(d, "selection_set", None))
    return out


def _candidates(doc: DocumentNode) -> Iterator[DocumentNode]:
    sets = _selection_sets(doc)
    for i, ss in enumerate(sets):
        for j in range(len(ss.selections)):
            for edit in _EDITS:
                d = copy.deepcopy(doc)
                target = _selection_sets(d)[i]
                if _apply(d, target, j, edit):
                    yield d


def _apply(doc: DocumentNode, ss: SelectionSetNode, j: int, edit: str) -> bool:
    sels = list(ss.selections)
    sel = sels[j]
    if edit == "remove":
        if len(sels) < 2:
            return False
        del sels[j]
    elif edit == "typename":
        if isinstance(sel, FieldNode) and sel.name.value == "__typename" and not sel.alias:
            return False
        sels[j] = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())
    elif edit == "splice":
        if not isinstance(sel, InlineFragmentNode):
            return False
        sels[j : j + 1] = list(sel.selection_set.selections)
    elif edit == "inline":
        if not isinstance(sel, FragmentSpreadNode):
            return False
        frag = next(
            d
            for d in doc.definitions
            if isinstance(d, FragmentDefinitionNode) and d.name.value == sel.name.value
        )
        sels[j] = InlineFragmentNode(
            type_condition=frag.type_condition,
            directives=sel.directives,
            selection_set=frag.selection_set,
        )
    elif edit == "undirect":
        if not sel.directives:
            return False
        sel.directives = tuple(sel.directives[1:])
    elif edit == "unalias":
        if not isinstance(sel, FieldNode) or sel.alias is None:
            return False
        sel.alias = None
    ss.selections = tuple(sels)
    return True


def _clean(doc: DocumentNode, variables: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The document without unused fragments and variable definitions, printed; the
    variable values that are still used."""
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    used: set[str] = set()
    todo: list[Any] = list(ops)
    while todo:
        node = todo.pop()
        for name in _spreads(node):
            if name not in used and name in frags:
                used.add(name)
                todo.append(frags[name])
    kept = [*ops, *(frags[n] for n in frags if n in used)]
    names: set[str] = set()
    for node in kept:
        names |= _variables(node)
    for op in ops:
        op.variable_definitions = tuple(
            v for v in op.variable_definitions or () if v.variable.name.value in names
        )
    out = DocumentNode(definitions=tuple(kept))
    return print_ast(out), {k: v for k, v in variables.items() if k in names}


class _Collect(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.spreads: set[str] = set()
        self.variables: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.spreads.add(node.name.value)

    def enter_variable_definition(self, *_: Any) -> Any:
        return False  # the definitions themselves are not uses

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.variables.add(node.name.value)


def _spreads(node: Any) -> set[str]:
    c = _Collect()
    visit(node, c)
    return c.spreads


def _variables(node: Any) -> set[str]:
    c = _Collect()
    visit(node, c)
    return c.variables
