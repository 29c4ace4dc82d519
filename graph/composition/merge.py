"""Merge the subgraph schemas into one `Supergraph`, adding the `join__*` metadata."""

from __future__ import annotations

import re
from dataclasses import replace

from graph.composition.access import finalize_spec_directives, record_features
from graph.composition.errors import IssueCollector
from graph.composition.fieldsets import FieldSetError, field_names, walk
from graph.composition.merge_inputs import InputMerger, quote_names
from graph.composition.model import (
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
    Supergraph,
)
from graph.composition.types import merge_output_types

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


def collect_directives(target: MergedType | MergedField, source: TypeDef | Field) -> None:
    """Gather one source's merged directives: their order and the spec directives' arguments."""
    target.order += [key for key in source.order if key not in target.order]
    for directive, args in source.spec.items():
        target.spec_sources.setdefault(directive, []).append(args)


_LABEL = re.compile(r"^[a-zA-Z][a-zA-Z0-9_\-:./]*$")
_PERCENT = re.compile(r"^percent\((?:100(?:\.0{1,8})?|\d{1,2}(?:\.\d{1,8})?)\)$")


_CONTEXT_REFERENCE = re.compile(r"^\s*\$(?P<name>[_A-Za-z][_0-9A-Za-z]*)(?P<selection>.*)$", re.S)


def parse_from_context(text: str) -> tuple[str, str] | None:
    """`"$context { prop }"` -> `("context", " { prop }")`; None without a `$context`."""
    match = _CONTEXT_REFERENCE.match(text)
    return (match.group("name"), match.group("selection")) if match else None


def context_arguments(subgraph: str, f: Field) -> list[tuple[str, str, str, str]]:
    """The `contextArguments` of a field's `@join__field` in `subgraph`."""
    out: list[tuple[str, str, str, str]] = []
    for arg in f.args.values():
        if arg.from_context is None:
            continue
        parsed = parse_from_context(arg.from_context)
        if parsed is not None:
            out.append((f"{subgraph}__{parsed[0]}", arg.name, arg.type, parsed[1]))
    return out


def valid_override_label(label: str) -> bool:
    """`percent(x)` (0 to 100, at most 8 decimals) or a name, as Apollo's composition has it."""
    return bool(_PERCENT.match(label) or _LABEL.match(label))


def _key_field_names(typedef: TypeDef) -> set[str]:
    names: set[str] = set()
    for key in typedef.keys:
        names |= field_names(key.fields)
    return names


class Merger(InputMerger):
    def __init__(self, subgraphs: list[SubgraphSchema], issues: IssueCollector) -> None:
        self.subgraphs = subgraphs
        self.issues = issues
        self.enums = graph_enum_names([s.name for s in subgraphs])
        self.by_name = {s.name: s for s in subgraphs}
        self.supertypes: dict[str, set[str]] = {}
        self.key_fields: dict[str, set[tuple[str, str]]] = {}
        for sub in subgraphs:
            pairs: set[tuple[str, str]] = set()
            for t in sub.types.values():
                for key in t.keys:
                    try:
                        selected = walk(sub, t.name, key.fields)
                        pairs |= {(f.type_name, f.field_name) for f in selected}
                    except FieldSetError:
                        continue
            self.key_fields[sub.name] = pairs
        self.provided: dict[str, set[tuple[str, str]]] = {}
        for sub in subgraphs:
            provided: set[tuple[str, str]] = set()
            for t in sub.types.values():
                for f in t.fields.values():
                    if not f.provides:
                        continue
                    try:
                        selected = walk(sub, base_type(f.type), f.provides)
                        provided |= {(s.type_name, s.field_name) for s in selected}
                    except FieldSetError:
                        continue
            self.provided[sub.name] = provided
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
        newest = max(s.version for s in self.subgraphs)
        join_version = "0.5" if newest >= (2, 8) else "0.4" if newest >= (2, 7) else "0.3"
        supergraph = Supergraph(
            graphs, types, roots, self._merge_directives(), composed_links, join_version
        )
        record_features(self.subgraphs, supergraph, self.issues)
        finalize_spec_directives(self.subgraphs, supergraph, self.issues)
        return supergraph

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
            collect_directives(merged, t)
            for name in t.contexts:  # (a name set in several subgraphs: the first one's)
                if all(c.split("__", 1)[1] != name for c in merged.contexts):
                    merged.contexts.append(f"{sub.name}__{name}")
            graph = self.enums[sub.name]
            if t.keys and kind in (Kind.OBJECT, Kind.INTERFACE):
                for key in t.keys:
                    merged.join_types.append(
                        JoinType(
                            graph,
                            key.fields,
                            t.extension,
                            key.resolvable,
                            t.interface_object,
                            key.resolvable_explicit,
                        )
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
        order = {m: i for i, m in enumerate(merged.members)}
        merged.member_joins.sort(key=lambda j: order[j[1]])
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
        if merged.name == "Query":
            type_graphs = {sub.name for sub in self.subgraphs}
        for fname, fsrcs in by_field.items():
            result = self._merge_field(merged, fname, fsrcs, type_graphs)
            if result is not None:
                merged.fields[fname] = result

    def _merge_field(
        self, merged: MergedType, fname: str, fsrcs: list[FieldSource], type_graphs: set[str]
    ) -> MergedField | None:
        coord = f"{merged.name}.{fname}"
        labels: dict[str, str] = {}  # subgraph a progressive override takes from -> label
        overridden = self._overridden(coord, fsrcs, labels)
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
        present = {s.name for s, _, _ in fsrcs}
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
            collect_directives(out, f)
            used_overridden = False
            label = labels.get(sub.name) if not f.external else None
            if sub.name in overridden and not f.external:
                special = True
                if not self._used_locally(sub, t, fname):
                    continue
                used_overridden = True
            elif label is not None:  # taken over progressively: it stays, with the label
                special = True
                used_overridden = self._used_locally(sub, t, fname)
            override = f.override if f.override in present else None
            if override is not None and f.override_label is not None:
                label = f.override_label
            join = JoinField(
                self.enums[sub.name],
                requires=f.requires,
                provides=f.provides,
                type=f.type if differing_types else None,
                external=f.external,
                override=override,
                used_overridden=used_overridden,
                override_label=label,
                context_arguments=context_arguments(sub.name, f),
            )
            special = special or bool(
                f.requires or f.provides or f.external or override or join.context_arguments
            )
            joins.append(join)
            provided = (t.name, f.name) in self.provided[sub.name]
            # (the subgraph a field is progressively taken from shares it with the one
            # taking it over: only one of them resolves it for a given operation)
            if (not f.external or provided) and not used_overridden and sub.name not in labels:
                resolving.append((sub, t, f))
        if special or differing_types or present != type_graphs:
            out.joins = joins
        if merged.kind is Kind.OBJECT:
            self._check_sharing(coord, resolving)
        # (an argument whose value comes from a context is not the client's to give)
        out.args = self._merge_args(
            coord,
            [
                (s, replace(f, args={n: a for n, a in f.args.items() if a.from_context is None}))
                for s, _, f in fsrcs
                if not f.external
            ],
        )
        return out

    def _used_locally(self, sub: SubgraphSchema, t: TypeDef, fname: str) -> bool:
        """An overridden field is still used by its old subgraph: in a key, a @requires, or to
        implement an interface there."""
        if fname in _key_field_names(t):
            return True
        if any(f.requires and fname in field_names(f.requires) for f in t.fields.values()):
            return True
        return any(i in sub.types and fname in sub.types[i].fields for i in t.interfaces)

    def _overridden(self, coord: str, fsrcs: list[FieldSource], labels: dict[str, str]) -> set[str]:
        """The subgraphs `coord` is overridden away from; those it is progressively taken
        from (`@override(label:)`) go to `labels` instead, with the label."""
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
                    subgraphs=names,
                    type_name=coord.split(".")[0],
                    field_name=f.name,
                )
            elif f.external:
                self.issues.add(
                    "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
                    f'@override cannot be used on field "{coord}" on subgraph "{sub.name}" '
                    'since "{coord}" on "{sub.name}" is marked with directive "@external"',
                    subgraphs=names,
                    type_name=coord.split(".")[0],
                    field_name=f.name,
                )
            elif f.override_label is not None and not valid_override_label(f.override_label):
                self.issues.add(
                    "OVERRIDE_LABEL_INVALID",
                    f'Invalid @override label "{f.override_label}" on field "{coord}" on '
                    f'subgraph "{sub.name}": labels must start with a letter and after that '
                    "may contain alphanumerics, underscores, minuses, colons, periods, or "
                    'slashes. Alternatively, labels may be of the form "percent(x)" where x '
                    "is a float between 0-100 inclusive.",
                    subgraphs=names,
                    type_name=coord.split(".")[0],
                    field_name=f.name,
                )
                if f.override in by_sub:
                    labels[f.override] = f.override_label  # (no sharing error on top)
            elif f.override in by_sub and by_sub[f.override].override is not None:
                self.issues.add(
                    "OVERRIDE_SOURCE_HAS_OVERRIDE",
                    f'Field "{coord}" on subgraph "{sub.name}" is also marked with directive '
                    f'@override in subgraph "{f.override}". Only one @override directive is '
                    "allowed per field.",
                    subgraphs=[sub.name, f.override],
                    type_name=coord.split(".")[0],
                    field_name=f.name,
                )
            elif f.override in by_sub and f.override_label is not None:
                labels[f.override] = f.override_label
            elif f.override in by_sub:
                overridden.add(f.override)
        return overridden

    def _check_sharing(self, coord: str, resolving: list[FieldSource]) -> None:
        if len(resolving) < 2:
            return
        non_shareable = [
            s.name
            for s, t, f in resolving
            if s.fed2
            and not f.shareable
            and not f.external
            and (t.name, f.name) not in self.key_fields[s.name]
        ]
        if not non_shareable:
            return
        all_names = [s.name for s, _, _ in resolving]
        where = (
            "in all of them"
            if len(non_shareable) == len(all_names)
            else f"in subgraph{'s' if len(non_shareable) > 1 else ''} {quote_names(non_shareable)}"
        )
        self.issues.add(
            "INVALID_FIELD_SHARING",
            f'Non-shareable field "{coord}" is resolved from multiple subgraphs: it is resolved '
            f"from subgraphs {quote_names(all_names)} and defined as non-shareable {where}",
            subgraphs=all_names,
            type_name=coord.split(".")[0],
            field_name=coord.split(".")[1],
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
                        impl.fields[fname] = replace(iface.fields[fname], joins=[JoinField(None)])

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
