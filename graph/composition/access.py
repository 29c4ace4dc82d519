"""Composition of the authorization (`@authenticated`, `@requiresScopes`, `@policy`) and
demand-control (`@cost`, `@listSize`) directives, as Apollo's composition does it:

- per subgraph: the directives' placement rules (no authorization on interfaces, `@listSize`
  on lists with integer slicing arguments, ...);
- across subgraphs: one supergraph name per directive, the features in the order met;
- interfaces inherit the requirements of their implementations (an interface is as
  protected as the most protected object it can return), then every element's applications
  are merged (`features.merge_applications`);
- a field whose `@requires` reads protected data must carry at least those requirements
  (`MISSING_TRANSITIVE_AUTH_REQUIREMENTS`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql.language import FieldNode, InlineFragmentNode, SelectionSetNode

from graph.composition.errors import IssueCollector
from graph.composition.features import (
    ACCESS_CONTROL,
    FEATURE_OF,
    FEATURE_ORDER,
    dnf_conjunction,
    merge_applications,
)
from graph.composition.fieldsets import FieldSetError, parse_field_set
from graph.composition.model import Kind, SubgraphSchema, TypeDef, base_type
from graph.composition.supergraph import MergedType, Supergraph

_COMPOSITE = (Kind.OBJECT, Kind.INTERFACE, Kind.UNION)


# -- one subgraph -------------------------------------------------------------------------


def validate_spec_usage(schema: SubgraphSchema, issues: IssueCollector) -> None:
    """Placement rules of the spec directives inside one subgraph."""

    def add(code: str, message: str, type_name: str, field_name: str | None = None) -> None:
        issues.add(
            code,
            f"[{schema.name}] {message}",
            subgraphs=[schema.name],
            type_name=type_name,
            field_name=field_name,
        )

    def name(directive: str) -> str:
        return schema.spec_names.get(directive, directive)

    for t in schema.types.values():
        on_interface = t.kind is Kind.INTERFACE or t.interface_object
        kind = "interface" if t.kind is Kind.INTERFACE else "interface object"
        for directive in ACCESS_CONTROL:
            if on_interface and directive in t.spec:
                add(
                    "AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE",
                    f'Invalid use of @{name(directive)} on {kind} "{t.name}": '
                    f"@{name(directive)} cannot be applied on interfaces, interface fields and "
                    "interface objects",
                    t.name,
                )
        for f in t.fields.values():
            coord = f"{t.name}.{f.name}"
            if t.kind is Kind.INTERFACE:
                for directive in ACCESS_CONTROL:
                    if directive in f.spec:
                        add(
                            "AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE",
                            f'Invalid use of @{name(directive)} on field "{coord}": '
                            f"@{name(directive)} cannot be applied on interfaces, interface "
                            "fields and interface objects",
                            t.name,
                            f.name,
                        )
                if "cost" in f.spec:
                    add(
                        "COST_APPLIED_TO_INTERFACE_FIELD",
                        f'@{name("cost")} cannot be applied to interface "{coord}"',
                        t.name,
                        f.name,
                    )
            if "listSize" in f.spec:
                _check_list_size(schema, t, f.name, f.spec["listSize"], add)


def _is_list(type_text: str) -> bool:
    return type_text.startswith("[")


def _check_list_size(
    schema: SubgraphSchema, t: TypeDef, fname: str, args: dict[str, Any], add: Any
) -> None:
    f = t.fields[fname]
    coord = f"{t.name}.{fname}"
    sized = args.get("sizedFields") or []
    if not sized and not _is_list(f.type):
        add("LIST_SIZE_APPLIED_TO_NON_LIST", f'"{coord}" is not a list', t.name, fname)
    assumed = args.get("assumedSize")
    if isinstance(assumed, int) and assumed < 0:
        add(
            "LIST_SIZE_INVALID_ASSUMED_SIZE",
            f'Assumed size of "{coord}" cannot be negative',
            t.name,
            fname,
        )
    for arg_name in args.get("slicingArguments") or []:
        arg = f.args.get(str(arg_name))
        if arg is None:
            add(
                "LIST_SIZE_INVALID_SLICING_ARGUMENT",
                f'Slicing argument "{arg_name}" is not an argument of "{coord}"',
                t.name,
                fname,
            )
        elif arg.type not in ("Int", "Int!"):
            add(
                "LIST_SIZE_INVALID_SLICING_ARGUMENT",
                f'Slicing argument "{coord}({arg_name}:)" must be Int or Int!',
                t.name,
                fname,
            )
    if not sized:
        return
    target = schema.types.get(base_type(f.type))
    if target is None or target.kind not in _COMPOSITE:
        add(
            "LIST_SIZE_INVALID_SIZED_FIELD",
            f'Sized fields cannot be used because "{f.type}" is not a composite type',
            t.name,
            fname,
        )
        return
    for sized_name in sized:
        sized_field = target.fields.get(str(sized_name))
        if sized_field is None:
            add(
                "LIST_SIZE_INVALID_SIZED_FIELD",
                f'Sized field "{sized_name}" is not a field on type "{target.name}"',
                t.name,
                fname,
            )
        elif not _is_list(sized_field.type):
            add(
                "LIST_SIZE_APPLIED_TO_NON_LIST",
                f'Sized field "{target.name}.{sized_name}" is not a list',
                t.name,
                fname,
            )


# -- across subgraphs -----------------------------------------------------------------------


def record_features(
    subgraphs: list[SubgraphSchema], supergraph: Supergraph, issues: IssueCollector
) -> None:
    """The features in the order composition meets them, and each spec directive's name in
    the supergraph (every subgraph must use the same one)."""
    order: list[str] = []
    for sub in subgraphs:
        for directive in FEATURE_ORDER:
            feature = FEATURE_OF.get(directive, directive)
            if directive in sub.applied and feature not in order:
                order.append(feature)
    supergraph.feature_order = order
    names: dict[str, tuple[str, str]] = {}
    for sub in subgraphs:
        for directive, local in sub.spec_names.items():
            seen = names.setdefault(directive, (local, sub.name))
            if seen[0] != local:
                issues.add(
                    "LINK_IMPORT_NAME_MISMATCH",
                    f'The "@{directive}" directive is imported with mismatched name between '
                    f'subgraphs: it is imported as "@{seen[0]}" in subgraph "{seen[1]}" but '
                    f'"@{local}" in subgraph "{sub.name}"',
                    subgraphs=[seen[1], sub.name],
                )
    supergraph.spec_names = {d: n for d, (n, _) in names.items()}


def finalize_spec_directives(
    subgraphs: list[SubgraphSchema], supergraph: Supergraph, issues: IssueCollector
) -> None:
    _propagate_to_interfaces(subgraphs, supergraph)
    for t in supergraph.types.values():
        if t.spec_sources:
            t.spec = {d: merge_applications(d, apps) for d, apps in t.spec_sources.items()}
        for f in t.fields.values():
            if f.spec_sources:
                f.spec = {d: merge_applications(d, apps) for d, apps in f.spec_sources.items()}
    if any(d in supergraph.spec_names for d in ACCESS_CONTROL):
        _check_requires(subgraphs, supergraph, issues)


def _propagate_to_interfaces(subgraphs: list[SubgraphSchema], supergraph: Supergraph) -> None:
    types = supergraph.types
    impl_to_intf: dict[str, list[str]] = {}
    intf_to_impl: dict[str, list[str]] = {}
    for t in types.values():
        if t.kind is Kind.OBJECT:
            for intf in t.interfaces:
                if intf in types and types[intf].kind is Kind.INTERFACE:
                    impl_to_intf.setdefault(t.name, []).append(intf)
                    intf_to_impl.setdefault(intf, []).append(t.name)
    extra: dict[tuple[str, str | None, str], list[dict[str, Any]]] = {}
    for sub in subgraphs:
        for directive in ACCESS_CONTROL:
            for st in sub.types.values():
                if st.kind is Kind.OBJECT and directive in st.spec:
                    for intf in impl_to_intf.get(st.name, []):
                        extra.setdefault((intf, None, directive), []).append(st.spec[directive])
            for st in sub.types.values():
                if st.kind is not Kind.OBJECT:
                    continue
                for sf in st.fields.values():
                    if directive not in sf.spec or sf.external:
                        continue
                    targets: list[str] = []
                    if st.interface_object:
                        impls = intf_to_impl.get(st.name, [])
                        targets += impls
                        for impl in impls:
                            targets += [
                                i
                                for i in impl_to_intf.get(impl, [])
                                if i != st.name and i not in targets
                            ]
                    else:
                        targets += impl_to_intf.get(st.name, [])
                    for target in targets:
                        extra.setdefault((target, sf.name, directive), []).append(
                            sf.spec[directive]
                        )
    for t in types.values():
        for f in t.fields.values():
            if [j.graph for j in f.joins] == [None]:  # copied from an @interfaceObject
                for directive in ACCESS_CONTROL:
                    f.spec_sources.pop(directive, None)
    for (type_name, field_name, directive), applications in extra.items():
        owner = types.get(type_name)
        if owner is None:
            continue
        if field_name is None:
            if owner.kind is Kind.INTERFACE:
                owner.spec_sources.setdefault(directive, []).extend(applications)
            continue
        merged_field = owner.fields.get(field_name)
        if merged_field is not None:
            merged_field.spec_sources.setdefault(directive, []).extend(applications)


# -- @requires reading protected data -------------------------------------------------------


@dataclass
class Requirements:
    authenticated: bool = False
    scopes: list[list[str]] | None = None
    policies: list[list[str]] | None = None

    @classmethod
    def of(cls, *specs: dict[str, dict[str, Any]]) -> Requirements:
        scopes = [s["requiresScopes"]["scopes"] for s in specs if "requiresScopes" in s]
        policies = [s["policy"]["policies"] for s in specs if "policy" in s]
        return cls(
            authenticated=any("authenticated" in s for s in specs),
            scopes=dnf_conjunction(scopes) if scopes else None,
            policies=dnf_conjunction(policies) if policies else None,
        )

    def satisfies(self, other: Requirements) -> bool:
        return (
            (self.authenticated or not other.authenticated)
            and _implies(self.scopes, other.scopes)
            and _implies(self.policies, other.policies)
        )


def _implies(first: list[list[str]] | None, second: list[list[str]] | None) -> bool:
    left = first or [[]]
    right = second or [[]]
    return all(any(len(set(a)) >= len(set(b)) and set(b) <= set(a) for b in right) for a in left)


def _check_requires(
    subgraphs: list[SubgraphSchema], supergraph: Supergraph, issues: IssueCollector
) -> None:
    by_enum = {g.enum: g.name for g in supergraph.graphs}
    for t in supergraph.types.values():
        for f in t.fields.values():
            for join in f.joins:
                if join.requires is None:
                    continue
                owner = Requirements.of(t.spec, f.spec)
                coord = f"{t.name}.{f.name}"
                try:
                    _walk_requires(supergraph, t, parse_field_set(join.requires), owner, coord)
                except FieldSetError:
                    continue  # checked against the subgraph already
                except _Missing as exc:
                    sub = by_enum.get(join.graph or "", "")
                    issues.add(
                        "MISSING_TRANSITIVE_AUTH_REQUIREMENTS",
                        f"[{sub}] {exc}",
                        subgraphs=[sub],
                        type_name=t.name,
                        field_name=f.name,
                    )


class _Missing(Exception):
    pass


def _walk_requires(
    supergraph: Supergraph,
    parent: MergedType,
    selection_set: SelectionSetNode,
    owner: Requirements,
    coord: str,
) -> None:
    prefix = (
        f'Field "{coord}" does not specify necessary @authenticated, @requiresScopes and/or '
        "@policy auth requirements to access the transitive"
    )
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            target = parent
            if selection.type_condition is not None:
                cond = selection.type_condition.name.value
                target = supergraph.types.get(cond, parent)
                if not owner.satisfies(Requirements.of(target.spec)):
                    raise _Missing(
                        f'{prefix} data in inline fragment type condition "{cond}" from '
                        "@requires selection set."
                    )
            _walk_requires(supergraph, target, selection.selection_set, owner, coord)
            continue
        if not isinstance(selection, FieldNode) or selection.name.value == "__typename":
            continue
        fdef = parent.fields.get(selection.name.value)
        if fdef is None:
            raise FieldSetError(f'unknown field "{selection.name.value}"')
        returned = supergraph.types.get(base_type(fdef.type))
        if not owner.satisfies(Requirements.of(fdef.spec)) or (
            returned is not None and not owner.satisfies(Requirements.of(returned.spec))
        ):
            raise _Missing(
                f'{prefix} field "{parent.name}.{fdef.name}" data from @requires selection set.'
            )
        if selection.selection_set is not None and returned is not None:
            _walk_requires(supergraph, returned, selection.selection_set, owner, coord)
