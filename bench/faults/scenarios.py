"""The fault scenarios: each breaks one part of the running stack under load, heals it, and
reports what the client saw before, during and after, and what was lost.

A scenario is `inject` (break it), the fault held for `hold` seconds, `heal` (bring it
back, when it does not come back by itself), then load for `after` seconds. The stack is
bench.mixed's (bench/mixed/stack.py): embedded PostgreSQL, Redis and S3, the four
subgraphs, the worker and the router as real processes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import httpx
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from bench.faults.load import MEDIA_OPS, Load, Phase
from bench.faults.truth import Lost, settle
from bench.mixed.generator import SubscriberResult, _subscriber
from bench.mixed.stack import MixedStack, _raw_dsn, liked_pairs
from puppies.embedded.base import EmbeddedService
from resolvers.posts.likes import FLUSHING


@dataclass
class Outcome:
    name: str
    phases: dict[str, Phase]
    lost: Lost
    settled_seconds: float
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # promises broken (besides losses)

    def line(self) -> str:
        parts = [f"{self.name}:"]
        for phase in ("before", "fault", "after"):
            seen = self.phases.get(phase)
            if seen is not None:
                parts.append(f"{phase}[{seen.line()}]")
        parts += self.notes
        parts += [f"FAILED: {f}" for f in self.failures]
        parts.append(
            f"lost={self.lost.total}" + (f" ({self.lost.describe()})" if self.lost.total else "")
        )
        return " ".join(parts)


# ------------------------------------------------------------------ the processes
def process(ms: MixedStack, name: str) -> subprocess.Popen[bytes]:
    for proc in ms.st.procs:
        if proc.poll() is None and ms.st.name_of(proc) == name:
            return proc
    raise RuntimeError(f"no running {name} process")


def signal_process(ms: MixedStack, name: str, sig: signal.Signals) -> None:
    os.killpg(process(ms, name).pid, sig)


def kill(ms: MixedStack, name: str) -> None:
    proc = process(ms, name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def restart(ms: MixedStack, name: str) -> None:
    """Start `name` again with the arguments and port it had (it must not be running)."""
    old = next(p for p in reversed(ms.st.procs) if ms.st.name_of(p) == name)
    assert old.poll() is not None, f"{name} still runs"
    ms.st.forget(old)
    args = [str(a) for a in old.args]  # type: ignore[union-attr]
    args = args[args.index("puppies.cli") + 1 :]
    port = int(args[args.index("--port") + 1]) if "--port" in args else None
    ms.st.start(args, port, log=ms.data_dir / "logs" / name)


def router_metric(ms: MixedStack, name: str, **labels: str) -> float:
    """The sum of the router's samples `name` whose labels include `labels`."""
    text = httpx.get(ms.router_url + "/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


# ------------------------------------------------------------------ the run
# what a step noted for the verdict, e.g. {"accepted": the monotonic time PostgreSQL
# accepted connections again}
Marks = dict[str, float]
Step = Callable[[MixedStack, Marks], Awaitable[list[str] | None]]
# (notes, failures) from the load and the marks once the run is over; a failure fails the run
Verdict = Callable[[Load, Marks], tuple[list[str], list[str]]]


@dataclass
class Scenario:
    name: str
    what: str
    inject: Step
    heal: Step | None = None
    hold: float = 20.0
    after: float = 20.0
    writes: bool = True
    breaker: str | None = None  # report this subgraph's circuit breaker
    subscribers: int = 0  # live-like subscribers over WebSocket, counted around the fault
    users_only: bool = False  # report the p95 of the operations posts takes no part in
    images: float = 0.0  # the fraction of new posts with an image (the whole upload path)
    verdict: Verdict | None = None


async def run(
    ms: MixedStack, scenario: Scenario, rate: float, before: float = 10.0, warmup: float = 10.0
) -> Outcome:
    notes: list[str] = []
    marks: Marks = {}
    failures: list[str] = []
    counts = breaker_counts(ms, scenario.breaker) if scenario.breaker else {}
    live = Live(ms, scenario.subscribers)
    pop = ms.population
    # the likes PostgreSQL holds now (earlier scenarios and runs left some): see load.py
    liked = await liked_pairs(_raw_dsn(ms.st), pop.viewer_ids, pop.hot_post_ids[:50])
    async with (
        live,
        Load(
            ms.router_url,
            pop,
            rate,
            liked=liked,
            # each scenario its own sequence: with one seed every scenario replayed the
            # same (viewer, post) pairs, so one scenario only liked and the next only unliked
            seed=zlib.crc32(scenario.name.encode()),
            writes=scenario.writes,
            images=scenario.images,
        ) as load,
    ):
        load.phase = "warmup"  # not reported: connections, caches, plans
        await asyncio.sleep(warmup)
        load.phase = "before"
        await asyncio.sleep(before)
        live.mark("before")
        load.phase = "fault"
        notes += await scenario.inject(ms, marks) or []
        progress(f"{scenario.name}: fault injected")
        await asyncio.sleep(scenario.hold)
        if scenario.heal is not None:
            notes += await scenario.heal(ms, marks) or []
            progress(f"{scenario.name}: healed")
        live.mark("fault")
        load.phase = "after"
        await asyncio.sleep(scenario.after)
        live.mark("after")
    if load.broken:
        # never INTERNAL_SERVER_ERROR, an uncoded error, a silent null or no answer (issue 15)
        failures.append(
            f"{sum(load.broken.values())} answers no fault excuses ("
            + ", ".join(f"{k}: {n}" for k, n in sorted(load.broken.items()))
            + ")"
        )
        for key, example in sorted(load.broken_examples.items()):
            progress(f"{scenario.name}: {key}, e.g. {example}")
    if scenario.subscribers:
        notes.append(live.note(load.changes))
        failures += live.failures(load.changes)
    if scenario.breaker:
        notes.append(breaker_note(ms, scenario.breaker, counts))
    if scenario.users_only:
        notes.append(users_only(load.phases))
    if scenario.images:
        notes.append(media_split(load.phases))
    if scenario.verdict is not None:
        said, broken = scenario.verdict(load, marks)
        notes += said
        failures += broken
    lost, waited = await settle(_raw_dsn(ms.st), load.acked)
    images = (
        f" images={len(load.acked.media)} (completed {len(load.acked.uploaded)}, ready "
        f"{len(load.acked.media) - len(lost.stuck) - len(lost.media_failed)}, failed "
        f"{len(lost.media_failed)}{': ' + lost.media_failed[0][1] if lost.media_failed else ''})"
        if load.acked.media
        else ""
    )
    notes.append(
        f"acked[likes={len(load.acked.likes)} comments={len(load.acked.comments)} "
        f"posts={len(load.acked.posts)}{images}] settled in {waited:.0f}s"
    )
    return Outcome(scenario.name, load.phases, lost, waited, notes, failures)


def progress(what: str) -> None:
    """A line on stderr as the run goes (the scenario's line comes at its end)."""
    print(f"  {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


class Live:
    """`n` postLikeChanged subscribers through the router (bench.mixed's), on the posts the
    load likes; events counted per phase, to see whether subscriptions resume."""

    def __init__(self, ms: MixedStack, n: int) -> None:
        self.ms, self.n = ms, n
        self.result = SubscriberResult()
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.session: aiohttp.ClientSession | None = None
        self.marks: dict[str, int] = {}
        pop = ms.population
        self.posts = [pop.hot_post_ids[i % 50] for i in range(n)]  # subscriber i watches

    async def __aenter__(self) -> Live:
        if self.n:
            self.session = aiohttp.ClientSession()
            pop = self.ms.population
            for i, post in enumerate(self.posts):
                self.tasks.append(
                    asyncio.create_task(
                        _subscriber(
                            self.session,
                            self.ms.router_url,
                            pop.tokens[i],
                            post,
                            self.result,
                            self.stop,
                        )
                    )
                )
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    def mark(self, phase: str) -> None:
        self.marks[phase] = self.result.events

    def expected(self, changes: dict[str, Counter[str]], *phases: str) -> int:
        """Events the subscribers should see for the acknowledged likes of `phases`: one per
        like or unlike of a watched post, per subscriber watching it."""
        return sum(changes.get(phase, Counter())[post] for phase in phases for post in self.posts)

    def failures(self, changes: dict[str, Counter[str]]) -> list[str]:
        """The promise checked: subscribers get like events before the fault and again after
        it ("subscriptions resume"): none at all in a phase with acknowledged likes of the
        watched posts fails the scenario. (A few short is the best effort documented: the
        events published while Redis is away, or while a process resubscribes, are gone.)"""
        before = self.marks.get("before", 0)
        after = self.marks.get("after", 0) - self.marks.get("fault", 0)
        out = []
        for phase, got, expected in (
            ("before the fault", before, self.expected(changes, "warmup", "before")),
            ("after the fault", after, self.expected(changes, "after")),
        ):
            if expected and not got:
                out.append(
                    f"0 live like events {phase} for {expected} acknowledged likes of the "
                    "watched posts"
                )
        return out

    def note(self, changes: dict[str, Counter[str]]) -> str:
        """Events per phase (the first from the start, warm-up included), each next to the
        likes and unlikes of the watched posts acknowledged in it."""
        before = self.marks.get("before", 0)
        fault = self.marks.get("fault", before) - before
        after = self.marks.get("after", 0) - self.marks.get("fault", 0)
        errors = self.result.errors or "none"
        return (
            f"subscriptions[{self.result.connected}/{self.n} connected; like events / acked "
            f"likes of watched posts: before {before}/{self.expected(changes, 'warmup', 'before')}"
            f", fault {fault}/{self.expected(changes, 'fault')}, after {after}/"
            f"{self.expected(changes, 'after')}; ended {errors}]"
        )


# ------------------------------------------------------------------ subgraphs
def breaker_counts(ms: MixedStack, subgraph: str) -> dict[str, float]:
    return {
        "open": router_metric(
            ms, "router_subgraph_circuit_transitions_total", subgraph=subgraph, state="open"
        ),
        "closed": router_metric(
            ms, "router_subgraph_circuit_transitions_total", subgraph=subgraph, state="closed"
        ),
        "rejected": router_metric(
            ms, "router_subgraph_circuit_rejections_total", subgraph=subgraph
        ),
    }


def breaker_note(ms: MixedStack, subgraph: str, before: dict[str, float]) -> str:
    now = breaker_counts(ms, subgraph)
    d = {k: int(now[k] - before[k]) for k in now}
    state = router_metric(ms, "router_subgraph_circuit_state", subgraph=subgraph)
    names = {0: "closed", 1: "half-open", 2: "open"}
    return (
        f"breaker[{subgraph}: opened {d['open']}x, closed {d['closed']}x, "
        f"{d['rejected']} fetches rejected, now {names.get(int(state), state)}]"
    )


async def _kill_posts(ms: MixedStack, marks: Marks) -> list[str]:
    await asyncio.to_thread(kill, ms, "posts")
    return []


async def _restart_posts(ms: MixedStack, marks: Marks) -> list[str]:
    started = time.monotonic()
    await asyncio.to_thread(restart, ms, "posts")
    return [f"posts back in {time.monotonic() - started:.1f}s"]


async def _freeze_posts(ms: MixedStack, marks: Marks) -> list[str]:
    signal_process(ms, "posts", signal.SIGSTOP)
    return []


async def _thaw_posts(ms: MixedStack, marks: Marks) -> list[str]:
    signal_process(ms, "posts", signal.SIGCONT)
    return []


def users_only(phases: dict[str, Phase]) -> str:
    """p95 of the operations the posts subgraph takes no part in (profile, me)."""
    got = [
        f"{phase} {phases[phase].p95('profile', 'me'):.0f}ms"
        for phase in ("before", "fault", "after")
        if phase in phases
    ]
    return "users-only ops p95: " + ", ".join(got)


def media_split(phases: dict[str, Phase]) -> str:
    """During the fault: the operations that touch the media storage, and all the others."""
    fault = phases.get("fault")
    if fault is None:
        return ""
    others = tuple(op for op in fault.ops() if op not in MEDIA_OPS)
    return f"fault media ops[{fault.line(MEDIA_OPS)}] fault other ops[{fault.line(others)}]"


SCENARIOS: dict[str, Scenario] = {}


def scenario(s: Scenario) -> None:
    SCENARIOS[s.name] = s


scenario(
    Scenario(
        "subgraph-killed",
        "the posts subgraph SIGKILLed, restarted after 20 s",
        _kill_posts,
        _restart_posts,
        breaker="posts",
        users_only=True,
    )
)
scenario(
    Scenario(
        "subgraph-slow",
        "the posts subgraph frozen (SIGSTOP) for 20 s, then SIGCONT",
        _freeze_posts,
        _thaw_posts,
        breaker="posts",
        users_only=True,
    )
)


# ------------------------------------------------------------------ services
def service(ms: MixedStack, name: str) -> EmbeddedService:
    """The embedded server called `name` (postgres, redis, s3)."""
    for s in ms.st.services.started:
        if s.name == name:
            return s
    raise RuntimeError(f"no embedded {name}")


def kill_service(ms: MixedStack, name: str) -> None:
    s = service(ms, name)
    assert s.proc is not None
    os.killpg(s.proc.pid, signal.SIGKILL)
    s.proc.wait(10)


def start_service(ms: MixedStack, name: str) -> float:
    """Start the (stopped or dead) server again on its port and data; the seconds it took."""
    s = service(ms, name)
    started = time.monotonic()
    s.stop()  # forget the dead process (and its watchdog entry)
    s.start()
    return time.monotonic() - started


async def first_ok_after(ms: MixedStack, query: str, timeout: float = 120.0) -> float:
    """Seconds until the router answers `query` for a signed-in viewer without an error."""
    token = ms.population.tokens[0]
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() - started < timeout:
            try:
                r = await http.post(
                    ms.router_url + "/graphql",
                    json={"query": query},
                    headers={"authorization": f"Bearer {token}"},
                )
                body = r.json()
                if r.status_code == 200 and not body.get("errors"):
                    return time.monotonic() - started
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(0.1)
    return float("inf")


HOME = "{ feed(first: 5) { edges { node { id likeCount author { username } } } } }"


async def _kill_redis(ms: MixedStack, marks: Marks) -> list[str]:
    await asyncio.to_thread(kill_service, ms, "redis")
    return []


async def _restart_redis(ms: MixedStack, marks: Marks) -> list[str]:
    took = await asyncio.to_thread(start_service, ms, "redis")
    ok = await first_ok_after(ms, HOME)
    return [f"redis back in {took:.1f}s, first whole answer {ok:.1f}s later"]


async def _restart_postgres(ms: MixedStack, marks: Marks) -> list[str]:
    s = service(ms, "postgres")
    started = time.monotonic()
    await asyncio.to_thread(s.stop)  # SIGINT: fast shutdown, in-flight transactions abort
    down = time.monotonic() - started
    await asyncio.sleep(5.0)  # down for a while, under load
    starting = asyncio.create_task(asyncio.to_thread(s.start))
    accepted = await first_connect(_raw_dsn(ms.st))
    marks["accepted"] = accepted
    asking = time.monotonic()
    ready, ok = await asyncio.gather(
        asyncio.gather(*(first_ready(ms, name, accepted) for name in POOLED)),
        first_ok_after(ms, HOME),
    )
    await starting  # (it also waits for pg_isready and checks the database exists)
    marks["ready"] = max(t for t, _ in ready)
    marks["whole"] = asking + ok - accepted
    each = " ".join(
        f"{name} {t:.2f}s/{failed}" for name, (t, failed) in zip(POOLED, ready, strict=True)
    )
    return [
        f"postgres stopped in {down:.1f}s; after it accepted connections, each pool's first "
        f"good readiness check / checks failed before it: {each}"
    ]


# the processes with a database pool, and the setting that holds their HTTP port
POOLED = ("users", "posts", "feed", "analytics", "worker")
RECOVERY_LIMIT = 5.0  # seconds from PostgreSQL accepting to every pool working (issue 15)


async def first_connect(dsn: str, timeout: float = 120.0) -> float:
    """The monotonic time a new connection to PostgreSQL first succeeds (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(dsn, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            await asyncio.sleep(0.02)
            continue
        at = time.monotonic()
        await conn.close()
        return at
    raise RuntimeError("PostgreSQL did not come back")


async def first_ready(
    ms: MixedStack, name: str, since: float, timeout: float = 120.0
) -> tuple[float, int]:
    """Seconds after `since` until process `name` answers its readiness check (PostgreSQL
    `SELECT 1` through its pool, and Redis) with 200, polled every 20 ms; and how many
    checks failed before (each one a dead pooled connection handed out)."""
    url = f"http://127.0.0.1:{ms.st.env[name.upper() + '_PORT']}/health?ready"
    failed = 0
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() - since < timeout:
            try:
                sent = time.monotonic()
                if (await http.get(url)).status_code == 200:
                    now = time.monotonic()
                    progress(
                        f"{name} ready: asked at +{sent - since:.2f}s, "
                        f"answered in {now - sent:.2f}s"
                    )
                    return now - since, failed
                failed += 1
            except httpx.HTTPError:
                failed += 1
            await asyncio.sleep(0.02)
    return float("inf"), failed


def postgres_verdict(load: Load, marks: Marks) -> tuple[list[str], list[str]]:
    """Recovery: the later of every pool's readiness and the last request sent after
    PostgreSQL accepted that still got SERVICE_UNAVAILABLE (a dead pooled connection)."""
    accepted = marks.get("accepted")
    if accepted is None:
        return [], ["PostgreSQL never accepted connections again"]
    late = [answered - accepted for intended, answered in load.unavailable if intended > accepted]
    last_error = max(late, default=0.0)
    recovery = max(marks.get("ready", float("inf")), last_error)
    notes = [
        f"recovery {recovery:.1f}s (pools ready {marks.get('ready', float('inf')):.1f}s, "
        f"{len(late)} requests sent after it accepted got SERVICE_UNAVAILABLE, the last "
        f"answered {last_error:.1f}s after; first whole answer through the router "
        f"{marks.get('whole', float('inf')):.1f}s after)"
    ]
    failures = (
        [f"recovery {recovery:.1f}s > {RECOVERY_LIMIT:g}s"] if recovery > RECOVERY_LIMIT else []
    )
    return notes, failures


async def _noop(ms: MixedStack, marks: Marks) -> list[str]:
    return []


KILL_AIM = 20.0  # seconds a kill waits for the work it aims at before killing anyway


async def _kill_worker_repeatedly(ms: MixedStack, marks: Marks) -> list[str]:
    """SIGKILL the worker 4 times, restarting it each time: the 1st and 3rd kill mid fan-out
    (a post's `feed.fanout` row `running` that was not when the aim began: an earlier
    kill's stalled fan-out does not count), the 2nd and 4th mid like-counter flush (the
    FLUSHING set claimed); each aimed by polling for that state every few ms (at most
    KILL_AIM s, then it kills anyway) and freezing the worker (SIGSTOP) the moment it is
    seen, so the state read again before the SIGKILL is what the kill interrupted."""
    notes = []
    conn = await asyncpg.connect(_raw_dsn(ms.st))
    r = aioredis.from_url(ms.st.settings.redis_url or "")
    try:
        for aim in ("fan-out", "flush", "fan-out", "flush"):
            await asyncio.sleep(2.0)  # the restarted worker at work again
            stale, _ = await _worker_busy(conn, r)
            deadline = time.monotonic() + KILL_AIM
            while time.monotonic() < deadline:
                running, flushing = await _worker_busy(conn, r)
                if running - stale if aim == "fan-out" else flushing:
                    break
                await asyncio.sleep(0.002)
            signal_process(ms, "worker", signal.SIGSTOP)
            running, flushing = await _worker_busy(conn, r)  # what the kill interrupts
            await asyncio.to_thread(kill, ms, "worker")
            hit = bool(running - stale) if aim == "fan-out" else flushing
            notes.append(
                f"{aim} {'hit' if hit else 'missed'} ({len(running - stale)} new fan-outs "
                f"running, flush {'claimed' if flushing else 'not claimed'})"
            )
            await asyncio.to_thread(restart, ms, "worker")
    finally:
        await conn.close()
        await r.aclose()
    return ["worker killed 4x, aimed mid fan-out / mid flush: " + ", ".join(notes)]


async def _worker_busy(conn: asyncpg.Connection, r: aioredis.Redis) -> tuple[set[int], bool]:
    """The posts whose fan-out is `running`, and whether a like-counter flush is claimed."""
    rows = await conn.fetch("SELECT post_id FROM feed.fanout WHERE state = 'running'")
    return {int(row[0]) for row in rows}, bool(await r.exists(FLUSHING))


scenario(
    Scenario(
        "worker-killed",
        "the worker SIGKILLed 4 times, mid fan-out and mid like-counter flush, each time "
        "restarted (writes under load)",
        _kill_worker_repeatedly,
        None,
        hold=0.0,
    )
)
scenario(
    Scenario(
        "redis-killed",
        "Redis SIGKILLed, restarted after 15 s on its data (AOF, fsync every second)",
        _kill_redis,
        _restart_redis,
        hold=15.0,
        subscribers=20,
    )
)
scenario(
    Scenario(
        "postgres-restarted",
        "PostgreSQL stopped (fast shutdown) under load, started again 5 s later",
        _noop,
        _restart_postgres,
        hold=0.0,
        subscribers=20,
        verdict=postgres_verdict,
    )
)


async def _stop_s3(ms: MixedStack, marks: Marks) -> list[str]:
    await asyncio.to_thread(service(ms, "s3").stop)  # weed and its parts, gracefully
    return []


async def _start_s3(ms: MixedStack, marks: Marks) -> list[str]:
    took = await asyncio.to_thread(start_service, ms, "s3")
    return [f"s3 back in {took:.1f}s"]


scenario(
    Scenario(
        "s3-down",
        "the S3 server (weed) stopped for 20 s under load with image posts, started again",
        _stop_s3,
        _start_s3,
        images=1.0,
    )
)
