"""The router process's garbage collector: its start-up tuning and its metrics.

Start-up (:func:`tune`, from the app's lifespan once the supergraph, schema and planner are
built): a full collection, then ``gc.freeze()`` (the ~95,000 objects alive then leave every
later collection), then the thresholds. They come from ``PUPPIES_ROUTER_GC_THRESHOLDS``
(``"gen0,gen1,gen2"``, e.g. ``700,10,10`` for CPython's own), else :data:`GC_THRESHOLDS`.
A full collection walks every tracked object that is not frozen, so its pause grows with the
open WebSockets and subscriptions (each holds its objects for as long as it lives);
docs/operations.md ("Garbage collection") says how to read the metrics and tune.

Metrics (:class:`GcMetrics`, on the router's registry, so on /metrics):

- ``router_gc_pause_seconds{generation}``: every collection's pause (``gc.callbacks``),
- ``router_gc_tracked_objects``: the objects the collector tracks (not frozen), counted
  after each full collection (what the next one walks; ``len(gc.get_objects())``, ~1 ms per
  100,000 objects, once per full collection) and at start-up,
- ``router_gc_frozen_objects``: what start-up froze (``gc.get_freeze_count()``, at start-up
  and after a hot reload's refreeze only: it walks the frozen list).
"""

from __future__ import annotations

import gc
import logging
import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram

logger = logging.getLogger("graph.gc")

THRESHOLDS_ENV = "PUPPIES_ROUTER_GC_THRESHOLDS"
# gen0 every 20,000 net allocations of tracked objects (CPython: 700), gen1 after 20 of those
# (10), gen2 after 10 gen1 collections (CPython's 10; CPython also waits until the objects
# promoted since the last full collection are a quarter of the long-lived ones). Measured
# with 1,000 subscribers: bench/router_gc.py, bench/RESULTS.md "Session 24: router GC".
GC_THRESHOLDS = (20_000, 20, 10)
PAUSE_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def thresholds(environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[int, int, int]:
    """The thresholds to set: ``PUPPIES_ROUTER_GC_THRESHOLDS`` when given, else
    :data:`GC_THRESHOLDS`. A value that is not three non-negative integers is refused
    (ValueError: the router does not start on a typo)."""
    raw = environ.get(THRESHOLDS_ENV, "").strip()
    if not raw:
        return GC_THRESHOLDS
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(
            f"{THRESHOLDS_ENV} must be three non-negative integers 'gen0,gen1,gen2' "
            f"(e.g. 700,10,10), got {raw!r}"
        )
    return int(parts[0]), int(parts[1]), int(parts[2])


def tune(gc_thresholds: tuple[int, int, int] | None = None) -> None:
    """Collect, freeze what is alive (start-up's heap), set the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*(gc_thresholds if gc_thresholds is not None else thresholds()))


class GcMetrics:
    """The collector's metrics on ``registry``; :meth:`install` makes it the one the process's
    ``gc.callbacks`` hook records into.

    Each router app has its own registry (tests build several in one process): one hook for
    the process records into the last installed, so apps that never shut down add nothing
    to every collection."""

    __slots__ = ("_frozen", "_generations", "_started", "_tracked", "pauses")

    def __init__(self, registry: CollectorRegistry) -> None:
        self.pauses = Histogram(
            "router_gc_pause_seconds",
            "Garbage collection pauses of the router process, by generation (2: full "
            "collections, which walk every tracked object that is not frozen).",
            ["generation"],
            buckets=PAUSE_BUCKETS,
            registry=registry,
        )
        self._tracked = Gauge(
            "router_gc_tracked_objects",
            "Objects the garbage collector tracks and has not frozen, counted after the "
            "last full collection: what the next one walks.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._frozen = Gauge(
            "router_gc_frozen_objects",
            "Objects frozen out of garbage collection at start-up (gc.freeze()).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._generations = [self.pauses.labels(str(g)) for g in range(3)]
        self._started = 0.0

    def install(self) -> None:
        global _active
        _active = self
        if _hook not in gc.callbacks:
            gc.callbacks.append(_hook)
        # walks the frozen objects' list (~95,000: milliseconds): once, not per collection
        self._frozen.set(gc.get_freeze_count())
        self.count()

    def uninstall(self) -> None:
        global _active
        if _active is self:
            _active = None

    def count(self) -> None:
        """The tracked objects now (O(tracked objects), as a full collection itself)."""
        self._tracked.set(len(gc.get_objects()))

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        self._generations[generation].observe(time.perf_counter() - self._started)
        if generation == 2:
            self.count()


_active: GcMetrics | None = None


def _hook(phase: str, info: dict[str, Any]) -> None:
    active = _active
    if active is not None:
        active.on_gc(phase, info)
