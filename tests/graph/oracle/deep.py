"""The oracle's long runs: many generated operations per composed world, in parallel
processes, without hypothesis's engine (its per-example bookkeeping cost about as much as the
comparison itself). Every failure is shrunk here (shrink.py) and written out; a shrunk case
becomes a named regression test in test_oracle_regressions.py.

    python -m tests.graph.oracle.deep --cases 100000 --workers 2 --out /tmp/oracle-deep

World `w` gets operations drawn from `random.Random(f"{w}:{i}")`: a failure is reproduced by
its world and index alone (`--world W --index I`). Worker `k` of `n` takes the worlds
`first + k`, `first + k + n`, ... until it has compared its share of the cases; after every
world it writes what it has done to `progress-<k>.json`, at the end `report.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.graph.oracle.check import Case, Invalid, case_for, compare
from tests.graph.oracle.operations import RandomChooser, operation
from tests.graph.oracle.shrink import shrink


def draw_operation(case: Case, world: int, index: int) -> tuple[str, dict[str, Any]]:
    import random

    return operation(case.gateway.api_schema, RandomChooser(random.Random(f"{world}:{index}")))


def _failure(
    case: Case, loop: asyncio.AbstractEventLoop, query: str, variables: dict[str, Any]
) -> str | None:
    """What is wrong with the router's answer (None: right, or the operation is invalid)."""
    try:
        compare(case, query, variables, loop)
    except Invalid:
        return None
    except AssertionError as exc:
        return str(exc).split("\n", 1)[0] or "assertion"
    except Exception:  # the router (or the comparison) crashed: a failure too
        return traceback.format_exc(limit=3)
    return None


def _fails(case: Case, loop: asyncio.AbstractEventLoop) -> Callable[[str, dict[str, Any]], bool]:
    return lambda q, v: _failure(case, loop, q, v) is not None


def _worker(args: tuple[int, int, int, int, int, str]) -> dict[str, Any]:
    k, n, first, cases, per_world, out = args
    loop = asyncio.new_event_loop()
    counts: dict[str, Any] = {"worker": k, "compared": 0, "invalid": 0, "worlds": 0, "no_world": 0}
    failures: list[dict[str, Any]] = []
    seen: set[str] = set()
    started = time.monotonic()
    world = first + k
    with open(Path(out) / f"failures-{k}.jsonl", "a") as fail_log:
        while counts["compared"] < cases:
            case = case_for(world)
            if case is None:
                counts["no_world"] += 1
                world += n
                continue
            counts["worlds"] += 1
            for i in range(per_world):
                if counts["compared"] >= cases:
                    break
                query, variables = draw_operation(case, world, i)
                try:
                    compare(case, query, variables, loop)
                except Invalid:
                    counts["invalid"] += 1
                    continue
                except Exception as exc:
                    counts["compared"] += 1
                    first_line = (str(exc).split("\n", 1)[0] or type(exc).__name__)[:200]
                    record: dict[str, Any] = {
                        "world": world,
                        "index": i,
                        "query": query,
                        "variables": variables,
                        "error": first_line,
                    }
                    if first_line not in seen:  # shrink the first of each kind only
                        seen.add(first_line)
                        small_q, small_v = shrink(_fails(case, loop), query, variables)
                        record["shrunk"] = {"query": small_q, "variables": small_v}
                        record["shrunk_error"] = _failure(case, loop, small_q, small_v)
                    failures.append(record)
                    fail_log.write(json.dumps(record) + "\n")
                    fail_log.flush()
                    continue
                counts["compared"] += 1
            loop.run_until_complete(case.gateway.aclose())
            case_for.cache_clear()
            world += n
            counts["seconds"] = round(time.monotonic() - started, 1)
            counts["failures"] = len(failures)
            (Path(out) / f"progress-{k}.json").write_text(json.dumps(counts))
    counts["failures"] = len(failures)
    counts["seconds"] = round(time.monotonic() - started, 1)
    counts["last_world"] = world - n
    loop.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cases", type=int, default=100_000, help="operations compared in all")
    p.add_argument("--workers", type=int, default=2, help="processes")
    p.add_argument("--first-world", type=int, default=0, help="the first world seed")
    p.add_argument("--per-world", type=int, default=100, help="operations per world")
    p.add_argument("--out", default="/tmp/oracle-deep", help="folder for failures and report")
    p.add_argument("--world", type=int, help="replay one case: its world ...")
    p.add_argument("--index", type=int, help="... and index")
    a = p.parse_args(argv)
    if a.world is not None:
        return _replay(a.world, a.index or 0)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    share = -(-a.cases // a.workers)
    jobs = [(k, a.workers, a.first_world, share, a.per_world, a.out) for k in range(a.workers)]
    started = time.monotonic()
    if a.workers == 1:
        results = [_worker(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(a.workers) as pool:
            results = pool.map(_worker, jobs)
    total = {
        "cases": sum(r["compared"] for r in results),
        "invalid_drawn": sum(r["invalid"] for r in results),
        "worlds": sum(r["worlds"] for r in results),
        "worlds_not_composed": sum(r["no_world"] for r in results),
        "failures": sum(r["failures"] for r in results),
        "seconds": round(time.monotonic() - started, 1),
        "workers": results,
    }
    report = json.dumps(total, indent=1)
    (Path(a.out) / "report.json").write_text(report)
    print(report)
    return 1 if total["failures"] else 0


def _replay(world: int, index: int) -> int:
    case = case_for(world)
    if case is None:
        print(f"world {world} does not compose")
        return 2
    loop = asyncio.new_event_loop()
    query, variables = draw_operation(case, world, index)
    print(query, json.dumps(variables))
    problem = _failure(case, loop, query, variables)
    print(problem or "right")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
