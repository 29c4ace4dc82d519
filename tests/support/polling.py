"""Waiting for a condition in a test: the suite's one polling helper.

Tests wait for what happens elsewhere (a worker's job, a NOTIFY, a fan-out, an event over a
socket) by asking again until it is so, with a deadline far longer than it takes on a quiet
machine: the suite runs beside other work on 2 shared cores, and a deadline is a bound on
a hang, not a timing assertion. Where a test's point is that something happens before
something else (a wake-up before the idle poll), it passes its own `timeout`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

DEADLINE = 60.0  # seconds (the default timeout)


async def eventually(
    check: Callable[[], Awaitable[Any] | Any], timeout: float = DEADLINE, interval: float = 0.1
) -> Any:
    """Call `check()` (a function or a coroutine function) until it returns something
    truthy, and return that; fail the test after `timeout` seconds, with the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
        await asyncio.sleep(interval)
