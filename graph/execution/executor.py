"""Runs a QueryPlan: fetches (in parallel where the plan says), batches entity
representations per fetch, merges results into one tree, and records errors with paths."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson

from graph.execution.errors import SubgraphFetchError
from graph.execution.http import SubgraphTransport
from graph.execution.shaping import passes
from graph.planning.plan import (
    EntityTarget,
    FetchNode,
    FlattenNode,
    ParallelNode,
    PlanNode,
    QueryPlan,
    ReqField,
    ReqSelection,
    SequenceNode,
)
from graph.plugins.subgraph_errors import format_subgraph_error

logger = logging.getLogger("graph.execution")

HeadersFor = Callable[[str], Mapping[str, str]]
_MISSING = object()


class FetchObserver(Protocol):
    """Sees every subgraph request of every plan (the router's telemetry)."""

    async def fetch(
        self,
        subgraph: str,
        client: SubgraphTransport,
        body: dict[str, Any],
        headers: Mapping[str, str] | None,
        idempotent: bool,
    ) -> dict[str, Any]: ...


class Executor:
    def __init__(
        self,
        clients: Mapping[str, SubgraphTransport],
        include_errors: Mapping[str, bool],
        abstract_types: frozenset[str],
        possible_types: Mapping[str, frozenset[str]],
    ) -> None:
        self.clients = clients
        self.include_errors = include_errors
        self.abstract_types = abstract_types
        self.possible_types = possible_types
        self.observer: FetchObserver | None = None  # set by the router's telemetry

    async def run(
        self,
        plan: QueryPlan,
        variables: dict[str, Any],
        headers_for: HeadersFor | None,
        hints: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run a plan: (data, errors). ``hints`` receives what subgraphs asked the client to
        be told in their response ``extensions`` (``retryAfter``: the largest one)."""
        run = _Execution(self, variables, headers_for)
        if plan.node is not None:
            await run.node(plan.node)
        if hints is not None and run.retry_after is not None:
            hints["retryAfter"] = run.retry_after
        return run.data, run.errors

    async def run_node(
        self,
        node: PlanNode,
        variables: dict[str, Any],
        headers_for: HeadersFor | None,
        data: dict[str, Any],
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run part of a plan over data already fetched (a subscription event)."""
        run = _Execution(self, variables, headers_for)
        run.data = data
        await run.node(node)
        return run.data, run.errors

    def part(
        self,
        variables: dict[str, Any],
        headers_for: HeadersFor | None,
        data: dict[str, Any],
        slices: Mapping[str, int],
    ) -> PartRun:
        """A run over shared, merged `data` with errors of its own: each part of an
        incremental response (graph/execution/incremental.py) runs its fetches with one.
        `slices` gives each @stream's initial count (by Deferral.id, as text)."""
        run = _Execution(self, variables, headers_for)
        run.data = data
        run.slices = slices
        return run


class _Execution:
    __slots__ = ("data", "errors", "ex", "headers_for", "retry_after", "slices", "variables")

    def __init__(
        self, ex: Executor, variables: dict[str, Any], headers_for: HeadersFor | None
    ) -> None:
        self.ex = ex
        self.variables = variables
        self.headers_for = headers_for
        self.data: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.slices: Mapping[str, int] = _NO_SLICES
        self.retry_after: int | None = None  # a subgraph's extensions.retryAfter (seconds)

    async def node(self, n: PlanNode) -> None:
        if isinstance(n, FetchNode):
            await self.root_fetch(n)
        elif isinstance(n, FlattenNode):
            await self.entity_fetch(n.node, n.paths)
        elif isinstance(n, SequenceNode):
            for c in n.nodes:
                await self.node(c)
        elif isinstance(n, ParallelNode):
            await asyncio.gather(*(self.node(c) for c in n.nodes))

    def _vars(self, f: FetchNode) -> dict[str, Any]:
        v = self.variables
        return {k: v[k] for k in f.variable_usages if k in v}

    async def _post(self, f: FetchNode, body: dict[str, Any]) -> dict[str, Any]:
        client = self.ex.clients[f.subgraph]
        headers = self.headers_for(f.subgraph) if self.headers_for is not None else None
        observer = self.ex.observer
        idempotent = f.operation_kind != "mutation"
        if observer is not None:
            resp = await observer.fetch(f.subgraph, client, body, headers, idempotent)
        else:
            resp = await client.post(body, headers, idempotent=idempotent)
        extensions = resp.get("extensions")
        if extensions:
            wait = extensions.get("retryAfter") if isinstance(extensions, dict) else None
            if isinstance(wait, int) and not isinstance(wait, bool) and wait > 0:
                self.retry_after = max(wait, self.retry_after or 0)
        return resp

    # ------------------------------------------------------------------ root
    async def root_fetch(self, f: FetchNode) -> None:
        if f.conditions and not passes(f.conditions, self.variables):
            return
        body: dict[str, Any] = {"query": f.operation}
        if f.variable_usages:
            body["variables"] = self._vars(f)
        try:
            resp = await self._post(f, body)
        except SubgraphFetchError as exc:
            for key in f.root_keys:
                self._fetch_error(exc, [key])
            return
        data = resp.get("data")
        if isinstance(data, dict):
            if f.renames:
                _rename(data, f.renames, ())
            if self.data:
                deep_merge(self.data, data, self.ex.abstract_types)
            else:
                self.data.update(data)  # (the dict may be shared with other parts' runs)
        errs = resp.get("errors")
        if errs:
            for e in errs:
                self._subgraph_error(f.subgraph, e, e.get("path") if isinstance(e, dict) else None)

    # ------------------------------------------------------------------ entities
    async def entity_fetch(self, f: FetchNode, paths: tuple[tuple[str, ...], ...]) -> None:
        if f.conditions and not passes(f.conditions, self.variables):
            return
        if f.contexts:
            await self.contextual_fetch(f, paths)
            return
        objs = collect(self.data, paths[0], self.slices)
        for more in paths[1:]:
            objs.extend(collect(self.data, more, self.slices))
        if objs:
            await self.entities(f, paths, objs, None)

    async def contextual_fetch(self, f: FetchNode, paths: tuple[tuple[str, ...], ...]) -> None:
        """An entity fetch with `@fromContext` arguments: each object's values are read from
        the enclosing object that set the context; one request per distinct set of values
        (sent side by side)."""
        path = paths[0]
        objs = collect(self.data, path, self.slices)
        values: dict[int, list[Any]] = {id(o): [None] * len(f.contexts) for o in objs}
        for i, rewrite in enumerate(f.contexts):
            ancestor = rewrite.ancestor
            rest = path[len(ancestor) :]
            above = collect(self.data, ancestor, self.slices) if ancestor else [self.data]
            for anc in above:
                value = context_value(anc, rewrite.selections, self.ex.possible_types)
                for obj in collect(anc, rest, self.slices):
                    found = values.get(id(obj))
                    if found is not None:
                        found[i] = value
        by_values: dict[bytes, tuple[list[Any], list[dict[str, Any]]]] = {}
        for obj in objs:
            vals = values[id(obj)]
            key = orjson.dumps(vals, option=orjson.OPT_SORT_KEYS)
            by_values.setdefault(key, (vals, []))[1].append(obj)
        requests = [
            self.entities(
                f, paths, group, {r.variable: v for r, v in zip(f.contexts, vals, strict=True)}
            )
            for vals, group in by_values.values()
        ]
        if len(requests) == 1:
            await requests[0]
        elif requests:
            await asyncio.gather(*requests)

    async def entities(
        self,
        f: FetchNode,
        paths: tuple[tuple[str, ...], ...],
        objs: list[dict[str, Any]],
        extra: dict[str, Any] | None,
    ) -> None:
        """One `_entities` request for `objs` (with `extra` variables), merged into them."""
        targets: dict[str, EntityTarget] = {}
        for e in f.entities:
            for rt in e.runtime_types:
                targets.setdefault(rt, e)
        default = f.entities[0] if len(f.entities) == 1 else None
        reps: list[dict[str, Any]] = []
        buckets: list[list[dict[str, Any]]] = []
        index: dict[bytes, int] = {}
        possible = self.ex.possible_types
        for obj in objs:
            tn = obj.get("__typename")
            target = targets.get(tn) if tn is not None else default
            if target is None:
                continue
            rep: dict[str, Any] = {"__typename": target.type_name}
            if not _project(obj, target.requires, rep, tn or target.type_name, possible):
                continue
            k = orjson.dumps(rep, option=orjson.OPT_SORT_KEYS)
            i = index.get(k)
            if i is None:
                index[k] = len(reps)
                reps.append(rep)
                buckets.append([obj])
            else:
                buckets[i].append(obj)
        if not reps:
            return
        variables = self._vars(f)
        variables["representations"] = reps
        if extra:
            variables.update(extra)
        try:
            resp = await self._post(f, {"query": f.operation, "variables": variables})
        except SubgraphFetchError as exc:
            # One error at the place all the objects it was fetching for share.
            self._fetch_error(
                exc, _common_prefix(_paths_of(self.data, paths, buckets, self.slices))
            )
            return
        data = resp.get("data")
        ents = data.get("_entities") if isinstance(data, dict) else None
        abstract = self.ex.abstract_types
        if isinstance(ents, list) and f.renames:
            _rename(ents, f.renames, ("@",))
        if isinstance(ents, list):
            for i, item in enumerate(ents[: len(buckets)]):
                if isinstance(item, dict):
                    for obj in buckets[i]:
                        deep_merge(obj, item, abstract)
        errors = [e for e in resp.get("errors") or () if isinstance(e, dict)]
        if errors:
            # Each error goes to every object its representation stood for.
            where = _paths_of(self.data, paths, buckets, self.slices)
            for err in errors:
                ep = err.get("path")
                if (
                    isinstance(ep, list)
                    and len(ep) >= 2
                    and ep[0] == "_entities"
                    and isinstance(ep[1], int)
                    and ep[1] < len(buckets)
                ):
                    seen: set[int] = set()
                    for obj in buckets[ep[1]]:
                        if id(obj) in seen:
                            continue  # one object found at several places: each place once
                        seen.add(id(obj))
                        for at in where.get(id(obj), ()):
                            self._subgraph_error(f.subgraph, err, [*at, *ep[2:]])
                else:
                    self._subgraph_error(f.subgraph, err, _common_prefix(where))

    # ------------------------------------------------------------------ errors
    def _fetch_error(self, exc: SubgraphFetchError, path: list[Any]) -> None:
        logger.warning("subgraph fetch failed (%s): %s", exc.code, exc.message)
        self.errors.append(
            {
                "message": exc.message,
                "path": list(path),
                "extensions": {"code": exc.code, "serviceName": exc.subgraph},
            }
        )

    def _subgraph_error(self, subgraph: str, e: Any, path: list[Any] | None) -> None:
        if not isinstance(e, dict):
            return
        include = self.ex.include_errors.get(subgraph, False)
        self.errors.append(format_subgraph_error(subgraph, e, path, include))


PartRun = _Execution
_NO_SLICES: Mapping[str, int] = {}


def _slice(seg: str, items: list[Any], slices: Mapping[str, int]) -> list[Any]:
    """`@<id` / `@>id`: the items of a @stream before / from its initial count."""
    n = slices.get(seg[2:], 0)
    return items[:n] if seg[1] == "<" else items[n:]


def collect(
    data: Any, path: tuple[str, ...], slices: Mapping[str, int] = _NO_SLICES
) -> list[dict[str, Any]]:
    """The objects at `path` in the merged data (the hot path: no response paths)."""
    current: list[Any] = [data]
    for seg in path:
        if seg == "@":
            current = [x for v in current if type(v) is list for x in v if x is not None]
        elif seg[0] == "@":
            current = [
                x
                for v in current
                if type(v) is list
                for x in _slice(seg, v, slices)
                if x is not None
            ]
        elif seg.startswith("on:"):
            tn = seg[3:]
            current = [v for v in current if type(v) is dict and v.get("__typename") == tn]
        else:
            current = [x for v in current if type(v) is dict and (x := v.get(seg)) is not None]
        if not current:
            return []
    return [v for v in current if type(v) is dict]


def _paths_of(
    data: Any,
    paths: tuple[tuple[str, ...], ...],
    buckets: list[list[dict[str, Any]]],
    slices: Mapping[str, int] = _NO_SLICES,
) -> dict[int, list[list[str | int]]]:
    """id(object) -> its response paths, for the objects of an entity fetch (errors only).
    One object can be at several places: merging an entity's answer into several objects
    shares its nested objects between them."""
    wanted = {id(o) for b in buckets for o in b}
    out: dict[int, list[list[str | int]]] = {}
    for path in paths:
        for obj, p in collect_with_paths(data, path, slices):
            if id(obj) in wanted:
                found = out.setdefault(id(obj), [])
                if p not in found:
                    found.append(p)
    return out


def _common_prefix(where: dict[int, list[list[str | int]]]) -> list[str | int]:
    paths = [p for ps in where.values() for p in ps]
    if not paths:
        return []
    prefix = paths[0]
    for p in paths[1:]:
        n = 0
        while n < len(prefix) and n < len(p) and prefix[n] == p[n]:
            n += 1
        prefix = prefix[:n]
    return list(prefix)


def collect_with_paths(
    data: Any, path: tuple[str, ...], slices: Mapping[str, int] = _NO_SLICES
) -> list[tuple[dict[str, Any], list[str | int]]]:
    """The objects at `path` in the merged data, with their response paths."""
    current: list[tuple[Any, list[str | int]]] = [(data, [])]
    for seg in path:
        nxt: list[tuple[Any, list[str | int]]] = []
        if seg[0] == "@":
            for v, p in current:
                if isinstance(v, list):
                    start = 0
                    if seg != "@":
                        n = slices.get(seg[2:], 0)
                        start = n if seg[1] == ">" else 0
                        v = v[n:] if seg[1] == ">" else v[:n]
                    for i, x in enumerate(v, start=start):
                        if x is not None:
                            nxt.append((x, [*p, i]))
        elif seg.startswith("on:"):
            tn = seg[3:]
            nxt = [(v, p) for v, p in current if isinstance(v, dict) and v.get("__typename") == tn]
        else:
            for v, p in current:
                if isinstance(v, dict):
                    x = v.get(seg)
                    if x is not None:
                        nxt.append((x, [*p, seg]))
        current = nxt
        if not current:
            return []
    return [(v, p) for v, p in current if isinstance(v, dict)]


def context_value(
    obj: dict[str, Any],
    reqs: tuple[ReqSelection, ...],
    possible: Mapping[str, frozenset[str]],
) -> Any:
    """The value a `@fromContext` selection gives in the data of `obj` (the object that set
    the context): the value at the end of its path of single fields (through the type
    conditions that apply), or an object of the fields selected where there are several
    (an input object argument)."""
    tn = obj.get("__typename")
    fields: list[ReqField] = []
    for r in reqs:
        if isinstance(r, ReqField):
            fields.append(r)
        elif tn is not None and (
            r.type_condition == tn or tn in possible.get(r.type_condition, ())
        ):
            fields += [x for x in r.selections if isinstance(x, ReqField)]
    if len(fields) != 1:
        return {r.repr_key: _context_leaf(obj.get(r.data_key), r, possible) for r in fields}
    return _context_leaf(obj.get(fields[0].data_key), fields[0], possible)


def _context_leaf(v: Any, r: ReqField, possible: Mapping[str, frozenset[str]]) -> Any:
    if r.selections is None or v is None:
        return v
    if isinstance(v, list):
        return [context_value(x, r.selections, possible) if isinstance(x, dict) else x for x in v]
    return context_value(v, r.selections, possible) if isinstance(v, dict) else v


def _rename(
    data: Any, renames: tuple[tuple[tuple[str, ...], str, str], ...], prefix: tuple[str, ...]
) -> None:
    for path, alias, key in renames:
        for obj in collect(data, prefix + path):
            if alias in obj:
                obj[key] = obj.pop(alias)


def _project(
    src: dict[str, Any],
    reqs: tuple[ReqSelection, ...],
    out: dict[str, Any],
    runtime_type: str,
    possible: Mapping[str, frozenset[str]],
) -> bool:
    for r in reqs:
        if isinstance(r, ReqField):
            v = src.get(r.data_key, _MISSING)
            if v is _MISSING:
                return False
            if r.selections is not None and v is not None:
                v = _project_value(v, r.selections, possible)
                if v is _MISSING:
                    return False
            out[r.repr_key] = v
        else:
            tc = r.type_condition
            if (tc == runtime_type or runtime_type in possible.get(tc, ())) and not _project(
                src, r.selections, out, runtime_type, possible
            ):
                return False
    return True


def _project_value(
    v: Any, reqs: tuple[ReqSelection, ...], possible: Mapping[str, frozenset[str]]
) -> Any:
    if isinstance(v, list):
        items = []
        for x in v:
            y = _project_value(x, reqs, possible) if x is not None else None
            if y is _MISSING:
                return _MISSING
            items.append(y)
        return items
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        tn = v.get("__typename")
        if tn is not None:
            out["__typename"] = tn
        if not _project(v, reqs, out, tn or "", possible):
            return _MISSING
        return out
    return v


def deep_merge(dst: dict[str, Any], src: dict[str, Any], abstract: frozenset[str]) -> None:
    for k, v in src.items():
        cur = dst.get(k, _MISSING)
        if cur is _MISSING or cur is None:
            dst[k] = v
        elif isinstance(v, dict):
            if isinstance(cur, dict):
                deep_merge(cur, v, abstract)
            else:
                dst[k] = v
        elif isinstance(v, list):
            if isinstance(cur, list) and len(cur) == len(v):
                for i, (a, b) in enumerate(zip(cur, v, strict=True)):
                    if isinstance(a, dict) and isinstance(b, dict):
                        deep_merge(a, b, abstract)
                    elif isinstance(a, list) and isinstance(b, list):
                        tmp = {"_": a}
                        deep_merge(tmp, {"_": b}, abstract)
                        cur[i] = tmp["_"]
                    elif a is None or not isinstance(a, dict | list):
                        cur[i] = b
            else:
                dst[k] = v
        elif k == "__typename":
            if not (v in abstract and cur not in abstract):
                dst[k] = v
        else:
            dst[k] = v
