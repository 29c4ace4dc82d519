"""Feed benchmarks on the `puppies seed --scale` graph (see bench/RESULTS.md, "Feed").

    python -m bench.feed.bench_feed [--requests 2000] [--visible 20]

With DATABASE_URL/REDIS_URL/S3_ENDPOINT_URL pointing at the seeded services (see
bench/feed/services.py). Measures, in one run:
1. the feed page (20 items) read by the resolver, against a pure fan-out-on-read query over
   all followees (posts of everyone followed, newest 20), for viewers following ~5 to ~1,800
   accounts: how each grows with the follow count;
2. `Query.feed(first: 20)` over HTTP at a real `puppies serve feed` process (JWT auth via a
   real `puppies serve users` JWKS), sequential requests over one keep-alive connection, and
   with `--router-dir` the same through the router (composed from the running subgraphs),
   asking each post's `text` so every page also costs a posts `_entities` fetch;
3. fan-out throughput (inbox rows/s) of posts by a ~9,000-follower author;
4. post-to-visible: a real `puppies worker` running, the time from `create_post` commit
   until the post is in the feed of the author's last follower (the last one fan-out
   reaches), for a ~9,000-follower author.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psutil
from sqlalchemy import select, text

from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port
from puppies.pagination import PageRequest
from puppies.settings import Settings, load_settings
from resolvers.feed.fanout import fan_out_post
from resolvers.feed.read import MAX_ID, read_inbox_page
from resolvers.posts.feed_queries import posts_by_authors
from resolvers.posts.posts import create_post
from resolvers.runtime import Resources
from resolvers.users.bulk_copy import all_user_ids, users_by_followers, users_by_following
from resolvers.users.graph_queries import followee_ids, follower_ids_after

FEED = (
    "query($first: Int) { feed(first: $first) { edges { cursor node { id } } "
    "pageInfo { hasNextPage endCursor } } }"
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def fmt(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 50):.2f} ms, p95 {pct(values, 95):.2f} ms, "
        f"max {max(values):.2f} ms (n={len(values)})"
    )


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    t = time.perf_counter()
    await fn()
    return (time.perf_counter() - t) * 1000


async def compare_by_follow_count(res: Resources, reps: int) -> list[str]:
    db = res.db
    lines = [
        "| accounts followed (~) | viewers | hybrid page: min / p50 / p95 (ms) "
        "| pure fan-out-on-read: min / p50 / p95 (ms) |",
        "|---|---|---|---|",
    ]
    request = PageRequest(20, None)
    for around in (5, 20, 100, 500, 1000, 1800):
        async with db.session() as session:
            viewers = await users_by_following(session, around, 20)
        if not viewers:
            continue
        hybrid: list[float] = []
        pure: list[float] = []
        for viewer in viewers:
            stmt = posts_by_authors(followee_ids(viewer), MAX_ID, 21)

            async def hybrid_read(v: int = viewer) -> None:
                await read_inbox_page(res, v, request)

            async def pure_read(s: Any = stmt) -> None:
                async with db.session() as session:
                    (await session.execute(s)).all()

            await hybrid_read()
            await pure_read()  # warm both
            for _ in range(reps):
                hybrid.append(await timed(hybrid_read))
                pure.append(await timed(pure_read))
        lines.append(
            f"| {around} | {len(viewers)} | {min(hybrid):.2f} / {pct(hybrid, 50):.2f} / "
            f"{pct(hybrid, 95):.2f} | {min(pure):.2f} / {pct(pure, 50):.2f} / "
            f"{pct(pure, 95):.2f} |"
        )
        print(lines[-1], flush=True)
    return lines


def start(args: list[str], env: dict[str, str], port: int | None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "puppies.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while port is not None:
        if proc.poll() is not None:
            raise RuntimeError(f"{args} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{args} did not listen on {port}")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


ROUTER_FEED = (
    "query($first: Int) { feed(first: $first) { edges { cursor node { id text } } "
    "pageInfo { hasNextPage endCursor } } }"
)


def cpu_seconds(procs: list[subprocess.Popen[bytes]]) -> float:
    """user+sys CPU of the server processes (and their children) so far."""
    total = 0.0
    for proc in procs:
        p = psutil.Process(proc.pid)
        for q in [p, *p.children(recursive=True)]:
            t = q.cpu_times()
            total += t.user + t.system
    return total


async def measure(
    url: str,
    query: str,
    tokens: dict[int, str],
    viewers: list[int],
    requests: int,
    check: Callable[[dict[str, Any]], None],
    servers: list[subprocess.Popen[bytes]],
) -> tuple[list[float], float, float]:
    """Latencies (ms), requests/s, and server CPU ms per request."""
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(v: int) -> None:
            r = await http.post(
                url,
                json={"query": query, "variables": {"first": 20}},
                headers={"Authorization": f"Bearer {tokens[v]}"},
            )
            body = r.json()
            assert r.status_code == 200 and "errors" not in body, body
            check(body)

        for v in viewers[:50]:
            await one(v)  # warm-up (JWKS fetch, pools, plan cache)
        latencies = []
        cpu0 = cpu_seconds(servers)
        t0 = time.perf_counter()
        for i in range(requests):
            t = time.perf_counter()
            await one(viewers[i % len(viewers)])
            latencies.append((time.perf_counter() - t) * 1000)
        rps = requests / (time.perf_counter() - t0)
        return latencies, rps, (cpu_seconds(servers) - cpu0) / requests * 1000


def not_degraded(body: dict[str, Any]) -> None:
    assert "feed" not in body.get("extensions", {}), body


def router_config(path: str, listen: int, ports: dict[str, int]) -> None:
    subgraphs = "".join(
        f"  {name}:\n    routing_url: http://127.0.0.1:{port}/graphql\n"
        f"    schema:\n      subgraph_url: http://127.0.0.1:{port}/graphql\n"
        for name, port in ports.items()
    )
    with open(path, "w") as f:
        f.write(
            f"supergraph:\n  listen: 127.0.0.1:{listen}\n  path: /graphql\n"
            "headers:\n  all:\n    request:\n      - propagate:\n"
            "          named: authorization\n"
            f"subgraphs:\n{subgraphs}"
        )


def start_router(router_dir: str, cfg: str, sdl: str, port: int) -> subprocess.Popen[bytes]:
    """Compose the running subgraphs and serve them with the router checkout's own venv."""
    renv = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    py = os.path.join(router_dir, ".venv", "bin", "python")
    subprocess.run(
        [
            py,
            "-c",
            "import sys; from graph.composition.command import "
            "compose_command; compose_command(sys.argv[1], sys.argv[2], "
            "timeout=30, check=False)",
            cfg,
            sdl,
        ],
        cwd=router_dir,
        env=renv,
        check=True,
    )
    router = subprocess.Popen(
        [py, "-m", "graph.cli", "serve", "--supergraph", sdl, "--config", cfg],
        cwd=router_dir,
        env=renv,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return router
        if time.monotonic() > deadline or router.poll() is not None:
            stop(router)
            raise RuntimeError("the router did not start")
        time.sleep(0.1)


async def http_reads(
    settings: Settings,
    env: dict[str, str],
    viewers: list[int],
    requests: int,
    router_dir: str | None,
) -> list[str]:
    """Query.feed at the subgraph, and through the router (when its checkout is given)."""
    ring = KeyRing(settings.keys_dir).load()
    tokens = {v: issue_access_token(ring, settings, v, ttl_seconds=3600).token for v in viewers}
    ports = {"users": free_port(), "posts": free_port(), "feed": free_port()}
    env = {
        **env,
        **{f"{k.upper()}_PORT": str(p) for k, p in ports.items()},
        "JWKS_URL": f"http://127.0.0.1:{ports['users']}/.well-known/jwks.json",
        "LOG_LEVEL": "WARNING",
    }
    procs = [start(["serve", name], env, port) for name, port in ports.items()]
    out = []
    try:
        lat, rps, cpu = await measure(
            f"http://127.0.0.1:{ports['feed']}/graphql",
            FEED,
            tokens,
            viewers,
            requests,
            not_degraded,
            [procs[2]],
        )
        out.append(
            f"subgraph: {fmt(lat)}; {rps:.0f} req/s sequential; feed process CPU "
            f"{cpu:.2f} ms/request"
        )
        print("   " + out[-1], flush=True)
        if router_dir:
            cfg = os.path.join(settings.data_dir, "bench-router.yaml")
            sdl = os.path.join(settings.data_dir, "bench-supergraph.graphql")
            router_port = free_port()
            # Feed and posts are all this query needs (users runs for the JWKS only).
            router_config(cfg, router_port, {k: ports[k] for k in ("posts", "feed")})
            procs.append(start_router(router_dir, cfg, sdl, router_port))

            def has_text(body: dict[str, Any]) -> None:
                edges = body["data"]["feed"]["edges"]
                assert all(e["node"]["text"] is not None for e in edges), body

            lat, rps, cpu = await measure(
                f"http://127.0.0.1:{router_port}/graphql",
                ROUTER_FEED,
                tokens,
                viewers,
                requests,
                has_text,
                [procs[1], procs[2], procs[3]],
            )
            out.append(
                f"router (feed + posts `text` via _entities): {fmt(lat)}; "
                f"{rps:.0f} req/s sequential; router+feed+posts CPU {cpu:.2f} "
                "ms/request"
            )
            print("   " + out[-1], flush=True)
    finally:
        for proc in reversed(procs):
            stop(proc)
    return out


async def fanout_throughput(res: Resources, author: int, posts: int) -> list[tuple[int, float]]:
    """(rows, seconds) per post, fanned out by the resolver in this process."""
    out = []
    for _ in range(posts):
        post_id = (await create_post(res, author, "bench fan-out", [])).post.id
        t = time.perf_counter()
        result = await fan_out_post(res, post_id, author)
        out.append((result.rows_inserted + 1, time.perf_counter() - t))
    return out


async def post_to_visible(res: Resources, env: dict[str, str], author: int, n: int) -> list[float]:
    db = res.db
    followers = follower_ids_after(author, 0, 10**9).subquery()
    async with db.session() as session:
        # The last follower in fan-out order: the worst case for post-to-visible.
        last_follower = (
            await session.execute(
                select(followers.c.follower_id).order_by(followers.c.cursor.desc()).limit(1)
            )
        ).scalar_one()
    worker = start(["worker"], {**env, "LOG_LEVEL": "WARNING"}, None)
    try:
        await asyncio.sleep(3)  # worker start-up, relay LISTEN
        request = PageRequest(1, None)
        out = []
        for _ in range(n):
            t = time.perf_counter()
            post_id = (await create_post(res, author, "bench visible", [])).post.id
            while True:
                page = await read_inbox_page(res, last_follower, request)
                if page.items and page.items[0].post_id == post_id:
                    break
                if time.perf_counter() - t > 30:
                    raise TimeoutError("post never became visible")
                await asyncio.sleep(0.002)
            out.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.2)
        return out
    finally:
        stop(worker)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--visible", type=int, default=20)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--fanouts", type=int, default=20)
    parser.add_argument(
        "--writes-only", action="store_true", help="only fan-out throughput and post-to-visible"
    )
    parser.add_argument(
        "--router-dir",
        default=None,
        help="a checkout of the router (with its .venv) to measure through",
    )
    args = parser.parse_args()
    settings = load_settings(log_level="WARNING")
    settings.require_services()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    res = Resources.open(settings)
    db = res.db
    rng = random.Random(7)
    try:
        async with db.session() as session:
            counts = {
                r[0]: r[1]
                for r in await session.execute(
                    text(
                        "SELECT 'inbox', count(*) FROM feed.inbox UNION ALL "
                        "SELECT 'vips', count(*) FROM feed.vip"
                    )
                )
            }
            everyone = await all_user_ids(session)
            counts["users"] = len(everyone)
            ((author, followers),) = await users_by_followers(session, 9000, 1)
        print(
            f"graph: {counts}; 9k author {author} has {followers} followers; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )
        table: list[str] = []
        if not args.writes_only:
            print("\n1. page read vs pure fan-out-on-read, by accounts followed", flush=True)
            table = await compare_by_follow_count(res, args.reps)
            print("\n2. Query.feed(first: 20) over HTTP at the feed subgraph", flush=True)
            viewers = rng.sample(everyone, 500)
            await http_reads(settings, env, viewers, args.requests, args.router_dir)
        print(f"\n3. fan-out throughput, author with {followers} followers", flush=True)
        runs = await fanout_throughput(res, author, args.fanouts)
        rows, secs = sum(r for r, _ in runs), sum(t for _, t in runs)
        warm = runs[3:] or runs
        print(
            f"   {len(runs)} posts, {rows} inbox rows in {secs:.2f} s: {rows / secs:,.0f} "
            f"rows/s overall; {sum(r for r, _ in warm) / sum(t for _, t in warm):,.0f} rows/s "
            f"after the first 3 (cold pages); per post p50 "
            f"{pct([t * 1000 for _, t in runs], 50):.0f} ms",
            flush=True,
        )
        print(
            f"\n4. post to visible in the last follower's feed ({followers} followers)", flush=True
        )
        visible = await post_to_visible(res, env, author, args.visible)
        print(f"   {fmt(visible)}", flush=True)
        print("\n" + "\n".join(table))
        print(f"load average at the end: {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        await res.close()


if __name__ == "__main__":
    asyncio.run(main())
