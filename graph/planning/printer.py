"""A human-readable query plan, in the style of Apollo's query plan output."""

from __future__ import annotations

from graphql import parse, print_ast

from graph.planning.operation import STREAM
from graph.planning.plan import (
    DeferredNode,
    FetchNode,
    FlattenNode,
    ParallelNode,
    PlanNode,
    QueryPlan,
    ReqField,
    ReqFragment,
    ReqSelection,
    SequenceNode,
)

_IND = "  "


def format_plan(plan: QueryPlan) -> str:
    lines = ["QueryPlan {"]
    if plan.deferred:
        _defer(plan, 1, lines)
    elif plan.node is not None:
        _node(plan.node, 1, lines)
    lines.append("}")
    return "\n".join(lines)


def _defer(plan: QueryPlan, depth: int, out: list[str]) -> None:
    """The parts of an incremental response: the initial payload's fetches (`Primary`), then
    each @defer / @stream part with the part it waits for and its own fetches."""
    pad = _IND * depth
    out.append(f"{pad}Defer {{")
    out.append(f"{pad}{_IND}Primary {{")
    if plan.node is not None:
        _node(plan.node, depth + 2, out)
    out.append(f"{pad}{_IND}}}, [")
    for d in plan.deferred:
        out.append(f"{pad}{_IND * 2}{_deferred_head(d)} {{")
        if d.node is not None:
            _node(d.node, depth + 3, out)
        out.append(f"{pad}{_IND * 2}}},")
    out.append(f"{pad}{_IND}]")
    out.append(f"{pad}}},")


def _deferred_head(d: DeferredNode) -> str:
    r = d.deferral
    args = [f"id: {r.id}"]
    if len(d.stack) > 1:
        args.append(f"depends: [{', '.join(str(i) for i in d.stack[:-1])}]")
    args.append(f'path: "{format_path(d.path)}"')
    if r.label is not None:
        args.append(f'label: "{r.label}"')
    if r.condition is not None:
        args.append(f"if: ${r.condition}")
    if r.kind == STREAM:
        count = r.initial_count
        args.append(f"initialCount: {f'${count}' if isinstance(count, str) else count}")
        return f"Stream({', '.join(args)})"
    return f"Deferred({', '.join(args)})"


def _node(n: PlanNode, depth: int, out: list[str]) -> None:
    pad = _IND * depth
    if isinstance(n, SequenceNode | ParallelNode):
        out.append(f"{pad}{'Sequence' if isinstance(n, SequenceNode) else 'Parallel'} {{")
        for c in n.nodes:
            _node(c, depth + 1, out)
        out.append(f"{pad}}},")
    elif isinstance(n, FlattenNode):
        paths = ", ".join(f'"{format_path(p)}"' for p in n.paths)
        label = "path" if len(n.paths) == 1 else "paths"
        out.append(f"{pad}Flatten({label}: {paths}) {{")
        _fetch(n.node, depth + 1, out)
        out.append(f"{pad}}},")
    else:
        _fetch(n, depth, out)


def format_path(path: tuple[str, ...]) -> str:
    parts: list[str] = []
    for seg in path:
        if seg[0] == "@" and len(seg) > 1:  # the items of a @stream: "@<id" / "@>id"
            which = "initial" if seg[1] == "<" else "rest"
            parts.append(f"@[{which} of {seg[2:]}]")
        elif seg.startswith("on:"):
            if parts:
                parts[-1] += f"|[{seg[3:]}]"
            else:
                parts.append(f"|[{seg[3:]}]")
        else:
            parts.append(seg)
    return ".".join(parts)


def _fetch(f: FetchNode, depth: int, out: list[str]) -> None:
    pad = _IND * depth
    cond = ""
    if f.conditions:
        cond = " if " + " and ".join(
            ("!" if kind == "skip" else "") + (f"${v}" if isinstance(v, str) else str(v).lower())
            for kind, v in f.conditions
        )
    out.append(f'{pad}Fetch(service: "{f.subgraph}"{cond}) {{')
    if f.entities:
        out.append(f"{pad}{_IND}{{")
        for e in f.entities:
            out.append(f"{pad}{_IND * 2}... on {e.type_name} {{")
            _reqs(e.requires, depth + 3, out)
            out.append(f"{pad}{_IND * 2}}}")
        out.append(f"{pad}{_IND}}} =>")
    if f.contexts:
        # @fromContext arguments: each variable is read from the object that set the context
        out.append(f"{pad}{_IND}context {{")
        for c in f.contexts:
            where = format_path(c.ancestor) or "(root)"
            out.append(f"{pad}{_IND * 2}${c.variable}: {c.type} <- {where} {_inline(c.selections)}")
        out.append(f"{pad}{_IND}}}")
    pretty = print_ast(parse(f.operation, no_location=True))
    if f.entities:
        # Show only the selection inside _entities, as Apollo does.
        pretty = _entities_body(pretty)
    for line in pretty.splitlines():
        out.append(f"{pad}{_IND}{line}")
    out.append(f"{pad}}},")


def _entities_body(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if "_entities(" in ln)
    body = lines[start + 1 : -2]
    indent = min((len(ln) - len(ln.lstrip()) for ln in body if ln.strip()), default=0)
    return "\n".join(["{", *("  " + ln[indent:] for ln in body), "}"])


def _inline(reqs: tuple[ReqSelection, ...]) -> str:
    parts: list[str] = []
    for r in reqs:
        if isinstance(r, ReqField):
            parts.append(r.data_key + (f" {_inline(r.selections)}" if r.selections else ""))
        else:
            parts.append(f"... on {r.type_condition} {_inline(r.selections)}")
    return "{ " + " ".join(parts) + " }"


def _reqs(reqs: tuple[ReqSelection, ...], depth: int, out: list[str]) -> None:
    pad = _IND * depth
    out.append(f"{pad}__typename")
    _req_fields(reqs, depth, out)


def _req_fields(reqs: tuple[ReqSelection, ...], depth: int, out: list[str]) -> None:
    pad = _IND * depth
    for r in reqs:
        if isinstance(r, ReqField):
            name = r.repr_key if r.repr_key == r.data_key else f"{r.repr_key} <- {r.data_key}"
            if r.selections is None:
                out.append(f"{pad}{name}")
            else:
                out.append(f"{pad}{name} {{")
                _req_fields(r.selections, depth + 1, out)
                out.append(f"{pad}}}")
        elif isinstance(r, ReqFragment):
            out.append(f"{pad}... on {r.type_condition} {{")
            _req_fields(r.selections, depth + 1, out)
            out.append(f"{pad}}}")
