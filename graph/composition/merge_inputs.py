"""Merging of input positions across subgraphs: arguments, input object fields, enums."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graphql import print_ast

from graph.composition.errors import IssueCollector
from graph.composition.features import merge_applications
from graph.composition.model import Argument, Field, Kind, SubgraphSchema, TypeDef, base_type
from graph.composition.supergraph import MergedField, MergedType, MergedValue
from graph.composition.types import merge_input_types

Source = tuple[SubgraphSchema, TypeDef]


def quote_names(names: list[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


class InputMerger:
    """Argument, input-field and enum merging; mixed into `Merger`."""

    issues: IssueCollector
    enums: dict[str, str]
    subgraphs: list[SubgraphSchema]
    input_enums: set[str]
    output_enums: set[str]

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
                        " appear in all subgraphs: it is required in subgraph "
                        f"{quote_names(required)}"
                        f" but does not appear in subgraph {quote_names(missing)}",
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
                "FIELD_ARGUMENT_DEFAULT_MISMATCH"
                if what == "argument"
                else "INPUT_FIELD_DEFAULT_MISMATCH",
                f'{what.capitalize()} "{coord}" has incompatible default values across '
                "subgraphs: "
                + ", ".join(
                    f"it has default value {print_ast(a.default) if a.default else 'none'} in "
                    f'subgraph "{s.name}"'
                    for s, a in having
                ),
                subgraphs=[s.name for s, _ in having],
                type_name=coord.split(".")[0],
            )
        first = having[0][1]
        merged = replace(first, type=type_text, tags=[], order=[], spec={})
        applications: dict[str, list[dict[str, Any]]] = {}
        for _, a in having:
            merged.description = merged.description or a.description
            merged.deprecated = merged.deprecated or a.deprecated
            merged.inaccessible = merged.inaccessible or a.inaccessible
            merged.tags += [tag for tag in a.tags if tag not in merged.tags]
            merged.order += [key for key in a.order if key not in merged.order]
            for directive, args in a.spec.items():
                applications.setdefault(directive, []).append(args)
        merged.spec = {d: merge_applications(d, apps) for d, apps in applications.items()}
        return merged

    def _merge_input_fields(self, merged: MergedType, srcs: list[Source]) -> None:
        names: list[str] = []
        for _, t in srcs:
            names += [f for f in t.fields if f not in names]
        for name in names:
            having = [(s, t.fields[name]) for s, t in srcs if name in t.fields]
            coord = f"{merged.name}.{name}"
            as_args = [
                (
                    s,
                    Argument(
                        f.name,
                        f.type,
                        f.default,
                        f.description,
                        f.inaccessible,
                        f.tags,
                        f.deprecated,
                        f.order,
                        f.spec,
                    ),
                )
                for s, f in having
            ]
            if len(having) < len(srcs):
                required = [s.name for s, f in having if f.type.endswith("!") and f.default is None]
                if required:
                    missing = [s.name for s, t in srcs if name not in t.fields]
                    self.issues.add(
                        "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
                        f'Input object field "{coord}" is required in some subgraphs but does not'
                        " appear in all subgraphs: it is required in subgraph "
                        f"{quote_names(required)}"
                        f" but does not appear in subgraph {quote_names(missing)}",
                        subgraphs=required + missing,
                        type_name=merged.name,
                        field_name=name,
                    )
                continue
            arg = self._merge_input_value(coord, as_args, "input field")
            if arg is not None:
                merged.fields[name] = MergedField(
                    name,
                    arg.type,
                    description=arg.description,
                    default=arg.default,
                    deprecated=arg.deprecated,
                    inaccessible=arg.inaccessible,
                    tags=arg.tags,
                    order=arg.order,
                    spec=arg.spec,
                )
        if not merged.fields:
            self.issues.add(
                "EMPTY_MERGED_INPUT_TYPE",
                f'None of the fields of input object type "{merged.name}" are consistently '
                "defined in all the subgraphs defining that type. As only fields common to all "
                "subgraphs are merged, this would result in an empty type.",
                subgraphs=[s.name for s, _ in srcs],
                type_name=merged.name,
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
                if is_input and is_output and not any(v.inaccessible for _, v in having):
                    missing = [s.name for s, t in srcs if name not in t.values]
                    self.issues.add(
                        "ENUM_VALUE_MISMATCH",
                        f'Enum type "{merged.name}" is used as both input type and output type, '
                        f'but value "{name}" is not defined in all the subgraphs defining '
                        f'"{merged.name}": "{name}" is defined in subgraph '
                        f"{quote_names([s.name for s, _ in having])} but not in subgraph "
                        f"{quote_names(missing)}",
                        subgraphs=[s.name for s, _ in srcs],
                        type_name=merged.name,
                    )
                    continue
                if is_input and not any(v.inaccessible for _, v in having):
                    continue
            value = MergedValue(name)
            for sub, v in having:
                value.description = value.description or v.description
                value.deprecated = value.deprecated or v.deprecated
                value.inaccessible = value.inaccessible or v.inaccessible
                value.tags += [tag for tag in v.tags if tag not in value.tags]
                value.order += [key for key in v.order if key not in value.order]
                value.graphs.append(self.enums[sub.name])
            merged.values[name] = value
        if not merged.values:
            self.issues.add(
                "EMPTY_MERGED_ENUM_TYPE",
                f'None of the values of enum type "{merged.name}" are defined consistently in '
                "all the subgraphs defining that type",
                subgraphs=[s.name for s, _ in srcs],
                type_name=merged.name,
            )
