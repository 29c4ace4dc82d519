"""Benchmark the users subgraph as a real `puppies serve users` process.

    .venv/bin/python -m bench.users.bench_users [--followers 1000] [--seconds 10]
                                                [--concurrency 16] [--workers 1]
                                                [--only me|followers|logIn ...]

Measures, each for `--seconds` at `--concurrency` requests in flight over HTTP:
  - `me` with a bearer token (JWT verification + one DataLoader statement);
  - a followers page of 100 with each follower's counts and `viewerFollows`
    (4 SQL statements whatever the page size);
  - `logIn` (argon2id verification dominates: memory-hard on purpose).
Prints requests/s, latency percentiles, and the server's CPU time per request (user+sys of
the serving process(es), from psutil): the figure that stays meaningful on a shared,
loaded machine. Figures go to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from bench.analytics.stack import percentile, stack
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port
from resolvers.runtime import Resources
from resolvers.users import bulk
from resolvers.users.passwords import hash_password_sync

PASSWORD = "bench password 123"
FOLLOWERS = """query($id: ID!) { user(id: $id) { followerCount followers(first: 100) {
  edges { cursor node { id username followerCount followingCount viewerFollows } }
  pageInfo { hasNextPage endCursor } } } }"""
LOG_IN = """mutation($l: String!, $p: String!) { logIn(input: {login: $l, password: $p}) {
  session { accessToken } errors { code } } }"""


async def _load(settings: Any, followers: int) -> tuple[int, int]:
    res = Resources.open(settings)
    try:
        h = hash_password_sync(PASSWORD)
        ids = await bulk.insert_users(
            res, [(f"b{i}", f"b{i}@bench.dev", f"B {i}", "") for i in range(followers + 1)], h
        )
        star = ids["b0"]
        await bulk.insert_follows(res, [(ids[f"b{i}"], star) for i in range(1, followers + 1)])
        await bulk.insert_follows(res, [(star, ids[f"b{i}"]) for i in range(1, followers + 1, 3)])
        await bulk.recount(res)
        return star, ids["b1"]
    finally:
        await res.close()


async def _hammer(
    url: str,
    query: str,
    variables: dict[str, Any],
    token: str | None,
    seconds: float,
    concurrency: int,
    check: str,
) -> dict[str, float]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = orjson.dumps({"query": query, "variables": variables})
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            async with session.post(url + "/graphql", data=body, headers=headers) as r:
                payload = await r.read()
            latencies.append(time.perf_counter() - t0)
            if check.encode() not in payload or b'"errors":[{' in payload:
                errors += 1

    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:
        started = time.monotonic()
        await asyncio.gather(*[worker(session) for _ in range(concurrency)])
        elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--followers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--only",
        action="append",
        choices=["me", "followers", "logIn"],
        help="run only these operations (repeatable); default: all",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-users-") as tmp, stack(Path(tmp)) as st:
        star, fan = asyncio.run(_load(st.settings, args.followers))
        port = free_port()
        proc = st.start(
            ["serve", "users", "--port", str(port), "--workers", str(args.workers)],
            port,
            log=Path(tmp) / "users.log",
        )
        server = psutil.Process(proc.pid)

        def cpu_seconds() -> float:
            procs = [server, *server.children(recursive=True)]
            return sum(p.cpu_times().user + p.cpu_times().system for p in procs)

        url = f"http://127.0.0.1:{port}"
        ring = KeyRing(st.settings.keys_dir).load()
        token = issue_access_token(ring, st.settings, fan, ttl_seconds=3600).token
        runs = {
            "me": ("{ me { id username followerCount } }", {}, token, '"me":{'),
            "followers(first: 100)": (FOLLOWERS, {"id": str(star)}, token, '"edges"'),
            "logIn (argon2id)": (LOG_IN, {"l": "b2", "p": PASSWORD}, None, "accessToken"),
        }
        print(
            f"users subgraph, {args.workers} process(es), concurrency {args.concurrency}, "
            f"{args.seconds:.0f} s each; star has {args.followers} followers"
        )
        for name, (q, v, tok, check) in runs.items():
            if args.only and name.split("(")[0].split(" ")[0] not in args.only:
                continue
            asyncio.run(_hammer(url, q, v, tok, 1.0, args.concurrency, check))  # warm up
            cpu0 = cpu_seconds()
            r = asyncio.run(_hammer(url, q, v, tok, args.seconds, args.concurrency, check))
            cpu_ms = (cpu_seconds() - cpu0) * 1000 / max(1, r["requests"])
            print(
                f"{name:24s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                f"p99 {r['p99_ms']:7.1f} ms  server CPU {cpu_ms:6.2f} ms/req  "
                f"({r['requests']} requests, {r['errors']} errors)",
                flush=True,
            )


if __name__ == "__main__":
    main()
