"""What the authorization and demand-control stages add to a request, in-process and side by
side: the same operations through the pipeline's operation step (the prepared operation from
the gateway's cache, then the stages' ``on_operation`` and ``on_response``) with no stage,
with ``authorization``, with ``demand_control``, and with both, on the checked-in
supergraph (Puppies' four subgraphs and their directives). No subgraph is called: only the
stages' own work is measured.

    .venv/bin/python -m bench.router_authz [--requests 20000] [--rounds 5]

Contenders run interleaved in one process, ``--rounds`` times; each round sends every
operation ``--requests`` times in turn, as an anonymous caller and as a logged-in user. The
report gives each contender's median (over rounds) of the per-request p50, and the
difference to the contender without stages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

OPERATIONS = {
    "feed page": "{ feed(first: 20) { edges { node { id text likeCount author { username } } } } }",
    "posts with stats": (
        "{ posts(first: 10) { edges { node { id text stats { views } "
        "comments(first: 5) { edges { node { text } } } } } } }"
    ),
    "createPost": 'mutation { createPost(input: {text: "hi"}) { post { id } errors { code } } }',
}
RESPONSE: dict[str, Any] = {
    "data": {
        "posts": {
            "edges": [
                {"node": {"id": str(i), "text": "t", "stats": {"views": 1}, "comments": {}}}
                for i in range(10)
            ]
        }
    }
}


def _config(authorization: bool, demand_control: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "authorization": {
            "directives": {
                "enabled": authorization,
                "user_scopes": "all",
                "policies": {"session": {"kinds": ["user"]}},
                "errors": {"log": False},
            }
        }
    }
    if demand_control:
        config["demand_control"] = {
            "enabled": True,
            "mode": "enforce",
            "strategy": {"static_estimated": {"list_size": 20, "max": 100000}},
            "cost_in_extensions": "always",
        }
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    from graph.config import config_from_mapping
    from graph.execution.gateway import Gateway
    from graph.http import GraphQLParams
    from graph.options import gateway_options
    from graph.serving.pipeline import build_stages
    from graph.serving.request import ANONYMOUS, Principal, RouterRequest

    sdl = (ROOT / "supergraph.graphql").read_text()
    contenders = {
        "no stage": (False, False),
        "authorization": (True, False),
        "demand_control": (False, True),
        "both": (True, True),
    }
    setups = {}
    for name, (authz, cost) in contenders.items():
        config = config_from_mapping(_config(authz, cost))
        gateway = Gateway.from_supergraph_sdl(sdl, gateway_options(config))
        stages = [
            s
            for s in build_stages(config, gateway, metrics=None)  # type: ignore[arg-type]
            if s.name in ("authorization", "demand_control")
        ]
        setups[name] = (gateway, stages)
    user = Principal(kind="user", id="1", user_id="1")

    async def one(gateway: Any, stages: list[Any], query: str, principal: Principal) -> None:
        params = GraphQLParams(query, None, None, None)
        request = RouterRequest("http", params, [], gateway, principal=principal)
        request.prepared = gateway.prepare(query, None, plan=False)
        for stage in stages:
            await stage.on_operation(request)
        request.prepared.ensure_planned()
        body = dict(RESPONSE)
        for stage in stages:
            stage.on_response(request, body, None)

    async def run_round(gateway: Any, stages: list[Any]) -> list[float]:
        times: list[float] = []
        clock = time.perf_counter
        for query in OPERATIONS.values():
            for principal in (ANONYMOUS, user):
                for _ in range(200):  # warm: caches of the operation and decisions
                    await one(gateway, stages, query, principal)
                for _ in range(args.requests // (2 * len(OPERATIONS))):
                    started = clock()
                    await one(gateway, stages, query, principal)
                    times.append(clock() - started)
        return times

    async def run() -> dict[str, list[float]]:
        p50s: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, (gateway, stages) in setups.items():
                times = sorted(await run_round(gateway, stages))
                p50s[name].append(times[len(times) // 2] * 1e6)
                print(name, f"p50 {p50s[name][-1]:.1f} us", flush=True)
        return p50s

    load_before = os.getloadavg()
    p50s = asyncio.run(run())
    base = statistics.median(p50s["no stage"])
    print()
    print(
        f"{len(OPERATIONS)} operations x 2 callers, {args.requests} requests x {args.rounds} rounds"
    )
    print(f"load average before/after: {load_before} / {os.getloadavg()}")
    print("| contender | p50 us (median of rounds) | added |")
    print("|---|---:|---:|")
    for name in contenders:
        value = statistics.median(p50s[name])
        print(f"| {name} | {value:.1f} | {value - base:+.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
