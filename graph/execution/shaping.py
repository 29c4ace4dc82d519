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
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_abstract_type,
)

from graph.planning.operation import Condition, OpField, OpSelection

_PROPAGATE = object()  # "this position is null but must not be": null the parent
_MISSING = object()  # a field the merged data does not have (its fetch failed or never ran)

# extensions.code of the errors the shaper emits (Apollo Router's code for a subgraph value
# that does not fit the schema), and of a value the router could not fetch at all.
INVALID_VALUE = "RESPONSE_VALIDATION_FAILED"
UNRESOLVED = "UNRESOLVED_FIELD"


def passes(conditions: tuple[Condition, ...], variables: dict[str, Any]) -> bool:
    for kind, v in conditions:
        value = variables.get(v) if isinstance(v, str) else v
        if kind == "skip" and value is True:
            return False
        if kind == "include" and value is not True:
            return False
    return True


class Shaper:
    def __init__(self, schema: GraphQLSchema, hidden_types: frozenset[str] = frozenset()) -> None:
        self.schema = schema
        # Object types of the supergraph that the API schema hides (@inaccessible): an
        # object of one of them is null without an error.
        self.hidden_types = hidden_types
        self._applies: dict[tuple[str, str], bool] = {}
        self.type_cache: dict[int, _VT] = {}

    def hidden_object(self, type_name: str) -> bool:
        return type_name in self.hidden_types

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
                    cond_t is not None
                    and obj_t is not None
                    and is_abstract_type(cond_t)
                    and isinstance(obj_t, GraphQLObjectType)
                    and self.schema.is_sub_type(cond_t, obj_t)  # type: ignore[arg-type]
                )
            self._applies[key] = hit
        return hit

    def _collect(
        self,
        sels: tuple[OpSelection, ...],
        type_name: str,
        variables: dict[str, Any],
        out: dict[str, list[OpField]],
    ) -> None:
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
    def shape(
        self,
        sels: tuple[OpSelection, ...],
        root: str,
        data: dict[str, Any],
        variables: dict[str, Any],
        errors: list[dict[str, Any]],
        cache: dict[Any, Any],
        extra_root: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        run = _Shaping(self, variables, errors, cache)
        run.extra = extra_root
        root_type = self.schema.get_type(root)
        assert isinstance(root_type, GraphQLObjectType)
        result = run.complete_object(sels, root_type, data, None)
        return None if result is _PROPAGATE else result


def _conditional(sels: tuple[OpSelection, ...]) -> bool:
    for s in sels:
        if s.conditions or (not isinstance(s, OpField) and _conditional(s.selections)):
            return True
    return False


SCALAR, ENUM, OBJECT, ABSTRACT, LIST = range(5)
# How a field is completed: its __typename, a nullable scalar (copied), a non-null scalar
# (copied after a null check), anything else (the general path), an introspection root field,
# a field authorization removed (null, no error of its own).
_TYPENAME, _SCALAR, _SCALAR_NN, _GENERAL, _EXTRA, _DENIED = range(6)


class _VT:
    """A compiled output type: what completing a value of it takes."""

    __slots__ = ("inner", "kind", "nonnull", "type", "values")

    def __init__(
        self,
        kind: int,
        nonnull: bool,
        inner: _VT | None = None,
        type_: Any = None,
        values: frozenset[str] = frozenset(),
    ) -> None:
        self.kind = kind
        self.nonnull = nonnull
        self.inner = inner
        self.type = type_
        self.values = values


def _compile_type(t: GraphQLOutputType, cache: dict[int, _VT]) -> _VT:
    hit = cache.get(id(t))
    if hit is not None:
        return hit
    nonnull = isinstance(t, GraphQLNonNull)
    base: Any = t.of_type if nonnull else t  # type: ignore[union-attr]
    if isinstance(base, GraphQLList):
        vt = _VT(LIST, nonnull, _compile_type(base.of_type, cache))
    elif isinstance(base, GraphQLObjectType):
        vt = _VT(OBJECT, nonnull, type_=base)
    elif is_abstract_type(base):
        vt = _VT(ABSTRACT, nonnull, type_=base)
    elif isinstance(base, GraphQLEnumType):
        vt = _VT(ENUM, nonnull, type_=base, values=frozenset(base.values))
    else:
        vt = _VT(SCALAR, nonnull)
    cache[id(t)] = vt
    return vt


Entry = tuple[str, int, "_VT | None", "tuple[OpSelection, ...] | None", str]
Path = "tuple[Any, str | int] | None"  # a linked list: (parent path, key)


class _Shaping:
    __slots__ = ("_covered", "_exact", "cache", "errors", "extra", "shaper", "types", "variables")

    def __init__(
        self,
        shaper: Shaper,
        variables: dict[str, Any],
        errors: list[dict[str, Any]],
        cache: dict[Any, Any],
    ) -> None:
        self.shaper = shaper
        self.variables = variables
        self.errors = errors
        self.cache = cache
        self.types = shaper.type_cache
        self.extra: dict[str, Any] | None = None
        self._exact: set[tuple[Any, ...]] | None = None  # paths of errors so far
        self._covered: set[tuple[Any, ...]] = set()  # ... and every prefix of them

    def entries(self, sels: tuple[OpSelection, ...], t: Any) -> list[Entry]:
        key = ("entries", id(sels), t.name)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        fields: dict[str, list[OpField]] = {}
        self.shaper._collect(sels, t.name, self.variables, fields)
        out: list[Entry] = []
        tfields = t.fields
        for rkey, fs in fields.items():
            f0 = fs[0]
            if f0.name == "__typename":
                out.append((rkey, _TYPENAME, None, None, f0.name))
                continue
            if self.extra is not None and rkey in self.extra:
                out.append((rkey, _EXTRA, None, None, f0.name))
                continue
            fdef = tfields.get(f0.name)
            if fdef is None:
                continue
            vt = _compile_type(fdef.type, self.types)
            if any(f.denied for f in fs):
                out.append((rkey, _DENIED, vt, None, f0.name))
                continue
            sub = f0.selections if len(fs) == 1 else self.merged(fs)
            code = _GENERAL if vt.kind != SCALAR else _SCALAR_NN if vt.nonnull else _SCALAR
            out.append((rkey, code, vt, sub, f0.name))
        if self.extra is None and not _conditional(sels):
            self.cache[key] = out
        return out

    def complete_object(
        self,
        sels: tuple[OpSelection, ...],
        t: Any,
        obj: dict[str, Any],
        path: Any,
        typename: str | None = None,
    ) -> Any:
        out: dict[str, Any] = {}
        for key, code, vt, sub, fname in self.entries(sels, t):
            if code == _SCALAR:
                v = obj.get(key, _MISSING)
                if v is _MISSING:
                    self.null_error((path, key), t.name, fname, missing=True)
                    v = None
                out[key] = v
            elif code == _SCALAR_NN:
                v = obj.get(key)
                if v is None:
                    self.null_error((path, key), t.name, fname, missing=key not in obj)
                    return _PROPAGATE
                out[key] = v
            elif code == _TYPENAME:
                if typename is None and not isinstance(t, GraphQLObjectType):
                    self.error(
                        path, f"Could not determine the object type of a {t.name}.", UNRESOLVED
                    )
                    return None
                out[key] = typename or t.name
            elif code == _EXTRA:
                out[key] = self.extra[key]  # type: ignore[index]
            elif code == _DENIED:
                if vt.nonnull:  # type: ignore[union-attr]
                    return _PROPAGATE
                out[key] = None
            else:
                v = obj.get(key, _MISSING)
                if v is _MISSING:
                    self.null_error((path, key), t.name, fname, missing=True)
                    v = None
                r = self.value(vt, sub, v, path, key, t.name, fname)  # type: ignore[arg-type]
                if r is _PROPAGATE:
                    return _PROPAGATE
                out[key] = r
        return out

    def value(
        self,
        vt: _VT,
        sub: tuple[OpSelection, ...] | None,
        v: Any,
        path: Any,
        key: str | int,
        parent: str,
        fname: str,
    ) -> Any:
        if v is None:
            if vt.nonnull:
                self.null_error((path, key), parent, fname)
                return _PROPAGATE
            return None
        kind = vt.kind
        if kind == SCALAR:
            return v
        if kind == LIST:
            if not isinstance(v, list):
                self.error((path, key), f"Expected a list for {parent}.{fname}.")
                return _PROPAGATE if vt.nonnull else None
            inner = vt.inner
            assert inner is not None
            if inner.kind == SCALAR and not inner.nonnull:
                return v
            p = (path, key)
            out = []
            for i, x in enumerate(v):
                r = self.value(inner, sub, x, p, i, parent, fname)
                if r is _PROPAGATE:
                    return _PROPAGATE if vt.nonnull else None
                out.append(r)
            return out
        if kind == OBJECT:
            r = (
                self.complete_object(sub or (), vt.type, v, (path, key))
                if isinstance(v, dict)
                else None
            )
        elif kind == ABSTRACT:
            r = self.abstract(vt, sub or (), v, (path, key))
        else:  # ENUM
            if isinstance(v, str) and v in vt.values:
                return v
            self.error((path, key), f'Enum "{vt.type.name}" cannot represent value: {v!r}')
            r = None
        if r is _PROPAGATE or r is None:
            if vt.nonnull:
                if r is None and kind != ENUM:
                    self.null_error((path, key), parent, fname)
                return _PROPAGATE
            return None
        return r

    def abstract(self, vt: _VT, sels: tuple[OpSelection, ...], v: Any, path: Any) -> Any:
        if not isinstance(v, dict):
            self.error(path, f"Expected an object of type {vt.type.name}.", INVALID_VALUE)
            return None
        tn = v.get("__typename")
        rt = self.shaper.schema.get_type(tn) if isinstance(tn, str) else None
        if isinstance(rt, GraphQLObjectType) and self.shaper.schema.is_sub_type(vt.type, rt):
            return self.complete_object(sels, rt, v, path)
        if rt is None and isinstance(tn, str) and self.shaper.hidden_object(tn):
            return None  # a type the API schema does not have (@inaccessible)
        if rt is vt.type and isinstance(rt, GraphQLInterfaceType):
            # An @interfaceObject answered and no subgraph told the concrete type: the
            # interface's own fields only (asking for __typename is an error below).
            return self.complete_object(sels, rt, v, path)
        # No object type to complete it as (no __typename, an interface's name from an
        # @interfaceObject subgraph, a type that is not a member): null, with an error.
        self.error(
            path,
            f"Could not determine the object type of a {vt.type.name}"
            + (f" (the subgraph said {tn!r})." if isinstance(tn, str) else "."),
            INVALID_VALUE,
        )
        return None

    def merged(self, fs: list[OpField]) -> tuple[OpSelection, ...]:
        """The selections of several fields with one response key, kept in the operation's
        cache so that the tuple (and its id, a cache key) lives as long as the operation."""
        key = ("merged", *(id(f) for f in fs))
        hit = self.cache.get(key)
        if hit is None:
            hit = tuple(s for f in fs for s in (f.selections or ()))
            self.cache[key] = hit
        return hit

    def null_error(self, chain: Any, parent: str, fname: str, *, missing: bool = False) -> None:
        """An error for a null in a non-null position (or, `missing`, a value the router could
        not fetch), unless an error at this path, above it or below it (e.g. the subgraph's
        own) already explains it."""
        path = _path_list(chain)
        if self._exact is None:
            self._exact = set()
            for e in self.errors:
                p = e.get("path")
                if isinstance(p, list):
                    self._remember(p)
        t = tuple(path)
        if t in self._covered or any(t[:i] in self._exact for i in range(len(t))):
            return
        if missing:
            error = {
                "message": f"Could not resolve {parent}.{fname}: the data it depends on "
                "could not be fetched.",
                "path": path,
                "extensions": {"code": UNRESOLVED},
            }
        else:
            error = {
                "message": f"Cannot return null for non-nullable field {parent}.{fname}.",
                "path": path,
                "extensions": {"code": INVALID_VALUE},
            }
        self.errors.append(error)
        self._remember(path)

    def _remember(self, path: list[Any]) -> None:
        assert self._exact is not None
        t = tuple(path)
        self._exact.add(t)
        for i in range(len(t) + 1):
            self._covered.add(t[:i])

    def error(self, chain: Any, message: str, code: str = INVALID_VALUE) -> None:
        path = _path_list(chain)
        self.errors.append({"message": message, "path": path, "extensions": {"code": code}})
        if self._exact is not None:
            self._remember(path)


def _path_list(chain: Any) -> list[str | int]:
    out: list[str | int] = []
    while chain is not None:
        chain, key = chain
        out.append(key)
    out.reverse()
    return out
