"""Which parts of an operation a caller may read, from the supergraph's `@authenticated`,
`@requiresScopes` and `@policy`: the operation to plan without them, the operation to shape
the response with (they come back null, with GraphQL's null propagation), and one
`UNAUTHORIZED_FIELD_OR_TYPE` error per removed path.

It follows Apollo Router's rules. A field is removed when the field, or the type it returns,
has requirements the caller does not meet; when it returns an interface whose
implementations differ in requirements and the selection reads more than `__typename`
outside type conditions; or when its parent is an interface whose implementations' fields
differ. A fragment whose type condition has unmet requirements is removed. Paths use `@` for
list items and `... on T` for fragments (`["posts", "@", "... on PrivateBlog"]`), as Apollo
Router reports them. The walk is over the normalized operation (fragments inlined), so
named fragments are checked where they are spread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_list_type,
    is_non_null_type,
)

from graph.planning.operation import OpField, OpFragment, OpSelection
from graph.supergraph.features import Requirement, SpecDirectives

UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"
MESSAGE = "Unauthorized field or type"

Path = tuple[str, ...]


@dataclass(frozen=True)
class Access:
    """What the caller has: authenticated or not, its scopes, and the policies granted to
    it (evaluated beforehand for the policy names the operation uses)."""

    authenticated: bool = False
    scopes: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()

    def allows(self, requirement: Requirement | None) -> bool:
        if requirement is None:
            return True
        if requirement.authenticated and not self.authenticated:
            return False
        if requirement.scopes is not None and not _any_group(requirement.scopes, self.scopes):
            return False
        return requirement.policies is None or _any_group(requirement.policies, self.policies)


def _any_group(groups: tuple[frozenset[str], ...], held: frozenset[str]) -> bool:
    # An empty requirement (`[]` or `[[]]`) is always met, as in Apollo's composition.
    return not groups or any(group <= held for group in groups)


@dataclass(frozen=True)
class Decision:
    """The outcome for one operation and one kind of caller."""

    plan_selections: tuple[OpSelection, ...]  # what to plan: removed parts left out
    shape_selections: tuple[OpSelection, ...]  # what to answer: removed fields marked
    paths: tuple[tuple[str, ...], ...] = ()  # one per removed field or fragment

    @property
    def filtered(self) -> bool:
        return bool(self.paths)

    @property
    def empty(self) -> bool:
        """Nothing is left to fetch: the response is the nulls alone."""
        return not any(not (isinstance(s, OpField) and s.is_typename) for s in self.plan_selections)

    def errors(self) -> list[dict[str, Any]]:
        return [
            {"message": MESSAGE, "path": list(p), "extensions": {"code": UNAUTHORIZED}}
            for p in self.paths
        ]


@dataclass(frozen=True)
class Needs:
    """Everything an operation's authorization depends on, known before any caller: the
    scopes and policies it mentions and whether it mentions anything at all."""

    any: bool
    scopes: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()


@dataclass
class _Walk:
    access: Access
    dry_run: bool
    paths: list[Path] = field(default_factory=list)


class Authorizer:
    """Authorization over one API schema and the supergraph's requirements; thread-safe,
    holds no per-request state."""

    def __init__(self, schema: GraphQLSchema, spec: SpecDirectives) -> None:
        self.schema = schema
        self.types = spec.type_requirements
        self.fields = spec.field_requirements
        self.implementers: dict[str, list[str]] = {}
        for t in schema.type_map.values():
            if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
                for iface in t.interfaces:
                    self.implementers.setdefault(iface.name, []).append(t.name)

    @property
    def enabled(self) -> bool:
        return bool(self.types or self.fields)

    # -- what an operation needs (cacheable per operation) ------------------------------
    def needs(self, selections: tuple[OpSelection, ...], root: str) -> Needs:
        found: list[Requirement] = []
        self._gather(selections, root, found, set())
        return Needs(
            any=bool(found) or root in self.types,
            scopes=frozenset(s for r in found for s in r.scope_names),
            policies=frozenset(p for r in found for p in r.policy_names),
        )

    def _gather(
        self,
        selections: tuple[OpSelection, ...],
        parent: str,
        found: list[Requirement],
        seen: set[tuple[int, str]],
    ) -> None:
        for s in selections:
            if isinstance(s, OpFragment):
                cond = s.type_condition or parent
                self._note(self.types.get(cond), found)
                for impl in self.implementers.get(cond, ()):
                    self._note(self.types.get(impl), found)
                self._gather(s.selections, cond, found, seen)
                continue
            if s.is_typename or s.name.startswith("__"):
                continue
            ret = self._return_type(parent, s.name)
            self._note(self.fields.get((parent, s.name)), found)
            for impl in self.implementers.get(parent, ()):
                self._note(self.fields.get((impl, s.name)), found)
            if ret is None:
                continue
            self._note(self.types.get(ret), found)
            for impl in self.implementers.get(ret, ()):
                self._note(self.types.get(impl), found)
            if s.selections is not None and (id(s), ret) not in seen:
                seen.add((id(s), ret))
                self._gather(s.selections, ret, found, seen)

    @staticmethod
    def _note(requirement: Requirement | None, found: list[Requirement]) -> None:
        if requirement is not None:
            found.append(requirement)

    # -- the decision ---------------------------------------------------------------------
    def decide(
        self,
        selections: tuple[OpSelection, ...],
        root: str,
        access: Access,
        *,
        dry_run: bool = False,
    ) -> Decision:
        """What `access` may read of an operation rooted at type `root`. With `dry_run`, the
        removed paths are reported but nothing is removed."""
        walk = _Walk(access, dry_run)
        if not access.allows(self.types.get(root)):
            # The whole root type is protected: every root field is removed.
            fields = [s for s in _flatten(selections) if not s.name.startswith("__")]
            paths = tuple((s.output_key,) for s in fields)
            if dry_run:
                return Decision(selections, selections, paths)
            denied = {id(s) for s in fields}
            plan = _without(selections, denied)
            return Decision(plan, _marked(selections, denied), paths)
        plan, shape = self._selections(selections, root, (), walk)
        if dry_run or not walk.paths:
            return Decision(selections, selections, tuple(walk.paths))
        return Decision(plan, shape, tuple(walk.paths))

    def _selections(
        self, selections: tuple[OpSelection, ...], parent: str, path: Path, walk: _Walk
    ) -> tuple[tuple[OpSelection, ...], tuple[OpSelection, ...]]:
        plan: list[OpSelection] = []
        shape: list[OpSelection] = []
        for s in selections:
            if isinstance(s, OpFragment):
                cond = s.type_condition or parent
                here = (*path, f"... on {cond}") if s.type_condition else path
                if s.type_condition and not walk.access.allows(self.types.get(cond)):
                    walk.paths.append(here)
                    continue  # neither fetched nor answered: as if the fragment did not apply
                sub_plan, sub_shape = self._selections(s.selections, cond, path, walk)
                if sub_plan:
                    plan.append(_same_or(s, sub_plan))
                shape.append(_same_or(s, sub_shape))
                continue
            if s.name.startswith("__"):  # __typename, introspection: always allowed
                plan.append(s)
                shape.append(s)
                continue
            here = (*path, s.output_key)
            fdef = self._field_def(parent, s.name)
            if fdef is None:  # not in the API schema: validation would have refused it
                plan.append(s)
                shape.append(s)
                continue
            ret = get_named_type(fdef.type).name
            inner = (*here, "@") if _is_list(fdef.type) else here
            if not self._field_allowed(parent, s, ret, walk.access):
                walk.paths.append(here)
                shape.append(_deny(s))
                continue
            if s.selections is None:
                plan.append(s)
                shape.append(s)
                continue
            sub_plan, sub_shape = self._selections(s.selections, ret, inner, walk)
            if not sub_plan:
                shape.append(_deny(s))  # nothing of it may be read: null, errors below
                continue
            plan.append(_same_or(s, sub_plan))
            shape.append(_same_or(s, sub_shape))
        return tuple(plan), tuple(shape)

    def _field_allowed(self, parent: str, s: OpField, ret: str, access: Access) -> bool:
        if not access.allows(self.fields.get((parent, s.name))):
            return False
        if not access.allows(self.types.get(ret)):
            return False
        return not (
            self._implementers_differ(ret, s) or self._implementer_fields_differ(parent, s.name)
        )

    def _implementers_differ(self, ret: str, s: OpField) -> bool:
        """An interface whose implementations have different requirements may only be read
        through type conditions (or for its `__typename`)."""
        t = self.schema.get_type(ret)
        if not isinstance(t, GraphQLInterfaceType) or s.selections is None:
            return False
        if all(
            (isinstance(c, OpFragment) and c.type_condition is not None)
            or (isinstance(c, OpField) and c.is_typename)
            for c in s.selections
        ):
            return False
        found = {self.types.get(impl) for impl in self.implementers.get(ret, ())}
        return len(found) > 1

    def _implementer_fields_differ(self, parent: str, name: str) -> bool:
        if not isinstance(self.schema.get_type(parent), GraphQLInterfaceType):
            return False
        found = {
            self.fields.get((impl, name))
            for impl in self.implementers.get(parent, ())
            if self._field_def(impl, name) is not None
        }
        return len(found) > 1

    def _field_def(self, parent: str, name: str) -> Any:
        t = self.schema.get_type(parent)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            return t.fields.get(name)
        return None

    def _return_type(self, parent: str, name: str) -> str | None:
        fdef = self._field_def(parent, name)
        return None if fdef is None else str(get_named_type(fdef.type).name)


def _is_list(t: Any) -> bool:
    return bool(is_list_type(t.of_type if is_non_null_type(t) else t))


def _flatten(selections: tuple[OpSelection, ...]) -> list[OpField]:
    out: list[OpField] = []
    for s in selections:
        if isinstance(s, OpField):
            out.append(s)
        else:
            out += _flatten(s.selections)
    return out


def _without(selections: tuple[OpSelection, ...], ids: set[int]) -> tuple[OpSelection, ...]:
    out: list[OpSelection] = []
    for s in selections:
        if isinstance(s, OpField):
            if id(s) not in ids:
                out.append(s)
        else:
            inner = _without(s.selections, ids)
            if inner:
                out.append(replace(s, selections=inner))
    return tuple(out)


def _marked(selections: tuple[OpSelection, ...], ids: set[int]) -> tuple[OpSelection, ...]:
    return tuple(
        (_deny(s) if id(s) in ids else s)
        if isinstance(s, OpField)
        else replace(s, selections=_marked(s.selections, ids))
        for s in selections
    )


def _deny(s: OpSelection) -> OpSelection:
    return replace(s, denied=True) if isinstance(s, OpField) else s


def _same_or(s: OpSelection, selections: tuple[OpSelection, ...]) -> OpSelection:
    """`s` itself when nothing under it changed (the planner and shaper cache by identity)."""
    if (
        s.selections is not None
        and len(s.selections) == len(selections)
        and all(a is b for a, b in zip(s.selections, selections, strict=True))
    ):
        return s
    return replace(s, selections=selections)


def evaluate_policies(names: frozenset[str], granted: Mapping[str, bool] | None) -> frozenset[str]:
    """The policies among `names` that the evaluator's answer grants (unknown: denied)."""
    return frozenset(n for n in names if granted and granted.get(n) is True)
