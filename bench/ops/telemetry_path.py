"""What the router's telemetry stage costs one request, in CPU microseconds, in isolation.

The gateway benchmark (bench/gateways) moves by 5-10% between rounds of the same router on a
shared machine; this figure does not. It drives the real code of every request, in one
process, a request at a time, two ways interleaved in rounds:

- ``bare``: the request object and its ``--fetches`` calls to the subgraph, without
  telemetry;
- ``telemetry``: the same request through ``TelemetryStage`` (``on_request``,
  ``on_operation``, ``on_response``, ``on_end``: the request id, the metrics, the access log
  line) and ``Metrics.observe_request`` (what the app records per HTTP request), with
  ``--fetches`` subgraph fetches through ``FetchObserver`` to an in-process subgraph that
  answers at once. The gateway benchmark's requests share one execution (inbound
  de-duplication), so its requests make next to no fetches of their own: 0 is its case;
  11 is its deep query executed alone.

Logging is configured as ``puppies serve router`` configures it (``logging_config``, the
access log on, ``--format``), with stderr sent to a file; CPU is ``time.process_time()``
(every thread of the process, a log writer thread included), and each round ends with the
log handlers flushed, so lines written later are counted too. The figure printed is
``telemetry - bare``: the telemetry path's own CPU per request.

    .venv/bin/python -m bench.ops.telemetry_path [--requests 20000] [--rounds 5]
        [--format text|json] [--fetches 0]

Another checkout's code (e.g. main, before a change) runs with ``PYTHONPATH=DIR``, so the two
are compared with one command each, alternated.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import graph
from graph.execution.gateway import Gateway
from graph.http import GraphQLParams
from graph.observability.fetches import FetchObserver
from graph.observability.logs import logging_config
from graph.observability.metrics import Metrics
from graph.plugins.telemetry import TelemetryStage
from graph.serving.request import RouterRequest

ROOT = Path(__file__).resolve().parents[2]
QUERY = "query Me { me { id username } }"
HEADERS = [
    (b"content-type", b"application/json"),
    (b"accept", b"application/graphql-response+json, application/json"),
]
_ANSWER: dict[str, Any] = {"data": {"me": {"id": "1", "username": "rex"}}}
_BODY: dict[str, Any] = {"data": {"me": {"id": "1", "username": "rex"}}}


class _Instant:
    """An in-process subgraph that answers at once (the cost measured is the router's)."""

    async def post(self, body: Any, headers: Any, idempotent: bool) -> dict[str, Any]:
        return _ANSWER


def _flush() -> None:
    for logger in (logging.getLogger(), logging.getLogger("graph.access")):
        for handler in logger.handlers:
            handler.flush()


async def _requests(
    gateway: Gateway,
    stage: TelemetryStage | None,
    metrics: Metrics,
    observer: FetchObserver,
    n: int,
    fetches: int,
) -> float:
    params = GraphQLParams(QUERY, "Me", None, None)
    prepared = gateway.prepare(QUERY, "Me", plan=False)
    client = _Instant()
    fetch_body = {"query": "{ me { id username } }"}
    started = time.process_time()
    for _ in range(n):
        request = RouterRequest("http", params, HEADERS, gateway)
        if stage is None:  # the same request and fetches, without telemetry
            request.prepared = prepared
            for _ in range(fetches):
                await client.post(fetch_body, None, True)
            continue
        began = time.perf_counter()
        await stage.on_request(request)
        request.prepared = prepared
        await stage.on_operation(request)
        for _ in range(fetches):
            await observer.fetch("users", client, fetch_body, None, True)
        stage.on_response(request, _BODY, None)
        stage.on_end(request)
        metrics.observe_request("POST", 200, time.perf_counter() - began)
    _flush()
    return (time.process_time() - started) / n * 1e6


async def _rounds(args: argparse.Namespace) -> tuple[list[float], list[float]]:
    gateway = Gateway.from_supergraph_sdl((ROOT / "supergraph.graphql").read_text())
    metrics = Metrics()
    stage = TelemetryStage(metrics)
    observer = FetchObserver(metrics, None)
    await _requests(gateway, stage, metrics, observer, 2000, args.fetches)  # warm up
    bare: list[float] = []
    full: list[float] = []
    for _ in range(args.rounds):
        bare.append(await _requests(gateway, None, metrics, observer, args.requests, args.fetches))
        full.append(await _requests(gateway, stage, metrics, observer, args.requests, args.fetches))
    return bare, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--fetches", type=int, default=0)
    args = parser.parse_args()

    code = Path(graph.__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="telemetry-path-") as tmp:
        log_file = Path(tmp) / "router.log"
        real_stderr = sys.stderr
        sys.stderr = log_file.open("w")  # logging_config writes to ext://sys.stderr
        try:
            logging.config.dictConfig(logging_config("INFO", args.format))
            bare, full = asyncio.run(_rounds(args))
            logging.shutdown()
        finally:
            sys.stderr.close()
            sys.stderr = real_stderr
        lines = sum(1 for _ in log_file.open())
    cost = [f - b for f, b in zip(full, bare, strict=True)]
    print(f"code: {code}; access log: {args.format}; fetches per request: {args.fetches}")
    print(f"log lines written: {lines}")
    print("bare us/request:      " + ", ".join(f"{x:.1f}" for x in bare))
    print("telemetry us/request: " + ", ".join(f"{x:.1f}" for x in full))
    print(
        f"telemetry path: median {statistics.median(cost):.1f} us per request "
        f"(rounds: {', '.join(f'{x:.1f}' for x in cost)})"
    )


if __name__ == "__main__":
    main()
