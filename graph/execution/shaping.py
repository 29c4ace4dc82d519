"""The last step of execution: the merged subgraph data -> the response the client asked for.

It walks the client's operation over the merged data, with the API schema: it keeps only
requested fields under their aliases and in order, answers `__typename`, applies type
conditions and `@skip`/`@include`, checks enum values, and applies GraphQL's null
propagation (a null in a non-null position nulls the nearest nullable parent, with an error).
"""

from __future__ import annotations

from collections.abc import Mapping
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

from graph.planning.operation import Condition, Deferral, OpField, OpFragment, OpSelection

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
        active: frozenset[int] = frozenset(),
        deferred: list[OpFragment] | None = None,
    ) -> None:
        for s in sels:
            if s.conditions and not passes(s.conditions, variables):
                continue
            if isinstance(s, OpField):
                rkey = s.client_key or s.response_key
                lst = out.get(rkey)
                if lst is None:
                    out[rkey] = [s]
                else:
                    lst.append(s)
            elif s.type_condition is None or self._type_applies(s.type_condition, type_name):
                if s.defer is not None and s.defer.id in active:
                    if deferred is not None:  # delivered in a later part
                        deferred.append(s)
                    continue
                self._collect(s.selections, type_name, variables, out, active, deferred)

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
        active: frozenset[int] = frozenset(),
        found: list[Found] | None = None,
    ) -> dict[str, Any] | None:
        """The response data for `sels`. `active` are the deferrals (ids) delivered in later
        parts: their fragments and the streamed items are left out here and appended to
        `found`, with where they are, for `shape_found` once their data is in."""
        run = _Shaping(self, variables, errors, cache, active, found)
        run.extra = extra_root
        root_type = self.schema.get_type(root)
        assert isinstance(root_type, GraphQLObjectType)
        result = run.complete_object(sels, root_type, data, None)
        return None if result is _PROPAGATE else result

    def shape_found(
        self,
        found: Found,
        variables: dict[str, Any],
        errors: list[dict[str, Any]],
        cache: dict[Any, Any],
        active: frozenset[int],
        more: list[Found],
    ) -> Any:
        """The data of one deferred fragment (an object) or the remaining items of a stream
        (a list) found by `shape`; None when a null in a non-null position reached its top
        (the part fails, with its errors). Deferrals nested in it are appended to `more`."""
        run = _Shaping(self, variables, errors, cache, active, more)
        if found.stream:
            assert found.item is not None
            items = []
            for i, x in enumerate(found.value[found.start :], start=found.start):
                r = run.value(found.item, found.sels, x, found.chain, i, found.parent, found.fname)
                if r is _PROPAGATE:
                    return None
                items.append(r)
            return items
        t = found.type
        if not isinstance(t, GraphQLObjectType):
            # Met below an @interfaceObject before its concrete type was known: the part's
            # own fetches may have told it since (its `__typename`, as for a whole answer).
            t = self.runtime_type(t, found.value)
        result = run.complete_object(found.sels, t, found.value, found.chain)
        return None if result is _PROPAGATE else result

    def runtime_type(self, abstract: Any, value: Any) -> Any:
        """The object type the merged `value`'s `__typename` names, if it is one of
        `abstract`'s; else `abstract` itself."""
        tn = value.get("__typename") if isinstance(value, dict) else None
        rt = self.schema.get_type(tn) if isinstance(tn, str) else None
        if isinstance(rt, GraphQLObjectType) and self.schema.is_sub_type(abstract, rt):
            return rt
        return abstract


class Found:
    """A deferred fragment, or a streamed list, where the shaper met it: what its part will
    deliver once its fetches are done."""

    __slots__ = ("chain", "deferral", "fname", "item", "parent", "sels", "start", "type", "value")

    def __init__(
        self,
        deferral: Deferral,
        chain: Any,
        value: Any,
        sels: tuple[OpSelection, ...],
        type_: Any = None,
        item: _VT | None = None,
        start: int = 0,
        parent: str = "",
        fname: str = "",
    ) -> None:
        self.deferral = deferral
        self.chain = chain  # the response path, as the shaper's linked list
        self.value = value  # the merged object (defer) or the whole list (stream)
        self.sels = sels
        self.type = type_  # the object type (defer)
        self.item = item  # the compiled item type (stream)
        self.start = start  # the first item to deliver (stream)
        self.parent = parent
        self.fname = fname

    @property
    def stream(self) -> bool:
        return self.item is not None

    @property
    def path(self) -> list[str | int]:
        return _path_list(self.chain)


def _conditional(sels: tuple[OpSelection, ...]) -> bool:
    for s in sels:
        if s.conditions or (not isinstance(s, OpField) and _conditional(s.selections)):
            return True
    return False


SCALAR, ENUM, OBJECT, ABSTRACT, LIST = range(5)
# How a field is completed: its __typename, a nullable scalar (copied), a non-null scalar
# (copied after a null check), anything else (the general path), an introspection root field,
# a field authorization removed (null, no error of its own), a @defer fragment delivered
# later, a @stream list whose later items are delivered later, a field the client aliased
# `__typename` (its value is under a private key in the merged data: OpField.client_key).
_TYPENAME, _SCALAR, _SCALAR_NN, _GENERAL, _EXTRA, _DENIED, _DEFER, _STREAM, _RENAMED = range(9)


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


Entry = tuple[str, int, Any, "tuple[OpSelection, ...] | None", str]
Path = "tuple[Any, str | int] | None"  # a linked list: (parent path, key)


class _Shaping:
    __slots__ = (
        "_covered",
        "_exact",
        "active",
        "cache",
        "errors",
        "extra",
        "found",
        "shaper",
        "types",
        "variables",
    )

    def __init__(
        self,
        shaper: Shaper,
        variables: dict[str, Any],
        errors: list[dict[str, Any]],
        cache: dict[Any, Any],
        active: frozenset[int] = frozenset(),
        found: list[Found] | None = None,
    ) -> None:
        self.shaper = shaper
        self.variables = variables
        self.errors = errors
        self.cache = cache
        self.types = shaper.type_cache
        self.extra: dict[str, Any] | None = None
        self._exact: set[tuple[Any, ...]] | None = None  # paths of errors so far
        self._covered: set[tuple[Any, ...]] = set()  # ... and every prefix of them
        self.active = active  # deferrals delivered later
        self.found = found if found is not None else []

    def entries(self, sels: tuple[OpSelection, ...], t: Any) -> list[Entry]:
        active = self.active
        key: tuple[Any, ...] = (
            ("entries", id(sels), t.name) if not active else ("entries", id(sels), t.name, active)
        )
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        fields: dict[str, list[OpField]] = {}
        deferred: list[OpFragment] | None = [] if active else None
        self.shaper._collect(sels, t.name, self.variables, fields, active, deferred)
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
            stream = f0.stream
            if stream is not None and stream.id in active and vt.kind == LIST:
                out.append((rkey, _STREAM, (vt, stream, f0.response_key), sub, f0.name))
                continue
            if f0.client_key is not None:
                out.append((rkey, _RENAMED, (vt, f0.response_key), sub, f0.name))
                continue
            out.append((rkey, code, vt, sub, f0.name))
        for frag in deferred or ():
            assert frag.defer is not None
            out.append(("", _DEFER, frag.defer, frag.selections, ""))
        if self.extra is None and not _conditional(sels):
            self.cache[key] = out
        return out

    def initial_count(self, d: Deferral) -> int:
        count = d.initial_count
        if isinstance(count, str):
            count = self.variables.get(count, 0)
        return count if isinstance(count, int) and count > 0 else 0

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
            elif code == _GENERAL:
                v = obj.get(key, _MISSING)
                if v is _MISSING:
                    self.null_error((path, key), t.name, fname, missing=True)
                    v = None
                r = self.value(vt, sub, v, path, key, t.name, fname)
                if r is _PROPAGATE:
                    return _PROPAGATE
                out[key] = r
            elif code == _EXTRA:
                out[key] = self.extra[key]  # type: ignore[index]
            elif code == _DENIED:
                if vt.nonnull:
                    return _PROPAGATE
                out[key] = None
            elif code == _DEFER:
                self.found.append(Found(vt, path, obj, sub or (), t))
            elif code == _RENAMED:
                rvt, data_key = vt
                v = obj.get(data_key, _MISSING)
                if v is _MISSING:
                    self.null_error((path, key), t.name, fname, missing=True)
                    v = None
                r = self.value(rvt, sub, v, path, key, t.name, fname)
                if r is _PROPAGATE:
                    return _PROPAGATE
                out[key] = r
            else:  # _STREAM: the first items now, the others in the stream's part
                lvt, deferral, data_key = vt
                v = obj.get(data_key, _MISSING)
                if v is _MISSING:
                    self.null_error((path, key), t.name, fname, missing=True)
                    v = None
                start = self.initial_count(deferral)
                head = v[:start] if isinstance(v, list) else v
                r = self.value(lvt, sub, head, path, key, t.name, fname)
                if r is _PROPAGATE:
                    return _PROPAGATE
                out[key] = r
                if r is not None and isinstance(v, list) and len(v) > start:
                    self.found.append(
                        Found(
                            deferral,
                            (path, key),
                            v,
                            sub or (),
                            item=lvt.inner,
                            start=start,
                            parent=t.name,
                            fname=fname,
                        )
                    )
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


def client_paths(errors: list[dict[str, Any]], client_keys: Mapping[str, str]) -> None:
    """Errors' paths as the client sees them: a private response key of a client field
    (NormalizedOperation.client_keys) becomes its client key, in place."""
    for e in errors:
        path = e.get("path")
        if isinstance(path, list) and any(seg in client_keys for seg in path):
            e["path"] = [client_keys.get(seg, seg) if isinstance(seg, str) else seg for seg in path]
