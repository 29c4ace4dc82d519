"""Soak: the mixed workload for minutes at 70% of the maximum rate; memory, file
descriptors and PostgreSQL connections must stay flat (bench/RESULTS.md, "Soak").

    .venv/bin/python -m bench.soak --minutes 10 [--max-rate R] [--json FILE]

Same stack and mix as `python -m bench.mixed` (its own seeded stack, 1,000 WebSocket
subscribers). Without --max-rate it first searches the maximum rate with
`bench.mixed --find-max`'s procedure (short steps), then plays 70% of it for --minutes.
Every --sample seconds it records each process's RSS and open file descriptors and the
number of PostgreSQL connections. Passes (exit 0) when there were 0 errors and, over the
run after its first minute, every process's RSS slope (least squares) is below
--max-rss-slope MiB per minute, and the fds and connections end within a small band of
where they started (fds +-16 per process, connections +-4). Hive Gateway's memory test
judges its runs the same way: the slope of memory over the run, not one reading.

Diagnostics (off by default): `--memtrace DIR` runs every process with
puppies/observability/memtrace.py on (RSS vs the traced Python heap vs glibc's heap, the
allocation sites that grew, GC pauses, event-loop stalls with the blocking stack) writing
to DIR; `--memtrace-tracemalloc worker,router` limits tracemalloc (slow) to those.
`--freeze NAME:AT:SECONDS` stops that process (SIGSTOP) AT seconds into the run for SECONDS,
then continues it: a stall made on purpose, to see what one leaves behind (connections,
memory). `--redis-latency-ms N` turns Redis's LATENCY monitor on at N ms (and its SLOWLOG)
and prints what it recorded, with its persistence counters, after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import redis

from bench.mixed.__main__ import print_measurement
from bench.mixed.run import Subscribers, find_max, measure
from bench.mixed.stack import MixedStack, mixed_stack

FD_BAND = 16
CONN_BAND = 4


def _processes(ms: MixedStack) -> dict[str, list[psutil.Process]]:
    out: dict[str, list[psutil.Process]] = {}
    for proc in ms.st.procs:
        name = ms.st.name_of(proc)
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(proc.pid)
            out[name] = [root, *root.children(recursive=True)]
    marker = str(ms.data_dir)
    redis_addr = (ms.st.settings.redis_url or "").split("//", 1)[-1].split("/", 1)[0]
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(p.info["cmdline"] or []).strip()
            if "redis-server" in cmd and redis_addr and cmd.endswith(redis_addr):
                cmd += " " + marker
            if marker not in cmd:
                continue
            kind = "redis" if "redis" in cmd else "s3" if "weed" in cmd else None
            if "postgres" in cmd:
                kind = "postgres"  # the postmaster; its backends are counted as connections
            if kind:
                out.setdefault(kind, []).append(p)
    return out


def _pg_connections(ms: MixedStack) -> int:
    async def count() -> int:
        url = ms.st.settings.database_url
        assert url
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            n: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            )
            return n - 1  # this one
        finally:
            await conn.close()

    return asyncio.run(count())


def _redis(ms: MixedStack) -> redis.Redis:
    url = ms.st.settings.redis_url
    assert url
    return redis.Redis.from_url(url, decode_responses=True)


def redis_monitors_on(ms: MixedStack, threshold_ms: int) -> None:
    r = _redis(ms)
    r.config_set("latency-monitor-threshold", threshold_ms)
    r.config_set("slowlog-log-slower-than", threshold_ms * 1000)
    r.execute_command("LATENCY", "RESET")
    r.slowlog_reset()


def redis_monitors_report(ms: MixedStack) -> dict[str, Any]:
    """What Redis's LATENCY monitor and SLOWLOG recorded, and its persistence counters."""
    r = _redis(ms)
    latest: list[Any] = r.execute_command("LATENCY", "LATEST")
    history = {str(row[0]): r.execute_command("LATENCY", "HISTORY", row[0]) for row in latest or []}
    slow = [
        {"start": e["start_time"], "us": e["duration"], "command": str(e["command"])[:120]}
        for e in r.slowlog_get(20)  # type: ignore[union-attr]
    ]
    info: Any = r.info("persistence")
    stats: Any = r.info("stats")
    persistence = {
        k: v
        for k, v in info.items()
        if k.startswith(("rdb_", "aof_")) and not k.endswith("_status")
    }
    persistence |= {k: v for k, v in stats.items() if k.startswith("latest_fork")}
    out = {"latency_latest": latest, "latency_history": history, "slowlog": slow}
    out["persistence"] = persistence
    print("\nRedis LATENCY LATEST (event, time, latest ms, max ms):", latest or "nothing")
    for event, rows in history.items():
        print(
            f"  {event}: "
            + ", ".join(
                f"{time.strftime('%H:%M:%S', time.localtime(int(t)))} {ms} ms" for t, ms in rows
            )
        )
    for e in slow:
        at = time.strftime("%H:%M:%S", time.localtime(e["start"]))
        print(f"  slowlog {at} {e['us']} us {e['command']}")
    print("Redis persistence:", persistence)
    return out


def freeze_later(ms: MixedStack, spec: str) -> threading.Timer:
    """`spec` NAME:AT:SECONDS: SIGSTOP the process NAME (router, a subgraph, worker) AT
    seconds from now, SIGCONT it SECONDS later."""
    name, at, seconds = spec.split(":")
    (proc,) = [p for p in ms.st.procs if ms.st.name_of(p) == name]

    def freeze() -> None:
        print(f"{time.strftime('%H:%M:%S')} freezing {name} for {seconds} s", flush=True)
        os.killpg(proc.pid, signal.SIGSTOP)
        time.sleep(float(seconds))
        os.killpg(proc.pid, signal.SIGCONT)

    timer = threading.Timer(float(at), freeze)
    timer.daemon = True
    timer.start()
    return timer


def sample(ms: MixedStack) -> dict[str, Any]:
    rss: dict[str, float] = {}
    fds: dict[str, int] = {}
    for name, procs in _processes(ms).items():
        for p in procs:
            with contextlib.suppress(psutil.Error):
                rss[name] = rss.get(name, 0.0) + p.memory_info().rss / 2**20
                fds[name] = fds.get(name, 0) + p.num_fds()
    return {
        "t": time.monotonic(),
        "rss_mib": rss,
        "fds": fds,
        "pg_connections": _pg_connections(ms),
    }


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (v - my) for t, v in points) / var if var else 0.0


def judge(
    samples: list[dict[str, Any]], max_slope: float
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """RSS: the least-squares slope after the first minute (start-up and pools warming up
    are not leaks). File descriptors and PostgreSQL connections: over the second half of
    the run (each pool opened to its size at start, DB_POOL_PREWARM; a leak keeps growing), the
    change from its first to its last sample within a band (fds: 16 or 2% per process,
    connections: 4). The S3 server is printed, not judged: it stands in for the provider's
    S3 and its RSS follows the objects it stores (the mix uploads images)."""
    t0 = float(samples[0]["t"])
    steady = [s for s in samples if float(s["t"]) - t0 >= 60] or samples
    half = samples[len(samples) // 2 :]
    verdicts: list[str] = []
    report: dict[str, dict[str, float]] = {}
    print(
        f"\n{'process':<10}{'RSS 1 min':>11}{'RSS end':>10}{'slope MiB/min':>15}"
        f"{'fds (2nd half)':>18}"
    )
    for name in samples[-1]["rss_mib"]:
        pts = [(float(s["t"]) - t0, float(s["rss_mib"].get(name, 0.0))) for s in steady]
        slope = slope_per_minute(pts)
        f0, f1 = int(half[0]["fds"].get(name, 0)), int(half[-1]["fds"].get(name, 0))
        report[name] = {"rss_start": pts[0][1], "rss_end": pts[-1][1], "slope": slope}
        report[name] |= {"fds_start": f0, "fds_end": f1}
        note = "  (not judged: the stand-in S3)" if name == "s3" else ""
        print(
            f"{name:<10}{pts[0][1]:>11.1f}{pts[-1][1]:>10.1f}{slope:>15.3f}{f0:>10}->{f1:<6}{note}"
        )
        if note:
            continue
        if slope > max_slope:
            verdicts.append(f"{name}: RSS grows {slope:.2f} MiB/min (> {max_slope})")
        if f1 - f0 > max(FD_BAND, 0.02 * f0):
            verdicts.append(f"{name}: fds {f0} -> {f1} in the second half")
    c0, c1 = int(half[0]["pg_connections"]), int(half[-1]["pg_connections"])
    every = [int(s["pg_connections"]) for s in samples]
    print(
        f"PostgreSQL connections: {every[0]} before the load, {c0} -> {c1} over the second "
        f"half (max {max(every)})"
    )
    if c1 - c0 > CONN_BAND:
        verdicts.append(f"PostgreSQL connections {c0} -> {c1} in the second half")
    return verdicts, report


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--max-rate", type=float, help="skip the search: the maximum rate (req/s)")
    ap.add_argument("--fraction", type=float, default=0.7, help="share of the maximum rate")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--max-rss-slope", type=float, default=1.0, help="MiB per minute")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--judge", type=Path, help="only judge the samples of an earlier --json")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--viewers", type=int, default=2000)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--memtrace", type=Path, help="diagnostics of every process, written here")
    ap.add_argument("--memtrace-seconds", type=float, default=60.0)
    ap.add_argument("--memtrace-tracemalloc", default="", help="only these processes (a,b)")
    ap.add_argument("--redis-latency-ms", type=int, default=0, help="Redis LATENCY monitor")
    ap.add_argument("--freeze", help="NAME:AT:SECONDS: stop a process for a while (a stall)")
    args = ap.parse_args()
    if args.memtrace:
        os.environ["PUPPIES_MEMTRACE_DIR"] = str(args.memtrace.resolve())
        os.environ["PUPPIES_MEMTRACE_SECONDS"] = str(args.memtrace_seconds)
        if args.memtrace_tracemalloc:
            os.environ["PUPPIES_MEMTRACE_TRACEMALLOC"] = args.memtrace_tracemalloc
    if args.judge:
        verdicts, _ = judge(json.loads(args.judge.read_text())["samples"], args.max_rss_slope)
        print("\nsoak: " + ("PASS" if not verdicts else "FAIL: " + "; ".join(verdicts)))
        sys.exit(1 if verdicts else 0)
    data_dir = args.data_dir or Path(f"/tmp/puppies-bench-mixed-{args.users}")
    with mixed_stack(data_dir, args.users, args.viewers) as ms:
        subs = Subscribers(ms, args.subscribers)
        redis_report: dict[str, Any] = {}
        if args.redis_latency_ms:
            redis_monitors_on(ms, args.redis_latency_ms)
        try:
            max_rate = args.max_rate
            if max_rate is None:
                max_rate, _ = find_max(ms, 10.0, 15.0, 5.0, args.clients, 3)
                if not max_rate:
                    sys.exit("no rate held p95 < 100 ms with 0 errors: nothing to soak at")
            rate = round(max_rate * args.fraction, 1)
            print(
                f"soaking at {rate}/s ({args.fraction:.0%} of {max_rate}/s) for {args.minutes} min"
            )
            samples: list[dict[str, Any]] = []
            done = threading.Event()

            def sampler() -> None:
                while not done.wait(args.sample):
                    samples.append(sample(ms))

            samples.append(sample(ms))
            thread = threading.Thread(target=sampler, daemon=True)
            thread.start()
            if args.freeze:  # measure() starts sending ~1 s after it is called
                freeze_later(ms, args.freeze)
            m = measure(ms, rate, args.minutes * 60, 5.0, args.clients)
            done.set()
            thread.join()
            samples.append(sample(ms))
            if args.redis_latency_ms:
                redis_report = redis_monitors_report(ms)
        finally:
            live = subs.stop()
    print_measurement(m)
    verdicts, report = judge(samples, args.max_rss_slope)
    if m.errors:
        verdicts.append(f"errors: {m.errors}")
    print(
        f"subscribers: {live.connected} connected, {live.events} events, "
        f"errors {live.errors or 'none'}"
    )
    if live.errors:
        verdicts.append(f"subscriber errors: {live.errors}")
    print("\nsoak: " + ("PASS" if not verdicts else "FAIL: " + "; ".join(verdicts)))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": vars(args),
                    "rate": rate,
                    "max_rate": max_rate,
                    "run": m.as_json(),
                    "processes": report,
                    "samples": samples,
                    "verdicts": verdicts,
                    "redis": redis_report,
                },
                indent=2,
                default=str,
            )
        )
    sys.exit(1 if verdicts else 0)


if __name__ == "__main__":
    main()
