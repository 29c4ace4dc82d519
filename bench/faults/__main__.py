"""Faults under load (bench/RESULTS.md, "Faults"; docs/operations.md, "Failure modes").

    .venv/bin/python -m bench.faults [--scenario NAME ...] [--rate R] [--json FILE]

Starts bench.mixed's stack (its own embedded PostgreSQL/Redis/S3 under --data-dir, the four
subgraphs, the worker and the router as real processes; free ports), then runs each
scenario under an open-loop load of --rate requests/s: the part is broken, held broken,
healed, and the load goes on. One line per scenario: what a client saw before, during and
after (ok, partial answers, errors by code, p95 from the intended send time), then what
was lost (acknowledged writes missing from PostgreSQL, counters unequal to the rows).
Ends with `lost=N`; exits 1 when anything was lost or a scenario broke a promise it checks
(`FAILED ...`: PostgreSQL's pools not recovered within 5 s of it accepting connections;
live-like subscribers that got no event before, or after, the fault though likes of their
posts were acknowledged then).

The router runs the repository's router.yaml (circuit breakers on) with two changes for
the benchmark: rate limits lifted (bench.mixed) and every subgraph's timeout at 5 s (the
dev file's 30 s would make a frozen subgraph's scenario a long wait; production's is 10 s).

Interrupted (Ctrl-C, or SIGTERM from a timeout) it stops the stack as at the end, thawing a
subgraph it froze; killed outright (SIGKILL), the stack's watchdog (puppies/watchdog.py)
stops every process it started. Nothing is left running either way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from bench.faults.scenarios import SCENARIOS, Outcome, run
from bench.mixed.stack import mixed_stack

ROUTER_OVERRIDES = {
    "traffic_shaping": {
        "all": {
            "timeout": "5s",
            "circuit_breaker": {
                "error_threshold": 0.5,
                "volume_threshold": 10,
                "reset_timeout": "5s",
                "half_open_attempts": 1,
            },
        }
    }
}


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    # SIGTERM (a timeout, a CI job cancelled) ends the run as Ctrl-C does: the stack's
    # context managers stop every process (without this Python would exit at once and
    # leave them to the watchdog)
    signal.signal(signal.SIGTERM, _interrupted)
    ap = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="run only this scenario (repeatable); default: all, in order",
    )
    ap.add_argument("--rate", type=float, default=10.0, help="requests per second (open loop)")
    ap.add_argument("--users", type=int, default=300, help="accounts in the seeded graph")
    ap.add_argument("--viewers", type=int, default=200, help="signed-in users the load plays")
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="default /tmp/puppies-bench-faults-<users>"
    )
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument(
        "--warmup", type=float, default=10.0, help="seconds of load before counting (default 10)"
    )
    ap.add_argument(
        "--before", type=float, default=10.0, help="seconds counted before the fault (default 10)"
    )
    args = ap.parse_args()
    names = args.scenario or list(SCENARIOS)
    data_dir = args.data_dir or Path(f"/tmp/puppies-bench-faults-{args.users}")
    outcomes: list[Outcome] = []
    with mixed_stack(data_dir, args.users, args.viewers, router_overrides=ROUTER_OVERRIDES) as ms:
        for name in names:
            s = SCENARIOS[name]
            print(f"# {name}: {s.what} (load {args.rate:g}/s)", flush=True)
            outcome = asyncio.run(run(ms, s, args.rate, before=args.before, warmup=args.warmup))
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
    lost = sum(o.lost.total for o in outcomes)
    failed = [f"{o.name}: {f}" for o in outcomes for f in o.failures]
    for f in failed:
        print(f"FAILED {f}")
    print(f"lost={lost}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": vars(args) | {"data_dir": str(data_dir)},
                    "scenarios": [
                        {
                            "name": o.name,
                            "line": o.line(),
                            "phases": {
                                k: {
                                    "outcomes": dict(v.outcomes),
                                    "p95_ms": v.p95(),
                                    "ops": {
                                        op: {
                                            "outcomes": dict(v.op_outcomes[op]),
                                            "p95_ms": v.p95(op),
                                        }
                                        for op in v.ops()
                                    },
                                }
                                for k, v in o.phases.items()
                            },
                            "lost": o.lost.total,
                            "failures": o.failures,
                        }
                        for o in outcomes
                    ],
                    "lost": lost,
                    "failed": failed,
                },
                indent=2,
                default=str,
            )
        )
    sys.exit(1 if lost or failed else 0)


if __name__ == "__main__":
    main()
