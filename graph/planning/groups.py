"""The planner's working data: fetch groups under construction, the planning context, and
small helpers over normalised selections."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from graph.planning.operation import Condition, OpField, OpFragment, OpSelection
from graph.planning.plan import ContextRewrite, ReqSelection
from graph.planning.selections import SelSet
from graph.supergraph.model import Supergraph

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
    # The @defer/@stream parts (Deferral ids, outermost first) this fetch serves: () is the
    # initial payload, (3,) the fragment with id 3, (0, 3) fragment 3 where it is in the
    # items of stream 0 that come after its initial count.
    stack: tuple[int, ...] = ()
    selset: SelSet = field(default_factory=SelSet)
    parts: dict[str, Part] = field(default_factory=dict)
    deps: set[Group] = field(default_factory=set)
    root_keys: list[str] = field(default_factory=list)
    # (path without type conditions, response key) -> the field's type in this subgraph
    shapes: dict[tuple[tuple[str, ...], str], str] = field(default_factory=dict)
    # (path relative to the fetch, alias, response key): renamed back after the fetch
    renames: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)
    extra_paths: list[tuple[str, ...]] = field(default_factory=list)
    # @fromContext arguments of the fields this (entity) fetch asks for
    contexts: list[ContextRewrite] = field(default_factory=list)

    def __hash__(self) -> int:
        return self.id


class FetchGraph:
    """The fetch groups of one operation under construction (a dependency graph), and the
    root fetches: one per subgraph for a query, one per run of consecutive root fields on the
    same subgraph for a mutation (each such run a sequential segment)."""

    def __init__(self, mutation: bool) -> None:
        self.groups: list[Group] = []
        self.mutation = mutation
        self._segment = 0
        self._roots: dict[tuple[str, tuple[int, ...]], Group] = {}
        self._last_root: Group | None = None

    def new_group(
        self,
        subgraph: str,
        path: tuple[str, ...],
        entity: bool,
        segment: int,
        parent: Group | None,
        conditions: tuple[Condition, ...],
        stack: tuple[int, ...] = (),
    ) -> Group:
        g = Group(len(self.groups), subgraph, path, entity, segment, parent, conditions, stack)
        self.groups.append(g)
        return g

    def root_group(self, graph: str, stack: tuple[int, ...] = ()) -> Group:
        """The root fetch to `graph` (for the part `stack`: a root-level @defer's fields
        get root fetches of their own)."""
        if self.mutation:
            last = self._last_root
            if last is not None and last.subgraph == graph:
                return last
            self._segment += 1
            g = self.new_group(graph, (), False, self._segment, None, ())
            self._last_root = g
            return g
        found = self._roots.get((graph, stack))
        if found is None:
            found = self.new_group(graph, (), False, 0, None, (), stack)
            self._roots[(graph, stack)] = found
        return found


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
    # Where this entity fetch was jumped from (the context and type there): key fields the
    # client asks for are fetched there.
    origin: tuple[Ctx, str] | None = None
    # Leaf fields the client asks for here, unaliased and unconditionally: a key field among
    # them is read from the client's own field instead of a private copy. Not inherited.
    plain: frozenset[str] = frozenset()
    # The @defer/@stream parts the selections here belong to (see Group.stack). With
    # `defer_jump`, a field of another part than the current fetch's is fetched apart (an
    # entity fetch through a key, even to the same subgraph), so that an earlier part never
    # waits for it; without it (the items of a @stream, key and @requires fields), it is added
    # to the current fetch and only new fetches belong to the later part.
    stack: tuple[int, ...] = ()
    defer_jump: bool = True
    # The contexts (@context) set by enclosing objects: name -> the context at that object
    # and its type (the last one set wins).
    contexts: dict[str, tuple[Ctx, str]] = field(default_factory=dict)

    @property
    def deferred_apart(self) -> bool:
        """Must a field here be fetched apart from the current fetch (a deferred part)?"""
        return self.stack != self.group.stack and self.defer_jump

    def sub(self, **kw: object) -> Ctx:
        c = Ctx(
            self.group,
            self.selset,
            self.path,
            self.provided,
            self.touched,
            self.conditions,
            self.depth + 1,
            self.known,
            self.candidates,
            self.origin,
            stack=self.stack,
            defer_jump=self.defer_jump,
            contexts=self.contexts,
        )
        for k, v in kw.items():
            setattr(c, k, v)
        return c


def provided_tree(sels: tuple[OpSelection, ...]) -> Provided:
    out: Provided = {}
    for s in sels:
        if isinstance(s, OpField):
            child = provided_tree(s.selections) if s.selections is not None else None
            prev = out.get(s.name)
            if isinstance(prev, dict) and child is not None:
                merged = dict(prev)
                merged.update(child)
                child = merged
            out[s.name] = child
        else:
            tc = s.type_condition
            for k, v in provided_tree(s.selections).items():
                out.setdefault(f"{tc}.{k}" if tc and "." not in k else k, v)
    return out


def collect_for(
    sg: Supergraph, object_type: str, sels: tuple[OpSelection, ...]
) -> tuple[OpSelection, ...]:
    """The selections that apply to `object_type`, fragments on other types dropped."""
    out: list[OpSelection] = []
    for s in sels:
        if isinstance(s, OpField):
            out.append(s)
        elif sg.runtime_type_applies(object_type, s.type_condition):
            inner = collect_for(sg, object_type, s.selections)
            if s.conditions or s.defer is not None:
                out.append(
                    OpFragment(None, inner, s.directives_text, s.conditions, s.variables, s.defer)
                )
            else:
                out.extend(inner)
    return tuple(out)


def flatten_fields(sg: Supergraph, type_name: str, sels: tuple[OpSelection, ...]) -> list[OpField]:
    out: list[OpField] = []
    for s in sels:
        if isinstance(s, OpField):
            out.append(s)
        elif (
            s.type_condition is None
            or s.type_condition == type_name
            or sg.runtime_type_applies(type_name, s.type_condition)
        ):
            out.extend(flatten_fields(sg, type_name, s.selections))
    return out


def plain_leaves(sels: tuple[OpSelection, ...], type_name: str) -> frozenset[str]:
    """Names of leaf fields selected under their own name, without arguments or conditions,
    directly or through fragments on `type_name` (or without type condition) and without
    conditions."""
    out: set[str] = set()
    for s in sels:
        if isinstance(s, OpField):
            if (
                s.selections is None
                and s.response_key == s.name
                and not s.args_text
                and not s.conditions
                and not s.internal
            ):
                out.add(s.name)
        elif s.type_condition in (None, type_name) and not s.conditions and s.defer is None:
            out |= plain_leaves(s.selections, type_name)  # (a @defer's fields come later)
    return frozenset(out)


def atoms(sels: tuple[OpSelection, ...]) -> list[OpSelection]:
    """The selections split into pieces of one field each: a field, or a fragment (chain)
    around one field, so that fields grouped in a fragment can go to different subgraphs."""
    out: list[OpSelection] = []
    for s in sels:
        if isinstance(s, OpField):
            out.append(s)
            continue
        for inner in atoms(s.selections):
            out.append(
                OpFragment(
                    s.type_condition,
                    (inner,),
                    s.directives_text,
                    s.conditions,
                    s.variables,
                    s.defer,
                )
            )
    return out


def short_alias(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.replace("!", "NN"))


def field_count(f: OpField) -> int:
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


def with_selections(f: OpField, sels: tuple[OpSelection, ...]) -> OpField:
    """`f` with other selections, every other attribute kept (its client key, stream,
    conditions ...: a copy that dropped one would plan or shape another field)."""
    return replace(f, selections=sels)


def renamed(f: OpField, response_key: str) -> OpField:
    """`f` under another response key in subgraph queries, every other attribute kept."""
    return replace(f, response_key=response_key)


def has_real_fields(sels: tuple[OpSelection, ...]) -> bool:
    for s in sels:
        if isinstance(s, OpField):
            if s.name != "__typename":
                return True
        elif has_real_fields(s.selections):
            return True
    return False


def depends_on(a: Group, b: Group, _seen: set[int] | None = None) -> bool:
    seen = _seen if _seen is not None else set()
    for d in a.deps:
        if d is b:
            return True
        if d.id in seen:
            continue
        seen.add(d.id)
        if depends_on(d, b, seen):
            return True
    return False
