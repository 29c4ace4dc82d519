"""What an unsampled request's tracing costs the router's fetches, side by side in one process.

A request traced at 1% is, 99 times in 100, not sampled. Before, each of its fetches still
made a non-recording ``subgraph`` span, made it current and injected ``traceparent`` from
it; now the router computes the unsampled ``traceparent`` once per request
(``graph.observability.tracing.unsampled``) and each fetch copies it. This drives the real
``FetchObserver.fetch`` (the router's code for every subgraph request) over an in-process
client that answers at once, a request at a time with ``--fetches`` fetches each, three ways,
interleaved in rounds:

- ``off``: tracing off (no tracer);
- ``spans``: the SDK installed, the request's root span not sampled (as 99 in 100 are at 1%), and
  a span per fetch (the code path before);
- ``passed-on``: the same, the request's unsampled ``traceparent`` computed once and copied
  into each fetch (the code path now).

    .venv/bin/python -m bench.ops.trace_overhead [--requests 3000] [--fetches 11] [--rounds 5]

Eleven fetches is the gateway benchmark's deep query (bench/gateways).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from graph.observability.fetches import FetchObserver
from graph.observability.metrics import Metrics
from graph.observability.tracing import unsampled

_PROPAGATOR = TraceContextTextMapPropagator()
_ANSWER: dict[str, Any] = {"data": {"ok": True}}


class _Instant:
    """An in-process subgraph that answers at once (the cost measured is the router's)."""

    async def post(self, body: Any, headers: Any, idempotent: bool) -> dict[str, Any]:
        assert "traceparent" in headers or not headers
        return _ANSWER


async def _requests(
    observer: FetchObserver, tracer: trace.Tracer | None, way: str, n: int, fetches: int
) -> float:
    client = _Instant()
    body = {"query": "{ ok }"}
    started = time.process_time()
    for _ in range(n):
        if tracer is None:
            for _ in range(fetches):
                await observer.fetch("s", client, body, None, True)
            continue
        with tracer.start_as_current_span("router") as root:
            assert not root.is_recording()
            passed_on: dict[str, str] | None = None
            if way == "passed-on":
                passed_on = {}
                _PROPAGATOR.inject(passed_on)
            token = unsampled.set(passed_on)
            try:
                for _ in range(fetches):
                    await observer.fetch("s", client, body, None, True)
            finally:
                unsampled.reset(token)
    return (time.process_time() - started) / n * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--fetches", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # ratio 0: every root unsampled, the path 99 requests in 100 take at 1% (the sampled one
    # in 100 records its spans either way)
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.0)))
    tracer = provider.get_tracer("graph")
    metrics = Metrics()
    ways: dict[str, tuple[FetchObserver, trace.Tracer | None]] = {
        "off": (FetchObserver(metrics, None), None),
        "spans": (FetchObserver(metrics, tracer), tracer),
        "passed-on": (FetchObserver(metrics, tracer), tracer),
    }
    figures: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(args.rounds):
        for way, (observer, way_tracer) in ways.items():
            figures[way].append(
                await _requests(observer, way_tracer, way, args.requests, args.fetches)
            )
    off = statistics.median(figures["off"])
    print(f"{args.fetches} fetches per request, {args.requests} requests x {args.rounds} rounds")
    print("| way | CPU us per request (median of rounds) | added to off |")
    print("|---|---:|---:|")
    for way, values in figures.items():
        median = statistics.median(values)
        print(f"| {way} | {median:.0f} | {median - off:+.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
