"""graph/deadline.py's Deadline against asyncio.timeout (the oracle) over generated schedules:
when the deadline falls, how long the work takes, whether it swallows its cancellation,
whether someone else cancels the task too (before, during), whether the task entered with a
cancel request already pending. Same outcome (result, TimeoutError, CancelledError, the
work's own error), same ``task.cancelling()`` after, same fate of the task's next await.

Virtual time (an event loop whose clock jumps to the next timer instead of sleeping), so the
schedules are exact and the test takes no real time."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from graph.deadline import Deadline


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        loop = self

        class _Selector(selectors.DefaultSelector):
            def select(self, timeout: float | None = None) -> Any:
                if timeout is not None and timeout > 0:
                    loop.now += timeout  # nothing else can happen meanwhile: jump
                return super().select(0)

        super().__init__(_Selector())

    def time(self) -> float:
        return self.now


async def _stdlib(seconds: float, work: Callable[[], Awaitable[str]]) -> str:
    async with asyncio.timeout(seconds):
        return await work()


async def _deadline(seconds: float, work: Callable[[], Awaitable[str]]) -> str:
    with Deadline(seconds):
        return await work()


def _run(
    guard: Callable[[float, Callable[[], Awaitable[str]]], Awaitable[str]],
    timeout: float,
    steps: list[float],
    swallow: str,
    cancel_at: float | None,
    precancel: bool,
) -> tuple[str, int, str]:
    loop = _VirtualLoop()

    async def work() -> str:
        for step in steps:
            try:
                await asyncio.sleep(step)
            except asyncio.CancelledError:
                if swallow == "return":
                    return "swallowed"
                if swallow == "raise":
                    raise ValueError("the work's own error") from None
                if swallow == "continue":
                    continue
                raise
        return "done"

    async def main() -> tuple[str, int, str]:
        task = asyncio.current_task()
        assert task is not None
        if precancel:  # a cancel request swallowed earlier, never withdrawn
            task.cancel()
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                pass
        try:
            outcome = await guard(timeout, work)
        except TimeoutError:
            outcome = "timeout"
        except asyncio.CancelledError:
            outcome = "cancelled"
        except ValueError:
            outcome = "error"
        cancelling = task.cancelling()
        try:  # is a cancel request still pending for the task's next await?
            await asyncio.sleep(0.01)
            after = "ok"
        except asyncio.CancelledError:
            after = "cancelled"
        return outcome, cancelling, after

    async def scenario() -> tuple[str, int, str]:
        runner = asyncio.ensure_future(main())
        if cancel_at is not None:
            loop.call_at(cancel_at, runner.cancel)
        return await asyncio.shield(runner)

    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


@settings(max_examples=400, deadline=None)
@given(
    timeout=st.sampled_from([0.0, 0.5, 1.5, 2.5, 100.0]),
    steps=st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=0, max_size=3),
    swallow=st.sampled_from(["no", "return", "raise", "continue"]),
    cancel_at=st.sampled_from([None, 0.0, 0.7, 1.5, 1.7, 2.7]),
    precancel=st.booleans(),
)
def test_a_deadline_behaves_as_asyncio_timeout(
    timeout: float, steps: list[float], swallow: str, cancel_at: float | None, precancel: bool
) -> None:
    want = _run(_stdlib, timeout, steps, swallow, cancel_at, precancel)
    got = _run(_deadline, timeout, steps, swallow, cancel_at, precancel)
    assert got == want


def test_the_schedules_reach_every_outcome() -> None:
    """Not vacuous: the generated schedules above end each way."""
    seen = {
        _run(_stdlib, 0.5, [1.0], "no", None, False)[0],
        _run(_stdlib, 1.5, [1.0], "no", None, False)[0],
        _run(_stdlib, 1.5, [1.0, 1.0], "no", 0.7, False)[0],
        _run(_stdlib, 0.5, [1.0], "raise", None, False)[0],
        _run(_stdlib, 0.5, [1.0], "return", None, False)[0],
    }
    assert seen == {"timeout", "done", "cancelled", "error", "swallowed"}
    # a timeout and another cancellation together: the other one wins
    assert _run(_stdlib, 0.5, [1.0], "no", 0.5, False)[0] == "cancelled"
    assert _run(_deadline, 0.5, [1.0], "no", 0.5, False)[0] == "cancelled"
