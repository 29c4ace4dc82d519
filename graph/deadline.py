"""``asyncio.timeout`` for the router's per-request awaits (a subgraph fetch, the rate-limit
check), at about half its cost: no context-manager object and coroutines around the await,
one timer handle, a plain (not async) ``with``. The semantics are asyncio.Timeout's
(tests/graph/test_deadline.py compares both over generated schedules): when the time is up
the current task is cancelled; the ``CancelledError`` that this caused becomes
``TimeoutError``, one that someone else asked for (too) stays a cancellation; the task's
cancel request is withdrawn either way.

    with Deadline(seconds):
        return await work()
"""

from __future__ import annotations

import asyncio


class Deadline:
    __slots__ = ("_cancelling", "_expired", "_handle", "_task")

    def __init__(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None, "a Deadline needs a running task"
        loop = task.get_loop()
        self._task = task
        self._expired = False
        self._cancelling = task.cancelling()
        when = loop.time() + seconds
        # as asyncio.Timeout.reschedule: a deadline already past expires on the next turn
        if when <= loop.time():
            self._handle: asyncio.Handle = loop.call_soon(self._expire)
        else:
            self._handle = loop.call_at(when, self._expire)

    def __enter__(self) -> Deadline:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if isinstance(exc, asyncio.CancelledError) and self.expired_by(exc):
                raise TimeoutError from exc
        finally:
            self.close()

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def expired_by(self, exc: asyncio.CancelledError) -> bool:
        """Whether `exc` is this deadline's (``__exit__`` raises TimeoutError) rather than
        another cancellation (it propagates)."""
        if not self._expired:
            return False
        self._expired = False
        return self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        """The timer is not needed any more (and a cancel request it made that no await has
        seen yet is withdrawn); ``__exit__`` calls it."""
        self._handle.cancel()
        if self._expired:
            self._expired = False
            self._task.uncancel()
