"""Identical work in flight done once: the first caller (the leader) does it in its own task,
callers that come while it runs (followers) wait for its outcome.

Used for identical subgraph requests (graph/execution/http.py) and identical client
requests (graph/execution/gateway.py). The leader runs the work inline, not in a task of its
own: a task, `asyncio.shield` and a done callback per request cost more than a subgraph
round trip's own Python (bench/router_mix.py). What a task gave for free is kept: followers
get the leader's result or exception; a follower that is cancelled does not cancel the
work; and when the leader is cancelled (its client went away, a timeout), each follower does
the work itself, so no caller gets another caller's cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class _LeaderGone(Exception):
    """The leader stopped before the work was done: followers do it themselves."""


async def shared(
    inflight: dict[Hashable, asyncio.Future[T]],
    key: Hashable,
    work: Callable[[], Awaitable[T]],
    own: Callable[[], Awaitable[T]] | None = None,
) -> tuple[T, bool]:
    """`work`'s outcome, done once for every caller with this `key` while it runs; and
    whether this caller was a follower. A follower whose leader went away calls `own` (or
    `work`) itself."""
    waiting = inflight.get(key)
    if waiting is not None:
        try:
            return await asyncio.shield(waiting), True
        except _LeaderGone:
            return await (own or work)(), True
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    inflight[key] = future
    try:
        result = await work()
    except BaseException as exc:
        if inflight.get(key) is future:
            del inflight[key]
        future.set_exception(exc if isinstance(exc, Exception) else _LeaderGone())
        future.exception()  # retrieved: there may be no follower
        raise
    if inflight.get(key) is future:
        del inflight[key]
    future.set_result(result)
    return result, False
