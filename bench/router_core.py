"""Router core cost per request, without the HTTP server in front: the Gateway in-process
(prepare from the plan cache, execute, shape) against the gateway benchmark's subgraphs
(bench/gateways/subgraphs.py, one uvicorn worker in its own process).

    .venv/bin/python -m bench.router_core [--requests 300]

Prints wall time and router CPU time (user+system of this process) per request for the deep
query and the single-fetch query, the cold planning time of the deep query, and how many
subgraph requests the deep query's plan makes; then the deep query N at a time (requests/s,
router CPU and subgraph round trips per request: identical requests in flight are shared).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.gateways.data import QUERY, SINGLE_FETCH_QUERY
from graph.composition.sources import SubgraphLocation, compose_locations
from graph.execution.gateway import Gateway

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("accounts", "inventory", "products", "reviews")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


async def _measure(gw: Gateway, query: str, n: int) -> tuple[float, float]:
    prepared = gw.prepare(query, None)
    for _ in range(20):
        result = await gw.execute(prepared, None)
        assert "errors" not in result, result
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await gw.execute(gw.prepare(query, None), None)
    return ((time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000)


async def _concurrent(
    gw: Gateway, query: str, n: int, concurrency: int
) -> tuple[float, float, float]:
    prepared = gw.prepare(query, None)
    sent = sum(getattr(c, "requests_sent", 0) for c in gw.clients.values())
    wall, cpu = time.perf_counter(), time.process_time()

    async def worker(count: int) -> None:
        for _ in range(count):
            result = await gw.execute(prepared, None)
            assert "errors" not in result, result

    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    done = (n // concurrency) * concurrency
    elapsed = time.perf_counter() - wall
    sent = sum(getattr(c, "requests_sent", 0) for c in gw.clients.values()) - sent
    return done / elapsed, (time.process_time() - cpu) / done * 1000, sent / done


async def _main(args: argparse.Namespace, sdl: str) -> None:
    gw = Gateway.from_supergraph_sdl(sdl)
    try:
        started = time.perf_counter()
        plan = gw.prepare(QUERY, None).plan
        cold = (time.perf_counter() - started) * 1000
        print(
            f"deep query: cold parse+validate+plan {cold:.1f} ms, "
            f"{len(plan.fetches())} subgraph requests per execution"
        )
        for name, query in (("deep query", QUERY), ("single fetch", SINGLE_FETCH_QUERY)):
            wall, cpu = await _measure(gw, query, args.requests)
            print(
                f"{name}: {wall:.2f} ms wall, {cpu:.2f} ms router CPU per request "
                f"({args.requests} sequential requests)"
            )
        if args.concurrency > 1:
            rps, cpu, per = await _concurrent(gw, QUERY, args.requests, args.concurrency)
            print(
                f"deep query, {args.concurrency} at a time: {rps:.0f} requests/s, "
                f"{cpu:.2f} ms router CPU and {per:.1f} subgraph requests per request"
            )
    finally:
        await gw.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=20,
        help="also run the deep query this many at a time (1: skip)",
    )
    args = parser.parse_args()
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.gateways.subgraphs:app",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/health")
        base = f"http://127.0.0.1:{port}"
        sdl = compose_locations([SubgraphLocation(n, f"{base}/{n}") for n in NAMES])
        asyncio.run(_main(args, sdl))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
