"""The Apollo specs composition links into the supergraph for the directives federation
imports from them: `@authenticated` (authenticated/v0.1), `@requiresScopes`
(requiresScopes/v0.1), `@policy` (policy/v0.1) and `@cost` / `@listSize` (cost/v0.1).

Their arguments merge as Apollo's composition merges them: the scopes and policies of one
element in several subgraphs are combined with AND (a disjunctive normal form conjunction,
with subsumed alternatives dropped), `@cost(weight:)` takes the maximum, `@listSize` the
largest assumed size, the union of slicing arguments and sized fields, and AND of
`requireOneSlicingArgument`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from graphql.language.print_string import print_string

# Canonical names of the directives handled here, in the order federation registers them.
SPEC_DIRECTIVES = ("authenticated", "requiresScopes", "policy", "cost", "listSize")
ACCESS_CONTROL = ("authenticated", "requiresScopes", "policy")
# The order composition meets features in one subgraph (tag and inaccessible included).
FEATURE_ORDER = ("tag", "inaccessible", *SPEC_DIRECTIVES, "context")


@dataclass(frozen=True)
class Feature:
    """One linked spec: its URL, `for:` purpose, directives (feature names) and types."""

    name: str
    url: str
    purpose: str | None
    directives: tuple[str, ...]
    scalar: str | None = None


FEATURES: dict[str, Feature] = {
    "authenticated": Feature(
        "authenticated",
        "https://specs.apollo.dev/authenticated/v0.1",
        "SECURITY",
        ("authenticated",),
    ),
    "requiresScopes": Feature(
        "requiresScopes",
        "https://specs.apollo.dev/requiresScopes/v0.1",
        "SECURITY",
        ("requiresScopes",),
        "Scope",
    ),
    "policy": Feature(
        "policy", "https://specs.apollo.dev/policy/v0.1", "SECURITY", ("policy",), "Policy"
    ),
    "cost": Feature("cost", "https://specs.apollo.dev/cost/v0.1", None, ("cost", "listSize")),
    "context": Feature(
        "context",
        "https://specs.apollo.dev/context/v0.1",
        "SECURITY",
        ("context", "fromContext"),
        "ContextFieldValue",
    ),
}
FEATURE_OF = {d: f.name for f in FEATURES.values() for d in f.directives}

_AUTH_LOCATIONS = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"
DEFINITIONS = {
    "authenticated": f"directive @{{name}} on {_AUTH_LOCATIONS}",
    "requiresScopes": (
        f"directive @{{name}}(scopes: [[requiresScopes__Scope!]!]!) on {_AUTH_LOCATIONS}"
    ),
    "policy": f"directive @{{name}}(policies: [[policy__Policy!]!]!) on {_AUTH_LOCATIONS}",
    "cost": (
        "directive @{name}(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | "
        "INPUT_FIELD_DEFINITION | OBJECT | SCALAR"
    ),
    "listSize": (
        "directive @{name}(assumedSize: Int, slicingArguments: [String!], sizedFields: "
        "[String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION"
    ),
    "context": "directive @{name}(name: String!) repeatable on INTERFACE | OBJECT | UNION",
    "fromContext": ("directive @{name}(field: context__ContextFieldValue) on ARGUMENT_DEFINITION"),
}
ARGUMENTS = {
    "authenticated": (),
    "requiresScopes": ("scopes",),
    "policy": ("policies",),
    "cost": ("weight",),
    "listSize": ("assumedSize", "slicingArguments", "sizedFields", "requireOneSlicingArgument"),
}
_DEFAULTS: dict[str, dict[str, Any]] = {"listSize": {"requireOneSlicingArgument": True}}


def default_name(directive: str) -> str:
    """The directive's name in the supergraph when the spec's link imports nothing."""
    feature = FEATURE_OF[directive]
    return directive if directive == feature else f"{feature}__{directive}"


def link_line(feature: Feature, names: dict[str, str]) -> str:
    """`@link(url: ..., for: ..., import: [...])` for a feature whose directives are named
    `names` (feature name -> name in the supergraph)."""
    imports: list[str] = []
    for directive in feature.directives:
        name = names.get(directive, default_name(directive))
        if name == default_name(directive):
            continue
        if name == directive:
            imports.append(print_string(f"@{directive}"))
        else:
            imports.append(
                f"{{name: {print_string('@' + directive)}, as: {print_string('@' + name)}}}"
            )
    parts = [f"url: {print_string(feature.url)}"]
    if feature.purpose:
        parts.append(f"for: {feature.purpose}")
    if imports:
        parts.append(f"import: [{', '.join(imports)}]")
    return f"@link({', '.join(parts)})"


# -- merging arguments ----------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def dnf_conjunction(values: list[list[list[str]]]) -> list[list[str]]:
    """AND of several OR-of-ANDs requirements, as Apollo's `dnfConjunction`: every inner
    list sorted, alternatives that another alternative implies removed."""
    if not values:
        return []
    normalised: list[list[list[str]]] = []
    seen: set[str] = set()
    for value in values:
        copy = [sorted(inner) for inner in value] or [[]]
        copy.sort(key=_json)
        key = _json(copy)
        if key not in seen:
            seen.add(key)
            normalised.append(copy)
    result = normalised[0]
    for current in normalised[1:]:
        combined: list[list[str]] = []
        keys: set[str] = set()
        for left in result:
            for right in current:
                candidate = sorted([*left, *(e for e in right if e not in left)])
                key = _json(candidate)
                if key not in keys:
                    keys.add(key)
                    combined.append(candidate)
        result = _drop_subsumed(combined)
    return result


def _drop_subsumed(values: list[list[str]]) -> list[list[str]]:
    kept: list[list[str]] = []
    for candidate in sorted(values, key=len):
        entry = set(candidate)
        if not any(all(e in entry for e in k) for k in kept):
            kept.append(candidate)
    return kept


def _union(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        out += [v for v in value if v not in out]
    return out


def _merge_argument(directive: str, name: str, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if directive in ("requiresScopes", "policy"):
        return dnf_conjunction(present)
    if name in ("weight", "assumedSize"):
        return max(present) if present else None
    if name in ("slicingArguments", "sizedFields"):
        return _union(present) if present else None
    if name == "requireOneSlicingArgument":
        return all(present) if present else None
    return present[0] if present else None


def merge_applications(directive: str, applications: list[dict[str, Any]]) -> dict[str, Any]:
    """The arguments of `directive` on one supergraph element applied (with `applications`
    arguments, as written) in several sources: one distinct application is kept as written,
    several are merged argument by argument."""
    defaults = _DEFAULTS.get(directive, {})
    distinct: list[dict[str, Any]] = []
    for app in applications:
        full = {**defaults, **app}
        if full not in [{**defaults, **d} for d in distinct]:
            distinct.append(app)
    if len(distinct) == 1:
        return distinct[0]
    merged: dict[str, Any] = {}
    for name in ARGUMENTS[directive]:
        value = _merge_argument(directive, name, [{**defaults, **d}.get(name) for d in distinct])
        if value is not None:
            merged[name] = value
    return merged


# -- printing ---------------------------------------------------------------------------------


def print_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return print_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(print_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {print_value(v)}" for k, v in value.items()) + "}"
    return "null"


def print_applied(name: str, directive: str, args: dict[str, Any]) -> str:
    ordered = [(a, args[a]) for a in ARGUMENTS[directive] if a in args]
    if not ordered:
        return f"@{name}"
    return f"@{name}(" + ", ".join(f"{a}: {print_value(v)}" for a, v in ordered) + ")"
