"""How many subgraph requests, and how many bytes each way, one deep query costs through
each gateway. Runs the subgraphs with one worker (so their counters are complete), sends the
deep query `--queries` times through each gateway one after the other, and reads the
subgraphs' counters.

    .venv/bin/python -m bench.gateways.fetch_stats [--queries 20]
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from typing import Any

from bench.gateways.data import QUERY
from bench.gateways.expected import expected_deep_result
from bench.gateways.run import (
    GATEWAY_PORT,
    NAMES,
    ROOT,
    SUBGRAPH_PORT,
    WORK,
    _post,
    _start,
    _stop,
    _wait_http,
    gateway_commands,
)
from graph.composition.sources import SubgraphLocation, compose_locations


def _stats() -> dict[str, list[int]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{SUBGRAPH_PORT}/stats", timeout=5) as r:
        return dict(json.loads(r.read()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args(argv)
    subgraphs = _start(
        [
            str(ROOT / ".venv" / "bin" / "uvicorn"),
            "bench.gateways.subgraphs:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(SUBGRAPH_PORT),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        WORK / "logs" / "subgraphs-stats.log",
    )
    report: dict[str, Any] = {}
    try:
        _wait_http(f"http://127.0.0.1:{SUBGRAPH_PORT}/health")
        supergraph = WORK / "supergraph.graphql"
        supergraph.write_text(
            compose_locations(
                [SubgraphLocation(n, f"http://127.0.0.1:{SUBGRAPH_PORT}/{n}") for n in NAMES]
            )
        )
        for name, (cmd, health, env, cwd) in gateway_commands(supergraph).items():
            proc = _start(cmd, WORK / "logs" / f"{name}-stats.log", cwd=cwd, env=env)
            try:
                _wait_http(health)
                url = f"http://127.0.0.1:{GATEWAY_PORT}/graphql"
                assert _post(url, QUERY).get("data") == expected_deep_result()
                before = _stats()
                for _ in range(args.queries):
                    _post(url, QUERY)
                after = _stats()
            finally:
                _stop(proc)
            per_query = {
                sub: [round((after[sub][i] - before[sub][i]) / args.queries, 1) for i in range(3)]
                for sub in NAMES
            }
            report[name] = per_query
            total = [round(sum(v[i] for v in per_query.values()), 1) for i in range(3)]
            print(
                f"{name}: per deep query {total[0]:.0f} subgraph requests, "
                f"{total[1] / 1024:.1f} KiB sent, {total[2] / 1024:.1f} KiB received; "
                f"by subgraph [requests, bytes sent, bytes received]: {per_query}"
            )
    finally:
        _stop(subgraphs)
    (WORK / "fetch-stats.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
