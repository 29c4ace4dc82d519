"""Planning the root fields: which subgraph each one goes to, and the root fetches.

Queries put every root field a subgraph resolves into one fetch per subgraph (run in
parallel); mutations keep their order, starting a new fetch (a new sequential segment)
whenever the subgraph changes. Functions over the cost model and the fetch graph; what is
below a root field is planned by the `add_field` the planner passes in.
"""

from __future__ import annotations

from collections.abc import Callable

from graph.planning.costs import INF, CostModel
from graph.planning.errors import PlanningError
from graph.planning.groups import Ctx, FetchGraph, atoms, with_selections
from graph.planning.operation import (
    Condition,
    NormalizedOperation,
    OpField,
    OpFragment,
    OpSelection,
)
from graph.supergraph.model import FieldInfo, Supergraph

AddField = Callable[[Ctx, str, FieldInfo, OpField], None]


def plan_roots(
    op: NormalizedOperation,
    sg: Supergraph,
    costs: CostModel,
    fetches: FetchGraph,
    add_field: AddField,
    stack_paths: dict[tuple[int, ...], tuple[str, ...]] | None = None,
) -> None:
    root = sg.root_types.get(op.kind)
    if root is None or root not in sg.types:
        raise PlanningError(f"the supergraph has no {op.kind} type")
    # The root fields of each part of the response: the initial payload's, and those of each
    # @defer fragment on the root type (root fetches of their own).
    by_part: dict[tuple[int, ...], list[tuple[list[OpFragment], OpField]]] = {}
    for wraps, s, stack in _root_entries(sg, root, op.selections, [], ()):
        by_part.setdefault(stack, []).append((wraps, s))
        if stack and stack_paths is not None:
            stack_paths.setdefault(stack, ())
    flat: list[tuple[tuple[int, ...], list[OpFragment], OpField]] = []
    for stack, part in by_part.items():
        entries = _merge_repeated(part) if op.kind != "mutation" else part
        flat.extend((stack, wraps, s) for wraps, s in entries)
    # (the subgraphs are chosen for the fields of every part together)
    chosen = _choose_root_graphs(sg, root, costs, [(w, s) for _, w, s in flat])
    for (stack, wraps, s), (graph, cost) in zip(flat, chosen, strict=True):
        fi = sg.types[root].fields[s.name]
        if cost >= INF and s.selections and len(fi.resolvers) > 1:
            assigned: dict[str, list[OpSelection]] = {}
            for sub in atoms(s.selections):
                probe = with_selections(s, (sub,))
                g = min(fi.resolvers, key=lambda g, p=probe: costs.cost_local(g, fi, p, None, 0))  # type: ignore[misc]
                assigned.setdefault(g, []).append(sub)
            for g, subs in assigned.items():
                _plan_root_field(
                    sg, fetches, add_field, root, g, with_selections(s, tuple(subs)), wraps, stack
                )
        else:
            _plan_root_field(sg, fetches, add_field, root, graph, s, wraps, stack)


def _choose_root_graphs(
    sg: Supergraph, root: str, costs: CostModel, entries: list[tuple[list[OpFragment], OpField]]
) -> list[tuple[str, int]]:
    """The subgraph for each root field: one of the cheapest for it; among equally cheap
    ones, those that serve the most root fields of the operation (fewer fetches), then by
    name - whatever the order of the fields."""
    cheapest: list[tuple[list[str], int]] = []
    for _wraps, s in entries:
        fi = sg.types[root].fields.get(s.name)
        if fi is None or not fi.resolvers:
            raise PlanningError(f"no subgraph resolves {root}.{s.name}")
        by_graph = {g: costs.cost_local(g, fi, s, None, 0) for g in fi.resolvers}
        best = min(by_graph.values())
        cheapest.append((sorted(g for g, c in by_graph.items() if c == best), best))
    chosen: dict[int, str] = {}
    left = set(range(len(entries)))
    while left:
        count: dict[str, int] = {}
        for i in left:
            for g in cheapest[i][0]:
                count[g] = count.get(g, 0) + 1
        pick = min(count, key=lambda g: (-count[g], g))
        for i in [i for i in left if pick in cheapest[i][0]]:
            chosen[i] = pick
            left.discard(i)
    return [(chosen[i], cheapest[i][1]) for i in range(len(entries))]


def _root_entries(
    sg: Supergraph,
    root: str,
    sels: tuple[OpSelection, ...],
    wrappers: list[OpFragment],
    stack: tuple[int, ...],
) -> list[tuple[list[OpFragment], OpField, tuple[int, ...]]]:
    """The root fields with the conditional fragments around them and the part (the @defer
    fragments) they are delivered with, in order."""
    out: list[tuple[list[OpFragment], OpField, tuple[int, ...]]] = []
    for s in sels:
        if isinstance(s, OpFragment):
            if not sg.runtime_type_applies(root, s.type_condition):
                continue
            inner = [*wrappers, s] if s.conditions else wrappers
            inner_stack = (*stack, s.defer.id) if s.defer is not None else stack
            out.extend(_root_entries(sg, root, s.selections, inner, inner_stack))
        elif not s.name.startswith("__"):
            out.append((wrappers, s, stack))
    return out


def _plan_root_field(
    sg: Supergraph,
    fetches: FetchGraph,
    add_field: AddField,
    root: str,
    graph: str,
    s: OpField,
    wrappers: list[OpFragment],
    stack: tuple[int, ...] = (),
) -> None:
    group = fetches.root_group(graph, stack)
    if s.response_key not in group.root_keys:
        group.root_keys.append(s.response_key)
    selset = group.selset
    conds: tuple[Condition, ...] = ()
    for w in wrappers:
        selset = selset.fragment(None, w.directives_text, w.variables)
        conds += w.conditions
    ctx = Ctx(group, selset, (), None, None, conds, stack=stack)
    sets = sg.contexts_of(root)
    if sets:  # the root type sets contexts (@context on Query)
        ctx.contexts = {c: (ctx, root) for c in sets}
    add_field(ctx, root, sg.types[root].fields[s.name], s)


def _merge_repeated(
    entries: list[tuple[list[OpFragment], OpField]],
) -> list[tuple[list[OpFragment], OpField]]:
    """Root fields asked for more than once under one response key are planned as one field
    (so one subgraph is chosen for everything asked of it). A copy under @skip/@include
    keeps its conditions on a fragment around its selections, as long as one copy is
    unconditional; copies that are all conditional (differently) stay apart."""
    by_key: dict[str, list[tuple[list[OpFragment], OpField]]] = {}
    for e in entries:
        by_key.setdefault(e[1].response_key, []).append(e)
    out: list[tuple[list[OpFragment], OpField]] = []
    for key, group in by_key.items():
        plain = [f for w, f in group if not w and not f.conditions]
        if len(group) == 1 or not plain or plain[0].selections is None:
            if len(group) > 1 and plain:
                out.append(([], plain[0]))  # a leaf asked for without conditions once
            else:
                out.extend(group)
            continue
        merged: list[OpSelection] = []
        for wraps, f in group:
            inner: tuple[OpSelection, ...] = f.selections or ()
            conds = [*wraps]
            if f.conditions:
                conds.append(OpFragment(None, (), f.directives_text, f.conditions, f.variables))
            for w in reversed(conds):
                inner = (OpFragment(None, inner, w.directives_text, w.conditions, w.variables),)
            merged.extend(inner)
        del key
        out.append(([], with_selections(plain[0], tuple(merged))))
    return out
