"""The router's garbage collections with many WebSocket subscribers: `puppies serve router`
(uvicorn, httptools, uvloop; the contender's code) in its own process, stub subgraphs in
another (bench/router_stubs.py's generated HTTP answers, plus `postLikeChanged` over
graphql-transport-ws at /posts: one event per subscription every ``--event-interval``
seconds), the load from this process.

    .venv/bin/python -m bench.router_gc [--subscribers 1000] [--rate 200] [--seconds 20]
        [--baseline DIR] [--rounds 1] [--env NAME=VALUE ...]

For each contender (``current`` = this checkout, ``baseline`` = another checkout, e.g.
``git archive main | tar -x -C DIR``; rounds interleaved, ABAB) and each round:

1. the router starts; 200 feed pages warm it up;
2. phase ``http``: feed pages (bench/mixed/workload.py FEED, authenticated) open-loop at
   ``--rate`` for ``--seconds``, no subscriber;
3. ``--subscribers`` graphql-transport-ws sockets subscribe to `postLikeChanged` (a post
   each) and wait for their first event;
4. phase ``http+subs``: the same HTTP load while the subscribers stay connected and their
   events flow.

The router process records every collection (gc.callbacks, installed before the router's
code runs, so it does not depend on the contender's own metrics) and answers, over a local
socket, its GC-tracked objects (``len(gc.get_objects())`` after a full collection: what the
next full collection walks; the frozen ones apart). The report per phase: full (gen-2)
collections per minute, their pause times (mean, max), the time in all collections, the
HTTP p50/p99; and the tracked objects per connected subscriber (with the types that grew
most). Every subscriber checks its events: its own post's, in order, none missing (the stub
numbers them per subscription), so a mixed-up or dropped event fails the run.

``--env NAME=VALUE`` is set in the router's environment (e.g. ``PUPPIES_ROUTER_GC_THRESHOLDS
=700,10,10`` to compare thresholds on one checkout: ``--baseline .`` with ``--baseline-env``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUBSCRIPTION = (
    "subscription Live($id: ID!) { postLikeChanged(postId: $id) { likeCount liked userId } }"
)
AUTHKEY = b"router-gc-bench"


# --- stub subgraphs: router_stubs' HTTP answers, and postLikeChanged over WebSocket --------


def serve_stubs(port: int, event_interval: float, latency: float) -> None:
    import graphql
    import uvicorn

    from bench.router_stubs import Responder

    responder = Responder(graphql.build_schema((ROOT / "supergraph.graphql").read_text()))
    # every live subscription: [send, subscription id, post id, events sent]
    live: dict[int, list[Any]] = {}

    async def ticker() -> None:
        # the events of all subscriptions spread evenly over each interval
        while True:
            started = time.monotonic()
            keys = list(live)
            step = event_interval / max(len(keys), 1)
            for n, key in enumerate(keys):
                entry = live.get(key)
                if entry is not None:
                    send, sub_id, post_id, sent = entry
                    entry[3] = sent + 1
                    data = {"likeCount": sent + 1, "liked": sent % 2 == 0, "userId": post_id}
                    message = {
                        "type": "next",
                        "id": sub_id,
                        "payload": {"data": {"postLikeChanged": data}},
                    }
                    try:
                        await send({"type": "websocket.send", "text": json.dumps(message)})
                    except Exception:
                        live.pop(key, None)
                delay = started + (n + 1) * step - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if not keys:
                await asyncio.sleep(0.1)

    ticking: list[asyncio.Task[None]] = []

    async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not ticking:
            ticking.append(asyncio.create_task(ticker()))
        await receive()  # websocket.connect
        await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        key = id(send)
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                body = json.loads(message.get("text") or message.get("bytes") or b"{}")
                kind = body.get("type")
                if kind == "connection_init":
                    await send({"type": "websocket.send", "text": '{"type":"connection_ack"}'})
                elif kind == "ping":
                    await send({"type": "websocket.send", "text": '{"type":"pong"}'})
                elif kind == "subscribe":
                    variables = body["payload"].get("variables") or {}
                    post_id = next(iter(variables.values()))
                    live[key] = [send, body["id"], post_id, 0]
                elif kind == "complete":
                    live.pop(key, None)
        finally:
            live.pop(key, None)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = responder.answer(b"".join(chunks)) if scope["method"] == "POST" else b"{}"
        if latency and scope["path"] != "/health":
            await asyncio.sleep(latency)  # a subgraph's time: requests in flight overlap
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    asyncio.run(uvicorn.Server(config).serve())


# --- inside the router process -----------------------------------------------------------


def router_child(args: argparse.Namespace) -> None:
    """Records every collection, answers snapshots on ``args.control``, then runs
    `puppies serve router` (the contender's code: its checkout first on sys.path)."""
    import threading
    from multiprocessing.connection import Listener

    pauses: list[tuple[float, int, float]] = []  # (when, generation, seconds)
    started = [0.0]

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            now = time.perf_counter()
            pauses.append((now, info["generation"], now - started[0]))

    gc.callbacks.append(record)
    listener = Listener(("127.0.0.1", args.control), authkey=AUTHKEY)

    def types() -> Counter[str]:
        return Counter(type(o).__qualname__ for o in gc.get_objects())

    def control() -> None:
        baseline: Counter[str] = Counter()
        while True:
            with listener.accept() as conn:
                while True:
                    try:
                        command = conn.recv()
                    except EOFError:
                        break
                    if isinstance(command, tuple) and command[0] == "referrers":
                        # who refers to a sample of the objects of a type (a diagnostic)
                        sample = [o for o in gc.get_objects() if type(o).__qualname__ == command[1]]
                        found: Counter[str] = Counter()
                        for o in sample[-command[2] :]:
                            for r in gc.get_referrers(o):
                                if r is not sample:
                                    found[_describe(r)] += 1
                        del sample
                        conn.send(found.most_common(20))
                    elif command == "full":
                        # what a full collection costs now: five, timed (the fastest: the
                        # machine is shared, the others are that plus noise)
                        times = []
                        for _ in range(5):
                            t0 = time.perf_counter()
                            gc.collect()
                            times.append(time.perf_counter() - t0)
                        conn.send(min(times))
                    elif command == "pauses":
                        conn.send(list(pauses))
                        pauses.clear()
                    elif command in ("snapshot", "baseline"):
                        gc.collect()
                        counts = types()
                        grown = counts - baseline
                        if command == "baseline":
                            baseline = counts
                        conn.send(
                            {
                                "tracked": sum(counts.values()),
                                "frozen": gc.get_freeze_count(),
                                "thresholds": gc.get_threshold(),
                                "grown": grown.most_common(25),
                            }
                        )

    threading.Thread(target=control, daemon=True).start()
    from puppies.cli import main

    sys.argv = ["puppies", "serve", "router", *args.router_args]
    main()


def _describe(o: Any) -> str:
    if isinstance(o, dict):
        keys = sorted(str(k) for k in list(o)[:6])
        return "dict" + str(keys)[:120]
    if type(o).__name__ == "frame":
        return f"frame {o.f_code.co_qualname}"
    if type(o).__name__ == "cell":
        return "cell"
    if type(o).__name__ in ("coroutine", "generator", "async_generator"):
        return f"{type(o).__name__} {o.__qualname__}"
    return type(o).__module__ + "." + type(o).__qualname__


# --- the driver ----------------------------------------------------------------------------


async def _http_load(url: str, token: str, rate: float, seconds: float) -> tuple[list[float], int]:
    import aiohttp

    from bench.mixed.workload import FEED

    body = json.dumps({"query": FEED}).encode()
    headers = {
        "content-type": "application/json",
        "accept": "application/graphql-response+json",
        "authorization": f"Bearer {token}",
    }
    latencies: list[float] = []
    failures = [0]

    async def one(session: aiohttp.ClientSession) -> None:
        sent = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                if response.status != 200 or b'"errors"' in answer:
                    failures[0] += 1
        except aiohttp.ClientError:
            failures[0] += 1
        latencies.append(time.perf_counter() - sent)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session)))
        await asyncio.gather(*tasks)
    return latencies, failures[0]


class Subscribers:
    """``n`` graphql-transport-ws sockets to the router, one `postLikeChanged` each."""

    def __init__(self, url: str, token: str, n: int) -> None:
        self.url = url
        self.token = token
        self.n = n
        self.events = [0] * n
        self.errors: Counter[str] = Counter()
        self.first = [asyncio.get_running_loop().create_future() for _ in range(n)]
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._one(i)) for i in range(self.n)]

    async def _one(self, i: int) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Subprotocol

        post_id = str(10_000 + i)
        try:
            async with connect(
                self.url, subprotocols=[Subprotocol("graphql-transport-ws")], max_size=None
            ) as ws:
                init = {
                    "type": "connection_init",
                    "payload": {"Authorization": f"Bearer {self.token}"},
                }
                await ws.send(json.dumps(init))
                ack = json.loads(await ws.recv())
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no ack: {ack}")
                payload = {"query": SUBSCRIPTION, "variables": {"id": post_id}}
                await ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": payload}))
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("type") == "ping":
                        await ws.send('{"type":"pong"}')
                        continue
                    if message.get("type") != "next" or message.get("id") != "s":
                        self.errors[f"message {message.get('type')}"] += 1
                        continue
                    data = message["payload"].get("data") or {}
                    event = data.get("postLikeChanged") or {}
                    expected = self.events[i] + 1
                    if event.get("userId") != post_id:
                        self.errors["another subscription's event"] += 1
                    elif event.get("likeCount") != expected:
                        if self.events[i] == 0 and event.get("likeCount", 0) > 1:
                            pass  # subscribed after the stub's first round: fine
                        else:
                            self.errors["event out of order or missing"] += 1
                    self.events[i] = event.get("likeCount", expected)
                    if not self.first[i].done():
                        self.first[i].set_result(None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.errors[type(exc).__name__] += 1
            if not self.first[i].done():
                self.first[i].set_exception(exc)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _gc_summary(pauses: list[tuple[float, int, float]], seconds: float) -> dict[str, Any]:
    full = [p for _, g, p in pauses if g == 2]
    return {
        "collections": len(pauses),
        "gc_ms": sum(p for _, _, p in pauses) * 1e3,
        "full": len(full),
        "full_per_min": len(full) * 60 / seconds,
        "full_mean_ms": statistics.mean(full) * 1e3 if full else 0.0,
        "full_max_ms": max(full) * 1e3 if full else 0.0,
        "any_max_ms": max((p for _, _, p in pauses), default=0.0) * 1e3,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] * 1e3 if ordered else 0.0


def _start_router(
    where: Path, env: dict[str, str], config: Path, listen: int, control: int
) -> subprocess.Popen[bytes]:
    router_args = ["--supergraph", str(ROOT / "supergraph.graphql"), "--config", str(config)]
    router_args += ["--listen", f"127.0.0.1:{listen}", "--log-level", "warning"]
    command = [sys.executable, str(Path(__file__).resolve()), "--router-child"]
    command += ["--control", str(control), "--", *router_args]
    full_env = dict(os.environ, PYTHONPATH=f"{where}:{ROOT}", **env)
    with open(config.with_name("router.log"), "ab") as log:
        return subprocess.Popen(command, cwd=where, env=full_env, stdout=log, stderr=log)


async def _round(
    args: argparse.Namespace, where: Path, env: dict[str, str], config: Path, token: str
) -> dict[str, Any]:
    from multiprocessing.connection import Client

    from bench.router_core import _free_port, _wait

    listen, control = _free_port(), _free_port()
    router = _start_router(where, env, config, listen, control)
    result: dict[str, Any] = {}
    try:
        await asyncio.to_thread(_wait, f"http://127.0.0.1:{listen}/health")
        conn = Client(("127.0.0.1", control), authkey=AUTHKEY)

        def ask(command: Any) -> Any:
            conn.send(command)
            return conn.recv()

        url = f"http://127.0.0.1:{listen}/graphql"
        latencies, failures = await _http_load(url, token, args.rate, 200 / args.rate)
        if failures:
            raise SystemExit(f"warm-up: {failures} failed requests (see {config.parent})")
        before = await asyncio.to_thread(ask, "baseline")
        result["thresholds"] = before["thresholds"]
        result["frozen"] = before["frozen"]
        result["tracked_before"] = before["tracked"]
        result["full_gc_ms"] = ask("full") * 1e3
        ask("pauses")
        latencies, failures = await _http_load(url, token, args.rate, args.seconds)
        result["http"] = _gc_summary(ask("pauses"), args.seconds)
        result["http"].update(
            p50_ms=_percentile(latencies, 0.5),
            p99_ms=_percentile(latencies, 0.99),
            failures=failures,
        )
        subs = Subscribers(f"ws://127.0.0.1:{listen}/graphql", token, args.subscribers)
        subs.start()
        try:
            await asyncio.wait_for(asyncio.gather(*subs.first), 120)
            after = await asyncio.to_thread(ask, "snapshot")
            result["tracked_with_subs"] = after["tracked"]
            result["per_subscriber"] = (after["tracked"] - before["tracked"]) / args.subscribers
            result["grown"] = after["grown"][:12]
            result["full_gc_ms_with_subs"] = ask("full") * 1e3
            for name in args.referrers:
                result[f"referrers {name}"] = ask(("referrers", name, 300))
            ask("pauses")
            events = sum(subs.events)
            latencies, failures = await _http_load(url, token, args.rate, args.seconds)
            result["http+subs"] = _gc_summary(ask("pauses"), args.seconds)
            result["http+subs"].update(
                p50_ms=_percentile(latencies, 0.5),
                p99_ms=_percentile(latencies, 0.99),
                failures=failures,
            )
            result["events"] = sum(subs.events) - events
        finally:
            await subs.stop()
        result["subscriber_errors"] = dict(subs.errors)
        conn.close()
    finally:
        router.terminate()
        router.wait()
    return result


def _config(workdir: Path, stub_port: int) -> tuple[Path, str]:
    from bench.router_mix import _config as mix_config

    # every subgraph at the stub (the subscription: ws:// to its /posts)
    return mix_config(workdir, stub_port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="feed pages per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase's length")
    parser.add_argument("--event-interval", type=float, default=5.0)
    parser.add_argument(
        "--stub-latency-ms",
        type=float,
        default=10.0,
        help="each stub subgraph answer this late (requests in flight overlap, as with real "
        "subgraphs: what a young collection finds alive is promoted)",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE (current)")
    parser.add_argument("--baseline-env", action="append", default=[], help="NAME=VALUE (baseline)")
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--referrers", action="append", default=[], help="type name: who refers to them"
    )
    parser.add_argument("--router-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stubs", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--control", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("router_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.router_child:
        router_child(args)
        return 0
    if args.stubs is not None:
        serve_stubs(args.stubs, args.event_interval, args.stub_latency_ms / 1000)
        return 0

    from bench.router_core import _free_port, _wait

    port = _free_port()
    stub = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            *("--stubs", str(port), "--event-interval", str(args.event_interval)),
            *("--stub-latency-ms", str(args.stub_latency_ms)),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    workdir = Path(tempfile.mkdtemp(prefix="router-gc-"))
    contenders = [("current", ROOT, dict(e.split("=", 1) for e in args.env))]
    if args.baseline is not None:
        contenders.append(
            ("baseline", args.baseline.resolve(), dict(e.split("=", 1) for e in args.baseline_env))
        )
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in contenders}
    try:
        _wait(f"http://127.0.0.1:{port}/health")
        config, token = _config(workdir, port)
        for _ in range(args.rounds):
            for name, where, env in contenders:
                result = asyncio.run(_round(args, where, env, config, token))
                results[name].append(result)
                print(f"{name}: {json.dumps(result)}", flush=True)
    finally:
        stub.terminate()
        stub.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\n{args.subscribers} subscribers, feed page at {args.rate:g}/s (stub subgraphs "
        f"answering in {args.stub_latency_ms:g} ms), phases of "
        f"{args.seconds:g} s, an event per subscription every {args.event_interval:g} s"
    )
    for name, _, env in contenders:
        for r in results[name]:
            print(
                f"{name} {env or ''} thresholds {tuple(r['thresholds'])}, frozen {r['frozen']}, "
                f"tracked {r['tracked_before']} -> {r['tracked_with_subs']} "
                f"({r['per_subscriber']:.0f} per subscriber), a full collection "
                f"{r['full_gc_ms']:.1f} -> {r['full_gc_ms_with_subs']:.1f} ms, "
                f"events {r['events']}, "
                f"subscriber errors {r['subscriber_errors'] or 'none'}"
            )
            for phase in ("http", "http+subs"):
                s = r[phase]
                print(
                    f"   {phase:9s} full GCs {s['full']} ({s['full_per_min']:.1f}/min) "
                    f"mean {s['full_mean_ms']:.1f} ms max {s['full_max_ms']:.1f} ms; "
                    f"{s['collections']} collections {s['gc_ms']:.0f} ms in all; "
                    f"HTTP p50 {s['p50_ms']:.1f} ms p99 {s['p99_ms']:.1f} ms "
                    f"failures {s['failures']}"
                )
            print(f"   grown: {r['grown']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    failed = any(r["subscriber_errors"] for rs in results.values() for r in rs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
