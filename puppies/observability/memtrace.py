"""Opt-in diagnostics of a process's memory and stalls for long runs (bench.soak --memtrace).

Off unless `PUPPIES_MEMTRACE_DIR` is set; then `install()` (called by `puppies serve` and
`puppies worker` at start) does nothing else than return, so it costs nothing when off.
When on, the process writes `<dir>/<process>-<pid>.txt`:

- every `PUPPIES_MEMTRACE_SECONDS` (60): RSS (its anonymous part, and how much of that is
  in 1 MiB maps: CPython's object arenas), the Python heap that `tracemalloc` traces,
  glibc's heap (`mallinfo2`: in use, free but kept, mmapped), garbage-collector time, and
  the top allocation sites by growth since the baseline snapshot with their tracebacks.
  Tracing starts after one interval and the baseline is taken after the second: start-up
  is not what is looked for (and tracing imports slows a start several times). RSS growing
  while the traced heap does not is a C-level allocation (or glibc keeping freed memory:
  compare `kept`).
  With `PUPPIES_MEMTRACE_TRIM=1` it calls `malloc_trim(0)` before each sample, so what
  glibc merely keeps is given back and what stays is live.
- every garbage collection that takes over 100 ms (the process is frozen meanwhile), and
  every full (generation 2) collection whatever it took; each sample sums up the full
  collections since the one before (count, total, longest pause);
- with `PUPPIES_MEMTRACE_TYPES=N`, the N most numerous types among the tracked objects in
  each sample (what a full collection walks);
- every stall of the event loop: a callback is posted to the loop every 100 ms from a
  thread, and one not run within `PUPPIES_MEMTRACE_STALL_MS` (250) is a stall; the main
  thread's Python stack is written once while it lasts (what blocks the loop), and the
  stall's length when it ends. The thread itself sleeping much longer than asked is written
  too (the whole process was not scheduled, or held the GIL in C code).

`tracemalloc` slows every allocation: `PUPPIES_MEMTRACE_TRACEMALLOC=worker,router` limits it
to those processes (the others sample RSS, glibc and stalls only); unset, every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import linecache
import os
import sys
import threading
import time
import traceback
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import IO, Any

ENV_DIR = "PUPPIES_MEMTRACE_DIR"
ENV_SECONDS = "PUPPIES_MEMTRACE_SECONDS"
ENV_FRAMES = "PUPPIES_MEMTRACE_FRAMES"
ENV_TRIM = "PUPPIES_MEMTRACE_TRIM"
ENV_STALL_MS = "PUPPIES_MEMTRACE_STALL_MS"
ENV_TRACED = "PUPPIES_MEMTRACE_TRACEMALLOC"
ENV_TYPES = "PUPPIES_MEMTRACE_TYPES"
TOP = 15
GC_PAUSE_LOG = 0.1


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libc() -> Any:
    with contextlib.suppress(OSError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c"))
    return None


def _anonymous_mib() -> float:
    """Resident anonymous memory, MiB: glibc's heap, CPython's object arenas (which it maps
    itself, outside glibc's heap), thread stacks."""
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class MemTrace:
    def __init__(self, process: str, directory: Path, interval: float) -> None:
        self.process = process
        self.interval = interval
        directory.mkdir(parents=True, exist_ok=True)
        self.out: IO[str] = open(  # noqa: SIM115 (lives as long as the process)
            directory / f"{process}-{os.getpid()}.txt", "a", buffering=1
        )
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.base: tracemalloc.Snapshot | None = None
        self.libc = _libc()
        self.trim = os.environ.get(ENV_TRIM) == "1"
        self.stall = float(os.environ.get(ENV_STALL_MS, "250")) / 1000
        self.gc_started = 0.0
        self.gc_total = 0.0
        self.gc_max = 0.0
        self.gc_runs = [0, 0, 0]  # collections per generation
        self.full_pauses: list[float] = []  # full collections since the last sample, seconds
        self.types = int(os.environ.get(ENV_TYPES, "0") or 0)  # top tracked types per sample
        self.main_ident = threading.main_thread().ident
        self.frames = 0  # tracemalloc's depth; 0: not traced
        self.loop: Any = None  # the event loop, once it runs (_capture_running_loop)

    def write(self, text: str) -> None:
        with self.lock:
            self.out.write(f"[{time.strftime('%H:%M:%S')} +{time.monotonic() - self.t0:.0f}s] ")
            self.out.write(text.rstrip("\n") + "\n")

    # garbage collections
    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.gc_started = time.perf_counter()
            return
        took = time.perf_counter() - self.gc_started
        self.gc_total += took
        generation = info.get("generation", 0)
        self.gc_runs[generation] += 1
        self.gc_max = max(self.gc_max, took)
        if generation == 2:
            self.full_pauses.append(took)
        if took > GC_PAUSE_LOG or generation == 2:
            self.write(
                f"GC pause {took * 1000:.0f} ms: generation {info.get('generation')}, "
                f"collected {info.get('collected')}"
            )

    # memory samples
    def mallinfo(self, anon: float) -> str:
        if self.libc is None or not hasattr(self.libc, "mallinfo2"):
            return "mallinfo2 n/a"
        self.libc.mallinfo2.restype = _MallInfo2
        m = self.libc.mallinfo2()
        mib = 2**20
        outside = anon - (m.arena + m.hblkhd) / mib
        return (
            f"glibc heap: in use {m.uordblks / mib:.1f}, kept free {m.fordblks / mib:.1f}, "
            f"mmapped {m.hblkhd / mib:.1f} ({m.hblks} blocks), arena {m.arena / mib:.1f}; "
            f"anonymous outside glibc's heap (CPython's arenas, stacks) {outside:.1f} MiB"
        )

    def sample(self) -> None:
        if self.trim and self.libc is not None:
            self.libc.malloc_trim(0)
        traced, peak = tracemalloc.get_traced_memory()
        anon = _anonymous_mib()
        full, self.full_pauses = self.full_pauses, []
        tracked = gc.get_objects()
        lines = [
            f"RSS {_rss_mib():.1f} MiB (anonymous {anon:.1f}); traced {traced / 2**20:.1f} "
            f"MiB (peak {peak / 2**20:.1f}); {self.mallinfo(anon)}; GC {self.gc_total:.2f} s "
            f"in total, {self.gc_runs} runs, longest {self.gc_max * 1000:.0f} ms; gc counts "
            f"{gc.get_count()}, objects tracked {len(tracked)}, frozen "
            f"{gc.get_freeze_count()}; full collections since the last sample: {len(full)}"
            + (f" ({sum(full) * 1000:.0f} ms, longest {max(full) * 1000:.0f} ms)" if full else "")
        ]
        if self.types:
            counts = Counter(type(o).__qualname__ for o in tracked)
            lines.append(
                "tracked by type: "
                + ", ".join(f"{name} {n}" for name, n in counts.most_common(self.types))
            )
        del tracked
        if not tracemalloc.is_tracing():
            self.write("\n".join(lines))
            return
        snap = tracemalloc.take_snapshot().filter_traces(
            [
                tracemalloc.Filter(False, tracemalloc.__file__, all_frames=True),
                # the source lines of the tracebacks written here (and of stall stacks)
                tracemalloc.Filter(False, linecache.__file__),
                tracemalloc.Filter(False, __file__),
            ]
        )
        if self.base is None:
            self.base = snap
            lines.append("baseline snapshot taken")
        else:
            diffs = snap.compare_to(self.base, "traceback")
            lines.append(f"top {TOP} growth since the baseline:")
            for d in diffs[:TOP]:
                lines.append(
                    f"  {d.size_diff / 1024:+.1f} KiB ({d.count_diff:+d} blocks), now "
                    f"{d.size / 1024:.1f} KiB"
                )
                lines.extend(f"      {line}" for line in d.traceback.format(most_recent_first=True))
        self.write("\n".join(lines))

    def sampler(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                if self.frames and not tracemalloc.is_tracing():
                    # after start-up (tracing imports slowed a start past its deadline)
                    tracemalloc.start(self.frames)
                    self.write(f"tracemalloc started ({self.frames} frames)")
                self.sample()
            except Exception as exc:  # a diagnostic never takes the process down
                self.write(f"sample failed: {exc!r}")

    # stalls
    def main_stack(self) -> str:
        frame = sys._current_frames().get(self.main_ident or 0)
        return "".join(traceback.format_stack(frame)) if frame else "(no main thread)"

    def watcher(self) -> None:
        while self.loop is None:
            time.sleep(1.0)
        loop = self.loop
        self.write(f"watching the event loop {type(loop).__name__} for stalls > {self.stall}s")
        answered = threading.Event()
        tick = 0.1
        while True:
            answered.clear()
            posted = time.monotonic()
            try:
                loop.call_soon_threadsafe(answered.set)
            except RuntimeError:  # the loop closed: the process is stopping
                return
            if not answered.wait(self.stall):
                self.write(
                    f"event loop stalled > {self.stall * 1000:.0f} ms; main thread:\n"
                    + self.main_stack()
                )
                answered.wait()
                self.write(f"event loop stall ended after {time.monotonic() - posted:.2f} s")
            before = time.monotonic()
            time.sleep(tick)
            late = time.monotonic() - before - tick
            if late > self.stall:
                self.write(f"this thread slept {late:.2f} s longer than asked (process stalled)")


_installed: MemTrace | None = None


def _capture_running_loop(mt: MemTrace) -> None:
    """Note the event loop when it starts running. Through asyncio's own hook (which uvloop
    takes at import: so before uvloop is imported), because another thread can neither ask
    for the running loop (thread-local) nor safely read the main thread's frames' locals
    (reading a running frame's `f_locals` writes them back: it broke an import)."""
    original = asyncio.events._set_running_loop

    def set_running_loop(loop: asyncio.AbstractEventLoop | None) -> None:
        if loop is not None and threading.current_thread() is threading.main_thread():
            mt.loop = loop
        original(loop)

    asyncio.events._set_running_loop = set_running_loop
    asyncio._set_running_loop = set_running_loop


def install(process: str) -> None:
    """Start the diagnostics when PUPPIES_MEMTRACE_DIR is set; otherwise nothing."""
    global _installed
    directory = os.environ.get(ENV_DIR)
    if not directory or _installed is not None:
        return
    traced = os.environ.get(ENV_TRACED)
    mt = MemTrace(process, Path(directory), float(os.environ.get(ENV_SECONDS, "60")))
    mt.frames = (
        int(os.environ.get(ENV_FRAMES, "6")) if not traced or process in traced.split(",") else 0
    )
    _installed = mt
    gc.callbacks.append(mt.on_gc)
    _capture_running_loop(mt)
    mt.write(f"memtrace on for {process} (pid {os.getpid()}), every {mt.interval:.0f} s")
    threading.Thread(target=mt.sampler, name="memtrace", daemon=True).start()
    threading.Thread(target=mt.watcher, name="memtrace-stalls", daemon=True).start()
