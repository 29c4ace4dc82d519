"""One measurement at a rate, and the search for the highest rate that holds p95 < 100 ms."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from bench.analytics.stack import Stack, percentile
from bench.mixed.generator import (
    SenderJob,
    SenderResult,
    SubscriberResult,
    sender_main,
    subscribers_main,
)
from bench.mixed.stack import MixedStack, _raw_dsn, followed_pairs, liked_pairs
from bench.mixed.workload import jpeg
from bench.posts.common import cpu_seconds

TARGET_P95_MS = 100.0
PROCESSES = ("router", "users", "posts", "feed", "analytics", "worker", "postgres", "redis", "s3")


@dataclass
class Measurement:
    rate: float
    duration: float
    achieved: float
    requests: int
    latency: dict[str, dict[str, float]]  # op (and "overall") -> n, p50, p95, p99
    errors: dict[str, int]
    cpu_ms_per_request: dict[str, float]
    cpu_busy: dict[str, float]  # CPU seconds per wall second, per process
    generator: dict[str, float]
    load_average: tuple[float, float]  # 1-minute load average at start and end
    # per second of the measured run: n, p95 and max latency of the requests due in it
    timeline: list[dict[str, float]] = field(default_factory=list)

    @property
    def p95(self) -> float:
        return self.latency["overall"]["p95"]

    @property
    def ok(self) -> bool:
        return self.p95 < TARGET_P95_MS and not self.errors

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "p95_ms": self.p95, "ok": self.ok}


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
    }


def per_second(samples: list[tuple[int, float]]) -> list[dict[str, float]]:
    """The measured run second by second (by when each request was due): a knee that is a
    stall shows as a few slow seconds, one that is saturation as every second slow."""
    by_second: dict[int, list[float]] = {}
    for second, ms in samples:
        by_second.setdefault(second, []).append(ms)
    return [
        {"second": s, "n": len(v), "p95": percentile(v, 95), "max": max(v)}
        for s, v in sorted(by_second.items())
    ]


def idle_cores(ms: MixedStack, seconds: float = 10.0) -> dict[str, float]:
    """CPU each process burns with no requests (crons, polling, keepalives of the
    subscribers), in cores: at a low rate this is a large part of "CPU per request"."""
    cpu0, t0 = cpu_seconds(ms.st, ms.data_dir), time.monotonic()
    time.sleep(seconds)
    cpu1, t1 = cpu_seconds(ms.st, ms.data_dir), time.monotonic()
    return {name: (cpu1.get(name, 0.0) - cpu0.get(name, 0.0)) / (t1 - t0) for name in PROCESSES}


class StackProcessDied(RuntimeError):
    """A process of the stack is not running: its CPU would read 0 and the figures lie."""


def require_running(st: Stack) -> None:
    """Refuse to measure a stack one of whose processes has exited (a worker that lost
    its port to another process once made a run report 0.00 ms for the worker)."""
    dead = [f"{st.name_of(p)} (exit {p.returncode})" for p in st.procs if p.poll() is not None]
    if dead:
        raise StackProcessDied(
            "not measuring: these processes of the stack have exited: " + ", ".join(dead)
        )


def measure(
    ms: MixedStack,
    rate: float,
    duration: float,
    warmup: float,
    clients: int,
    mix: list[tuple[str, int]] | None = None,
) -> Measurement:
    pop = ms.population
    image = jpeg()
    viewers = list(zip(pop.tokens, pop.viewer_ids, strict=True))
    liked = asyncio.run(liked_pairs(_raw_dsn(ms.st), pop.viewer_ids, pop.hot_post_ids))
    followed = asyncio.run(followed_pairs(_raw_dsn(ms.st), pop.viewer_ids, pop.user_ids))
    start_at = time.time() + 1.0
    pipes, procs = [], []
    ctx = mp.get_context("spawn")
    for k in range(clients):
        mine = {uid for _, uid in viewers[k::clients]}
        job = SenderJob(
            url=ms.router_url,
            rate=rate / clients,
            start_at=start_at,
            duration=duration + warmup,
            warmup=warmup,
            seed=1000 * k + int(rate),
            viewers=viewers[k::clients],
            post_ids=pop.post_ids,
            hot_post_ids=pop.hot_post_ids,
            user_ids=pop.user_ids,
            image=image,
            mix=mix,
            liked={(v, p) for v, p in liked if v in mine},
            followed={(v, u) for v, u in followed if v in mine},
        )
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=sender_main, args=(job, child), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    load0 = os.getloadavg()[0]
    time.sleep(max(0.0, start_at + warmup - time.time()))
    require_running(ms.st)
    cpu0, wall0 = cpu_seconds(ms.st, ms.data_dir), time.monotonic()
    results: list[SenderResult] = [p.recv() for p in pipes]
    cpu1, wall1 = cpu_seconds(ms.st, ms.data_dir), time.monotonic()
    require_running(ms.st)
    for proc in procs:
        proc.join(10)
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for r in results:
        for op, values in r.latencies.items():
            latencies.setdefault(op, []).extend(values)
        for key, n in r.errors.items():
            errors[key] = errors.get(key, 0) + n
    every = [v for values in latencies.values() for v in values]
    requests = len(every)
    wall = wall1 - wall0
    cpu = {name: cpu1.get(name, 0.0) - cpu0.get(name, 0.0) for name in PROCESSES}
    gen_cpu = sum(r.cpu_seconds for r in results)
    return Measurement(
        rate=rate,
        duration=duration,
        achieved=requests / max(r.wall_seconds for r in results),
        requests=requests,
        latency={
            "overall": _stats(every),
            **{op: _stats(v) for op, v in sorted(latencies.items())},
        },
        errors=dict(sorted(errors.items())),
        cpu_ms_per_request={k: 1000 * v / max(requests, 1) for k, v in cpu.items()}
        | {"total": 1000 * sum(cpu.values()) / max(requests, 1)},
        cpu_busy={k: v / wall for k, v in cpu.items()},
        generator={
            "processes": clients,
            "cpu_ms_per_request": 1000 * gen_cpu / max(requests, 1),
            "cpu_busy": gen_cpu / wall,
            "late_start_p99_ms": max(r.late_p99_ms for r in results),
        },
        load_average=(load0, os.getloadavg()[0]),
        timeline=per_second([sample for r in results for sample in r.timeline]),
    )


class Subscribers:
    """N live-like WebSocket subscribers through the router, on the posts the mix likes."""

    def __init__(self, ms: MixedStack, n: int, procs: int = 2) -> None:
        self.ms, self.n = ms, n
        pop = ms.population
        subs = [
            (pop.tokens[i % len(pop.tokens)], pop.hot_post_ids[i % len(pop.hot_post_ids)])
            for i in range(n)
        ]
        self.rss_before = self._rss()
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for k in range(procs if n else 0):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=subscribers_main, args=(ms.router_url, subs[k::procs], child), daemon=True
            )
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        self.connected = sum(p.recv() for p in self.pipes)
        time.sleep(1.0)
        self.rss_after = self._rss()

    def _rss(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for proc in self.ms.st.procs:
            name = self.ms.st.name_of(proc)
            try:
                root = psutil.Process(proc.pid)
                out[name] = sum(p.memory_info().rss for p in [root, *root.children(True)])
            except psutil.Error:
                continue
        return out

    def memory_per_connection(self) -> dict[str, float]:
        """Bytes of RSS per subscriber, per process (router and posts hold them)."""
        if not self.connected:
            return {}
        return {
            name: (self.rss_after[name] - self.rss_before.get(name, 0)) / self.connected
            for name in ("router", "posts")
            if name in self.rss_after
        }

    def stop(self) -> SubscriberResult:
        total = SubscriberResult()
        for pipe in self.pipes:
            pipe.send("stop")
        for pipe in self.pipes:
            r: SubscriberResult = pipe.recv()
            total.connected += r.connected
            total.events += r.events
            total.cpu_seconds += r.cpu_seconds
            for k, v in r.errors.items():
                total.errors[k] = total.errors.get(k, 0) + v
        for proc in self.procs:
            proc.join(10)
        return total


def settle(
    ms: MixedStack, busy_below: float = 0.3, window: float = 2.0, limit: float = 180.0
) -> float:
    """Wait until the stack has worked off what an overloaded step left behind (queued
    requests, the worker's job backlog): its processes together busy less than
    `busy_below` cores over `window` seconds, or `limit` seconds have passed. Returns the
    seconds waited. Without it, the step after an overloaded one starts on a stack still
    busy with the last one's backlog, and fails for that."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        cpu0, w0 = cpu_seconds(ms.st, ms.data_dir), time.monotonic()
        time.sleep(window)
        cpu1, w1 = cpu_seconds(ms.st, ms.data_dir), time.monotonic()
        busy = sum(cpu1.get(n, 0.0) - cpu0.get(n, 0.0) for n in PROCESSES) / (w1 - w0)
        if busy < busy_below:
            break
    return time.monotonic() - t0


def find_max(
    ms: MixedStack,
    start: float,
    duration: float,
    warmup: float,
    clients: int,
    steps: int,
    mix: list[tuple[str, int]] | None = None,
) -> tuple[float | None, list[Measurement]]:
    """Double the rate from `start` until a step fails (p95 >= 100 ms or any error), then
    bisect between the last good and the first bad rate for `steps` more runs. Every step
    starts on a settled stack (`settle`): a failed step's backlog does not fail the next."""
    runs: list[Measurement] = []
    good: float | None = None
    bad: float | None = None
    rate = start
    while bad is None:
        m = _step(ms, rate, duration, warmup, clients, mix)
        runs.append(m)
        if m.ok:
            good, rate = rate, rate * 2
        else:
            bad = rate
        if rate > 100_000:
            break
    lo = good if good is not None else 0.0
    hi = bad if bad is not None else rate
    for _ in range(steps):
        mid = round((lo + hi) / 2, 1)
        if mid <= 1 or hi - lo < max(2.0, lo * 0.05):
            break
        m = _step(ms, mid, duration, warmup, clients, mix)
        runs.append(m)
        if m.ok:
            lo, good = mid, mid
        else:
            hi = mid
    return good, runs


def _step(
    ms: MixedStack,
    rate: float,
    duration: float,
    warmup: float,
    clients: int,
    mix: list[tuple[str, int]] | None,
) -> Measurement:
    waited = settle(ms)
    m = measure(ms, rate, duration, warmup, clients, mix)
    print(summary_line(m) + f" (settled {waited:.0f} s before)", flush=True)
    return m


def summary_line(m: Measurement) -> str:
    lat = m.latency["overall"]
    errs = sum(m.errors.values())
    return (
        f"rate {m.rate:g}/s: achieved {m.achieved:.1f}/s, p50 {lat['p50']:.1f} ms, "
        f"p95 {lat['p95']:.1f} ms, p99 {lat['p99']:.1f} ms, errors {errs}, "
        f"CPU {m.cpu_ms_per_request['total']:.2f} ms/request, load avg "
        f"{m.load_average[0]:.1f}-{m.load_average[1]:.1f} -> {'ok' if m.ok else 'FAIL'}"
    )
