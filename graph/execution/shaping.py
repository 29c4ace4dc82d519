"""The last step of execution: the merged subgraph data -> the response the client asked for.

It walks the client's operation over the merged data, with the API schema: it keeps only
requested fields under their aliases and in order, answers `__typename`, applies type
conditions and `@skip`/`@include`, checks enum values, and applies GraphQL's null
propagation (a null in a non-null position nulls the nearest nullable parent, with an error).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_abstract_type,
)

from graph.planning.operation import Condition, OpField, OpSelection

_PROPAGATE = object()  # "this position is null but must not be": null the parent


def passes(conditions: tuple[Condition, ...], variables: dict[str, Any]) -> bool:
    for kind, v in conditions:
        value = variables.get(v) if isinstance(v, str) else v
        if kind == "skip" and value is True:
            return False
        if kind == "include" and value is not True:
            return False
    return True


class Shaper:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self._applies: dict[tuple[str, str], bool] = {}
        self._enum_values: dict[str, frozenset[str]] = {}

    # ------------------------------------------------------------------ collecting
    def _type_applies(self, condition: str, type_name: str) -> bool:
        key = (condition, type_name)
        hit = self._applies.get(key)
        if hit is None:
            if condition == type_name:
                hit = True
            else:
                cond_t = self.schema.get_type(condition)
                obj_t = self.schema.get_type(type_name)
                hit = bool(
                    cond_t is not None and obj_t is not None and is_abstract_type(cond_t)
                    and isinstance(obj_t, GraphQLObjectType)
                    and self.schema.is_sub_type(cond_t, obj_t)  # type: ignore[arg-type]
                )
            self._applies[key] = hit
        return hit

    def collect(self, sels: tuple[OpSelection, ...], type_name: str,
                variables: dict[str, Any], cache: dict[Any, Any]) -> dict[str, list[OpField]]:
        """The fields of `sels` for an object of `type_name` (graphql's CollectFields).

        `cache` belongs to one prepared operation (it lives and dies with it); selections
        without @skip/@include are collected once per type.
        """
        key = (id(sels), type_name)
        hit = cache.get(key)
        if hit is not None:
            return hit
        out: dict[str, list[OpField]] = {}
        self._collect(sels, type_name, variables, out)
        if not _conditional(sels):
            cache[key] = out
        return out

    def _collect(self, sels: tuple[OpSelection, ...], type_name: str, variables: dict[str, Any],
                 out: dict[str, list[OpField]]) -> None:
        for s in sels:
            if s.conditions and not passes(s.conditions, variables):
                continue
            if isinstance(s, OpField):
                lst = out.get(s.response_key)
                if lst is None:
                    out[s.response_key] = [s]
                else:
                    lst.append(s)
            elif s.type_condition is None or self._type_applies(s.type_condition, type_name):
                self._collect(s.selections, type_name, variables, out)

    # ------------------------------------------------------------------ completing
    def shape(self, sels: tuple[OpSelection, ...], root: str, data: dict[str, Any],
              variables: dict[str, Any], errors: list[dict[str, Any]],
              cache: dict[Any, Any], extra_root: dict[str, Any] | None = None,
              ) -> dict[str, Any] | None:
        run = _Run(self, variables, errors, cache)
        root_type = self.schema.get_type(root)
        assert isinstance(root_type, GraphQLObjectType)
        result = run.complete_object(sels, root_type, data, [], extra_root)
        return None if result is _PROPAGATE else result

    def enum_values(self, t: GraphQLEnumType) -> frozenset[str]:
        vals = self._enum_values.get(t.name)
        if vals is None:
            vals = frozenset(t.values)
            self._enum_values[t.name] = vals
        return vals


def _conditional(sels: tuple[OpSelection, ...]) -> bool:
    for s in sels:
        if s.conditions or (not isinstance(s, OpField) and _conditional(s.selections)):
            return True
    return False


class _Run:
    __slots__ = ("cache", "errors", "shaper", "variables")

    def __init__(self, shaper: Shaper, variables: dict[str, Any],
                 errors: list[dict[str, Any]], cache: dict[Any, Any]) -> None:
        self.shaper = shaper
        self.variables = variables
        self.errors = errors
        self.cache = cache

    def complete_object(self, sels: tuple[OpSelection, ...], t: GraphQLObjectType,
                        obj: dict[str, Any], path: list[str | int],
                        extra: dict[str, Any] | None = None) -> Any:
        fields = self.shaper.collect(sels, t.name, self.variables, self.cache)
        out: dict[str, Any] = {}
        tfields = t.fields
        for key, fs in fields.items():
            f0 = fs[0]
            name = f0.name
            if name == "__typename":
                out[key] = t.name
                continue
            if extra is not None and key in extra:
                out[key] = extra[key]
                continue
            fdef = tfields.get(name)
            if fdef is None:
                continue
            sub = f0.selections if len(fs) == 1 else self.merged(fs)
            path.append(key)
            value = self.complete_value(fdef.type, sub, obj.get(key), path, t.name, name)
            path.pop()
            if value is _PROPAGATE:
                return _PROPAGATE
            out[key] = value
        return out

    def complete_value(self, t: GraphQLOutputType, sels: tuple[OpSelection, ...] | None,
                       value: Any, path: list[str | int], parent: str, fname: str) -> Any:
        if isinstance(t, GraphQLNonNull):
            r = self.complete_inner(t.of_type, sels, value, path, parent, fname)
            if r is None:
                self.null_error(path, parent, fname)
                return _PROPAGATE
            return r
        r = self.complete_inner(t, sels, value, path, parent, fname)
        return None if r is _PROPAGATE else r

    def complete_inner(self, t: GraphQLOutputType, sels: tuple[OpSelection, ...] | None,
                       value: Any, path: list[str | int], parent: str, fname: str) -> Any:
        if value is None:
            return None
        if isinstance(t, GraphQLList):
            if not isinstance(value, list):
                self.error(path, f"Expected a list for {parent}.{fname}.")
                return None
            out = []
            item_t = t.of_type
            for i, v in enumerate(value):
                path.append(i)
                r = self.complete_value(item_t, sels, v, path, parent, fname)
                path.pop()
                if r is _PROPAGATE:
                    return _PROPAGATE
                out.append(r)
            return out
        if isinstance(t, GraphQLObjectType):
            if not isinstance(value, dict):
                return None
            return self.complete_object(sels or (), t, value, path)
        if is_abstract_type(t):
            if not isinstance(value, dict):
                return None
            tn = value.get("__typename")
            rt = self.shaper.schema.get_type(tn) if isinstance(tn, str) else None
            if isinstance(rt, GraphQLObjectType):
                return self.complete_object(sels or (), rt, value, path)
            if rt is None and isinstance(tn, str):
                return None  # a type the API schema does not have (@inaccessible)
            return self._complete_unresolved(sels or (), t, value, path)
        if isinstance(t, GraphQLEnumType):
            if isinstance(value, str) and value in self.shaper.enum_values(t):
                return value
            self.error(path, f"Enum \"{t.name}\" cannot represent value: {value!r}")
            return None
        return value

    def _complete_unresolved(self, sels: tuple[OpSelection, ...], t: Any, obj: dict[str, Any],
                             path: list[str | int]) -> Any:
        """An abstract value whose concrete type is unknown (e.g. from an @interfaceObject)."""
        fields = self.shaper.collect(sels, t.name, self.variables, self.cache)
        out: dict[str, Any] = {}
        tfields = getattr(t, "fields", {})
        for key, fs in fields.items():
            name = fs[0].name
            if name == "__typename":
                out[key] = obj.get("__typename", t.name)
                continue
            fdef = tfields.get(name)
            if fdef is None:
                continue
            sub = self.merged(fs)
            path.append(key)
            value = self.complete_value(fdef.type, sub or None, obj.get(key), path, t.name, name)
            path.pop()
            if value is _PROPAGATE:
                return _PROPAGATE
            out[key] = value
        return out

    def merged(self, fs: list[OpField]) -> tuple[OpSelection, ...]:
        """The selections of several fields with one response key, kept in the operation's
        cache so that the tuple (and its id, a cache key) lives as long as the operation."""
        key = ("merged", *(id(f) for f in fs))
        hit = self.cache.get(key)
        if hit is None:
            hit = tuple(s for f in fs for s in (f.selections or ()))
            self.cache[key] = hit
        return hit

    def null_error(self, path: list[str | int], parent: str, fname: str) -> None:
        n = len(path)
        for e in self.errors:
            p = e.get("path")
            if p is not None and (p[:n] == path or path[: len(p)] == p):
                return
        self.errors.append({
            "message": f"Cannot return null for non-nullable field {parent}.{fname}.",
            "path": list(path),
        })

    def error(self, path: list[str | int], message: str) -> None:
        self.errors.append({"message": message, "path": list(path)})
