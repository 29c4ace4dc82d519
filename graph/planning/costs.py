"""The planner's cost model: which subgraph can resolve a field where, with which key, and
what a subtree costs from a given subgraph (each further fetch costs JUMP, each field fetched
through it 1; INF when a subgraph cannot resolve it at all)."""

from __future__ import annotations

from graph.planning.groups import Provided, collect_for, field_count, flatten_fields
from graph.planning.operation import OpField, OpFragment, OpSelection
from graph.planning.schema_view import SchemaView
from graph.supergraph.model import FieldInfo

INF = 10**9
JUMP = 1000  # the cost of one more fetch; each field fetched through it adds 1
MAX_DEPTH = 40


class CostModel:
    """Costs of resolving selections from a subgraph, memoised for one operation (the memo
    keys hold the operation's selection tuples)."""

    def __init__(self, view: SchemaView) -> None:
        self.view = view
        self.sg = view.sg
        self._cost_memo: dict[tuple[object, ...], int] = {}
        self._options_memo: dict[tuple[object, ...], list[tuple[str, str, int]]] = {}
        self._alive: list[object] = []  # keeps memo keys' id()s from being reused
        self._in_progress: set[tuple[object, ...]] = set()
        self._cycle = False

    def jump_options(
        self, graph: str, type_name: str, fi: FieldInfo, provided: Provided | None = None
    ) -> list[tuple[str, str]]:
        """Subgraphs (and the entity type to use there) a field can be fetched from."""
        return [(g, via) for g, via, _ in self.jump_options_cost(graph, type_name, fi, provided)]

    def jump_options_cost(
        self, graph: str, type_name: str, fi: FieldInfo, provided: Provided | None
    ) -> list[tuple[str, str, int]]:
        key = ("options", graph, type_name, fi.name, id(provided))
        self._alive.append(provided)
        hit = self._options_memo.get(key)
        if hit is not None:
            return hit
        if key in self._in_progress:
            self._cycle = True  # a cycle: no option through here, and nothing cached from it
            return []
        outer = self._cycle
        self._cycle = False
        self._in_progress.add(key)
        out: list[tuple[str, str, int]] = []
        try:
            for g, via in fi.resolvers.items():
                if g == graph and not (g in fi.by_graph and fi.by_graph[g].requires):
                    continue
                extra = self.key_cost(graph, type_name, via, g, provided)
                if extra < INF:
                    out.append((g, via, extra))
        finally:
            self._in_progress.discard(key)
        if not self._cycle:
            self._options_memo[key] = out
        self._cycle = self._cycle or outer
        return out

    def key_cost(
        self, graph: str, type_name: str, via: str, target: str, provided: Provided | None
    ) -> int:
        """0 when a key of `via` in `target` is at hand in `graph`, else the jumps to get one."""
        best = INF
        for k in self.sg.types[via].keys_in(target):
            sels = self.view.field_set(k)
            if self.fields_local(graph, type_name, sels, provided):
                return 0
            best = min(best, self.cost_sels(graph, type_name, sels, provided, 0))
        return best

    def fields_local(
        self, graph: str, type_name: str, sels: tuple[OpSelection, ...], provided: Provided | None
    ) -> bool:
        t = self.sg.types.get(type_name)
        if t is None:
            return False
        for s in sels:
            if isinstance(s, OpFragment):
                if not self.fields_local(
                    graph, s.type_condition or type_name, s.selections, provided
                ):
                    return False
                continue
            fi = t.fields.get(s.name)
            if fi is None or not self.view.is_local(graph, type_name, fi, provided):
                return False
            if s.selections is not None:
                sub = self.view.prov(provided, fi)[1]
                if not self.fields_local(graph, fi.named_type, s.selections, sub):
                    return False
        return True

    def cost_local(
        self, graph: str, fi: FieldInfo, f: OpField, provided: Provided | None, depth: int
    ) -> int:
        if f.selections is None:
            return 0
        sub = self.view.prov(provided, fi)[1]
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.provides:
            extra = self.view.provided_of(jf.provides)
            sub = {**sub, **extra} if sub else extra
        return self.cost_sels(graph, self.view.field_type(graph, fi), f.selections, sub, depth + 1)

    def cost_sels(
        self,
        graph: str,
        type_name: str,
        sels: tuple[OpSelection, ...],
        provided: Provided | None,
        depth: int,
    ) -> int:
        if depth > MAX_DEPTH:
            return 0
        key = (graph, type_name, sels, id(provided))
        self._alive.append(provided)
        hit = self._cost_memo.get(key)
        if hit is not None:
            return hit
        if key in self._in_progress:
            self._cycle = True  # a cycle: unreachable this way, and nothing cached from it
            return INF
        outer = self._cycle
        self._cycle = False
        self._in_progress.add(key)
        try:
            total = self._cost_sels_uncached(graph, type_name, sels, provided, depth)
        finally:
            self._in_progress.discard(key)
        if not self._cycle:
            self._cost_memo[key] = total
        self._cycle = self._cycle or outer
        return total

    def _cost_sels_uncached(
        self,
        graph: str,
        type_name: str,
        sels: tuple[OpSelection, ...],
        provided: Provided | None,
        depth: int,
    ) -> int:
        t = self.sg.types.get(type_name)
        total = 0
        if t is None:
            pass
        elif t.is_abstract and not t.is_interface_object_in(graph):
            for obj in self.sg.possible_types_in(type_name, graph):
                total += self.cost_sels(
                    graph, obj, collect_for(self.sg, obj, sels), provided, depth + 1
                )
            # A tie-breaker: prefer a subgraph whose interface declares the fields asked of
            # it over one that only reaches them through its implementations.
            for s in flatten_fields(self.sg, type_name, sels):
                if not s.is_typename:
                    ifi = t.fields.get(s.name)
                    if ifi is not None and graph not in ifi.by_graph and graph not in ifi.resolvers:
                        total += 1
        else:
            for s in flatten_fields(self.sg, type_name, sels):
                if s.name == "__typename":
                    continue
                fi = t.fields.get(s.name)
                if fi is None:
                    continue
                if self.view.is_local(graph, type_name, fi, provided):
                    c = self.cost_local(graph, fi, s, provided, depth)
                    if c > 0:
                        for g, via, extra in self.jump_options_cost(graph, type_name, fi, provided):
                            c = min(
                                c,
                                JUMP
                                + field_count(s)
                                + extra
                                + self.cost_local(
                                    g, self.sg.types[via].fields[s.name], s, None, depth
                                ),
                            )
                    total += c
                else:
                    opts = self.jump_options_cost(graph, type_name, fi, provided)
                    if not opts:
                        total += INF
                    else:
                        total += (
                            JUMP
                            + field_count(s)
                            + min(
                                extra
                                + self.cost_local(
                                    g, self.sg.types[via].fields[s.name], s, None, depth
                                )
                                for g, via, extra in opts
                            )
                        )
        return min(total, INF)
