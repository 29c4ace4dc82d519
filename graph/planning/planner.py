"""Operation -> query plan.

The planner walks the normalised operation once. It keeps a "current fetch" (a subgraph and a
place in its selection set) and, for each field, either adds it to that fetch or, when the
subgraph cannot resolve it, jumps: it adds the entity's key (and any `@requires` fields) to the
current fetch and plans the field inside an `_entities` fetch of a subgraph that can. When a
field can be resolved in several subgraphs (`@shareable`, root fields), a small cost estimate
(number of further jumps the subtree needs) picks the subgraph. Abstract types are expanded
into the object types the subgraph knows, so each object type is planned on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import parse_type, print_ast

from graph.planning.errors import PlanningError
from graph.planning.operation import (
    Condition,
    NormalizedOperation,
    OpField,
    OpFragment,
    OpSelection,
    parse_field_set,
)
from graph.planning.plan import QueryPlan, ReqSelection
from graph.planning.selections import SelSet, merge_reqs, req_from_selections
from graph.supergraph.model import FieldInfo, Supergraph, list_depth, named_type_of

INF = 10**9
JUMP = 1000  # the cost of one more fetch; each field fetched through it adds 1
_MAX_DEPTH = 40

Provided = dict[str, "Provided | None"]


@dataclass(eq=False)
class Part:
    type_name: str
    runtime_types: set[str] = field(default_factory=set)
    requires: tuple[ReqSelection, ...] = ()


@dataclass(eq=False)
class Group:
    id: int
    subgraph: str
    path: tuple[str, ...]
    entity: bool
    segment: int
    parent: Group | None
    conditions: tuple[Condition, ...] = ()
    selset: SelSet = field(default_factory=SelSet)
    parts: dict[str, Part] = field(default_factory=dict)
    deps: set[Group] = field(default_factory=set)
    root_keys: list[str] = field(default_factory=list)
    # (path without type conditions, response key) -> the field's type in this subgraph
    shapes: dict[tuple[tuple[str, ...], str], str] = field(default_factory=dict)
    # (path relative to the fetch, alias, response key): renamed back after the fetch
    renames: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)
    extra_paths: list[tuple[str, ...]] = field(default_factory=list)

    def __hash__(self) -> int:
        return self.id


@dataclass
class Ctx:
    group: Group
    selset: SelSet
    path: tuple[str, ...]
    provided: Provided | None = None
    touched: set[Group] | None = None
    conditions: tuple[Condition, ...] = ()
    depth: int = 0
    # Fields already in the data at this place (the key an entity fetch was made with).
    known: frozenset[str] = frozenset()
    # Subgraphs that could all have resolved this path (below a @shareable field of an
    # entity): only union members / implementations they all know are safe to ask for.
    candidates: frozenset[str] | None = None

    def sub(self, **kw: object) -> Ctx:
        c = Ctx(self.group, self.selset, self.path, self.provided, self.touched,
                self.conditions, self.depth + 1, self.known, self.candidates)
        for k, v in kw.items():
            setattr(c, k, v)
        return c


class Planner:
    def __init__(self, supergraph: Supergraph) -> None:
        self.sg = supergraph
        self._fieldsets: dict[tuple[str, bool], tuple[OpSelection, ...]] = {}
        self._provided: dict[str, Provided] = {}

    # ------------------------------------------------------------------ entry point
    def plan(self, op: NormalizedOperation) -> QueryPlan:
        from graph.planning.build import build_plan

        run = _Run(self, op)
        run.plan_root()
        return QueryPlan(op.kind, build_plan(run.groups, op, self.sg))

    def field_set(self, text: str, alias: bool) -> tuple[OpSelection, ...]:
        key = (text, alias)
        sels = self._fieldsets.get(key)
        if sels is None:
            sels = parse_field_set(text, alias_arguments=alias)
            self._fieldsets[key] = sels
        return sels

    def field_type(self, graph: str, fi: FieldInfo) -> str:
        """The field's named type as the subgraph declares it (join__field(type:) may differ)."""
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.type:
            return named_type_of(parse_type(jf.type))
        return fi.named_type

    def type_shape(self, graph: str, fi: FieldInfo) -> str:
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.type:
            return jf.type
        return print_ast(fi.type_node)

    def provided_of(self, text: str) -> Provided:
        p = self._provided.get(text)
        if p is None:
            p = _provided_tree(self.field_set(text, False))
            self._provided[text] = p
        return p


def _provided_tree(sels: tuple[OpSelection, ...]) -> Provided:
    out: Provided = {}
    for s in sels:
        if isinstance(s, OpField):
            child = _provided_tree(s.selections) if s.selections is not None else None
            prev = out.get(s.name)
            if isinstance(prev, dict) and child is not None:
                merged = dict(prev)
                merged.update(child)
                child = merged
            out[s.name] = child
        else:
            tc = s.type_condition
            for k, v in _provided_tree(s.selections).items():
                out.setdefault(f"{tc}.{k}" if tc and "." not in k else k, v)
    return out


def collect_for(sg: Supergraph, object_type: str,
                sels: tuple[OpSelection, ...]) -> tuple[OpSelection, ...]:
    """The selections that apply to `object_type`, fragments on other types dropped."""
    out: list[OpSelection] = []
    for s in sels:
        if isinstance(s, OpField):
            out.append(s)
        elif sg.runtime_type_applies(object_type, s.type_condition):
            inner = collect_for(sg, object_type, s.selections)
            if s.conditions:
                out.append(OpFragment(None, inner, s.directives_text, s.conditions, s.variables))
            else:
                out.extend(inner)
    return tuple(out)


class _Run:
    def __init__(self, planner: Planner, op: NormalizedOperation) -> None:
        self.p = planner
        self.sg = planner.sg
        self.op = op
        self.groups: list[Group] = []
        self._cost_memo: dict[tuple[object, ...], int] = {}
        self._options_memo: dict[tuple[object, ...], list[tuple[str, str, int]]] = {}
        self._alive: list[object] = []  # keeps memo keys' id()s from being reused

    def new_group(self, subgraph: str, path: tuple[str, ...], entity: bool, segment: int,
                  parent: Group | None, conditions: tuple[Condition, ...]) -> Group:
        g = Group(len(self.groups), subgraph, path, entity, segment, parent, conditions)
        self.groups.append(g)
        return g

    # ------------------------------------------------------------------ root
    def plan_root(self) -> None:
        root = self.sg.root_types.get(self.op.kind)
        if root is None or root not in self.sg.types:
            raise PlanningError(f"the supergraph has no {self.op.kind} type")
        self._segment = 0
        self._root_groups: dict[str, Group] = {}
        self._last_root: Group | None = None
        self._plan_root_sels(root, self.op.selections, [])

    def _plan_root_sels(self, root: str, sels: tuple[OpSelection, ...],
                        wrappers: list[OpFragment]) -> None:
        for s in sels:
            if isinstance(s, OpFragment):
                if not self.sg.runtime_type_applies(root, s.type_condition):
                    continue
                self._plan_root_sels(root, s.selections,
                                     [*wrappers, s] if s.conditions else wrappers)
                continue
            if s.name.startswith("__"):
                continue
            fi = self.sg.types[root].fields.get(s.name)
            if fi is None or not fi.resolvers:
                raise PlanningError(f"no subgraph resolves {root}.{s.name}")
            graph, cost = self._choose_root_graph(root, fi, s)
            if cost >= INF and s.selections and len(fi.resolvers) > 1:
                assigned: dict[str, list[OpSelection]] = {}
                for sub in s.selections:
                    probe = _with_selections(s, (sub,))
                    g = min(fi.resolvers, key=lambda g, p=probe: self._cost_local(  # type: ignore[misc]
                        g, fi, p, None, 0))
                    assigned.setdefault(g, []).append(sub)
                for g, subs in assigned.items():
                    self._plan_root_field(root, g, _with_selections(s, tuple(subs)), wrappers)
            else:
                self._plan_root_field(root, graph, s, wrappers)

    def _plan_root_field(self, root: str, graph: str, s: OpField,
                         wrappers: list[OpFragment]) -> None:
        group = self._root_group(graph)
        if s.response_key not in group.root_keys:
            group.root_keys.append(s.response_key)
        selset = group.selset
        conds: tuple[Condition, ...] = ()
        for w in wrappers:
            selset = selset.fragment(None, w.directives_text, w.variables)
            conds += w.conditions
        ctx = Ctx(group, selset, (), None, None, conds)
        self._add_local(ctx, root, self.sg.types[root].fields[s.name], s)

    def _choose_root_graph(self, root: str, fi: FieldInfo, f: OpField) -> tuple[str, int]:
        graphs = list(fi.resolvers)
        if len(graphs) == 1:
            return graphs[0], 0
        best, best_cost = graphs[0], INF * 10
        for g in graphs:
            c = self._cost_local(g, fi, f, None, 0)
            if c < best_cost or (c == best_cost and g in self._root_groups
                                 and best not in self._root_groups):
                best, best_cost = g, c
        return best, best_cost

    def _root_group(self, graph: str) -> Group:
        if self.op.kind == "mutation":
            last = self._last_root
            if last is not None and last.subgraph == graph:
                return last
            self._segment += 1
            g = self.new_group(graph, (), False, self._segment, None, ())
            self._last_root = g
            return g
        found = self._root_groups.get(graph)
        if found is None:
            found = self.new_group(graph, (), False, 0, None, ())
            self._root_groups[graph] = found
        return found

    # ------------------------------------------------------------------ selections
    def plan_sels(self, ctx: Ctx, type_name: str, sels: tuple[OpSelection, ...]) -> None:
        if ctx.depth > _MAX_DEPTH * 8:
            raise PlanningError("the operation is too deep to plan")
        t = self.sg.types.get(type_name)
        if t is None:
            return
        if t.is_abstract and not t.is_interface_object_in(ctx.group.subgraph):
            self._plan_abstract(ctx, type_name, sels)
        else:
            self._plan_object(ctx, type_name, sels)

    def _plan_abstract(self, ctx: Ctx, type_name: str, sels: tuple[OpSelection, ...]) -> None:
        ctx.selset.add_typename()
        possible = self.sg.possible_types_in(type_name, ctx.group.subgraph)
        if ctx.candidates is not None and len(ctx.candidates) > 1:
            for g in ctx.candidates:
                if g != ctx.group.subgraph and self.sg.type_in_graph(type_name, g):
                    other = set(self.sg.possible_types_in(type_name, g))
                    possible = [t for t in possible if t in other]
        if not possible and self.sg.types[type_name].kind == "interface":
            # The subgraph knows no implementation: only the interface's own fields count.
            self._plan_object(ctx, type_name, sels)
            return
        for obj in possible:
            applicable = collect_for(self.sg, obj, sels)
            if not _has_real_fields(applicable):
                continue
            frag = ctx.selset.fragment(obj)
            self._plan_object(ctx.sub(selset=frag, path=(*ctx.path, f"on:{obj}")), obj,
                              applicable)

    def _plan_object(self, ctx: Ctx, type_name: str, sels: tuple[OpSelection, ...]) -> None:
        iobj = self.sg.types[type_name].is_abstract  # an @interfaceObject in this subgraph
        deferred: list[OpSelection] = []
        for s in sels:
            if isinstance(s, OpFragment):
                tc = s.type_condition
                if tc is None or tc == type_name or (
                    not iobj and self.sg.runtime_type_applies(type_name, tc)
                ):
                    if s.conditions:
                        sub = ctx.selset.fragment(None, s.directives_text, s.variables)
                        self._plan_object(
                            ctx.sub(selset=sub, conditions=ctx.conditions + s.conditions),
                            type_name, s.selections)
                    else:
                        self._plan_object(ctx, type_name, s.selections)
                elif iobj and set(self.sg.possible_types(tc)) & set(
                        self.sg.possible_types(type_name)):
                    deferred.append(s)
                continue
            if s.name == "__typename":
                ctx.selset.add_typename()
                if iobj:
                    deferred.append(s)
                continue
            self.plan_field(ctx, type_name, s)
        if deferred:
            self._resolve_interface_object(ctx, type_name, tuple(deferred))

    def _resolve_interface_object(self, ctx: Ctx, iface: str,
                                  sels: tuple[OpSelection, ...]) -> None:
        """Type conditions and `__typename` under an @interfaceObject need the real type."""
        t = self.sg.types[iface]
        candidates = [j.graph for j in t.joins
                      if not j.interface_object and j.key and j.resolvable
                      and j.graph != ctx.group.subgraph]
        if not candidates:
            return
        best = min(candidates, key=lambda g: self._cost_sels(g, iface, sels, None, 0))
        tctx = self.jump(ctx, iface, best, iface, None)
        if tctx is not None:
            self.plan_sels(tctx, iface, sels)

    # ------------------------------------------------------------------ fields
    def is_local(self, graph: str, type_name: str, fi: FieldInfo,
                 provided: Provided | None) -> bool:
        if fi.resolvers.get(graph) == type_name:
            jf = fi.by_graph.get(graph)
            # A field with @requires is only resolvable through _entities (with its needs).
            return jf is None or not jf.requires
        return provided is not None and self.prov(provided, fi)[0] and (
            graph in fi.by_graph or graph in self.sg.types[type_name].graphs)

    def prov(self, provided: Provided | None, fi: FieldInfo) -> tuple[bool, Provided | None]:
        """Is the field in a @provides tree, and what does it provide below it?"""
        if not provided:
            return False, None
        if fi.name in provided:
            return True, provided[fi.name]
        t = self.sg.types.get(fi.parent)
        for tn in (fi.parent, *(t.interfaces if t else ())):
            k = f"{tn}.{fi.name}"
            if k in provided:
                return True, provided[k]
        return False, None

    def _jump_options(self, graph: str, type_name: str, fi: FieldInfo,
                      provided: Provided | None = None) -> list[tuple[str, str]]:
        """Subgraphs (and the entity type to use there) a field can be fetched from."""
        return [(g, via) for g, via, _ in self._jump_options_cost(graph, type_name, fi, provided)]

    def _jump_options_cost(self, graph: str, type_name: str, fi: FieldInfo,
                           provided: Provided | None) -> list[tuple[str, str, int]]:
        key = (graph, type_name, fi.name, id(provided))
        self._alive.append(provided)
        hit = self._options_memo.get(key)
        if hit is not None:
            return hit
        self._options_memo[key] = []  # cycle guard
        out: list[tuple[str, str, int]] = []
        for g, via in fi.resolvers.items():
            if g == graph and not (g in fi.by_graph and fi.by_graph[g].requires):
                continue
            extra = self._key_cost(graph, type_name, via, g, provided)
            if extra < INF:
                out.append((g, via, extra))
        self._options_memo[key] = out
        return out

    def _key_cost(self, graph: str, type_name: str, via: str, target: str,
                  provided: Provided | None) -> int:
        """0 when a key of `via` in `target` is at hand in `graph`, else the jumps to get one."""
        best = INF
        for k in self.sg.types[via].keys_in(target):
            sels = self.p.field_set(k, False)
            if self._fields_local(graph, type_name, sels, provided):
                return 0
            best = min(best, self._cost_sels(graph, type_name, sels, provided, 0))
        return best

    def plan_field(self, ctx: Ctx, type_name: str, f: OpField) -> None:
        graph = ctx.group.subgraph
        fi = self.sg.types[type_name].fields.get(f.name)
        if fi is None:
            return
        local = self.is_local(graph, type_name, fi, ctx.provided)
        if local and (f.selections is None or len(fi.resolvers) == 1):
            self._add_local(ctx, type_name, fi, f)
            return
        if not local and f.name in ctx.known and f.selections is None:
            if f.response_key != f.name or f.args_text:
                self._add_local(ctx, type_name, fi, f)
            return  # the key this entity was fetched with is in the data already
        options = self._jump_options(graph, type_name, fi, ctx.provided)
        routes: list[tuple[str, str] | None] = ([None] if local else []) + list(options)
        if not routes:
            raise PlanningError(
                f"cannot plan {type_name}.{f.name}: no subgraph can resolve it from {graph!r}")
        costs = [self._route_cost(ctx, type_name, fi, f, r) for r in routes]
        best = min(costs)
        if best >= INF and f.selections and len(routes) > 1:
            self._split(ctx, type_name, fi, f, routes)
            return
        self._take_route(ctx, type_name, fi, f, routes[costs.index(best)])

    def _route_cost(self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField,
                    route: tuple[str, str] | None) -> int:
        if route is None:
            return self._cost_local(ctx.group.subgraph, fi, f, ctx.provided, 0)
        g, via = route
        extra = self._key_cost(ctx.group.subgraph, type_name, via, g, ctx.provided)
        return (JUMP + _size(f) + extra
                + self._cost_local(g, self.sg.types[via].fields[f.name], f, None, 0))

    def _take_route(self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField,
                    route: tuple[str, str] | None) -> None:
        if route is None:
            self._add_local(ctx, type_name, fi, f)
            return
        g, via = route
        jf = fi.by_graph.get(g)
        # A fetch made only for a field under @skip/@include is skipped with it.
        jctx = ctx.sub(conditions=ctx.conditions + f.conditions) if f.conditions else ctx
        tctx = self.jump(jctx, type_name, g, via, jf.requires if jf else None)
        if tctx is None:
            raise PlanningError(f"cannot plan {type_name}.{f.name}: no usable key")
        self._add_local(tctx, via, self.sg.types[via].fields[f.name], f)

    def _split(self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField,
               routes: list[tuple[str, str] | None]) -> None:
        """No single subgraph resolves the whole subtree: give each subfield its best one."""
        assigned: dict[int, list[OpSelection]] = {}
        assert f.selections is not None
        for sub in f.selections:
            probe = _with_selections(f, (sub,))
            costs = [self._route_cost(ctx, type_name, fi, probe, r) for r in routes]
            assigned.setdefault(costs.index(min(costs)), []).append(sub)
        for idx, subs in sorted(assigned.items()):
            self._take_route(ctx, type_name, fi, _with_selections(f, tuple(subs)), routes[idx])

    def _add_local(self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField) -> None:
        graph = ctx.group.subgraph
        sub = ctx.selset.add_field(self._unclash(ctx, fi, f))
        if f.selections is None or sub is None:
            return
        provided = self.prov(ctx.provided, fi)[1]
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.provides:
            extra = self.p.provided_of(jf.provides)
            provided = {**provided, **extra} if provided else extra
        path = (*ctx.path, f.response_key, *("@",) * list_depth(fi.type_node))
        cands = self._candidates(ctx, type_name, fi)
        self.plan_sels(ctx.sub(selset=sub, path=path, provided=provided, known=frozenset(),
                               candidates=cands),
                       self.p.field_type(graph, fi), f.selections)

    def _candidates(self, ctx: Ctx, type_name: str, fi: FieldInfo) -> frozenset[str] | None:
        rt = self.sg.types.get(fi.named_type)
        if rt is None or (rt.kind == "object" and any(j.key for j in rt.joins)):
            return None  # an entity below: it can be fetched from wherever it is needed
        graphs = frozenset(fi.resolvers)
        if ctx.candidates is not None:
            return (ctx.candidates & graphs) or None
        parent = self.sg.types[type_name]
        if len(graphs) > 1 and any(j.key for j in parent.joins):
            return frozenset(g for g in graphs if parent.keys_in(g)) or None
        return None

    def _unclash(self, ctx: Ctx, fi: FieldInfo, f: OpField) -> OpField:
        """Alias a field whose type in this subgraph differs from a same-named field fetched
        at the same place for another type (GraphQL would reject the subgraph query)."""
        group = ctx.group
        rel = ctx.path[len(group.path):]
        norm = tuple(p for p in rel if not p.startswith("on:"))
        shape = self.p.type_shape(group.subgraph, fi)
        seen = group.shapes.setdefault((norm, f.response_key), shape)
        if seen == shape:
            return f
        alias = f"{f.response_key}__{_short(shape)}"
        group.renames.append((rel, alias, f.response_key))
        return OpField(alias, f.name, f.args_text, f.directives_text, f.conditions,
                       f.selections, f.variables, f.internal)

    # ------------------------------------------------------------------ jumps
    def _fields_local(self, graph: str, type_name: str, sels: tuple[OpSelection, ...],
                      provided: Provided | None) -> bool:
        t = self.sg.types.get(type_name)
        if t is None:
            return False
        for s in sels:
            if isinstance(s, OpFragment):
                if not self._fields_local(graph, s.type_condition or type_name, s.selections,
                                          provided):
                    return False
                continue
            fi = t.fields.get(s.name)
            if fi is None or not self.is_local(graph, type_name, fi, provided):
                return False
            if s.selections is not None:
                sub = self.prov(provided, fi)[1]
                if not self._fields_local(graph, fi.named_type, s.selections, sub):
                    return False
        return True

    def jump(self, ctx: Ctx, type_name: str, target: str, via: str,
             requires: str | None) -> Ctx | None:
        if ctx.depth > _MAX_DEPTH * 8:
            raise PlanningError("planning recursed too deep (circular keys or requires?)")
        keys = self.sg.types[via].keys_in(target)
        if not keys:
            return None
        graph = ctx.group.subgraph
        key = next((k for k in keys
                    if self._fields_local(graph, type_name, self.p.field_set(k, False),
                                          ctx.provided)), None)
        if key is None:
            key = min(keys, key=lambda k: self._cost_sels(
                graph, type_name, self.p.field_set(k, False), ctx.provided, 0))
        key_sels = self.p.field_set(key, False)
        touched: set[Group] = set()
        kctx = ctx.sub(touched=touched)
        ctx.selset.add_typename()
        self.plan_sels(kctx, type_name, key_sels)
        reqs = req_from_selections(key_sels)
        if requires:
            req_sels = self.p.field_set(requires, True)
            self.plan_sels(kctx, type_name, req_sels)
            merged = merge_reqs(reqs, req_from_selections(req_sels))
            if merged is None:
                raise PlanningError(f"@requires of {via} in {target} conflicts with its key")
            reqs = merged
        group = self._entity_group(ctx, target, via, reqs, touched)
        group.deps.add(ctx.group)
        group.deps.update(t for t in touched if t is not group)
        part = group.parts.get(via)
        if part is None:
            part = group.parts[via] = Part(via)
        part.runtime_types.add(type_name)
        if self.sg.types[type_name].is_abstract:
            part.runtime_types.update(self.sg.possible_types(type_name))
        merged_reqs = merge_reqs(part.requires, reqs)
        assert merged_reqs is not None
        part.requires = merged_reqs
        if ctx.touched is not None:
            ctx.touched.add(group)
            ctx.touched.update(touched)
        known = frozenset(s.name for s in key_sels
                          if isinstance(s, OpField) and s.selections is None)
        return Ctx(group, group.selset.fragment(via), ctx.path, None, ctx.touched,
                   ctx.conditions, ctx.depth + 1, known)

    def _entity_group(self, ctx: Ctx, target: str, via: str, reqs: tuple[ReqSelection, ...],
                      touched: set[Group]) -> Group:
        for g in self.groups:
            if (g.entity and g.subgraph == target and g.path == ctx.path
                    and g.parent is ctx.group and g.conditions == ctx.conditions):
                part = g.parts.get(via)
                if part is not None and merge_reqs(part.requires, reqs) is None:
                    continue
                if any(t is g or _depends_on(t, g) for t in touched):
                    continue
                return g
        return self.new_group(target, ctx.path, True, ctx.group.segment, ctx.group,
                              ctx.conditions)

    # ------------------------------------------------------------------ costs
    def _cost_local(self, graph: str, fi: FieldInfo, f: OpField, provided: Provided | None,
                    depth: int) -> int:
        if f.selections is None:
            return 0
        sub = self.prov(provided, fi)[1]
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.provides:
            extra = self.p.provided_of(jf.provides)
            sub = {**sub, **extra} if sub else extra
        return self._cost_sels(graph, self.p.field_type(graph, fi), f.selections, sub,
                               depth + 1)

    def _cost_sels(self, graph: str, type_name: str, sels: tuple[OpSelection, ...],
                   provided: Provided | None, depth: int) -> int:
        if depth > _MAX_DEPTH:
            return 0
        key = (graph, type_name, sels, id(provided))
        self._alive.append(provided)
        hit = self._cost_memo.get(key)
        if hit is not None:
            return hit
        self._cost_memo[key] = INF  # cycle guard
        t = self.sg.types.get(type_name)
        total = 0
        if t is None:
            pass
        elif t.is_abstract and not t.is_interface_object_in(graph):
            for obj in self.sg.possible_types_in(type_name, graph):
                total += self._cost_sels(graph, obj, collect_for(self.sg, obj, sels), provided,
                                         depth + 1)
        else:
            for s in _flatten_fields(self.sg, type_name, sels):
                if s.name == "__typename":
                    continue
                fi = t.fields.get(s.name)
                if fi is None:
                    continue
                if self.is_local(graph, type_name, fi, provided):
                    c = self._cost_local(graph, fi, s, provided, depth)
                    if c > 0:
                        for g, via, extra in self._jump_options_cost(graph, type_name, fi,
                                                                     provided):
                            c = min(c, JUMP + _size(s) + extra + self._cost_local(
                                g, self.sg.types[via].fields[s.name], s, None, depth))
                    total += c
                else:
                    opts = self._jump_options_cost(graph, type_name, fi, provided)
                    if not opts:
                        total += INF
                    else:
                        total += JUMP + _size(s) + min(extra + self._cost_local(
                            g, self.sg.types[via].fields[s.name], s, None, depth)
                            for g, via, extra in opts)
        total = min(total, INF)
        self._cost_memo[key] = total
        return total


def _flatten_fields(sg: Supergraph, type_name: str,
                    sels: tuple[OpSelection, ...]) -> list[OpField]:
    out: list[OpField] = []
    for s in sels:
        if isinstance(s, OpField):
            out.append(s)
        elif s.type_condition is None or s.type_condition == type_name or \
                sg.runtime_type_applies(type_name, s.type_condition):
            out.extend(_flatten_fields(sg, type_name, s.selections))
    return out


def _short(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.replace("!", "NN"))


def _size(f: OpField) -> int:
    """How many fields a subtree asks for (the planner's tie-breaker between routes)."""
    n = 1
    stack = list(f.selections or ())
    while stack:
        s = stack.pop()
        if isinstance(s, OpField):
            n += 1
            if s.selections:
                stack.extend(s.selections)
        else:
            stack.extend(s.selections)
    return n


def _with_selections(f: OpField, sels: tuple[OpSelection, ...]) -> OpField:
    return OpField(f.response_key, f.name, f.args_text, f.directives_text, f.conditions, sels,
                   f.variables, f.internal)


def _has_real_fields(sels: tuple[OpSelection, ...]) -> bool:
    for s in sels:
        if isinstance(s, OpField):
            if s.name != "__typename":
                return True
        elif _has_real_fields(s.selections):
            return True
    return False


def _depends_on(a: Group, b: Group, _seen: set[int] | None = None) -> bool:
    seen = _seen if _seen is not None else set()
    for d in a.deps:
        if d is b:
            return True
        if d.id in seen:
            continue
        seen.add(d.id)
        if _depends_on(d, b, seen):
            return True
    return False
