"""The rate limiter's Redis round trip alone, side by side in one process: a PING through
redis-py's asyncio client (what the router's other stages use), a PING over the limiter's own
pipelined connection (graph/rate_limits/connection.py), this checkout's limiter check (GCRA,
one EVALSHA) and, with ``--baseline DIR``, the limiter of another checkout (e.g. the
sliding-window log on redis-py of bb7c49c), each against one embedded Redis.

    .venv/bin/python -m bench.rate_limiter [--calls 5000] [--rounds 5] [--baseline DIR]

One call at a time (the latency a request waits); each contender's median over rounds of the
per-round p50, and this process's CPU time per call (kernel time of the socket calls
included). Limits are never reached (10^9 per 1 s window, one caller).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _baseline_limiter(directory: Path) -> Any:
    """The other checkout's graph/rate_limits/limiter.py, loaded under another name."""
    path = directory / "graph" / "rate_limits" / "limiter.py"
    spec = importlib.util.spec_from_file_location("baseline_limiter", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def _measure(call: Callable[[], Awaitable[Any]], calls: int) -> tuple[float, float]:
    for _ in range(min(500, calls)):
        await call()
    times = []
    cpu = time.process_time()
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    used = (time.process_time() - cpu) / calls
    times.sort()
    return times[len(times) // 2] * 1e6, used * 1e6


async def _run(args: argparse.Namespace, url: str) -> dict[str, list[tuple[float, float]]]:
    from redis.asyncio import Redis

    from graph.rate_limits.connection import LimiterConnection
    from graph.rate_limits.limiter import WINDOW, Limit, RedisLimiter

    redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    connection = LimiterConnection(url, 0.5)
    limiter = RedisLimiter(connection)
    limits = [Limit("bench", "bench:{ip:1}:anon:t", WINDOW, 10**9, 1000, 1, 1)]
    contenders: dict[str, Callable[[], Awaitable[Any]]] = {
        "redis-py PING": redis.ping,
        "limiter connection PING": lambda: connection.call("PING"),
        "limiter check (this checkout)": lambda: limiter.check(limits),
    }
    if args.baseline is not None:
        old = _baseline_limiter(args.baseline)
        old_redis = Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30
        )
        old_limiter = old.RedisLimiter(old_redis)
        old_limits = [old.Limit("bench", "bench:{ip:2}:anon:w", old.WINDOW, 10**9, 1000, 1, 1)]
        contenders["limiter check (baseline)"] = lambda: old_limiter.check(old_limits)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, call in contenders.items():
            results[name].append(await _measure(call, args.calls))
            print(name, [round(x, 1) for x in results[name][-1]], flush=True)
    await redis.aclose()
    await connection.aclose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, default=None)
    args = parser.parse_args(argv)
    from puppies.embedded import free_port
    from puppies.embedded.redis import EmbeddedRedis

    server = EmbeddedRedis(ROOT / "bench" / ".work" / "rate-limiter", free_port(), persist=False)
    url = server.start()
    load_before = os.getloadavg()
    try:
        results = asyncio.run(_run(args, url))
    finally:
        server.stop()
    print()
    print(
        f"{args.calls} calls x {args.rounds} rounds; load average {load_before} / {os.getloadavg()}"
    )
    print("| contender | p50 µs (median of rounds) | CPU µs per call |")
    print("|---|---:|---:|")
    for name, rounds in results.items():
        p50 = statistics.median(r[0] for r in rounds)
        cpu = statistics.median(r[1] for r in rounds)
        print(f"| {name} | {p50:.1f} | {cpu:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
