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
                    if f.override is not None:
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
            f.name for f in t.fields.values()
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
                    sub.types[i] for i in interfaces
                    if i in sub.types and sub.types[i].kind is Kind.OBJECT
                    and sub.types[i].interface_object
                ]
                for candidate in candidates:
                    if any(field_names(k.fields) <= available for k in candidate.resolvable_keys):
                        visited.add(sub.name)
                        available |= self.local_fields(sub, candidate)
                        changed = True
        return available, visited

    def check(self, issues: IssueCollector) -> None:
        for sub in self.schemas:
            for type_name, path in self._reached_types(sub).items():
                self._check_type(sub, type_name, path, issues)

    def _reached_types(self, sub: SubgraphSchema) -> dict[str, list[_Step]]:
        reached: dict[str, list[_Step]] = {}
        queue: deque[tuple[str, list[_Step]]] = deque()
        roots = set(sub.roots.values())
        for op in ("query", "mutation"):
            if op in sub.roots:
                queue.append((sub.roots[op], []))
        seen: set[str] = set()
        while queue:
            type_name, path = queue.popleft()
            if type_name in seen:
                continue
            seen.add(type_name)
            t = sub.types.get(type_name)
            if t is None:
                continue
            if t.kind is Kind.OBJECT and type_name not in roots and not t.interface_object:
                reached[type_name] = path
            if t.kind in (Kind.INTERFACE, Kind.UNION):
                for other in sub.types.values():
                    if other.kind is Kind.OBJECT and (
                        type_name in other.interfaces or other.name in t.members
                    ):
                        queue.append((other.name, [*path, _Step("", (), other.name)]))
                continue
            for f in t.fields.values():
                if f.external or (t.name, f.name, sub.name) in self.overridden:
                    continue
                required = tuple(
                    a.name for a in f.args.values() if a.type.endswith("!") and a.default is None
                )
                queue.append((base_type(f.type), [*path, _Step(f.name, required)]))
        return reached

    def _check_type(
        self, sub: SubgraphSchema, type_name: str, path: list[_Step], issues: IssueCollector
    ) -> None:
        merged = self.supergraph.types.get(type_name)
        if merged is None or merged.kind is not Kind.OBJECT:
            return
        local = self.local_fields(sub, sub.types[type_name])
        missing = [f for f in merged.fields if f not in local]
        if not missing:
            return
        available, _ = self.reachable_fields(sub, type_name)
        for fname in missing:
            if fname in available or (type_name, fname) in self.reported:
                continue
            self.reported.add((type_name, fname))
            owners = [
                s for s in self.schemas
                if type_name in s.types and fname in self.local_fields(s, s.types[type_name])
            ]
            reasons = [f'  - cannot find field "{type_name}.{fname}".']
            for owner in owners:
                keys = owner.types[type_name].resolvable_keys
                if not keys:
                    why = f'type "{type_name}" has no @key defined in subgraph "{owner.name}"'
                else:
                    why = "none of the @key of type " + (
                        f'"{type_name}" in subgraph "{owner.name}" can be satisfied from the '
                        f'fields available in subgraph "{sub.name}"'
                    )
                reasons.append(
                    f'  - cannot move to subgraph "{owner.name}", which has field '
                    f'"{type_name}.{fname}", because {why}.'
                )
            issues.add(
                "SATISFIABILITY_ERROR",
                "The following supergraph API query:\n"
                + _query_text(path, fname)
                + "\ncannot be satisfied by the subgraphs because:\n"
                + f'- from subgraph "{sub.name}":\n'
                + "\n".join(reasons),
                subgraphs=[sub.name, *[o.name for o in owners]],
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
