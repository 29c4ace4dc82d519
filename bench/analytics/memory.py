"""The analytics subgraph's memory under the mix's trackEvents load: what grows.

    .venv/bin/python -m bench.analytics.memory --minutes 4 --json /tmp/analytics-memory.json

Starts its own stack (bench/analytics/stack.py: embedded PostgreSQL, Redis, S3), published
posts, `puppies serve analytics` with memtrace on (puppies/observability/memtrace.py:
tracemalloc started after one interval, the baseline snapshot after the second, then the
top allocation sites by growth since the baseline, with tracebacks, every interval) and
the worker (the roll-up, as in the soak). Then sends what the router sends analytics in
`bench.mixed` (bench/mixed/workload.py): trackEvents of 10 POST_VIEW events, at --rate
(8% of the soak's ~280/s: 22/s), from --viewers viewers, each request carrying the router's
signed principal for its viewer (graph/authentication/principal_token.py: one token per
viewer per 30 s, as the router reuses them). It samples the subgraph's RSS every 10 s and
prints the slope (MiB/min, least squares after the first minute, as bench.soak reads it)
and the last memtrace sample's top growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import psutil

from bench.analytics.ingest import _make_posts
from bench.analytics.stack import stack
from graph.authentication.principal_token import PrincipalSigner
from graph.serving.request import Principal
from puppies.embedded import free_port

MUTATION = (
    "mutation Track($events: [EventInput!]!) { trackEvents(events: $events) "
    "{ accepted rejected rejections { index reason message } } }"
)


def slope(samples: list[tuple[float, float]], after: float = 60.0) -> float:
    """MiB per minute, least squares over the samples taken `after` seconds on."""
    pts = [(t, m) for t, m in samples if t >= after]
    if len(pts) < 2:
        return float("nan")
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mm = sum(m for _, m in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    return 60 * sum((t - mt) * (m - mm) for t, m in pts) / var if var else float("nan")


async def _load(
    url: str,
    secret: str,
    seconds: float,
    rate: float,
    viewers: int,
    posts: list[int],
    pid: int,
) -> tuple[int, int, list[tuple[float, float]]]:
    signer = PrincipalSigner(secret)
    rng = random.Random(7)
    proc = psutil.Process(pid)
    samples: list[tuple[float, float]] = []
    sent = errors = 0
    start = time.monotonic()

    async def sample() -> None:
        while True:
            samples.append((time.monotonic() - start, proc.memory_info().rss / 2**20))
            await asyncio.sleep(10)

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        uid = str(rng.randrange(1, viewers + 1))
        token = signer.token_for(Principal(kind="user", id=uid, user_id=uid))
        now = datetime.now(UTC).isoformat()
        events = [
            {"id": uuid.uuid4().hex, "type": "POST_VIEW", "occurredAt": now, "postId": str(p)}
            for p in rng.sample(posts, 10)
        ]
        body = orjson.dumps({"query": MUTATION, "variables": {"events": events}})
        headers = {"content-type": "application/json", "x-puppies-principal": token}
        try:
            async with session.post(url, data=body, headers=headers) as r:
                got = await r.json()
                if r.status != 200 or got.get("errors"):
                    errors += 1
        except aiohttp.ClientError:
            errors += 1

    sampler = asyncio.create_task(sample())
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession() as session:
        while (elapsed := time.monotonic() - start) < seconds:
            due = start + sent / rate
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            t = asyncio.create_task(one(session))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            sent += 1
        del elapsed
        await asyncio.gather(*tasks)
    sampler.cancel()
    samples.append((time.monotonic() - start, proc.memory_info().rss / 2**20))
    return sent, errors, samples


def _last_memtrace_sample(directory: Path) -> str:
    files = sorted(directory.glob("analytics-*.txt"))
    if not files:
        return "(no memtrace file)"
    text = files[-1].read_text()
    marker = text.rfind("] RSS ")
    return text[text.rfind("\n", 0, marker) + 1 :] if marker >= 0 else text[-6000:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=4)
    ap.add_argument("--rate", type=float, default=22, help="trackEvents requests per second")
    ap.add_argument("--viewers", type=int, default=2000)
    ap.add_argument("--posts", type=int, default=2000)
    ap.add_argument("--memtrace-seconds", type=float, default=40)
    ap.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the subgraph's allocations (top growth by traceback; it slows the "
        "subgraph ~3x and adds its own memory: its RSS slope is then not the soak's)",
    )
    ap.add_argument("--no-worker", action="store_true", help="do not run the roll-up worker")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-analytics-memory"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    memtrace = args.data_dir / "memtrace"
    with stack(args.data_dir) as st:
        post_ids = asyncio.run(_make_posts(st.settings, args.posts))
        port = free_port()
        memtrace.mkdir(parents=True, exist_ok=True)
        proc = st.start(
            ["serve", "analytics", "--port", str(port)],
            port,
            extra_env={
                "PUPPIES_MEMTRACE_DIR": str(memtrace),
                "PUPPIES_MEMTRACE_SECONDS": str(args.memtrace_seconds),
                "PUPPIES_MEMTRACE_TRIM": "1",
                # no process is named "-": RSS and glibc samples only
                "PUPPIES_MEMTRACE_TRACEMALLOC": "analytics" if args.tracemalloc else "-",
            },
            log=args.data_dir / "analytics.log",
        )
        if not args.no_worker:
            st.start(["worker"], log=args.data_dir / "worker.log")
        secret = st.settings.router_principal_secret.get_secret_value()
        sent, errors, samples = asyncio.run(
            _load(
                f"http://127.0.0.1:{port}/graphql",
                secret,
                args.minutes * 60,
                args.rate,
                args.viewers,
                post_ids,
                proc.pid,
            )
        )
        top = _last_memtrace_sample(memtrace)
    result = {
        "minutes": args.minutes,
        "rate": args.rate,
        "viewers": args.viewers,
        "sent": sent,
        "errors": errors,
        "rss_mib": [(round(t, 1), round(m, 2)) for t, m in samples],
        "slope_mib_per_min_after_1min": round(slope(samples), 3),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rss_mib"}))
    print("RSS (s, MiB):", " ".join(f"{t:.0f}:{m:.1f}" for t, m in result["rss_mib"]))
    print("last memtrace sample of the analytics subgraph:")
    print(top)
    if args.json:
        args.json.write_text(json.dumps({**result, "memtrace_last": top}, indent=1))


if __name__ == "__main__":
    main()
