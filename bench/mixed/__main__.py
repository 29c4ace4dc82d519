"""The mixed workload against the whole stack (bench/RESULTS.md, "Mixed workload").

    .venv/bin/python -m bench.mixed --rate 40 --duration 30 [--json FILE]
    .venv/bin/python -m bench.mixed --find-max --duration 20 [--json FILE]

Starts its own stack (embedded PostgreSQL/Redis/S3 under --data-dir, the four subgraphs, the
worker, the router; free ports, nothing shared with `make run` or the tests), seeds it once
with the `puppies seed --scale` generator at --users accounts (50 follows and 10 posts per
account, like the full scale; --users 100000 is the full `puppies seed --scale` graph), and
plays the mix of bench/mixed/workload.py at a constant arrival rate from --clients
generator processes, with --subscribers live-like WebSocket subscribers through the router.
Prints the achieved rate, p50/p95/p99 per operation and overall (from each request's
intended send time), errors by code, and CPU milliseconds per request per process.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bench.mixed.run import (
    PROCESSES,
    TARGET_P95_MS,
    Measurement,
    Subscribers,
    find_max,
    idle_cores,
    measure,
    summary_line,
)
from bench.mixed.stack import mixed_stack
from bench.mixed.workload import parse_mix

TIMELINE_PRINTED_SECONDS = 120


def print_measurement(m: Measurement) -> None:
    print(summary_line(m))
    print(f"\n{'operation':<22}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for op, s in m.latency.items():
        print(f"{op:<22}{s['n']:>7}{s['p50']:>10.1f}{s['p95']:>10.1f}{s['p99']:>10.1f}")
    if m.timeline:
        slow = [t for t in m.timeline if t["p95"] >= TARGET_P95_MS]
        worst = max(m.timeline, key=lambda t: t["p95"])
        line = (
            f"\nper second: p95 >= {TARGET_P95_MS:g} ms in {len(slow)} of {len(m.timeline)} "
            f"seconds (worst: second {worst['second']:g}, p95 {worst['p95']:.0f} ms, "
            f"max {worst['max']:.0f} ms)"
        )
        if len(m.timeline) <= TIMELINE_PRINTED_SECONDS:  # a soak's is in its --json only
            line += "; p95 by second (ms): " + " ".join(f"{t['p95']:.0f}" for t in m.timeline)
        print(line)
    print("\nerrors by operation and code:", json.dumps(m.errors) if m.errors else "none")
    print("\nCPU per request (ms) and CPU busy (cores) per process:")
    for name in (*PROCESSES, "total"):
        busy = m.cpu_busy.get(name, sum(m.cpu_busy.values()))
        print(f"  {name:<10}{m.cpu_ms_per_request[name]:>8.2f} ms{busy:>8.2f} cores")
    g = m.generator
    print(
        f"  generator {g['cpu_ms_per_request']:>8.2f} ms{g['cpu_busy']:>8.2f} cores "
        f"({g['processes']:g} processes; requests started late by p99 "
        f"{g['late_start_p99_ms']:.1f} ms)"
    )
    cores = os.cpu_count() or 1
    total = m.cpu_ms_per_request["total"]
    if total:
        print(
            f"\nstack CPU per request {total:.2f} ms: {1000 / total:.0f} requests per core-second "
            f"if the CPU were all ours ({cores} cores here; load average "
            f"{m.load_average[0]:.1f} at the start, {m.load_average[1]:.1f} at the end)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.mixed", description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second (open loop)")
    ap.add_argument("--duration", type=float, default=30.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds played before measuring")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument(
        "--find-max",
        action="store_true",
        help="search the highest rate with p95 < 100 ms, 0 errors",
    )
    ap.add_argument("--start-rate", type=float, default=10.0, help="--find-max: first rate")
    ap.add_argument("--steps", type=int, default=4, help="--find-max: bisection runs")
    ap.add_argument("--clients", type=int, default=2, help="generator processes")
    ap.add_argument("--subscribers", type=int, default=1000, help="WebSocket subscribers")
    ap.add_argument("--users", type=int, default=5000, help="accounts in the seeded graph")
    ap.add_argument("--viewers", type=int, default=2000, help="signed-in users the mix plays")
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="default /tmp/puppies-bench-mixed-<users>"
    )
    ap.add_argument(
        "--mix",
        default=None,
        help="another mix, e.g. feed=1 (the home feed page alone); default: the issue's",
    )
    ap.add_argument(
        "--profile",
        default="",
        help="comma-separated processes (router,users,posts,feed,analytics,worker) to run "
        "under cProfile; stats in <data-dir>/profiles/<name>.prof",
    )
    args = ap.parse_args()
    try:
        mix = parse_mix(args.mix) if args.mix else None
    except ValueError as exc:
        ap.error(str(exc))
    data_dir = args.data_dir or Path(f"/tmp/puppies-bench-mixed-{args.users}")
    out: dict[str, object] = {"command": vars(args) | {"data_dir": str(data_dir)}}
    profile = tuple(p for p in args.profile.split(",") if p)
    with mixed_stack(data_dir, args.users, args.viewers, profile) as ms:
        subs = Subscribers(ms, args.subscribers)
        print(f"{subs.connected}/{args.subscribers} subscribers connected", flush=True)
        idle = idle_cores(ms)
        out["idle_cores"] = idle
        print(
            "idle CPU (cores, no requests): "
            + ", ".join(f"{k} {v:.3f}" for k, v in idle.items() if v >= 0.001),
            flush=True,
        )
        try:
            if args.find_max:
                best, runs = find_max(
                    ms, args.start_rate, args.duration, args.warmup, args.clients, args.steps, mix
                )
                out["max_rate"] = best
                out["runs"] = [m.as_json() for m in runs]
                ok = [m for m in runs if m.ok]
                print(f"\nmax rate with p95 < 100 ms and 0 errors: {best}/s")
                if ok:
                    print_measurement(max(ok, key=lambda m: m.rate))
            else:
                m = measure(ms, args.rate, args.duration, args.warmup, args.clients, mix)
                out["run"] = m.as_json()
                print_measurement(m)
        finally:
            live = subs.stop()
        print(
            f"\nsubscribers: {live.connected} connected, {live.events} events received, "
            f"errors {live.errors or 'none'}, {live.cpu_seconds:.1f} s client CPU; memory per "
            "connection (RSS): "
            + ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in subs.memory_per_connection().items())
        )
        out["subscribers"] = {
            "connected": live.connected,
            "events": live.events,
            "errors": live.errors,
            "rss_bytes_per_connection": subs.memory_per_connection(),
        }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
