"""A satisfiability check: every field of the supergraph must be reachable from wherever
its parent type can be reached.

For each subgraph we walk from its root fields through the fields it resolves itself. At
each object type reached, a field that the subgraph does not resolve must be obtainable by
`_entities` jumps: to another subgraph whose resolvable `@key` only uses fields available so
far (transitively, also through `@interfaceObject`s of an interface the type implements).
This is the one-type-at-a-time core of the query-graph validation Apollo's composition does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from graph.composition.errors import IssueCollector
from graph.composition.fieldsets import field_names
from graph.composition.model import Kind, SubgraphSchema, TypeDef, base_type
from graph.composition.supergraph import Supergraph


@dataclass(frozen=True)
class _Step:
    field: str
    required_args: tuple[str, ...] = ()
    type_condition: str | None = None


class _Checker:
    def __init__(self, schemas: list[SubgraphSchema], supergraph: Supergraph) -> None:
        self.schemas = schemas
        self.supergraph = supergraph
        self.overridden: set[tuple[str, str, str]] = set()
        for sub in schemas:
            for t in sub.types.values():
                for f in t.fields.values():
                    # (a progressive override keeps the field where it was when its label
                    # is off: that subgraph still resolves it)
                    if f.override is not None and f.override_label is None:
                        self.overridden.add((t.name, f.name, f.override))
        self.provided: dict[str, dict[str, set[str]]] = {}
        for sub in schemas:
            per_type: dict[str, set[str]] = {}
            for t in sub.types.values():
                for f in t.fields.values():
                    if f.provides:
                        per_type.setdefault(base_type(f.type), set()).update(
                            field_names(f.provides)
                        )
            self.provided[sub.name] = per_type
        self.reported: set[tuple[str, str]] = set()

    def local_fields(self, sub: SubgraphSchema, t: TypeDef) -> set[str]:
        names = {
            f.name
            for f in t.fields.values()
            if not f.external and (t.name, f.name, sub.name) not in self.overridden
        }
        for key in t.keys:
            names |= field_names(key.fields)
        return names | self.provided[sub.name].get(t.name, set())

    def reachable_fields(self, start: SubgraphSchema, type_name: str) -> tuple[set[str], set[str]]:
        """Fields obtainable for `type_name` starting in `start`, and the subgraphs visited."""
        interfaces = set(self.supergraph.types[type_name].interfaces)
        visited = {start.name}
        available = self.local_fields(start, start.types[type_name])
        changed = True
        while changed:
            changed = False
            for sub in self.schemas:
                if sub.name in visited:
                    continue
                t = sub.types.get(type_name)
                candidates: list[TypeDef] = []
                if t is not None and t.kind is Kind.OBJECT:
                    candidates.append(t)
                candidates += [
                    sub.types[i]
                    for i in interfaces
                    if i in sub.types
                    and sub.types[i].kind is Kind.OBJECT
                    and sub.types[i].interface_object
                ]
                for candidate in candidates:
                    if any(field_names(k.fields) <= available for k in candidate.resolvable_keys):
                        visited.add(sub.name)
                        available |= self.local_fields(sub, candidate)
                        changed = True
        return available, visited

    def resolves(self, sub: SubgraphSchema, type_name: str, fname: str) -> bool:
        t = sub.types.get(type_name)
        return t is not None and fname in self.local_fields(sub, t)

    def check(self, issues: IssueCollector) -> None:
        """Walk the supergraph from its roots. A state is a type plus the set of subgraphs the
        planner can be in at that point; each field must be resolvable from one of them."""
        queue: deque[tuple[str, frozenset[str], tuple[_Step, ...]]] = deque()
        for op in ("query", "mutation"):
            root = self.supergraph.roots.get(op)
            if root is None:
                continue
            for fname, fld in self.supergraph.types[root].fields.items():
                owners = frozenset(s.name for s in self.schemas if self.resolves(s, root, fname))
                queue.append((base_type(fld.type), owners, (self._step(root, fname),)))
        seen: set[tuple[str, frozenset[str]]] = set()
        by_name = {s.name: s for s in self.schemas}
        while queue:
            type_name, states, path = queue.popleft()
            merged = self.supergraph.types.get(type_name)
            if merged is None or not states or (type_name, states) in seen:
                continue
            seen.add((type_name, states))
            if merged.kind in (Kind.INTERFACE, Kind.UNION):
                for impl in self._possible_types(type_name):
                    knowing = frozenset(
                        n
                        for n in states
                        if impl in by_name[n].types
                        and by_name[n].types[impl].kind is Kind.OBJECT
                        and self._knows(by_name[n], type_name, impl)
                    )
                    queue.append((impl, knowing, (*path, _Step("", (), impl))))
                continue
            if merged.kind is not Kind.OBJECT:
                continue
            subs = [
                by_name[n]
                for n in sorted(states)
                if type_name in by_name[n].types and by_name[n].types[type_name].kind is Kind.OBJECT
            ]
            if not subs:
                continue
            closures = {s.name: self.reachable_fields(s, type_name) for s in subs}
            for fname, fld in merged.fields.items():
                nxt: set[str] = set()
                for s in subs:
                    available, visited = closures[s.name]
                    nxt |= {
                        n
                        for n in visited
                        if self.resolves(by_name[n], type_name, fname)
                        and self._requires_met(by_name[n], type_name, fname, available)
                    }
                    if self.resolves(s, type_name, fname):
                        nxt.add(s.name)
                    nxt |= {
                        n
                        for n in visited
                        if self._interface_object_resolves(by_name[n], type_name, fname)
                    }
                if not nxt:
                    self._report(issues, subs, type_name, fname, path)
                    continue
                queue.append(
                    (base_type(fld.type), frozenset(nxt), (*path, self._step(type_name, fname)))
                )

    def _requires_met(
        self, sub: SubgraphSchema, type_name: str, fname: str, available: set[str]
    ) -> bool:
        fld = sub.types[type_name].fields.get(fname)
        return fld is None or not fld.requires or field_names(fld.requires) <= available

    def _step(self, type_name: str, fname: str) -> _Step:
        fld = self.supergraph.types[type_name].fields[fname]
        required = tuple(
            a.name for a in fld.args.values() if a.type.endswith("!") and a.default is None
        )
        return _Step(fname, required)

    def _possible_types(self, abstract: str) -> list[str]:
        merged = self.supergraph.types[abstract]
        if merged.kind is Kind.UNION:
            return list(merged.members)
        return [
            t.name
            for t in self.supergraph.types.values()
            if abstract in t.interfaces and t.kind is Kind.OBJECT
        ]

    def _knows(self, sub: SubgraphSchema, abstract: str, impl: str) -> bool:
        t = sub.types.get(abstract)
        if t is None:
            return False
        if t.kind is Kind.UNION:
            return impl in t.members
        if t.interface_object:
            return True
        return abstract in sub.types[impl].interfaces

    def _interface_object_resolves(self, sub: SubgraphSchema, type_name: str, fname: str) -> bool:
        """`sub` resolves the field through an @interfaceObject of an interface of the type."""
        for iface in self.supergraph.types[type_name].interfaces:
            t = sub.types.get(iface)
            if t is not None and t.interface_object and fname in self.local_fields(sub, t):
                return True
        return False

    def _report(
        self,
        issues: IssueCollector,
        subs: list[SubgraphSchema],
        type_name: str,
        fname: str,
        path: tuple[_Step, ...],
    ) -> None:
        if (type_name, fname) in self.reported:
            return
        self.reported.add((type_name, fname))
        owners = [s for s in self.schemas if self.resolves(s, type_name, fname)]
        lines: list[str] = []
        for sub in subs:
            lines.append(f'- from subgraph "{sub.name}":')
            lines.append(f'  - cannot find field "{type_name}.{fname}".')
            for owner in owners:
                owner_type = owner.types[type_name]
                keys = owner_type.resolvable_keys
                if keys:
                    lines += [
                        f'  - cannot move to subgraph "{owner.name}" using @key(fields: '
                        f'"{key.fields}") of "{type_name}", the key field(s) cannot be '
                        f'resolved from subgraph "{sub.name}".'
                        for key in keys
                    ]
                    continue
                if owner_type.keys:
                    why = (
                        f'none of the @key defined on type "{type_name}" in subgraph '
                        f'"{owner.name}" are resolvable (they are all declared with their '
                        '"resolvable" argument set to false)'
                    )
                else:
                    why = f'type "{type_name}" has no @key defined in subgraph "{owner.name}"'
                lines.append(
                    f'  - cannot move to subgraph "{owner.name}", which has field '
                    f'"{type_name}.{fname}", because {why}.'
                )
        issues.add(
            "SATISFIABILITY_ERROR",
            "The following supergraph API query:\n"
            + _query_text(list(path), fname)
            + "\ncannot be satisfied by the subgraphs because:\n"
            + "\n".join(lines),
            subgraphs=[*[s.name for s in subs], *[o.name for o in owners]],
            type_name=type_name,
            field_name=fname,
        )


def _query_text(path: list[_Step], leaf: str) -> str:
    lines = ["{"]
    depth = 1
    for step in path:
        pad = "  " * depth
        if step.type_condition is not None:
            lines.append(f"{pad}... on {step.type_condition} {{")
        else:
            args = ", ".join(f"{a}: <any>" for a in step.required_args)
            lines.append(f"{pad}{step.field}{f'({args})' if args else ''} {{")
        depth += 1
    lines.append("  " * depth + leaf)
    for d in range(depth - 1, 0, -1):
        lines.append("  " * d + "}")
    lines.append("}")
    return "\n".join(lines)


def check_satisfiability(
    schemas: list[SubgraphSchema], supergraph: Supergraph, issues: IssueCollector
) -> None:
    _Checker(schemas, supergraph).check(issues)
