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

from dataclasses import replace

from graph.planning.build import build_query_plan
from graph.planning.costs import INF, JUMP, MAX_DEPTH, CostModel
from graph.planning.errors import PlanningError
from graph.planning.groups import (
    Ctx,
    FetchGraph,
    Group,
    Part,
    atoms,
    collect_for,
    depends_on,
    field_count,
    flatten_fields,
    has_real_fields,
    plain_leaves,
    renamed,
    short_alias,
    with_selections,
)
from graph.planning.operation import (
    NormalizedOperation,
    OpField,
    OpFragment,
    OpSelection,
)
from graph.planning.plan import ContextRewrite, QueryPlan, ReqSelection
from graph.planning.roots import plan_roots
from graph.planning.schema_view import SchemaView
from graph.planning.selections import merge_reqs, req_from_selections
from graph.supergraph.model import (
    ContextArgument,
    FieldInfo,
    JoinField,
    Supergraph,
    list_depth,
)


class Planner:
    """Plans operations against one supergraph (see the module docstring)."""

    def __init__(self, supergraph: Supergraph) -> None:
        self.sg = supergraph
        self.view = SchemaView(supergraph)

    def plan(self, op: NormalizedOperation) -> QueryPlan:
        planning = OperationPlanning(self.view, op)
        planning.run()
        return build_query_plan(planning.fetches.groups, op, self.sg, planning.stack_paths)


class OperationPlanning:
    """The planning of one operation: walks its selections into the fetch graph, asking the
    schema view and this operation's cost model."""

    def __init__(self, view: SchemaView, op: NormalizedOperation) -> None:
        self.view = view
        self.sg = view.sg
        self.op = op
        self.costs = CostModel(view)
        self.fetches = FetchGraph(op.kind == "mutation")
        # part (Group.stack) -> the path where its selections were first planned (printout)
        self.stack_paths: dict[tuple[int, ...], tuple[str, ...]] = {}

    def run(self) -> None:
        plan_roots(self.op, self.sg, self.costs, self.fetches, self._add_local, self.stack_paths)

    # ------------------------------------------------------------------ selections
    def plan_sels(self, ctx: Ctx, type_name: str, sels: tuple[OpSelection, ...]) -> None:
        if ctx.depth > MAX_DEPTH * 8:
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
            if not has_real_fields(applicable):
                continue
            frag = ctx.selset.fragment(obj)
            self._plan_object(ctx.sub(selset=frag, path=(*ctx.path, f"on:{obj}")), obj, applicable)

    def _plan_object(self, ctx: Ctx, type_name: str, sels: tuple[OpSelection, ...]) -> None:
        iobj = self.sg.types[type_name].is_abstract  # an @interfaceObject in this subgraph
        ctx = ctx.sub(plain=ctx.plain | plain_leaves(sels, type_name))
        sets = self.sg.contexts_of(type_name)
        if sets and any(c not in ctx.contexts or ctx.contexts[c][0].path != ctx.path for c in sets):
            # an object that sets contexts (@context): fields below read them from here
            ctx.contexts = {**ctx.contexts, **{c: (ctx, type_name) for c in sets}}
        deferred: list[OpSelection] = []
        for s in sels:
            if isinstance(s, OpFragment):
                tc = s.type_condition
                if (
                    tc is None
                    or tc == type_name
                    or (not iobj and self.sg.runtime_type_applies(type_name, tc))
                ):
                    inner = ctx
                    if s.conditions:
                        sub = ctx.selset.fragment(None, s.directives_text, s.variables)
                        inner = ctx.sub(selset=sub, conditions=ctx.conditions + s.conditions)
                    if s.defer is not None:
                        stack = (*ctx.stack, s.defer.id)
                        self.stack_paths.setdefault(stack, ctx.path)
                        inner = inner.sub(stack=stack, defer_jump=True)
                    self._plan_object(inner, type_name, s.selections)
                elif iobj and set(self.sg.possible_types(tc)) & set(
                    self.sg.possible_types(type_name)
                ):
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

    def _resolve_interface_object(
        self, ctx: Ctx, iface: str, sels: tuple[OpSelection, ...]
    ) -> None:
        """Type conditions and `__typename` under an @interfaceObject need the real type."""
        t = self.sg.types[iface]
        candidates = [
            j.graph
            for j in t.joins
            if not j.interface_object
            and j.key
            and j.resolvable
            and j.graph != ctx.group.subgraph
            # ... and that has implementations: `... on Iface` in its `_entities` must be valid
            and self.sg.possible_types_in(iface, j.graph)
        ]
        if not candidates:
            return
        best = min(candidates, key=lambda g: self.costs.cost_sels(g, iface, sels, None, 0))
        tctx = self.jump(ctx, iface, best, iface, None)
        if tctx is None:
            return
        # First the concrete type (`__typename`) from a subgraph that has the interface; then
        # the fields of each concrete type from an entity fetch on that type, whose
        # representations carry the concrete `__typename` (the interface's reference
        # resolver need not know the implementations' fields).
        tctx.selset.add_typename()
        frags = tuple(s for s in sels if isinstance(s, OpFragment))
        for obj in self.sg.possible_types(iface):
            applicable = collect_for(self.sg, obj, frags)
            if not has_real_fields(applicable):
                continue
            octx = tctx.sub(selset=tctx.selset.fragment(obj), path=(*tctx.path, f"on:{obj}"))
            target = best if self.sg.types[obj].keys_in(best) else None
            if target is None:
                target = next(
                    (g for g in self.sg.types[obj].graphs if self.sg.types[obj].keys_in(g)), None
                )
            jctx = self.jump(octx, obj, target, obj, None) if target is not None else None
            if jctx is None:
                self.plan_sels(octx, obj, applicable)  # no key: ask the typename fetch itself
            else:
                self.plan_sels(jctx, obj, applicable)

    # ------------------------------------------------------------------ fields
    def plan_field(self, ctx: Ctx, type_name: str, f: OpField) -> None:
        graph = ctx.group.subgraph
        fi = self.sg.types[type_name].fields.get(f.name)
        if fi is None:
            return
        contextual = next(((g, jf) for g, jf in fi.by_graph.items() if jf.context_arguments), None)
        if contextual is not None:
            self._plan_contextual(ctx, type_name, fi, f, *contextual)
            return
        if ctx.deferred_apart and self._plan_apart(ctx, type_name, fi, f):
            return
        local = self.view.is_local(graph, type_name, fi, ctx.provided)
        if local and (f.selections is None or len(fi.resolvers) == 1):
            self._add_local(ctx, type_name, fi, f)
            return
        if not local and f.name in ctx.known and f.selections is None and ctx.origin is not None:
            # A key field of the entity this fetch was jumped to: ask the fetch it came from.
            parent_ctx, parent_type = ctx.origin
            self.plan_field(parent_ctx.sub(defer_jump=False), parent_type, f)
            return
        options = self.costs.jump_options(graph, type_name, fi, ctx.provided)
        routes: list[tuple[str, str] | None] = ([None] if local else []) + list(options)
        if not routes:
            raise PlanningError(
                f"cannot plan {type_name}.{f.name}: no subgraph can resolve it from {graph!r}"
            )
        costs = [self._route_cost(ctx, type_name, fi, f, r) for r in routes]
        best = min(costs)
        if best >= INF and f.selections and len(routes) > 1:
            self._split(ctx, type_name, fi, f, routes)
            return
        self._take_route(ctx, type_name, fi, f, routes[costs.index(best)])

    def _plan_contextual(
        self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField, graph: str, jf: JoinField
    ) -> None:
        """A field with `@fromContext` arguments: each context's selection is planned at the
        enclosing object that sets it, and the field is fetched through `_entities` in its
        subgraph, with a variable per argument that the executor fills in per object from
        that enclosing object's data."""
        via = fi.resolvers.get(graph)
        if via is None:
            raise PlanningError(f"cannot plan {type_name}.{f.name}: {graph!r} does not resolve it")
        touched: set[Group] = set()
        reads: list[tuple[ContextArgument, tuple[str, ...], tuple[ReqSelection, ...]]] = []
        for ca in jf.context_arguments:
            found = ctx.contexts.get(ca.context)
            if found is None:
                raise PlanningError(
                    f"cannot plan {type_name}.{f.name}: no enclosing object sets the context "
                    f"{ca.context!r} its argument {ca.name!r} is taken from"
                )
            anc_ctx, anc_type = found
            text = ca.selection.strip()
            if text.startswith("{") and text.endswith("}"):
                text = text[1:-1]
            sels = self.view.field_set(text, self.op.internal_prefix)
            if anc_type == self.sg.root_types.get(self.op.kind) and not anc_ctx.path:
                self._plan_root_context(anc_ctx, anc_type, sels, touched)
            else:
                self.plan_sels(anc_ctx.sub(touched=touched, defer_jump=False), anc_type, sels)
                touched.add(anc_ctx.group)
            reads.append((ca, anc_ctx.path, req_from_selections(sels)))
        jctx = ctx.sub(conditions=ctx.conditions + f.conditions) if f.conditions else ctx
        tctx = self.jump(jctx, type_name, graph, via, None, fresh=True)
        if tctx is None:
            raise PlanningError(f"cannot plan {type_name}.{f.name}: no usable key")
        group = tctx.group
        group.deps.update(t for t in touched if t is not group)
        args = [f.args_text[1:-1]] if f.args_text else []
        for ca, ancestor, reqs in reads:
            variable = f"contextualArgument_{group.id}_{len(group.contexts)}"
            while variable in self.op.variable_definitions:
                variable = "_" + variable
            group.contexts.append(ContextRewrite(variable, ca.type, ancestor, reqs))
            args.append(f"{ca.name}: ${variable}")
        with_context = replace(f, args_text="(" + ", ".join(args) + ")")
        self._add_local(tctx, via, self.sg.types[via].fields[f.name], with_context)

    def _plan_root_context(
        self, ctx: Ctx, root: str, sels: tuple[OpSelection, ...], touched: set[Group]
    ) -> None:
        """A context set by the root type: its root fields go to root fetches."""
        for s in flatten_fields(self.sg, root, sels):
            fi = self.sg.types[root].fields.get(s.name)
            if fi is None or not fi.resolvers:
                raise PlanningError(f"no subgraph resolves {root}.{s.name}")
            graph = (
                ctx.group.subgraph
                if ctx.group.subgraph in fi.resolvers
                else next(iter(fi.resolvers))
            )
            group = self.fetches.root_group(graph, ctx.stack)
            self._add_local(Ctx(group, group.selset, (), stack=ctx.stack), root, fi, s)
            touched.add(group)

    def _plan_apart(self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField) -> bool:
        """A field of a deferred part met at a fetch of an earlier part: fetch it apart,
        through a key, from the subgraph where that costs least (the current one included),
        so that the part it is delivered with waits for it and the earlier parts do not.
        False when no key reaches it (a value type), or when the field is here through
        `@provides`: it is then fetched with the current fetch and only delivered later, as
        Apollo Router does."""
        graph = ctx.group.subgraph
        if fi.resolvers.get(graph) != type_name and self.view.is_local(
            graph, type_name, fi, ctx.provided
        ):
            return False  # here only through @provides: the path is what makes it available
        best: tuple[str, str] | None = None
        best_cost = INF
        for g, via in fi.resolvers.items():
            extra = self.costs.key_cost(graph, type_name, via, g, ctx.provided)
            if extra >= INF:
                continue
            cost = (
                JUMP
                + extra
                + self.costs.cost_local(g, self.sg.types[via].fields[f.name], f, None, 0)
            )
            if cost < best_cost:
                best, best_cost = (g, via), cost
        if best is None:
            return False
        self._take_route(ctx, type_name, fi, f, best)
        return True

    def _route_cost(
        self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField, route: tuple[str, str] | None
    ) -> int:
        if route is None:
            return self.costs.cost_local(ctx.group.subgraph, fi, f, ctx.provided, 0)
        g, via = route
        extra = self.costs.key_cost(ctx.group.subgraph, type_name, via, g, ctx.provided)
        return (
            JUMP
            + field_count(f)
            + extra
            + self.costs.cost_local(g, self.sg.types[via].fields[f.name], f, None, 0)
        )

    def _take_route(
        self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField, route: tuple[str, str] | None
    ) -> None:
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

    def _split(
        self,
        ctx: Ctx,
        type_name: str,
        fi: FieldInfo,
        f: OpField,
        routes: list[tuple[str, str] | None],
    ) -> None:
        """No single subgraph resolves the whole subtree: give each subfield its best one."""
        assigned: dict[int, list[OpSelection]] = {}
        assert f.selections is not None
        for sub in atoms(f.selections):
            probe = with_selections(f, (sub,))
            costs = [self._route_cost(ctx, type_name, fi, probe, r) for r in routes]
            assigned.setdefault(costs.index(min(costs)), []).append(sub)
        for idx, subs in sorted(assigned.items()):
            self._take_route(ctx, type_name, fi, with_selections(f, tuple(subs)), routes[idx])

    def _add_local(self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField) -> None:
        graph = ctx.group.subgraph
        sub = ctx.selset.add_field(self._unclash(ctx, fi, f))
        if f.selections is None or sub is None:
            return
        if self.sg.is_abstract(fi.named_type):
            # The router needs the concrete type, even where the subgraph's own type is an
            # object (a union in the supergraph can be an object type in one subgraph).
            sub.add_typename()
        provided = self.view.prov(ctx.provided, fi)[1]
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.provides:
            extra = self.view.provided_of(jf.provides)
            provided = {**provided, **extra} if provided else extra
        depth = list_depth(fi.type_node)
        cands = self._candidates(ctx, type_name, fi)
        inner = ctx.sub(selset=sub, provided=provided, known=frozenset(), candidates=cands)
        extra_conditions = tuple(c for c in f.conditions if c not in ctx.conditions)
        if extra_conditions:
            # Fetches made for what is below a field under @skip/@include are skipped with
            # it (two copies of a field under other conditions must not share them).
            inner.conditions = ctx.conditions + extra_conditions
        item_type = self.view.field_type(graph, fi)
        if f.stream is not None and depth:
            # @stream: the items before its initial count are planned with this part, the
            # others (what they need beyond this fetch) with the stream's own part.
            sid = f.stream.id
            head = (*ctx.path, f.response_key)
            more = ("@",) * (depth - 1)
            stack = (*ctx.stack, sid)
            self.stack_paths.setdefault(stack, head)
            self.plan_sels(inner.sub(path=(*head, f"@<{sid}", *more)), item_type, f.selections)
            self.plan_sels(
                inner.sub(path=(*head, f"@>{sid}", *more), stack=stack, defer_jump=False),
                item_type,
                f.selections,
            )
            return
        inner.path = (*ctx.path, f.response_key, *("@",) * depth)
        self.plan_sels(inner, item_type, f.selections)

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
        rel = ctx.path[len(group.path) :]
        # the items of a @stream ("@<id", "@>id") are one list in the fetch
        norm = tuple("@" if p[0] == "@" else p for p in rel if not p.startswith("on:"))
        shape = self.view.type_shape(group.subgraph, fi)
        seen = group.shapes.setdefault((norm, f.response_key), shape)
        if seen == shape:
            return f
        alias = f"{f.response_key}__{short_alias(shape)}"
        # renamed in the whole fetched list, whatever part the items are delivered with
        rel = tuple("@" if p[0] == "@" else p for p in rel)
        if (rel, alias, f.response_key) not in group.renames:
            group.renames.append((rel, alias, f.response_key))
        return renamed(f, alias)

    # ------------------------------------------------------------------ jumps
    def jump(
        self,
        ctx: Ctx,
        type_name: str,
        target: str,
        via: str,
        requires: str | None,
        *,
        fresh: bool = False,
    ) -> Ctx | None:
        if ctx.depth > MAX_DEPTH * 8:
            raise PlanningError("planning recursed too deep (circular keys or requires?)")
        keys = self.sg.types[via].keys_in(target)
        if not keys:
            return None
        graph = ctx.group.subgraph
        key = next(
            (
                k
                for k in keys
                if self.costs.fields_local(graph, type_name, self.view.field_set(k), ctx.provided)
            ),
            None,
        )
        if key is None:
            key = min(
                keys,
                key=lambda k: self.costs.cost_sels(
                    graph, type_name, self.view.field_set(k), ctx.provided, 0
                ),
            )
        plain = self.view.field_set(key)
        if all(_plain_in(s, ctx.plain) for s in plain) and self.costs.fields_local(
            graph, type_name, plain, ctx.provided
        ):
            # The client asks for the key fields here, in this fetch: read them from there.
            key_sels = plain
        else:
            key_sels = self.view.field_set(key, self.op.internal_prefix)
        touched: set[Group] = set()
        # The key (and @requires) fields go into the current fetch when it has them; only
        # what it cannot give is fetched apart (with the current part).
        kctx = ctx.sub(touched=touched, plain=ctx.plain, defer_jump=False)  # the same object
        ctx.selset.add_typename()
        self.plan_sels(kctx, type_name, key_sels)
        reqs = req_from_selections(key_sels)
        if requires:
            req_sels = self.view.field_set(requires)
            if not all(_plain_in(s, ctx.plain) for s in req_sels):
                req_sels = self.view.field_set(requires, self.op.internal_prefix)
            self.plan_sels(kctx, type_name, req_sels)
            merged = merge_reqs(reqs, req_from_selections(req_sels))
            if merged is None:
                raise PlanningError(f"@requires of {via} in {target} conflicts with its key")
            reqs = merged
        group = self._entity_group(ctx, target, via, reqs, touched, fresh)
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
        known = frozenset(
            s.name for s in key_sels if isinstance(s, OpField) and s.selections is None
        )
        return Ctx(
            group,
            group.selset.fragment(via),
            ctx.path,
            None,
            ctx.touched,
            ctx.conditions,
            ctx.depth + 1,
            known,
            origin=(ctx, type_name),
            stack=ctx.stack,
            defer_jump=ctx.defer_jump,
            contexts=ctx.contexts,
        )

    def _entity_group(
        self,
        ctx: Ctx,
        target: str,
        via: str,
        reqs: tuple[ReqSelection, ...],
        touched: set[Group],
        fresh: bool = False,
    ) -> Group:
        for g in () if fresh else self.fetches.groups:
            if (
                g.entity
                and g.subgraph == target
                and g.path == ctx.path
                and g.parent is ctx.group
                and g.conditions == ctx.conditions
                and g.stack == ctx.stack
            ):
                part = g.parts.get(via)
                if part is not None and merge_reqs(part.requires, reqs) is None:
                    continue
                if any(t is g or depends_on(t, g) for t in touched):
                    continue
                return g
        return self.fetches.new_group(
            target, ctx.path, True, ctx.group.segment, ctx.group, ctx.conditions, ctx.stack
        )


def _plain_in(s: OpSelection, plain: frozenset[str]) -> bool:
    """A key / @requires selection the client's own plain leaf (same name, no arguments, no
    sub-selection: groups.plain_leaves) gives: `f0(mult: 2)` is not the client's `f0`."""
    return isinstance(s, OpField) and s.selections is None and not s.args_text and s.name in plain
