"""Mutable selection sets the planner fills in for each fetch, and their rendering to GraphQL."""

from __future__ import annotations

from graph.planning.operation import OpField, OpFragment, OpSelection
from graph.planning.plan import ReqField, ReqFragment, ReqSelection


class FieldEntry:
    __slots__ = ("field", "sub")

    def __init__(self, field: OpField, sub: SelSet | None) -> None:
        self.field = field
        self.sub = sub


class FragmentEntry:
    __slots__ = ("directives_text", "sub", "type_condition", "variables")

    def __init__(
        self, type_condition: str | None, directives_text: str, variables: frozenset[str]
    ) -> None:
        self.type_condition = type_condition
        self.directives_text = directives_text
        self.variables = variables
        self.sub = SelSet()


_TYPENAME = OpField("__typename", "__typename")


class SelSet:
    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[tuple[str, ...], FieldEntry | FragmentEntry] = {}

    def add_field(self, f: OpField) -> SelSet | None:
        key = ("f", f.response_key, f.name, f.args_text, f.directives_text)
        e = self.entries.get(key)
        if e is None:
            e = FieldEntry(f, SelSet() if f.selections is not None else None)
            self.entries[key] = e
        assert isinstance(e, FieldEntry)
        return e.sub

    def add_typename(self) -> None:
        key = ("f", "__typename", "__typename", "", "")
        if key not in self.entries:
            self.entries[key] = FieldEntry(_TYPENAME, None)

    def fragment(
        self,
        type_condition: str | None,
        directives_text: str = "",
        variables: frozenset[str] = frozenset(),
    ) -> SelSet:
        key = ("t", type_condition or "", directives_text)
        e = self.entries.get(key)
        if e is None:
            e = FragmentEntry(type_condition, directives_text, variables)
            self.entries[key] = e
        assert isinstance(e, FragmentEntry)
        return e.sub

    def merge(self, other: SelSet) -> None:
        for key, e in other.entries.items():
            mine = self.entries.get(key)
            if mine is None:
                self.entries[key] = e
            elif isinstance(mine, FieldEntry):
                assert isinstance(e, FieldEntry)
                if mine.sub is not None and e.sub is not None:
                    mine.sub.merge(e.sub)
            else:
                assert isinstance(e, FragmentEntry)
                mine.sub.merge(e.sub)

    def is_empty(self) -> bool:
        return not self.entries

    def variables(self, out: set[str]) -> None:
        for e in self.entries.values():
            if isinstance(e, FieldEntry):
                out.update(e.field.variables)
                if e.sub is not None:
                    e.sub.variables(out)
            elif not e.sub.is_empty():  # an empty fragment is not rendered (see render)
                out.update(e.variables)
                e.sub.variables(out)

    def render(self) -> str:
        parts: list[str] = []
        for e in self.entries.values():
            if isinstance(e, FieldEntry):
                f = e.field
                s = f.name if f.response_key == f.name else f"{f.response_key}: {f.name}"
                s += f.args_text + f.directives_text
                if e.sub is not None:
                    s += " " + e.sub.render_block()
                parts.append(s)
            else:
                if e.sub.is_empty():
                    continue
                head = "..."
                if e.type_condition:
                    head += f" on {e.type_condition}"
                parts.append(head + e.directives_text + " " + e.sub.render_block())
        return " ".join(parts)

    def render_block(self) -> str:
        inner = self.render()
        return "{" + (inner or "__typename") + "}"


def req_from_selections(sels: tuple[OpSelection, ...]) -> tuple[ReqSelection, ...]:
    out: list[ReqSelection] = []
    for s in sels:
        if isinstance(s, OpField):
            sub = req_from_selections(s.selections) if s.selections is not None else None
            out.append(ReqField(s.name, s.response_key, sub))
        elif isinstance(s, OpFragment) and s.type_condition:
            out.append(ReqFragment(s.type_condition, req_from_selections(s.selections)))
        elif isinstance(s, OpFragment):
            out.extend(req_from_selections(s.selections))
    return tuple(out)


def merge_reqs(
    a: tuple[ReqSelection, ...], b: tuple[ReqSelection, ...]
) -> tuple[ReqSelection, ...] | None:
    """Merge two representation selections; None when they disagree on a key."""
    out: list[ReqSelection] = list(a)
    for r in b:
        if isinstance(r, ReqField):
            idx = next(
                (
                    i
                    for i, x in enumerate(out)
                    if isinstance(x, ReqField) and x.repr_key == r.repr_key
                ),
                None,
            )
            if idx is None:
                out.append(r)
                continue
            cur = out[idx]
            assert isinstance(cur, ReqField)
            if cur.data_key != r.data_key:
                return None
            if cur.selections is None or r.selections is None:
                continue
            merged = merge_reqs(cur.selections, r.selections)
            if merged is None:
                return None
            out[idx] = ReqField(cur.repr_key, cur.data_key, merged)
        else:
            idx = next(
                (
                    i
                    for i, x in enumerate(out)
                    if isinstance(x, ReqFragment) and x.type_condition == r.type_condition
                ),
                None,
            )
            if idx is None:
                out.append(r)
                continue
            cur_f = out[idx]
            assert isinstance(cur_f, ReqFragment)
            merged = merge_reqs(cur_f.selections, r.selections)
            if merged is None:
                return None
            out[idx] = ReqFragment(cur_f.type_condition, merged)
    return tuple(out)
