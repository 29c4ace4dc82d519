"""The home feed page's three subgraph operations, one checkout against another, side by side.

    .venv/bin/python -m bench.feed_page_domain --base /tmp/main-tree --seed /tmp/seeded \\
        [--pairs 4] [--runs 300]

Runs `python -m bench.mixed.core` (the in-process harness: each subgraph's app in one
process, CPU time per operation) in the base checkout and in this one, alternately (ABAB...),
each run on a fresh copy of the seeded data dir of `python -m bench.mixed` (`--seed`). Reports,
per operation (posts' 20 Post entities, users' 20 User entities, feed's `feed(first: 20)`),
the median over the pairs of each side's `http` (the whole ASGI app) and `strawberry`
(`schema.execute`) figures, and the ratio of this checkout's to the base's medians, with the
ratio of each pair (the machine is shared: compare within a pair).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OPS = ("20 Post entities", "20 User entities", "Home__feed__0")


def one_run(tree: Path, seed: Path, runs: int) -> dict[str, tuple[float, float]]:
    """op -> (http ms, strawberry ms) of one run of bench.mixed.core in `tree`."""
    data = seed.parent / (seed.name + "-ab-run")
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(seed, data, symlinks=True)
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.mixed.core",
                "--runs",
                str(runs),
                "--data-dir",
                str(data),
            ],
            cwd=tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(data, ignore_errors=True)
    found: dict[str, tuple[float, float]] = {}
    for line in out.splitlines():
        for op in OPS:
            if op in line:
                cells = [c.strip() for c in line.strip("|").split("|")]
                found[op] = (float(cells[1]), float(cells[2]))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.feed_page_domain")
    ap.add_argument("--base", type=Path, required=True, help="the checkout to compare against")
    ap.add_argument("--seed", type=Path, required=True, help="a seeded bench.mixed data dir")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    sides: dict[str, list[dict[str, tuple[float, float]]]] = {"base": [], "this": []}
    for i in range(args.pairs):
        for side, tree in (("base", args.base), ("this", HERE)):
            sides[side].append(one_run(tree, args.seed, args.runs))
            print(f"pair {i + 1} {side}: {sides[side][-1]}", flush=True)
    print(
        "| operation | base http | this http | ratio | base strawberry | this strawberry "
        "| ratio | per-pair http ratios |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for op in OPS:
        cols = []
        for k in (0, 1):
            base = statistics.median(r[op][k] for r in sides["base"])
            this = statistics.median(r[op][k] for r in sides["this"])
            cols.append(f"{base:.3f} | {this:.3f} | {this / base:.3f}")
        pairs = " ".join(
            f"{t[op][0] / b[op][0]:.2f}" for b, t in zip(sides["base"], sides["this"], strict=True)
        )
        print(f"| {op} | {cols[0]} | {cols[1]} | {pairs} |", flush=True)


if __name__ == "__main__":
    main()
