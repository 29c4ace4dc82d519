"""Planning the root fields: which subgraph each one goes to, and the root fetches.

Queries put every root field a subgraph resolves into one fetch per subgraph (run in
parallel); mutations keep their order, starting a new fetch (a new sequential segment)
whenever the subgraph changes. A mixin of the planner's run (graph/planning/planner.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graph.planning.costs import INF, CostModel
from graph.planning.errors import PlanningError
from graph.planning.groups import Ctx, Group, atoms, with_selections
from graph.planning.operation import (
    Condition,
    NormalizedOperation,
    OpField,
    OpFragment,
    OpSelection,
)
from graph.supergraph.model import FieldInfo


class RootPlanning(CostModel):
    op: NormalizedOperation
    groups: list[Group]
    _segment: int
    _root_groups: dict[str, Group]
    _last_root: Group | None

    if TYPE_CHECKING:  # provided by the planner's run

        def _add_local(self, ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField) -> None: ...

    def new_group(
        self,
        subgraph: str,
        path: tuple[str, ...],
        entity: bool,
        segment: int,
        parent: Group | None,
        conditions: tuple[Condition, ...],
    ) -> Group:
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

    def _plan_root_sels(
        self, root: str, sels: tuple[OpSelection, ...], wrappers: list[OpFragment]
    ) -> None:
        entries = self._root_entries(root, sels, wrappers)
        if self.op.kind != "mutation":
            entries = _merge_repeated(entries)
        for wraps, s in entries:
            fi = self.sg.types[root].fields.get(s.name)
            if fi is None or not fi.resolvers:
                raise PlanningError(f"no subgraph resolves {root}.{s.name}")
            graph, cost = self._choose_root_graph(root, fi, s)
            if cost >= INF and s.selections and len(fi.resolvers) > 1:
                assigned: dict[str, list[OpSelection]] = {}
                for sub in atoms(s.selections):
                    probe = with_selections(s, (sub,))
                    g = min(
                        fi.resolvers,
                        key=lambda g, p=probe: self._cost_local(  # type: ignore[misc]
                            g, fi, p, None, 0
                        ),
                    )
                    assigned.setdefault(g, []).append(sub)
                for g, subs in assigned.items():
                    self._plan_root_field(root, g, with_selections(s, tuple(subs)), wraps)
            else:
                self._plan_root_field(root, graph, s, wraps)

    def _root_entries(
        self, root: str, sels: tuple[OpSelection, ...], wrappers: list[OpFragment]
    ) -> list[tuple[list[OpFragment], OpField]]:
        """The root fields with the conditional fragments around them, in order."""
        out: list[tuple[list[OpFragment], OpField]] = []
        for s in sels:
            if isinstance(s, OpFragment):
                if not self.sg.runtime_type_applies(root, s.type_condition):
                    continue
                inner = [*wrappers, s] if s.conditions else wrappers
                out.extend(self._root_entries(root, s.selections, inner))
            elif not s.name.startswith("__"):
                out.append((wrappers, s))
        return out

    def _plan_root_field(
        self, root: str, graph: str, s: OpField, wrappers: list[OpFragment]
    ) -> None:
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
            if c < best_cost or (
                c == best_cost and g in self._root_groups and best not in self._root_groups
            ):
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
