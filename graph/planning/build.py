"""Fetch groups (a dependency graph) -> a tree of Sequence/Parallel/Flatten/Fetch nodes.

Groups with one dependency hang below it. A group that waits for several others (an entity
fetch with `@requires` served by other fetches) starts a new stage: the plan becomes a
sequence of stages, each a parallel set of subtrees, and a group's stage is after every stage
holding one of its dependencies.
"""

from __future__ import annotations

from typing import Any

from graph.planning.groups import Group, depends_on
from graph.planning.operation import NormalizedOperation
from graph.planning.plan import (
    DeferredNode,
    EntityTarget,
    FetchNode,
    FlattenNode,
    ParallelNode,
    PlanNode,
    QueryPlan,
    SequenceNode,
)
from graph.planning.selections import merge_reqs
from graph.supergraph.model import Supergraph


def build_query_plan(
    groups: list[Group],
    op: NormalizedOperation,
    sg: Supergraph,
    stack_paths: dict[tuple[int, ...], tuple[str, ...]] | None = None,
) -> QueryPlan:
    """The plan; with @defer/@stream, one plan node per part of the response (Group.stack):
    the initial payload's, and each deferred part's, which runs after the parts it is
    nested in (its fetches depend on theirs only)."""
    if not op.deferrals:
        return QueryPlan(op.kind, build_plan(groups, op, sg))
    by_part: dict[tuple[int, ...], list[Group]] = {}
    for g in groups:
        by_part.setdefault(g.stack, []).append(g)
    paths = stack_paths or {}
    stacks = sorted(set(paths) | {s for s in by_part if s}, key=lambda s: (len(s), s))
    deferred = tuple(
        DeferredNode(
            op.deferrals[stack[-1]],
            build_plan(by_part.get(stack, []), op, sg),
            paths.get(stack, ()),
            stack,
        )
        for stack in stacks
    )
    return QueryPlan(op.kind, build_plan(by_part.get((), []), op, sg), deferred)


def build_plan(groups: list[Group], op: NormalizedOperation, sg: Supergraph) -> PlanNode | None:
    groups = [g for g in groups if not _empty(g)]
    if not groups:
        return None
    alive = {g.id for g in groups}
    for g in groups:
        g.deps = {d for d in g.deps if d.id in alive and d is not g}
    _reduce(groups)
    groups = _merge_siblings(groups)
    _reduce(groups)
    segments: dict[int, list[Group]] = {}
    for g in groups:
        segments.setdefault(g.segment, []).append(g)
    nodes = [_segment_node(segs, op, sg) for _, segs in sorted(segments.items())]
    if op.kind == "mutation":
        return _seq(nodes)
    return _par(nodes)


def _empty(g: Group) -> bool:
    if g.entity:
        return all(g.selset.fragment(t).is_empty() for t in g.parts)
    return g.selset.is_empty()


def _reduce(groups: list[Group]) -> None:
    """Drop a dependency that another dependency already waits for."""
    for g in groups:
        if len(g.deps) < 2:
            continue
        keep = set(g.deps)
        for d in list(g.deps):
            if any(o is not d and o in keep and depends_on(o, d) for o in g.deps):
                keep.discard(d)
        g.deps = keep


def _merge_siblings(groups: list[Group]) -> list[Group]:
    """Merge entity fetches to one subgraph that wait for exactly the same fetches and select
    exactly the same fields: one request carries the representations of all their paths
    (deduplicated across paths). Fetches that select different fields stay apart: a field
    that fails in the subgraph nulls the whole entity, which must not take away the fields
    another response path asked for."""
    changed = True
    while changed:
        changed = False
        seen: dict[tuple[object, ...], Group] = {}
        for g in groups:
            if not g.entity or g.contexts:  # (context values are read relative to its path)
                continue
            key = (
                g.segment,
                g.subgraph,
                g.conditions,
                frozenset(d.id for d in g.deps),
                g.selset.render(),
                tuple(g.renames),
            )
            first = seen.get(key)
            if first is None:
                seen[key] = g
                continue
            merged_parts: dict[str, Any] = {}
            ok = True
            for name in set(first.parts) | set(g.parts):
                a, b = first.parts.get(name), g.parts.get(name)
                if a is None or b is None:
                    merged_parts[name] = a or b
                    continue
                reqs = merge_reqs(a.requires, b.requires)
                if reqs is None:
                    ok = False
                    break
                merged_parts[name] = (a, b, reqs)
            if not ok:
                continue
            for name, value in merged_parts.items():
                if isinstance(value, tuple):
                    a, b, reqs = value
                    a.runtime_types |= b.runtime_types
                    a.requires = reqs
                elif name not in first.parts and value is not None:
                    first.parts[name] = value
            first.selset.merge(g.selset)
            first.renames.extend(r for r in g.renames if r not in first.renames)
            for p in (g.path, *g.extra_paths):
                if p != first.path and p not in first.extra_paths:
                    first.extra_paths.append(p)
            for other in groups:
                if g in other.deps:
                    other.deps.discard(g)
                    other.deps.add(first)
            groups = [x for x in groups if x is not g]
            changed = True
            break
    return groups


def _segment_node(groups: list[Group], op: NormalizedOperation, sg: Supergraph) -> PlanNode:
    level: dict[int, int] = {}
    by_id = {g.id: g for g in groups}

    def lvl(g: Group) -> int:
        if g.id in level:
            return level[g.id]
        level[g.id] = 0
        deps = [d for d in g.deps if d.id in by_id]
        v = max((lvl(d) for d in deps), default=0) + (1 if len(deps) > 1 else 0)
        level[g.id] = v
        return v

    for g in groups:
        lvl(g)
    children: dict[int, list[Group]] = {}
    stage_roots: dict[int, list[Group]] = {}
    for g in groups:
        deps = [d for d in g.deps if d.id in by_id]
        if len(deps) == 1:
            children.setdefault(deps[0].id, []).append(g)
        else:
            stage_roots.setdefault(level[g.id], []).append(g)

    def subtree(g: Group) -> PlanNode:
        own = _fetch_node(g, op, sg)
        kids = [subtree(c) for c in children.get(g.id, [])]
        if not kids:
            return own
        return _seq([own, _par(kids)])

    stages = [_par([subtree(g) for g in roots]) for _, roots in sorted(stage_roots.items())]
    return _seq(stages)


def _seq(nodes: list[PlanNode]) -> PlanNode:
    flat: list[PlanNode] = []
    for n in nodes:
        if isinstance(n, SequenceNode):
            flat.extend(n.nodes)
        else:
            flat.append(n)
    return flat[0] if len(flat) == 1 else SequenceNode(tuple(flat))


def _par(nodes: list[PlanNode]) -> PlanNode:
    flat: list[PlanNode] = []
    for n in nodes:
        if isinstance(n, ParallelNode):
            flat.extend(n.nodes)
        else:
            flat.append(n)
    return flat[0] if len(flat) == 1 else ParallelNode(tuple(flat))


def _fetch_node(g: Group, op: NormalizedOperation, sg: Supergraph) -> PlanNode:
    used: set[str] = set()
    g.selset.variables(used)
    usages = tuple(v for v in op.variable_definitions if v in used)
    var_defs = [op.variable_definitions[v] for v in usages]
    name = f"{op.name}__{g.subgraph}__{g.id}" if op.name else ""
    if g.entity:
        var_defs += [f"${c.variable}: {c.type}" for c in g.contexts]
        defs = ", ".join(["$representations: [_Any!]!", *var_defs])
        body = "{_entities(representations: $representations) " + g.selset.render_block() + "}"
        text = f"query {name}({defs}) {body}"
        entities = tuple(
            EntityTarget(p.type_name, tuple(sorted(p.runtime_types)), p.requires)
            for p in g.parts.values()
        )
        fetch = FetchNode(
            g.id,
            g.subgraph,
            text,
            "query",
            usages,
            entities,
            (),
            g.conditions,
            tuple(g.renames),
            tuple(g.contexts),
        )
        return FlattenNode(g.path, fetch, tuple(g.extra_paths))
    kind = op.kind if op.kind in ("mutation", "subscription") else "query"
    head = kind
    if name:
        head += f" {name}"
    if var_defs:
        head += "(" + ", ".join(var_defs) + ")"
    text = f"{head} {g.selset.render_block()}"
    return FetchNode(
        g.id, g.subgraph, text, kind, usages, (), tuple(g.root_keys), g.conditions, tuple(g.renames)
    )
