"""Incremental delivery: `@defer` and `@stream`.

The plan has one node per part of the response (graph/planning/build.py): the initial
payload's fetches, and each deferral's. An execution runs the initial payload's fetches (with
those of every deferral that is not active: `@defer(if: false)`, or a client that cannot take
parts), shapes the initial payload, and sends it; every deferred fragment and streamed list the
shaper met on the way is *pending*. Each pending deferral then runs its own fetches (all of
them start at once, over the same merged data) and is delivered as soon as they are done,
which makes the deferrals nested in it pending in turn. A part never waits for a sibling.

Null propagation stays inside a part (the incremental delivery RFC): a null in a non-null
position of a deferred fragment nulls the fragment's data, never data an earlier part
delivered; such a part is delivered with `data: null` (deferSpec=20220824) or completed with
its errors (incrementalSpec=v0.2). A pending fragment under an object that an earlier part's
null propagation removed is never delivered.

One list streamed by two `@stream`s at the same place (the same field selected outside a
deferred fragment and in it, or in two) is streamed once: the later stream *follows* the
first, and its items are delivered as data at each item (after the first stream's items),
never appended again.

Two wire formats, chosen by the transport:

- ``DEFER_SPEC_20220824`` (Apollo Router, Apollo Client's ``Defer20220824Handler``): the
  first payload ``{data, errors?, hasNext}``; then ``{incremental: [{data, path, label?,
  errors?} | {items, path, label?, errors?}], hasNext}``.
- ``INCREMENTAL_V02`` (graphql-js 17, GraphQL over HTTP's incremental delivery, Hive Router's
  ``incrementalSpec=v0.2``): ``{data, errors?, pending: [{id, path, label?}], hasNext}``;
  then ``{pending?, incremental?: [{id, data | items, errors?}], completed: [{id,
  errors?}], hasNext}``; data already delivered by an earlier part is not sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graph.execution.executor import HeadersFor, PartRun
from graph.execution.shaping import Found, client_paths
from graph.planning.operation import STREAM, Deferral, NormalizedOperation
from graph.planning.plan import DeferredNode, PlanNode, QueryPlan

if TYPE_CHECKING:
    from graph.execution.gateway import Gateway, PreparedOperation

DEFER_SPEC_20220824 = "20220824"
INCREMENTAL_V02 = "v0.2"
FORMATS = (DEFER_SPEC_20220824, INCREMENTAL_V02)

_MISSING = object()
_SAME = object()


def active_deferrals(op: NormalizedOperation, variables: Mapping[str, Any]) -> frozenset[int]:
    """The deferrals of `op` delivered as parts of their own with these variables (those
    whose `if:` is not false)."""
    return frozenset(
        d.id
        for d in op.deferrals
        if d.condition is None or variables.get(d.condition, True) is not False
    )


def stream_slices(op: NormalizedOperation, variables: Mapping[str, Any]) -> dict[str, int]:
    """Each @stream's initial count (by id, as text: the planner's `@<id` / `@>id`)."""
    out: dict[str, int] = {}
    for d in op.deferrals:
        if d.kind != STREAM:
            continue
        count = d.initial_count
        if isinstance(count, str):
            count = variables.get(count, 0)
        out[str(d.id)] = count if isinstance(count, int) and count > 0 else 0
    return out


class _Phases:
    """Which fetches run with which part. A part is the stack of active deferrals it is
    nested in (() is the initial payload); the fetches planned for a stack of deferrals run
    with the part of its active ones (one that is not active is delivered with the part it
    is nested in), after the fetches of the stacks it extends."""

    def __init__(self, plan: QueryPlan, active: frozenset[int]) -> None:
        self.plan = plan
        self.active = active
        self.by_part: dict[tuple[int, ...], list[DeferredNode]] = {}
        for d in plan.deferred:
            part = tuple(i for i in d.stack if i in active)
            self.by_part.setdefault(part, []).append(d)

    async def run(self, part: tuple[int, ...], run: PartRun) -> None:
        """The fetches of `part`: the plan's own (the initial payload), then level by level
        (shorter stacks first) the deferred nodes whose active deferrals are `part`."""
        if not part and self.plan.node is not None:
            await run.node(self.plan.node)
        levels: dict[int, list[PlanNode]] = {}
        for d in self.by_part.get(part, ()):
            if d.node is not None:
                levels.setdefault(len(d.stack), []).append(d.node)
        for _, nodes in sorted(levels.items()):
            if len(nodes) == 1:
                await run.node(nodes[0])
            else:
                await asyncio.gather(*(run.node(n) for n in nodes))


async def run_whole(
    gateway: Gateway,
    plan: QueryPlan,
    variables: dict[str, Any],
    headers_for: HeadersFor | None,
    normalized: NormalizedOperation,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every fetch of a plan with deferrals, for one whole response (no part is deferred)."""
    data: dict[str, Any] = {}
    run = gateway.executor.part(variables, headers_for, data, stream_slices(normalized, variables))
    await _Phases(plan, frozenset()).run((), run)
    return run.data, run.errors


@dataclass
class _Pending:
    """One deferred fragment (at one path) or streamed list, announced and not yet sent;
    `part` is the stack of active deferrals it is delivered as (its own id last)."""

    id: str
    found: Found
    path: list[str | int]
    part: tuple[int, ...]
    # A stream of a list another stream (this id) already streams: the same list selected
    # in two parts. Its items are merged into that stream's items, after them.
    follows: str | None = None

    @property
    def deferral(self) -> Deferral:
        return self.found.deferral


@dataclass
class _Done:
    pending: _Pending
    value: Any  # the fragment's data / the remaining items; None: the part failed
    errors: list[dict[str, Any]]
    more: list[_Pending] = field(default_factory=list)  # deferrals found in it


class IncrementalExecution:
    """One operation with active deferrals, delivered in parts (an async iterator of
    payloads in `fmt`). Close it (``aclose``) when the client goes away: fetches still
    running for pending parts are cancelled."""

    def __init__(
        self,
        gateway: Gateway,
        prepared: PreparedOperation,
        plan: QueryPlan,
        variables: dict[str, Any],
        headers_for: HeadersFor | None,
        fmt: str,
        active: frozenset[int],
    ) -> None:
        self.gateway = gateway
        self.prepared = prepared
        self.plan = plan
        self.variables = variables
        self.headers_for = headers_for
        self.fmt = fmt
        self.active = active
        self.phases = _Phases(plan, active)
        self.data: dict[str, Any] = {}
        self.slices = stream_slices(prepared.normalized, variables)
        self._ids = 0
        self._tasks: set[asyncio.Task[list[_Done]]] = set()
        self._outstanding: dict[str, _Pending] = {}  # announced, not delivered yet
        self._held: list[_Done] = []  # done, waiting for the stream they follow
        self._streams: dict[tuple[str | int, ...], str] = {}  # list path -> its stream's id
        self._delivered: Any = None  # what the client has so far (v0.2 sends no data twice)

    def _run(self) -> PartRun:
        return self.gateway.executor.part(self.variables, self.headers_for, self.data, self.slices)

    def _pending(
        self,
        found: list[Found],
        part: tuple[int, ...],
        base: list[str | int],
        value: Any,
        start: int = 0,
    ) -> list[_Pending]:
        """The deferrals found while shaping `part` (at `base`, with data `value`; the items
        of a stream from `start`) that are really in it: once each per path, and not under
        a null."""
        out: list[_Pending] = []
        seen: set[tuple[Any, ...]] = set()
        for f in found:
            path = f.path
            key = (f.deferral.id, *path)
            rel = path[len(base) :]
            if start and rel and isinstance(rel[0], int):
                rel = [rel[0] - start, *rel[1:]]
            if key in seen or not _present(value, rel, f.stream):
                continue
            seen.add(key)
            pending = _Pending(str(self._ids), f, path, (*part, f.deferral.id))
            if f.stream and path and isinstance(path[-1], str):
                pending.follows = self._streams.setdefault(tuple(path), pending.id)
                if pending.follows == pending.id:
                    pending.follows = None
            out.append(pending)
            self._ids += 1
        return out

    async def payloads(self) -> AsyncGenerator[dict[str, Any], None]:
        try:
            async for payload in self._payloads():
                yield payload
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _payloads(self) -> AsyncGenerator[dict[str, Any], None]:
        run = self._run()
        await self.phases.run((), run)
        found: list[Found] = []
        initial = self.gateway._shape(
            self.prepared, self.data, run.errors, self.variables, self.active, found
        )
        data = initial.get("data")
        pending = self._pending(found, (), [], data)
        self._delivered = data
        self._start(pending)
        yield self._first(initial, pending)
        while self._tasks:
            finished, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            done: list[_Done] = []
            for task in finished:
                self._tasks.discard(task)
                done.extend(task.result())
            results = self._ready(done)
            if not results:
                continue
            for r in results:
                self._outstanding.pop(r.pending.id, None)
            # Together: the same nested deferral found in several parts delivered now is
            # one part (its fetches run once, for every place, and its errors go once).
            self._start([p for r in results for p in r.more])
            yield self._subsequent(results, bool(self._tasks or self._held))

    def _ready(self, done: list[_Done]) -> list[_Done]:
        """The parts to deliver now, in order: `done` and those held before, except a stream
        that follows a stream not delivered yet (the client must have the items first)."""
        pool = [*self._held, *done]
        waiting = set(self._outstanding)
        ready: list[_Done] = []
        moved = True
        while moved:
            moved = False
            for r in list(pool):
                if r.pending.follows is None or r.pending.follows not in waiting:
                    ready.append(r)
                    pool.remove(r)
                    waiting.discard(r.pending.id)
                    moved = True
        self._held = pool
        return ready

    def _start(self, pending: list[_Pending]) -> None:
        by_part: dict[tuple[int, ...], list[_Pending]] = {}
        for p in pending:
            by_part.setdefault(p.part, []).append(p)
            self._outstanding[p.id] = p
        for part, items in by_part.items():
            self._tasks.add(asyncio.ensure_future(self._part(part, items)))

    def give_up(self, error: dict[str, Any]) -> dict[str, Any]:
        """The last payload when the response cannot wait any longer (the router's timeout):
        every part still pending fails with `error`; their fetches are cancelled."""
        for task in self._tasks:
            task.cancel()
        results = [_Done(p, None, [error]) for p in self._outstanding.values()]
        self._outstanding.clear()
        self._held.clear()
        return self._subsequent(results, False)

    async def _part(self, part: tuple[int, ...], pending: list[_Pending]) -> list[_Done]:
        """Run one part's fetches, then shape each place it is pending at."""
        run = self._run()
        await self.phases.run(part, run)
        shaper = self.gateway.shaper
        out: list[_Done] = []
        rest = list(run.errors)
        if self.prepared.normalized.client_keys:
            client_paths(rest, self.prepared.normalized.client_keys)
        for i, p in enumerate(pending):
            mine = [e for e in rest if _under(e, p.path)]
            if i == len(pending) - 1:  # errors with no place of their own go with the last
                mine = [e for e in rest if e not in mine] + mine
            rest = [e for e in rest if e not in mine]
            found: list[Found] = []
            value = shaper.shape_found(
                p.found,
                self.variables,
                mine,
                self.prepared.shape_cache,
                self.active,
                found,
            )
            more = (
                self._pending(found, part, p.path, value, p.found.start)
                if value is not None
                else []
            )
            out.append(_Done(p, value, mine, more))
        return out

    # ------------------------------------------------------------------ the formats
    def _first(self, initial: dict[str, Any], pending: list[_Pending]) -> dict[str, Any]:
        out = dict(initial)
        if self.fmt == INCREMENTAL_V02 and pending:
            out["pending"] = [self._announce(p) for p in pending]
        out["hasNext"] = bool(pending)
        return out

    def _announce(self, p: _Pending) -> dict[str, Any]:
        # A following stream is delivered as data at its items (subPath), below the object
        # that has the list.
        entry: dict[str, Any] = {"id": p.id, "path": p.path[:-1] if p.follows else p.path}
        if p.deferral.label is not None:
            entry["label"] = p.deferral.label
        return entry

    def _subsequent(self, results: list[_Done], has_next: bool) -> dict[str, Any]:
        if self.fmt == DEFER_SPEC_20220824:
            legacy = [e for r in results for e in self._legacy(r)]
            return {"incremental": legacy, "hasNext": has_next}
        out: dict[str, Any] = {}
        announced = [self._announce(p) for r in results for p in r.more]
        if announced:
            out["pending"] = announced
        incremental: list[dict[str, Any]] = []
        completed: list[dict[str, Any]] = []
        for r in results:
            p = r.pending
            if r.value is None:
                completed.append({"id": p.id, "errors": r.errors})
                continue
            entry: dict[str, Any] = {"id": p.id}
            if p.follows:
                merged = self._follow(p, r.value)
                for i, new in merged:
                    incremental.append({"id": p.id, "subPath": [p.path[-1], i], "data": new})
                if r.errors:
                    if merged:
                        incremental[-1]["errors"] = r.errors
                    else:
                        incremental.append({"id": p.id, "data": {}, "errors": r.errors})
                completed.append({"id": p.id})
                continue
            if p.found.stream:
                entry["items"] = r.value
                self._delivered = _extend(self._delivered, p.path, r.value)
            else:
                new = _subtract(r.value, _at(self._delivered, p.path))
                self._delivered = _graft(self._delivered, p.path, r.value)
                if new is _SAME and not r.errors:
                    completed.append({"id": p.id})
                    continue
                entry["data"] = {} if new is _SAME else new
            if r.errors:
                entry["errors"] = r.errors
            incremental.append(entry)
            completed.append({"id": p.id})
        if incremental:
            out["incremental"] = incremental
        out["completed"] = completed
        out["hasNext"] = has_next
        return out

    def _follow(self, p: _Pending, items: Any) -> list[tuple[int, Any]]:
        """A following stream's items, as (index, what the client does not have yet) for
        each item the client has (the stream it follows delivered it)."""
        out: list[tuple[int, Any]] = []
        if not isinstance(items, list):
            return out
        for k, item in enumerate(items):
            at = [*p.path, p.found.start + k]
            old = _at(self._delivered, at)
            if not isinstance(old, dict) or not isinstance(item, dict):
                continue
            new = _subtract(item, old)
            self._delivered = _graft(self._delivered, at, item)
            if new is not _SAME:
                out.append((p.found.start + k, new))
        return out

    def _legacy(self, r: _Done) -> list[dict[str, Any]]:
        p = r.pending
        entries: list[dict[str, Any]]
        if p.follows:
            entries = [{"data": new, "path": [*p.path, i]} for i, new in self._follow(p, r.value)]
            if not entries and r.errors:
                entries = [{"data": {}, "path": p.path[:-1]}]
        elif p.found.stream:
            entries = [{"items": r.value, "path": [*p.path, p.found.start]}]
            self._delivered = _extend(self._delivered, p.path, r.value)
        else:
            entries = [{"data": r.value, "path": p.path}]
            if r.value is not None:
                self._delivered = _graft(self._delivered, p.path, r.value)
        for entry in entries:
            if p.deferral.label is not None:
                entry["label"] = p.deferral.label
        if r.errors and entries:
            entries[-1]["errors"] = r.errors
        return entries


def _under(error: dict[str, Any], path: list[str | int]) -> bool:
    p = error.get("path")
    return isinstance(p, list) and p[: len(path)] == path


def _present(value: Any, rel: list[str | int], stream: bool) -> bool:
    """Is there an object (a list, for a stream) at `rel` in a part's shaped data?"""
    v = _at(value, rel)
    return isinstance(v, list) if stream else isinstance(v, dict)


def _at(value: Any, path: list[str | int]) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, list) or key >= len(value):
                return _MISSING
            value = value[key]
        else:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
    return value


def _subtract(new: Any, old: Any) -> Any:
    """What of `new` the client does not have yet (`_SAME`: nothing)."""
    if old is _MISSING:
        return new
    if isinstance(new, dict) and isinstance(old, dict):
        out = {}
        for k, v in new.items():
            d = _subtract(v, old.get(k, _MISSING))
            if d is not _SAME:
                out[k] = d
        return out if out else _SAME
    if isinstance(new, list) and isinstance(old, list) and len(new) <= len(old):
        if all(_subtract(a, b) is _SAME for a, b in zip(new, old, strict=False)):
            return _SAME  # (the client may have more items: streamed ones)
        return new  # a list is sent whole (merging it again changes nothing)
    return _SAME if new == old else new


def _extend(tree: Any, path: list[str | int], items: Any) -> Any:
    """`tree` with streamed `items` appended to the list at `path` (copying what changes)."""
    current = _at(tree, path)
    if not isinstance(current, list) or not isinstance(items, list) or not path:
        return tree
    *parent, key = path
    return _graft(tree, parent, {key: [*current, *items]}) if isinstance(key, str) else tree


def _graft(tree: Any, path: list[str | int], value: Any) -> Any:
    """`tree` with `value` merged in at `path`, copying what changes (parts already sent
    are never modified)."""
    if not path:
        return _merge(tree, value)
    key = path[0]
    if isinstance(key, int) and isinstance(tree, list) and key < len(tree):
        out = list(tree)
        out[key] = _graft(tree[key], path[1:], value)
        return out
    if isinstance(key, str) and isinstance(tree, dict):
        out_d = dict(tree)
        out_d[key] = _graft(tree.get(key), path[1:], value)
        return out_d
    return tree


def _merge(old: Any, new: Any) -> Any:
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for k, v in new.items():
            out[k] = _merge(old.get(k), v) if k in old else v
        return out
    if isinstance(old, list) and isinstance(new, list):
        # Index by index, the longer list's other items kept (as Apollo Client's DeepMerger
        # does): a part's data may have a streamed list's first items only.
        merged = [_merge(a, b) for a, b in zip(old, new, strict=False)]
        return merged + (old[len(new) :] if len(old) > len(new) else new[len(old) :])
    return new
