"""Checks of federation directives: inside one subgraph (`@key`, `@requires`, `@provides`,
`@external`, `@interfaceObject`) and across subgraphs (externals with no owner, extensions
with no base)."""

from __future__ import annotations

from graph.composition.errors import IssueCollector
from graph.composition.fieldsets import FieldSetError, SelectedField, walk
from graph.composition.model import Kind, SubgraphSchema, TypeDef, base_type

_KEY_HINT = (
    "(the field should either be added to this subgraph or, if it should not be resolved by "
    "this subgraph, you need to add it to this subgraph with @external)."
)
_REQUIRES_HINT = (
    "(if the field is defined in another subgraph, you need to add it to this subgraph with "
    "@external)."
)


class SubgraphValidator:
    """Validates the federation directives of one subgraph."""

    def __init__(self, schema: SubgraphSchema, issues: IssueCollector) -> None:
        self.schema = schema
        self.issues = issues
        self.used_externals: set[tuple[str, str]] = set()

    def _add(self, code: str, message: str, type_name: str, field_name: str | None = None) -> None:
        self.issues.add(
            code,
            f"[{self.schema.name}] {message}",
            subgraphs=[self.schema.name],
            type_name=type_name,
            field_name=field_name,
        )

    def validate(self) -> None:
        self._contexts()
        for t in self.schema.types.values():
            if t.kind in (Kind.OBJECT, Kind.INTERFACE):
                self._keys(t)
                for fld in t.fields.values():
                    if fld.requires is not None:
                        self._requires(t, fld.name, fld.requires)
                    if fld.provides is not None:
                        self._provides(t, fld.name, fld.type, fld.provides)
        for t in self.schema.types.values():
            if t.kind is Kind.OBJECT and self.schema.fed2:
                self._unused_externals(t)

    def _contexts(self) -> None:
        """`@context(name:)` and `@fromContext(field:)` (federation v2.8)."""
        setters: dict[str, list[TypeDef]] = {}
        for t in self.schema.types.values():
            for name in t.contexts:
                setters.setdefault(name, []).append(t)
                if "_" in name:
                    self._add(
                        "CONTEXT_NAME_INVALID",
                        f'Context name "{name}" may not contain an underscore.',
                        t.name,
                    )
        for t in self.schema.types.values():
            contextual = False
            for fld in t.fields.values():
                for arg in fld.args.values():
                    if arg.from_context is not None:
                        contextual = True
                        self._from_context(t, fld.name, arg.name, arg.from_context, setters)
            if contextual and t.kind is Kind.OBJECT and not t.resolvable_keys:
                self._add(
                    "CONTEXT_NO_RESOLVABLE_KEY",
                    f'Object "{t.name}" has no resolvable key but has a field with a '
                    "contextual argument.",
                    t.name,
                )

    def _from_context(
        self, t: TypeDef, fname: str, arg: str, text: str, setters: dict[str, list[TypeDef]]
    ) -> None:
        from graph.composition.merge import parse_from_context

        where = f"{t.name}.{fname}({arg}:)"
        parsed = parse_from_context(text)
        if parsed is None:
            self._add(
                "NO_CONTEXT_IN_SELECTION",
                f'@fromContext argument does not reference a context "{text}".',
                t.name,
                fname,
            )
            return
        name, selection = parsed
        if name not in setters:
            self._add(
                "CONTEXT_NOT_SET",
                f'Context "{name}" is used at location "{where}" but is never set.',
                t.name,
                fname,
            )
            return
        fields = selection.strip()
        if fields.startswith("{") and fields.endswith("}"):
            fields = fields[1:-1]
        for setter in setters[name]:
            for owner in [setter, *self._members(setter)]:
                try:
                    for selected in walk(self.schema, owner.name, fields):
                        self.used_externals.add((selected.type_name, selected.field_name))
                except FieldSetError as exc:
                    if owner is not setter:
                        continue  # (a member may lack what a type condition selects)
                    self._add(
                        "CONTEXT_INVALID_SELECTION",
                        f'Context "{name}" is used in "{where}" but the selection is invalid '
                        f"for type {setter.name}. Error: {exc}.",
                        t.name,
                        fname,
                    )
                    return

    def _members(self, t: TypeDef) -> list[TypeDef]:
        """The object types of a union or interface that sets a context."""
        if t.kind is Kind.UNION:
            names = t.members
        elif t.kind is Kind.INTERFACE:
            names = [o.name for o in self.schema.types.values() if t.name in o.interfaces]
        else:
            return []
        return [self.schema.types[n] for n in names if n in self.schema.types]

    def _keys(self, t: TypeDef) -> None:
        for key in t.keys:
            try:
                for selected in walk(self.schema, t.name, key.fields, allow_fragments=False):
                    owner = self.schema.types[selected.type_name]
                    if owner.fields[selected.field_name].args:
                        raise FieldSetError(
                            f'field "{selected.type_name}.{selected.field_name}" cannot be '
                            "included because it has arguments (fields with argument are not "
                            "allowed in @key)"
                        )
                    if selected.depth == 0:
                        self.used_externals.add((t.name, selected.field_name))
            except FieldSetError as exc:
                hint = f" {_KEY_HINT}" if str(exc).startswith("Cannot query") else ""
                self._add(
                    "KEY_INVALID_FIELDS",
                    f'On type "{t.name}", for @key(fields: "{key.fields}"): {exc}{hint}',
                    t.name,
                )

    def _requires(self, t: TypeDef, fname: str, fields: str) -> None:
        coord = f"{t.name}.{fname}"
        try:
            selected = list(walk(self.schema, t.name, fields))
        except FieldSetError as exc:
            hint = f" {_REQUIRES_HINT}" if str(exc).startswith("Cannot query") else ""
            self._add(
                "REQUIRES_INVALID_FIELDS",
                f'On field "{coord}", for @requires(fields: "{fields}"): {exc}{hint}',
                t.name,
                fname,
            )
            return
        for sel in selected:
            self.used_externals.add((sel.type_name, sel.field_name))
            owner = self.schema.types[sel.type_name]
            if self._missing_external(sel, owner):
                self._add(
                    "REQUIRES_FIELDS_MISSING_EXTERNAL",
                    f'On field "{coord}", for @requires(fields: "{fields}"): field '
                    f'"{sel.type_name}.{sel.field_name}" should not be part of a @requires since '
                    "it is already provided by this subgraph (it is not marked @external)",
                    t.name,
                    fname,
                )
        if t.name not in self.schema.roots.values() and not t.resolvable_keys:
            self._add(
                "REQUIRES_UNRESOLVABLE",
                f'On field "{coord}", for @requires(fields: "{fields}"): type "{t.name}" has no '
                "resolvable @key in this subgraph, so the router can never send it the "
                "required fields",
                t.name,
                fname,
            )

    def _provides(self, t: TypeDef, fname: str, ftype: str, fields: str) -> None:
        coord = f"{t.name}.{fname}"
        target = self.schema.types.get(base_type(ftype))
        if target is None or target.kind not in (Kind.OBJECT, Kind.INTERFACE, Kind.UNION):
            self._add(
                "PROVIDES_ON_NON_OBJECT_FIELD",
                f'Invalid @provides directive on field "{coord}": field has type "{ftype}" '
                "which is not a Composite Type",
                t.name,
                fname,
            )
            return
        try:
            selected = list(walk(self.schema, target.name, fields))
        except FieldSetError as exc:
            self._add(
                "PROVIDES_INVALID_FIELDS",
                f'On field "{coord}", for @provides(fields: "{fields}"): {exc}',
                t.name,
                fname,
            )
            return
        for sel in selected:
            self.used_externals.add((sel.type_name, sel.field_name))
            owner = self.schema.types[sel.type_name]
            if self._missing_external(sel, owner):
                self._add(
                    "PROVIDES_FIELDS_MISSING_EXTERNAL",
                    f'On field "{coord}", for @provides(fields: "{fields}"): field '
                    f'"{sel.type_name}.{sel.field_name}" should not be part of a @provides since '
                    "it is already provided by this subgraph (it is not marked @external)",
                    t.name,
                    fname,
                )

    def _missing_external(self, sel: SelectedField, owner: TypeDef) -> bool:
        """A leaf of a @requires/@provides must be external, or sit under an external field."""
        return (
            self.schema.fed2
            and sel.leaf
            and not sel.under_external
            and owner.kind is Kind.OBJECT
            and not owner.fields[sel.field_name].external
        )

    def _unused_externals(self, t: TypeDef) -> None:
        interface_fields: set[str] = set()
        for iface in t.interfaces:
            other = self.schema.types.get(iface)
            if other is not None:
                interface_fields |= set(other.fields)
        for fld in t.fields.values():
            if not fld.external or (t.name, fld.name) in self.used_externals:
                continue
            if fld.name in interface_fields:
                continue
            self._add(
                "EXTERNAL_UNUSED",
                f'Field "{t.name}.{fld.name}" is marked @external but is not used in any '
                "federation directive (@key, @provides, @requires) or to satisfy an interface; "
                "the field declaration has no use and should be removed (or the field should "
                "not be @external).",
                t.name,
                fld.name,
            )


def validate_across(subgraphs: list[SubgraphSchema], issues: IssueCollector) -> None:
    """Checks that need every subgraph: externals with no owner, extensions with no base,
    `@interfaceObject` usage."""
    owners: dict[tuple[str, str], list[str]] = {}
    externals: dict[tuple[str, str], list[str]] = {}
    for sub in subgraphs:
        for t in sub.types.values():
            for fld in t.fields.values():
                target = externals if fld.external else owners
                target.setdefault((t.name, fld.name), []).append(sub.name)
    for (tname, fname), subs in externals.items():
        if (tname, fname) not in owners:
            names = ", ".join(f'"{s}"' for s in subs)
            issues.add(
                "EXTERNAL_MISSING_ON_BASE",
                f'Field "{tname}.{fname}" is marked @external on all the subgraphs in which it is '
                f"listed (subgraph{'s' if len(subs) > 1 else ''} {names}).",
                subgraphs=subs,
                type_name=tname,
                field_name=fname,
            )
    by_type: dict[str, list[tuple[SubgraphSchema, TypeDef]]] = {}
    for sub in subgraphs:
        for t in sub.types.values():
            by_type.setdefault(t.name, []).append((sub, t))
    for tname, srcs in by_type.items():
        if all(t.extension for _, t in srcs) and any(s.fed2 for s, _ in srcs):
            sub = srcs[0][0]
            issues.add(
                "EXTENSION_WITH_NO_BASE",
                f'[{sub.name}] Type "{tname}" is an extension type, but there is no type '
                f'definition for "{tname}" in any subgraph.',
                subgraphs=[s.name for s, _ in srcs],
                type_name=tname,
            )
    _interface_objects(subgraphs, by_type, issues)


def _interface_objects(
    subgraphs: list[SubgraphSchema],
    by_type: dict[str, list[tuple[SubgraphSchema, TypeDef]]],
    issues: IssueCollector,
) -> None:
    implementations: dict[str, set[str]] = {}
    for sub in subgraphs:
        for t in sub.types.values():
            for iface in t.interfaces:
                implementations.setdefault(iface, set()).add(t.name)
    for sub in subgraphs:
        for t in sub.types.values():
            if not t.interface_object:
                continue
            interfaces = [o for s, o in by_type[t.name] if o.kind is Kind.INTERFACE]
            if not interfaces:
                issues.add(
                    "INTERFACE_OBJECT_USAGE_ERROR",
                    f'Type "{t.name}" is declared with @interfaceObject in subgraph "{sub.name}" '
                    "but no subgraph defines it as an interface",
                    subgraphs=[sub.name],
                    type_name=t.name,
                )
            elif not any(o.keys for o in interfaces):
                issues.add(
                    "INTERFACE_OBJECT_USAGE_ERROR",
                    f'Type "{t.name}" is declared with @interfaceObject in subgraph "{sub.name}" '
                    "but the interface it stands for has no @key in any subgraph",
                    subgraphs=[sub.name],
                    type_name=t.name,
                )
            for impl in sorted(implementations.get(t.name, set())):
                if impl in sub.types:
                    issues.add(
                        "INTERFACE_OBJECT_USAGE_ERROR",
                        f'[{sub.name}] Interface type "{t.name}" is defined as an '
                        f'@interfaceObject in subgraph "{sub.name}" so that subgraph should not '
                        f'define any of the implementation types of "{t.name}", but it defines '
                        f'type "{impl}"',
                        subgraphs=[sub.name],
                        type_name=t.name,
                    )
