"""PostgreSQL's top statements by total time while something else runs (bench/RESULTS.md,
"Session 23: the worker and PostgreSQL per mix request").

    .venv/bin/python -m bench.workers.pg_top DSN --wait 8 --seconds 20 [--top 30] [--json F]

Needs `pg_stat_statements` loaded (`shared_preload_libraries`; e.g. appended to
<data-dir>/postgres/pgdata/postgresql.auto.conf of a bench.mixed data directory before its
run). Waits `--wait` seconds (the warm-up of the run being measured), resets the statistics,
waits `--seconds`, then prints the statements by total execution time: calls, total ms, ms
per call, rows per call, share of the total, and the statement's first characters.
`--dsn-from-ps` finds the port of the one running embedded PostgreSQL whose data directory
contains the given text (the DSN argument), for a stack started by bench.mixed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import time
from pathlib import Path

import asyncpg


def port_from_ps(data_dir_part: str, timeout: float = 300.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "/bin/postgres " in line and data_dir_part in line:
                m = re.search(r" -p (\d+)", line)
                if m:
                    return int(m.group(1))
        time.sleep(0.5)
    raise SystemExit(f"no postgres with {data_dir_part!r} in its arguments")


async def run(dsn: str, wait: float, seconds: float, top: int) -> list[dict[str, object]]:
    for _ in range(120):
        try:
            c = await asyncpg.connect(dsn)
            break
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(1.0)
    else:
        raise SystemExit(f"cannot connect to {dsn}")
    await c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await asyncio.sleep(wait)
    await c.execute("SELECT pg_stat_statements_reset()")
    await asyncio.sleep(seconds)
    rows = await c.fetch(
        "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements "
        "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC"
    )
    await c.close()
    total = sum(r["total_exec_time"] for r in rows) or 1.0
    calls = sum(r["calls"] for r in rows)
    print(f"{len(rows)} statements, {calls} calls, {total:.0f} ms in {seconds:.0f} s")
    print(f"{'calls':>7} {'total ms':>9} {'ms/call':>8} {'rows/c':>7} {'share':>6}  statement")
    for r in rows[:top]:
        q = " ".join(r["query"].split())[:150]
        print(
            f"{r['calls']:>7} {r['total_exec_time']:>9.1f} "
            f"{r['total_exec_time'] / max(1, r['calls']):>8.3f} "
            f"{r['rows'] / max(1, r['calls']):>7.1f} "
            f"{100 * r['total_exec_time'] / total:>5.1f}%  {q}"
        )
    return [dict(r) for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.workers.pg_top")
    ap.add_argument("dsn", help="postgresql://... or, with --dsn-from-ps, a data-dir fragment")
    ap.add_argument("--dsn-from-ps", action="store_true")
    ap.add_argument("--wait", type=float, default=0.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    dsn = args.dsn
    if args.dsn_from_ps:
        dsn = f"postgresql://postgres@127.0.0.1:{port_from_ps(args.dsn)}/puppies"
    rows = asyncio.run(run(dsn, args.wait, args.seconds, args.top))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, default=str, indent=1))


if __name__ == "__main__":
    main()
