"""Merge the subgraph schemas into one `Supergraph`, adding the `join__*` metadata."""

from __future__ import annotations

import re
from dataclasses import replace

from graphql import print_ast

from graph.composition.errors import IssueCollector
from graph.composition.fieldsets import field_names
from graph.composition.model import (
    Argument,
    DirectiveDef,
    Field,
    Kind,
    SubgraphSchema,
    TypeDef,
    base_type,
)
from graph.composition.supergraph import (
    GraphEntry,
    JoinField,
    JoinType,
    MergedField,
    MergedType,
    MergedValue,
    Supergraph,
)
from graph.composition.types import merge_input_types, merge_output_types

Source = tuple[SubgraphSchema, TypeDef]
FieldSource = tuple[SubgraphSchema, TypeDef, Field]


def graph_enum_names(names: list[str]) -> dict[str, str]:
    """Subgraph name -> `join__Graph` value (`my-users` -> `MY_USERS`), deduplicated."""
    result: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        enum = re.sub(r"\W", "_", name).upper()
        if not enum or enum[0].isdigit():
            enum = "_" + enum
        candidate, n = enum, 0
        while candidate in taken:
            n += 1
            candidate = f"{enum}_{n}"
        taken.add(candidate)
        result[name] = candidate
    return result


def _quote(names: list[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _key_field_names(typedef: TypeDef) -> set[str]:
    names: set[str] = set()
    for key in typedef.keys:
        names |= field_names(key.fields)
    return names


class Merger:
    def __init__(self, subgraphs: list[SubgraphSchema], issues: IssueCollector) -> None:
        self.subgraphs = subgraphs
        self.issues = issues
        self.enums = graph_enum_names([s.name for s in subgraphs])
        self.by_name = {s.name: s for s in subgraphs}
        self.supertypes: dict[str, set[str]] = {}
        for sub in subgraphs:
            for t in sub.types.values():
                for iface in t.interfaces:
                    self.supertypes.setdefault(t.name, set()).add(iface)
                for member in t.members:
                    self.supertypes.setdefault(member, set()).add(t.name)

    def is_subtype(self, sup: str, sub: str) -> bool:
        return sup in self.supertypes.get(sub, set())

    def merge(self) -> Supergraph:
        sources: dict[str, list[Source]] = {}
        for sub in self.subgraphs:
            for typedef in sub.types.values():
                sources.setdefault(typedef.name, []).append((sub, typedef))
        self.input_enums, self.output_enums = self._enum_usage()
        types: dict[str, MergedType] = {}
        for name, srcs in sources.items():
            merged = self._merge_type(name, srcs)
            if merged is not None:
                types[name] = merged
        self._add_interface_object_fields(types, sources)
        roots: dict[str, str] = {}
        for sub in self.subgraphs:
            roots.update(sub.roots)
        if "Query" in types:
            roots["query"] = "Query"
            present = {j.graph for j in types["Query"].join_types}
            for sub in self.subgraphs:
                if self.enums[sub.name] not in present:
                    types["Query"].join_types.append(JoinType(self.enums[sub.name]))
            order = {self.enums[s.name]: i for i, s in enumerate(self.subgraphs)}
            types["Query"].join_types.sort(key=lambda j: order[j.graph])
        else:
            self.issues.add("NO_QUERIES", "None of the subgraphs defines any query field")
        graphs = [GraphEntry(self.enums[s.name], s.name, s.url) for s in self.subgraphs]
        composed_links: list[tuple[str, list[str]]] = []
        for sub in self.subgraphs:
            for link in sub.composed_links:
                if link not in composed_links:
                    composed_links.append(link)
        return Supergraph(graphs, types, roots, self._merge_directives(), composed_links)

    # -- types ---------------------------------------------------------------------------

    def _merge_type(self, name: str, srcs: list[Source]) -> MergedType | None:
        kinds = {t.kind for _, t in srcs}
        if Kind.INTERFACE in kinds and kinds == {Kind.INTERFACE, Kind.OBJECT}:
            if not all(t.interface_object for _, t in srcs if t.kind is Kind.OBJECT):
                kinds.add(Kind.SCALAR)  # force the mismatch error below
            else:
                kinds = {Kind.INTERFACE}
        if len(kinds) > 1:
            detail = ", ".join(f'{t.kind.value} in subgraph "{s.name}"' for s, t in srcs)
            self.issues.add(
                "TYPE_KIND_MISMATCH",
                f'Type "{name}" has mismatched kind: it is defined as {detail}',
                subgraphs=[s.name for s, _ in srcs],
                type_name=name,
            )
            return None
        kind = kinds.pop()
        merged = MergedType(name=name, kind=kind)
        for sub, t in srcs:
            merged.description = merged.description or t.description
            merged.inaccessible = merged.inaccessible or t.inaccessible
            merged.specified_by = merged.specified_by or t.specified_by
            merged.tags += [tag for tag in t.tags if tag not in merged.tags]
            merged.composed += [d for d in t.composed if self._is_composed(sub, d.name.value)]
            graph = self.enums[sub.name]
            if t.keys and kind in (Kind.OBJECT, Kind.INTERFACE):
                for key in t.keys:
                    merged.join_types.append(
                        JoinType(graph, key.fields, t.extension, key.resolvable, t.interface_object)
                    )
            else:
                merged.join_types.append(
                    JoinType(graph, None, t.extension, True, t.interface_object)
                )
            for iface in t.interfaces:
                if iface not in merged.interfaces:
                    merged.interfaces.append(iface)
                merged.implements.append((graph, iface))
            for member in t.members:
                if member not in merged.members:
                    merged.members.append(member)
                merged.member_joins.append((graph, member))
        if kind in (Kind.OBJECT, Kind.INTERFACE):
            self._merge_fields(merged, srcs)
        elif kind is Kind.INPUT:
            self._merge_input_fields(merged, srcs)
        elif kind is Kind.ENUM:
            self._merge_enum(merged, srcs)
        return merged

    def _is_composed(self, sub: SubgraphSchema, directive: str) -> bool:
        return any(directive in [n.lstrip("@") for n in names] for _, names in sub.composed_links)

    def _merge_fields(self, merged: MergedType, srcs: list[Source]) -> None:
        by_field: dict[str, list[FieldSource]] = {}
        for sub, t in srcs:
            for fld in t.fields.values():
                by_field.setdefault(fld.name, []).append((sub, t, fld))
        type_graphs = {sub.name for sub, _ in srcs}
        for fname, fsrcs in by_field.items():
            result = self._merge_field(merged, fname, fsrcs, type_graphs)
            if result is not None:
                merged.fields[fname] = result

    def _merge_field(
        self, merged: MergedType, fname: str, fsrcs: list[FieldSource], type_graphs: set[str]
    ) -> MergedField | None:
        coord = f"{merged.name}.{fname}"
        overridden = self._overridden(coord, fsrcs)
        type_text = merge_output_types([f.type for _, _, f in fsrcs], self.is_subtype)
        if type_text is None:
            detail = " but ".join(f'type "{f.type}" in subgraph "{s.name}"' for s, _, f in fsrcs)
            self.issues.add(
                "FIELD_TYPE_MISMATCH",
                f'Type of field "{coord}" is incompatible across subgraphs: it has {detail}',
                subgraphs=[s.name for s, _, _ in fsrcs],
                type_name=merged.name,
                field_name=fname,
            )
            return None
        out = MergedField(name=fname, type=type_text)
        resolving: list[FieldSource] = []
        joins: list[JoinField] = []
        special = False
        differing_types = len({f.type for _, _, f in fsrcs}) > 1
        for sub, t, f in fsrcs:
            out.description = out.description or f.description
            out.deprecated = out.deprecated or f.deprecated
            out.inaccessible = out.inaccessible or f.inaccessible
            out.tags += [tag for tag in f.tags if tag not in out.tags]
            out.composed += [d for d in f.composed if self._is_composed(sub, d.name.value)]
            used_overridden = False
            if sub.name in overridden:
                special = True
                if fname not in _key_field_names(t) and not self._used_in_requires(t, fname):
                    continue
                used_overridden = True
            join = JoinField(
                self.enums[sub.name],
                requires=f.requires,
                provides=f.provides,
                type=f.type if differing_types else None,
                external=f.external,
                override=f.override,
                used_overridden=used_overridden,
            )
            special = special or bool(f.requires or f.provides or f.external or f.override)
            joins.append(join)
            if not f.external and not used_overridden:
                resolving.append((sub, t, f))
        present = {s.name for s, _, _ in fsrcs}
        if special or differing_types or present != type_graphs:
            out.joins = joins
        if merged.kind is Kind.OBJECT:
            self._check_sharing(coord, resolving)
        out.args = self._merge_args(coord, [(s, f) for s, _, f in fsrcs if not f.external])
        return out

    def _used_in_requires(self, t: TypeDef, fname: str) -> bool:
        return any(f.requires and fname in field_names(f.requires) for f in t.fields.values())

    def _overridden(self, coord: str, fsrcs: list[FieldSource]) -> set[str]:
        overridden: set[str] = set()
        by_sub = {s.name: f for s, _, f in fsrcs}
        for sub, _, f in fsrcs:
            if f.override is None:
                continue
            names = [sub.name]
            if f.override == sub.name:
                self.issues.add(
                    "OVERRIDE_FROM_SELF_ERROR",
                    f'Source and destination subgraphs "{sub.name}" are the same for overridden'
                    f' field "{coord}"',
                    subgraphs=names, type_name=coord.split(".")[0], field_name=f.name,
                )
            elif f.external:
                self.issues.add(
                    "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
                    f'@override cannot be used on field "{coord}" on subgraph "{sub.name}" '
                    "since \"{coord}\" on \"{sub.name}\" is marked with directive \"@external\"",
                    subgraphs=names, type_name=coord.split(".")[0], field_name=f.name,
                )
            elif f.override_label is not None:
                self.issues.add(
                    "UNSUPPORTED_FEATURE",
                    f'[{sub.name}] progressive @override (label) on "{coord}" is not supported',
                    subgraphs=names, type_name=coord.split(".")[0], field_name=f.name,
                )
            elif f.override in by_sub and by_sub[f.override].override is not None:
                self.issues.add(
                    "OVERRIDE_SOURCE_HAS_OVERRIDE",
                    f'Field "{coord}" on subgraph "{sub.name}" is also marked with directive '
                    f'@override in subgraph "{f.override}". Only one @override directive is '
                    "allowed per field.",
                    subgraphs=[sub.name, f.override], type_name=coord.split(".")[0],
                    field_name=f.name,
                )
            elif f.override in by_sub:
                overridden.add(f.override)
        return overridden

    def _check_sharing(self, coord: str, resolving: list[FieldSource]) -> None:
        if len(resolving) < 2:
            return
        non_shareable = [
            s.name for s, t, f in resolving
            if s.fed2 and not f.shareable and f.name not in _key_field_names(t)
        ]
        if not non_shareable:
            return
        all_names = [s.name for s, _, _ in resolving]
        where = (
            "in all of them" if len(non_shareable) == len(all_names)
            else f"in subgraph{'s' if len(non_shareable) > 1 else ''} {_quote(non_shareable)}"
        )
        self.issues.add(
            "INVALID_FIELD_SHARING",
            f'Non-shareable field "{coord}" is resolved from multiple subgraphs: it is resolved '
            f"from subgraphs {_quote(all_names)} and defined as non-shareable {where}",
            subgraphs=all_names,
            type_name=coord.split(".")[0],
            field_name=coord.split(".")[1],
        )

    def _merge_args(
        self, coord: str, fsrcs: list[tuple[SubgraphSchema, Field]]
    ) -> dict[str, Argument]:
        if not fsrcs:
            return {}
        names: list[str] = []
        for _, f in fsrcs:
            names += [a for a in f.args if a not in names]
        result: dict[str, Argument] = {}
        for name in names:
            having = [(s, f.args[name]) for s, f in fsrcs if name in f.args]
            merged = self._merge_input_value(f"{coord}({name}:)", having, "argument")
            if len(having) < len(fsrcs):
                required = [s.name for s, a in having if a.type.endswith("!") and a.default is None]
                if required:
                    missing = [s.name for s, f in fsrcs if name not in f.args]
                    self.issues.add(
                        "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
                        f'Argument "{coord}({name}:)" is required in some subgraphs but does not'
                        f" appear in all subgraphs: it is required in subgraph {_quote(required)}"
                        f" but does not appear in subgraph {_quote(missing)}",
                        subgraphs=required + missing,
                        type_name=coord.split(".")[0],
                        field_name=coord.split(".")[1],
                    )
                continue
            if merged is not None:
                result[name] = merged
        return result

    def _merge_input_value(
        self, coord: str, having: list[tuple[SubgraphSchema, Argument]], what: str
    ) -> Argument | None:
        type_text = merge_input_types([a.type for _, a in having])
        if type_text is None:
            detail = " but ".join(f'type "{a.type}" in subgraph "{s.name}"' for s, a in having)
            code = "FIELD_ARGUMENT_TYPE_MISMATCH" if what == "argument" else "FIELD_TYPE_MISMATCH"
            self.issues.add(
                code,
                f'Type of {what} "{coord}" is incompatible across subgraphs: it has {detail}',
                subgraphs=[s.name for s, _ in having],
                type_name=coord.split(".")[0],
            )
            return None
        defaults = {print_ast(a.default) if a.default is not None else None for _, a in having}
        if len(defaults) > 1:
            self.issues.add(
                "FIELD_ARGUMENT_DEFAULT_MISMATCH" if what == "argument"
                else "INPUT_FIELD_DEFAULT_MISMATCH",
                f'{what.capitalize()} "{coord}" has incompatible default values across '
                "subgraphs: "
                + ", ".join(
                    f'it has default value {print_ast(a.default) if a.default else "none"} in '
                    f'subgraph "{s.name}"'
                    for s, a in having
                ),
                subgraphs=[s.name for s, _ in having],
                type_name=coord.split(".")[0],
            )
        first = having[0][1]
        merged = replace(first, type=type_text, tags=[])
        for _, a in having:
            merged.description = merged.description or a.description
            merged.deprecated = merged.deprecated or a.deprecated
            merged.inaccessible = merged.inaccessible or a.inaccessible
            merged.tags += [tag for tag in a.tags if tag not in merged.tags]
        return merged

    def _merge_input_fields(self, merged: MergedType, srcs: list[Source]) -> None:
        names: list[str] = []
        for _, t in srcs:
            names += [f for f in t.fields if f not in names]
        for name in names:
            having = [(s, t.fields[name]) for s, t in srcs if name in t.fields]
            coord = f"{merged.name}.{name}"
            as_args = [
                (s, Argument(f.name, f.type, f.default, f.description, f.inaccessible, f.tags,
                             f.deprecated))
                for s, f in having
            ]
            if len(having) < len(srcs):
                required = [s.name for s, f in having if f.type.endswith("!") and f.default is None]
                if required:
                    missing = [s.name for s, t in srcs if name not in t.fields]
                    self.issues.add(
                        "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
                        f'Input object field "{coord}" is required in some subgraphs but does not'
                        f" appear in all subgraphs: it is required in subgraph {_quote(required)}"
                        f" but does not appear in subgraph {_quote(missing)}",
                        subgraphs=required + missing, type_name=merged.name, field_name=name,
                    )
                continue
            arg = self._merge_input_value(coord, as_args, "input field")
            if arg is not None:
                merged.fields[name] = MergedField(
                    name, arg.type, description=arg.description, default=arg.default,
                    deprecated=arg.deprecated, inaccessible=arg.inaccessible, tags=arg.tags,
                )
        if not merged.fields:
            self.issues.add(
                "EMPTY_MERGED_INPUT_TYPE",
                f'None of the fields of input object type "{merged.name}" are consistently '
                "defined in all the subgraphs defining that type. As only fields common to all "
                "subgraphs are merged, this would result in an empty type.",
                subgraphs=[s.name for s, _ in srcs], type_name=merged.name,
            )

    def _enum_usage(self) -> tuple[set[str], set[str]]:
        inputs: set[str] = set()
        outputs: set[str] = set()
        for sub in self.subgraphs:
            for t in sub.types.values():
                for f in t.fields.values():
                    (inputs if t.kind is Kind.INPUT else outputs).add(base_type(f.type))
                    for a in f.args.values():
                        inputs.add(base_type(a.type))
        return inputs, outputs

    def _merge_enum(self, merged: MergedType, srcs: list[Source]) -> None:
        is_input = merged.name in self.input_enums
        is_output = merged.name in self.output_enums or not is_input
        names: list[str] = []
        for _, t in srcs:
            names += [v for v in t.values if v not in names]
        for name in names:
            having = [(s, t.values[name]) for s, t in srcs if name in t.values]
            if len(having) < len(srcs):
                if is_input and is_output:
                    missing = [s.name for s, t in srcs if name not in t.values]
                    self.issues.add(
                        "ENUM_VALUE_MISMATCH",
                        f'Enum type "{merged.name}" is used as both input type and output type, '
                        f'but value "{name}" is not defined in all the subgraphs defining '
                        f'"{merged.name}": "{name}" is defined in subgraph '
                        f"{_quote([s.name for s, _ in having])} but not in subgraph "
                        f"{_quote(missing)}",
                        subgraphs=[s.name for s, _ in srcs], type_name=merged.name,
                    )
                    continue
                if is_input:
                    continue
            value = MergedValue(name)
            for sub, v in having:
                value.description = value.description or v.description
                value.deprecated = value.deprecated or v.deprecated
                value.inaccessible = value.inaccessible or v.inaccessible
                value.tags += [tag for tag in v.tags if tag not in value.tags]
                value.graphs.append(self.enums[sub.name])
            merged.values[name] = value
        if not merged.values:
            self.issues.add(
                "EMPTY_MERGED_ENUM_TYPE",
                f'None of the values of enum type "{merged.name}" are defined consistently in '
                "all the subgraphs defining that type",
                subgraphs=[s.name for s, _ in srcs], type_name=merged.name,
            )

    def _add_interface_object_fields(
        self, types: dict[str, MergedType], sources: dict[str, list[Source]]
    ) -> None:
        """Fields an `@interfaceObject` contributes to an interface also appear, with a bare
        `@join__field`, on each implementation that does not define them."""
        for iface in types.values():
            if iface.kind is not Kind.INTERFACE:
                continue
            contributed: list[str] = []
            for _, t in sources.get(iface.name, []):
                if t.interface_object:
                    contributed += [n for n in t.fields if n in iface.fields]
            if not contributed:
                continue
            for impl in types.values():
                if iface.name not in impl.interfaces:
                    continue
                for fname in contributed:
                    if fname not in impl.fields:
                        impl.fields[fname] = replace(
                            iface.fields[fname], joins=[JoinField(None)]
                        )

    def _merge_directives(self) -> list[DirectiveDef]:
        result: list[DirectiveDef] = []
        names: list[str] = []
        for sub in self.subgraphs:
            names += [n for n in sub.directives if n not in names]
        for name in names:
            defs = [s.directives[name] for s in self.subgraphs if name in s.directives]
            composed = any(self._is_composed(s, name) for s in self.subgraphs)
            if composed:
                result.append(defs[0])
                continue
            if len(defs) < len(self.subgraphs):
                continue  # executable directives must exist in every subgraph
            locations = [loc for loc in defs[0].locations if all(loc in d.locations for d in defs)]
            if locations:
                result.append(replace(defs[0], locations=locations))
        return result
