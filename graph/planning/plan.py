"""Query plans as plain, frozen data (the shape of Apollo's query plans).

A plan is a tree of `SequenceNode` / `ParallelNode` over `FetchNode`s; a fetch that resolves
entities under a path of the response is wrapped in a `FlattenNode` carrying that path.
Path segments are response keys, `"@"` for "every element of this list", and `"on:Type"`
for "only objects whose `__typename` is Type".
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.planning.operation import Condition, Deferral


@dataclass(frozen=True, slots=True)
class ReqField:
    """One field of a representation: read `data_key` from the response, send it as `repr_key`."""

    repr_key: str
    data_key: str
    selections: tuple[ReqSelection, ...] | None = None


@dataclass(frozen=True, slots=True)
class ReqFragment:
    type_condition: str
    selections: tuple[ReqSelection, ...]


ReqSelection = ReqField | ReqFragment


@dataclass(frozen=True, slots=True)
class EntityTarget:
    """Objects whose `__typename` is in `runtime_types` go as `{__typename: type_name, ...}`."""

    type_name: str
    runtime_types: tuple[str, ...]
    requires: tuple[ReqSelection, ...]


@dataclass(frozen=True, slots=True)
class ContextRewrite:
    """A `@fromContext` argument of a field this entity fetch asks for: `variable` (of GraphQL
    type `type`) gets, per representation, the value of `selections` in the data of the
    object at `ancestor` (a path, a prefix of the fetch's own) that the representation's
    object is under. Representations with different values go in different requests."""

    variable: str
    type: str
    ancestor: tuple[str, ...]
    selections: tuple[ReqSelection, ...]


@dataclass(frozen=True, slots=True)
class FetchNode:
    id: int
    subgraph: str
    operation: str
    operation_kind: str  # query | mutation
    variable_usages: tuple[str, ...] = ()
    entities: tuple[EntityTarget, ...] = ()  # empty for a root fetch
    # Root fields this fetch answers (their response keys), for error paths.
    root_keys: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    # (path inside the fetched data, alias, response key): aliases the planner used to keep
    # the subgraph query valid, renamed back before merging.
    renames: tuple[tuple[tuple[str, ...], str, str], ...] = ()
    contexts: tuple[ContextRewrite, ...] = ()  # @fromContext arguments (entity fetches)

    @property
    def is_entity_fetch(self) -> bool:
        return bool(self.entities)


@dataclass(frozen=True, slots=True)
class FlattenNode:
    path: tuple[str, ...]
    node: FetchNode
    # More places the same fetch takes representations from (sibling fetches to one subgraph
    # that wait for the same fetches are merged into one request).
    extra_paths: tuple[tuple[str, ...], ...] = ()

    @property
    def paths(self) -> tuple[tuple[str, ...], ...]:
        return (self.path, *self.extra_paths)


@dataclass(frozen=True, slots=True)
class SequenceNode:
    nodes: tuple[PlanNode, ...]


@dataclass(frozen=True, slots=True)
class ParallelNode:
    nodes: tuple[PlanNode, ...]


PlanNode = FetchNode | FlattenNode | SequenceNode | ParallelNode


@dataclass(frozen=True, slots=True)
class DeferredNode:
    """The fetches of one deferred part: the @defer fragment or @stream field `deferral`,
    where it is nested in the parts `stack[:-1]` (Deferral ids, outermost first; a fragment
    in a stream's items is planned once for the items before the initial count and once for
    the others). They run once the parts of the stack before it have their data, and the
    part is delivered when they are done. `node` is None when the part needs no fetch of its
    own (its fields come with an earlier part's fetches). `path` is where it was planned (for
    the printout)."""

    deferral: Deferral
    node: PlanNode | None
    path: tuple[str, ...] = ()
    stack: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class QueryPlan:
    kind: str
    node: PlanNode | None
    # One node per deferred part (by DeferredNode.stack; empty without @defer/@stream).
    deferred: tuple[DeferredNode, ...] = ()

    def fetches(self) -> list[FetchNode]:
        out: list[FetchNode] = []

        def walk(n: PlanNode | None) -> None:
            if n is None:
                return
            if isinstance(n, FetchNode):
                out.append(n)
            elif isinstance(n, FlattenNode):
                walk(n.node)
            else:
                for c in n.nodes:
                    walk(c)

        walk(self.node)
        for d in self.deferred:
            walk(d.node)
        return out
