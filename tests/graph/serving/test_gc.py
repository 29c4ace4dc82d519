"""The router's start-up freezes its long-lived heap out of garbage collection (graph/app.py,
tune_gc): without it every full collection walked the whole heap, and under load the router
stopped for seconds (bench/RESULTS.md, "Soak, session 21"). A hot reload unfreezes (the old
pipeline's reference cycles must be collectable) and freezes the new pipeline instead.
Start-up sets the thresholds (PUPPIES_ROUTER_GC_THRESHOLDS, else GC_THRESHOLDS), and the
collections' pauses and the tracked objects are on /metrics (graph/observability/gc.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.app import create_app
from graph.cli import serve_router
from graph.config import ConfigError
from graph.observability.gc import GC_THRESHOLDS, THRESHOLDS_ENV, thresholds

SUPERGRAPH = (Path(__file__).resolve().parents[3] / "supergraph.graphql").read_text()


def tracked(obj: object) -> bool:
    """`obj` is one the collector walks (not frozen)."""
    return any(o is obj for o in gc.get_objects())


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def sample(metrics: bytes, name: str) -> float:
    for line in metrics.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


@settings(max_examples=60, deadline=None)
@given(st.tuples(st.integers(0, 10**6), st.integers(0, 10**4), st.integers(0, 10**4)), st.text(" "))
def test_thresholds_from_the_environment(values: tuple[int, int, int], space: str) -> None:
    raw = f"{space}{values[0]},{space}{values[1]} ,{values[2]}{space}"
    assert thresholds({THRESHOLDS_ENV: raw}) == values
    assert thresholds({}) == GC_THRESHOLDS == thresholds({THRESHOLDS_ENV: " "})


@pytest.mark.parametrize("raw", ["700,10", "700,10,10,1", "a,b,c", "-1,10,10", "7e2,10,10"])
def test_thresholds_that_are_not_three_integers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=THRESHOLDS_ENV):
        thresholds({THRESHOLDS_ENV: raw})


def test_serve_router_refuses_bad_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THRESHOLDS_ENV, "700,ten,10")
    with pytest.raises(ConfigError, match=THRESHOLDS_ENV):
        serve_router(Path(__file__).resolve().parents[3] / "supergraph.graphql")


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
    assert gc.get_threshold() == GC_THRESHOLDS
    # the collections and the objects on /metrics
    metrics, _ = app.metrics.render()
    full = sample(metrics, 'router_gc_pause_seconds_count{generation="2"}')
    # counted at start-up; frozen objects freed since (reference counts) leave the list
    assert 0.99 < sample(metrics, "router_gc_frozen_objects") / gc.get_freeze_count() < 1.01
    garbage = [Cycle() for _ in range(1000)]
    gc.collect()
    metrics, _ = app.metrics.render()
    assert sample(metrics, 'router_gc_pause_seconds_count{generation="2"}') == full + 1
    assert sample(metrics, "router_gc_tracked_objects") >= len(garbage)
    del garbage
    gc.collect()
    metrics, _ = app.metrics.render()
    assert sample(metrics, "router_gc_tracked_objects") < len(gc.get_objects()) + 100 < 10**6
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
    metrics, _ = app.metrics.render()
    full = sample(metrics, 'router_gc_pause_seconds_count{generation="2"}')
    gc.collect()  # after shutdown the app records no more
    metrics, _ = app.metrics.render()
    assert sample(metrics, 'router_gc_pause_seconds_count{generation="2"}') == full


async def test_thresholds_from_the_environment_at_start_up(
    restore_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THRESHOLDS_ENV, "700,10,10")
    app = create_app(SUPERGRAPH)
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    lifespan = asyncio.create_task(app({"type": "lifespan"}, messages.get, send))
    await messages.put({"type": "lifespan.startup"})
    await messages.put({"type": "lifespan.shutdown"})
    async with asyncio.timeout(60):
        await lifespan
    assert gc.get_threshold() == (700, 10, 10)
