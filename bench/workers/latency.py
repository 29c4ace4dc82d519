"""Benchmark: the worker's idle CPU, and the time from an outbox commit to its job starting.

    .venv/bin/python -m bench.workers.latency [--samples 200] [--idle 20]

Starts its own embedded PostgreSQL/Redis/S3 (under --data-dir) and runs the worker in this
process (`workers.main.build_worker` with every domain's jobs, crons and periodic tasks,
plus one `bench.ping` consumer). Then:
1. idle: nothing to do for --idle seconds; the process's CPU time over that window, in
   cores (the worker is all this process runs; PostgreSQL's and Redis's share of the idle
   cost is in `python -m bench.mixed`'s idle figures);
2. latency: --samples outbox events committed one at a time, 20-150 ms apart; for each,
   the time from its commit returning to the `bench.ping` consumer starting (relay
   wake-up, enqueue, the worker's poll): p50/p95/p99/max. With `--consumers 2` the event
   has a second (no-op) consumer too, as a like or a comment has: one `outbox.event` job
   runs both. Also the CPU of this process per event over that phase (the commit, the
   relay, the worker's jobs), less its idle rate. `--profile F`: that phase under cProfile
   (CPU time), its stats written to F.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import random
import shutil
import time
from pathlib import Path

from bench.analytics.stack import percentile, stack
from models.db import Database
from models.outbox import Event, emit
from puppies.settings import Settings
from workers.main import build_worker, load_domains


async def run(
    settings: Settings,
    samples: int,
    idle: float,
    consumers: int = 1,
    profile: Path | None = None,
) -> None:
    started: dict[str, float] = {}
    reg = load_domains()

    @reg.consumer("bench.ping", name="bench.ping")
    async def ping(_ctx: object, event: Event) -> None:
        started.setdefault(event.id, time.perf_counter())

    async def other(_ctx: object, _event: Event) -> None:
        return None

    for n in range(1, consumers):
        reg.consumer("bench.ping", name=f"bench.other{n}")(other)

    worker = build_worker(settings, reg)
    db = Database(settings)
    task = asyncio.create_task(worker.main())
    try:
        while "relay" not in worker.ctx:
            await asyncio.sleep(0.05)
        await asyncio.sleep(3)  # start-up crons and first passes done
        cpu0 = time.process_time()
        await asyncio.sleep(idle)
        cpu = time.process_time() - cpu0
        print(f"idle {idle:.0f} s: worker {cpu / idle:.4f} cores", flush=True)
        committed: dict[str, float] = {}
        rng = random.Random(5)
        profiler = cProfile.Profile(time.process_time) if profile else None
        if profiler is not None:
            profiler.enable()
        busy0 = time.process_time()
        sent_at = time.perf_counter()
        for i in range(samples):
            async with db.transaction() as s:
                row = await emit(s, "posts", "bench.ping", {"i": i}, aggregate_id=i)
            committed[f"posts:{row}"] = time.perf_counter()
            await asyncio.sleep(rng.uniform(0.02, 0.15))
        deadline = time.perf_counter() + 30
        while len(started) < samples and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the last jobs' finish
        busy = time.process_time() - busy0 - cpu / idle * (time.perf_counter() - sent_at)
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        ms = [(started[k] - t) * 1000 for k, t in committed.items() if k in started]
        print(
            f"commit -> job start, {len(ms)}/{samples} jobs: p50 {percentile(ms, 50):.1f} ms, "
            f"p95 {percentile(ms, 95):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
            f"max {max(ms):.1f} ms; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        print(
            f"CPU of this process per event (its commit, the relay, the jobs; the idle cost "
            f"left out): {busy / samples * 1000:.2f} ms",
            flush=True,
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()
        await db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.workers.latency")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--idle", type=float, default=20.0, help="seconds measured idle")
    ap.add_argument("--consumers", type=int, default=1, help="consumers of the event")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-worker-latency"))
    ap.add_argument("--profile", type=Path, help="cProfile (CPU time) of the events phase")
    args = ap.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    with stack(args.data_dir) as st:
        asyncio.run(run(st.settings, args.samples, args.idle, args.consumers, args.profile))


if __name__ == "__main__":
    main()
