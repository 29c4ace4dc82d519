"""The router's start-up freezes its long-lived heap out of garbage collection (graph/app.py,
tune_gc): without it every full collection walked the whole heap, and under load the router
stopped for seconds (bench/RESULTS.md, "Soak, session 21"). A hot reload unfreezes (the old
pipeline's reference cycles must be collectable) and freezes the new pipeline instead."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from graph.app import create_app

SUPERGRAPH = (Path(__file__).resolve().parents[3] / "supergraph.graphql").read_text()


def tracked(obj: object) -> bool:
    """`obj` is one the collector walks (not frozen)."""
    return any(o is obj for o in gc.get_objects())


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def restore_gc() -> Iterator[None]:
    try:
        yield
    finally:
        gc.unfreeze()


async def test_start_up_freezes_the_heap_and_a_reload_freezes_the_new_pipeline(
    restore_gc: None,
) -> None:
    gc.unfreeze()
    app = create_app(SUPERGRAPH)
    old_cycle = Cycle()  # a reference cycle only the first pipeline holds
    app.pipeline.__dict__["test_cycle"] = old_cycle
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    lifespan = asyncio.create_task(app({"type": "lifespan"}, messages.get, send))
    await messages.put({"type": "lifespan.startup"})
    async with asyncio.timeout(60):
        while not sent:
            await asyncio.sleep(0.01)
    assert sent == [{"type": "lifespan.startup.complete"}]
    assert gc.get_freeze_count() > 0
    assert not tracked(app.pipeline.gateway)  # frozen with the start-up heap
    gone = weakref.ref(old_cycle)
    del old_cycle

    old = await app.replace(SUPERGRAPH, app.config)  # what graph/reload.py does
    assert tracked(app.pipeline.gateway)  # built after start-up: not frozen yet
    await app.retire(old)
    del old
    app.refreeze()
    assert not tracked(app.pipeline.gateway)  # the new pipeline is frozen
    assert gone() is None  # the old one's reference cycles were collected

    await messages.put({"type": "lifespan.shutdown"})
    async with asyncio.timeout(60):
        await lifespan
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}
