"""Benchmark: delivery latency of a like to N WebSocket subscribers of that post.

    .venv/bin/python -m bench.posts.live --subscribers 1000 --likes 50 --client-procs 2

Starts its own embedded PostgreSQL/Redis/S3 (under --data-dir), the users subgraph (JWKS),
the posts subgraph (`--server-workers` processes) and the worker. Client processes open
the subscribers' WebSockets (graphql-transport-ws) and subscribe to `postLikeChanged` of
one post; the coordinator then makes `--likes` likes through HTTP, one every
`--interval` seconds. Latency of a delivery = the time a subscriber's client received the
event minus the time the coordinator sent the `likePost` request (so it includes the
mutation: commit, Redis publish, fan-out, GraphQL execution per subscriber, the socket).
All processes are on this machine and share its clock. Every delivery is accounted for:
missing or duplicate deliveries are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from bench.analytics.stack import percentile, stack
from bench.posts.common import cpu_seconds, create_post, gql, start_posts_stack, tokens

SUB = "subscription($id: ID!) { postLikeChanged(postId: $id) { likeCount liked userId } }"
SUB_WITH_POST = (
    "subscription($id: ID!) { postLikeChanged(postId: $id) "
    "{ post { id text author { id } } likeCount liked userId } }"
)
LIKE = "mutation($id: ID!) { likePost(postId: $id) { errors { code } } }"


async def _subscriber(
    session: aiohttp.ClientSession,
    url: str,
    post_id: str,
    query: str,
    ready: asyncio.Event,
    counter: list[int],
    n: int,
    received: list[tuple[str, float]],
    stop: asyncio.Event,
) -> None:
    async with session.ws_connect(
        url, protocols=("graphql-transport-ws",), autoping=True, max_msg_size=0
    ) as ws:
        await ws.send_str(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads((await ws.receive()).data)["type"] == "connection_ack"
        await ws.send_str(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"id": post_id}},
                }
            )
        )
        counter[0] += 1
        if counter[0] == n:
            ready.set()
        stopping = asyncio.ensure_future(stop.wait())
        recv = asyncio.ensure_future(ws.receive())
        while True:
            done, _ = await asyncio.wait({recv, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if recv in done:
                frame = recv.result()
                at = time.time()
                if frame.type != aiohttp.WSMsgType.TEXT:
                    received.append((f"error:{frame.type}", at))
                    stopping.cancel()
                    return
                msg = json.loads(frame.data)
                if msg.get("type") == "next" and "data" in msg["payload"]:
                    received.append((msg["payload"]["data"]["postLikeChanged"]["userId"], at))
                elif msg.get("type") == "ping":
                    await ws.send_str(json.dumps({"type": "pong"}))
                else:
                    received.append(("error:" + json.dumps(msg)[:200], at))
                recv = asyncio.ensure_future(ws.receive())
            if stopping in done:
                recv.cancel()
                return


def client_main(url: str, post_id: str, query: str, n: int, pipe: Connection) -> None:
    async def run() -> list[tuple[str, float]]:
        ready, stop = asyncio.Event(), asyncio.Event()
        counter = [0]
        received: list[tuple[str, float]] = []
        tasks = []
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        for i in range(n):
            tasks.append(
                asyncio.create_task(
                    _subscriber(session, url, post_id, query, ready, counter, n, received, stop)
                )
            )
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # do not stampede the accept queue
        await ready.wait()
        pipe.send("subscribed")
        cpu0 = time.process_time()
        await asyncio.to_thread(pipe.recv)  # "stop"
        cpu[0] = time.process_time() - cpu0
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()
        return received

    cpu = [0.0]
    received = asyncio.run(run())
    pipe.send((received, cpu[0]))


async def _like_loop(
    url: str, post_id: str, toks: list[str], n: int, interval: float
) -> dict[str, float]:
    sent: dict[str, float] = {}
    async with aiohttp.ClientSession() as session:
        for i in range(n):
            user = str(i + 2)
            sent[user] = time.time()
            body = await gql(session, url, LIKE, {"id": post_id}, toks[i])
            assert not body.get("errors") and not body["data"]["likePost"]["errors"], body
            await asyncio.sleep(interval)
    return sent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--likes", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--server-workers", type=int, default=1)
    ap.add_argument(
        "--with-post",
        action="store_true",
        help="subscribers also select post { id text author { id } }",
    )
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-posts-live"))
    args = ap.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    query = SUB_WITH_POST if args.with_post else SUB
    with stack(args.data_dir) as st:
        url = start_posts_stack(st, args.data_dir, posts_workers=args.server_workers)
        toks = tokens(st, range(1, args.likes + 2))
        post_id = asyncio.run(create_post(url, toks[1]))
        ws_url = url.replace("http://", "ws://") + "/graphql"
        ctx = mp.get_context("spawn")
        clients: list[tuple[Any, Connection]] = []
        per = [
            args.subscribers // args.client_procs
            + (1 if i < args.subscribers % args.client_procs else 0)
            for i in range(args.client_procs)
        ]
        for n in per:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_main, args=(ws_url, post_id, query, n, child))
            proc.start()
            clients.append((proc, parent))
        for _, pipe in clients:
            assert pipe.recv() == "subscribed"
        time.sleep(2.0)  # let the server register the last subscriptions
        cpu0 = cpu_seconds(st, args.data_dir)
        sent = asyncio.run(
            _like_loop(
                url, post_id, [toks[u] for u in range(2, args.likes + 2)], args.likes, args.interval
            )
        )
        time.sleep(2.0)
        cpu1 = cpu_seconds(st, args.data_dir)
        load = os.getloadavg()[0]
        received: list[tuple[str, float]] = []
        client_cpu = 0.0
        for _, pipe in clients:
            pipe.send("stop")
        for proc, pipe in clients:
            got, used = pipe.recv()
            received.extend(got)
            client_cpu += used
            proc.join(30)
        lat = [(at - sent[u]) * 1000 for u, at in received if u in sent]
        errors = [u for u, _ in received if u not in sent]
        expected = args.subscribers * args.likes
        print(
            f"postLikeChanged to {args.subscribers} subscribers ({args.client_procs} client "
            f"processes), {args.likes} likes {args.interval}s apart, "
            f"{args.server_workers} posts process(es), selection: "
            f"{'with post' if args.with_post else 'likeCount liked userId'}"
        )
        print(f"  deliveries {len(lat)} of {expected} expected, {len(errors)} errors")
        print(
            f"  latency like sent -> event received: p50 {percentile(lat, 50):.1f} ms, "
            f"p95 {percentile(lat, 95):.1f} ms, p99 {percentile(lat, 99):.1f} ms, "
            f"max {max(lat) if lat else float('nan'):.1f} ms"
        )
        per_like = ", ".join(
            f"{k} {(cpu1.get(k, 0) - v) / args.likes * 1000:.1f}" for k, v in sorted(cpu0.items())
        )
        print(f"  server-side CPU ms per like (all its deliveries): {per_like}")
        print(
            f"  client processes' CPU ms per like (receiving {args.subscribers} frames): "
            f"{client_cpu / args.likes * 1000:.1f}"
        )
        print(f"  load average during the run: {load:.1f} (2 cores)")
        if errors:
            print("  first error:", errors[0])


if __name__ == "__main__":
    main()
