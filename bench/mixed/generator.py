"""Load generator processes: open-loop request senders and WebSocket subscribers.

Each sender process owns a disjoint slice of the viewers (so per-user like/follow toggles
never race across processes) and its share of the rate. Arrivals are at a constant rate
(one every 1/rate seconds, from one start time shared by all processes); each request's
latency is measured from its intended send time, so a late start (queueing anywhere,
the generator included) shows in the figure instead of being hidden. The process reports
its own CPU time and how late it started requests, to show it was not the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import orjson

from bench.mixed.workload import Call, Sender, Viewer, Workload, error_codes

TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass
class SenderJob:
    url: str
    rate: float
    start_at: float  # wall clock (time.time()) of the first arrival
    duration: float
    warmup: float
    seed: int
    viewers: list[tuple[str, str]]  # (token, user id)
    post_ids: list[str]
    hot_post_ids: list[str]
    user_ids: list[str]
    image: bytes
    mix: list[tuple[str, int]] | None = None
    # (viewer id, post id) liked in PostgreSQL at the start (bench.mixed.stack.liked_pairs):
    # the like op toggles from there, so a like is never an already-applied no-op
    liked: set[tuple[str, str]] = field(default_factory=set)
    # (viewer id, user id) followed in PostgreSQL at the start (stack.followed_pairs): the
    # follow op toggles from there too
    followed: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class SenderResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)  # ms, per operation
    errors: dict[str, int] = field(default_factory=dict)  # "op CODE" -> count
    sent: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    late_p99_ms: float = 0.0  # how late requests were started vs their intended time
    # (second of the measured run the request was due in, ms): the run's timeline, which
    # tells a stall (a few seconds of slow requests) from saturation (every second slow)
    timeline: list[tuple[int, float]] = field(default_factory=list)


class _HttpSender(Sender):
    def __init__(self, session: aiohttp.ClientSession, url: str, result: SenderResult) -> None:
        self.session, self.url, self.result = session, url + "/graphql", result
        self.recording = False
        self.late: list[float] = []
        self.measured_from = 0.0  # monotonic time of the first measured arrival

    def _error(self, op: str, code: str) -> None:
        if self.recording:
            key = f"{op} {code}"
            self.result.errors[key] = self.result.errors.get(key, 0) + 1

    async def graphql(
        self, call: Call, token: str, intended: float | None = None
    ) -> dict[str, Any] | None:
        started = time.monotonic()
        intended = started if intended is None else intended
        if self.recording:
            self.late.append((started - intended) * 1000)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        payload = orjson.dumps({"query": call.query, "variables": call.variables})
        body: dict[str, Any] | None = None
        try:
            async with self.session.post(self.url, data=payload, headers=headers) as r:
                raw = await r.read()
                if r.status != 200:
                    self._error(call.op, f"HTTP_{r.status}")
                body = orjson.loads(raw)
        except Exception as exc:  # every failure is counted, by kind
            self._error(call.op, type(exc).__name__)
            body = None
        if self.recording:
            ms = (time.monotonic() - intended) * 1000
            self.result.latencies.setdefault(call.op, []).append(ms)
            self.result.timeline.append((int(intended - self.measured_from), ms))
            if body is not None:
                for code in error_codes(body):
                    self._error(call.op, code)
        return body

    async def upload(self, upload: dict[str, Any], body: bytes) -> bool:
        form = aiohttp.FormData()
        for f in upload["fields"]:
            form.add_field(f["name"], f["value"])
        form.add_field("file", body, content_type="image/jpeg", filename="photo.jpg")
        try:
            async with self.session.post(upload["url"], data=form) as r:
                await r.read()
                if r.status >= 300:
                    self._error("s3Upload", f"HTTP_{r.status}")
                    return False
                return True
        except Exception as exc:
            self._error("s3Upload", type(exc).__name__)
            return False


async def _send(job: SenderJob) -> SenderResult:
    result = SenderResult()
    rng = random.Random(job.seed)
    viewers = [
        Viewer(
            tok,
            uid,
            {p for v, p in job.liked if v == uid},
            {u for v, u in job.followed if v == uid},
        )
        for tok, uid in job.viewers
    ]
    work = Workload(viewers, job.post_ids, job.hot_post_ids, job.user_ids, job.image, rng, job.mix)
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        sender = _HttpSender(session, job.url, result)
        await asyncio.sleep(max(0.0, job.start_at - time.time()))
        t0 = time.monotonic()
        interval = 1.0 / job.rate
        total = int(job.duration * job.rate)
        first_recorded = int(job.warmup * job.rate)
        tasks: set[asyncio.Task[None]] = set()
        cpu0 = wall0 = 0.0
        for i in range(total):
            intended = t0 + i * interval
            delay = intended - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if i == first_recorded:
                sender.recording = True
                sender.measured_from = intended
                cpu0, wall0 = time.process_time(), time.monotonic()
            op, viewer = work.next()
            task = asyncio.create_task(op(sender, viewer, intended))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            result.sent += 1
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        result.cpu_seconds = time.process_time() - cpu0
        result.wall_seconds = time.monotonic() - wall0
    late = sorted(sender.late)
    result.late_p99_ms = late[int(0.99 * (len(late) - 1))] if late else 0.0
    return result


def sender_main(job: SenderJob, pipe: Connection) -> None:
    pipe.send(asyncio.run(_send(job)))


SUBSCRIPTION = (
    "subscription Live($id: ID!) { postLikeChanged(postId: $id) { likeCount liked userId } }"
)


@dataclass
class SubscriberResult:
    connected: int = 0
    events: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0


async def _subscriber(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    post_id: str,
    result: SubscriberResult,
    stop: asyncio.Event,
) -> None:
    def error(code: str) -> None:
        result.errors[code] = result.errors.get(code, 0) + 1

    try:
        async with session.ws_connect(
            url + "/graphql", protocols=("graphql-transport-ws",), max_msg_size=0
        ) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            await ws.send_str(json.dumps(init))
            ack = json.loads((await ws.receive()).data)
            if ack.get("type") != "connection_ack":
                error("NO_ACK")
                return
            sub = {"query": SUBSCRIPTION, "variables": {"id": post_id}}
            subscribe = json.dumps({"id": "1", "type": "subscribe", "payload": sub})
            await ws.send_str(subscribe)
            result.connected += 1
            stopping = asyncio.ensure_future(stop.wait())
            while not stop.is_set():
                recv = asyncio.ensure_future(ws.receive())
                done, _ = await asyncio.wait({recv, stopping}, return_when="FIRST_COMPLETED")
                if recv not in done:
                    recv.cancel()
                    break
                frame = recv.result()
                if frame.type != aiohttp.WSMsgType.TEXT:
                    error(f"WS_{frame.type.name}")
                    break
                msg = json.loads(frame.data)
                if msg.get("type") == "next" and not msg["payload"].get("errors"):
                    result.events += 1
                elif msg.get("type") == "next":  # an event with errors: not delivered whole
                    codes = {e.get("extensions", {}).get("code") for e in msg["payload"]["errors"]}
                    error("next-with-errors:" + ",".join(sorted(str(c) for c in codes)))
                elif msg.get("type") == "ping":
                    await ws.send_str(json.dumps({"type": "pong"}))
                elif msg.get("type") == "error":
                    # the stream broke (the posts subgraph restarted, or is down): like an
                    # app, subscribe again a second later, on the same connection
                    codes = {e.get("extensions", {}).get("code") for e in msg.get("payload") or ()}
                    error("error:" + ",".join(sorted(str(c) for c in codes)))
                    await asyncio.sleep(1)
                    await ws.send_str(subscribe)
                elif msg.get("type") != "pong":
                    error(str(msg.get("type")))
    except Exception as exc:
        error(type(exc).__name__)


def subscribers_main(url: str, subs: list[tuple[str, str]], pipe: Connection) -> None:
    """Open one WebSocket per (token, post id), report when all are subscribed, keep them
    until told to stop, then send the result."""

    async def run() -> SubscriberResult:
        result = SubscriberResult()
        stop = asyncio.Event()
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        tasks = []
        for i, (token, post_id) in enumerate(subs):
            tasks.append(
                asyncio.create_task(_subscriber(session, url, token, post_id, result, stop))
            )
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # do not stampede the accept queue
        deadline = time.monotonic() + 60
        while result.connected + sum(result.errors.values()) < len(subs):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        pipe.send(result.connected)
        cpu0 = time.process_time()
        await asyncio.to_thread(pipe.recv)  # "stop"
        result.cpu_seconds = time.process_time() - cpu0
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()
        return result

    pipe.send(asyncio.run(run()))
