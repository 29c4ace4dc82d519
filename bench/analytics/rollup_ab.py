"""Two versions of the roll-up statement side by side on one PostgreSQL (bench/RESULTS.md,
"Session 22: worker").

    .venv/bin/python -m bench.analytics.rollup_ab DSN OLD.sql NEW.sql \
        [--posts 200000] [--rounds 200] [--queue-stats 1000]

OLD.sql / NEW.sql: the statement text with `$1` (the lock key) and `$2` (the limit), e.g.
`str(resolvers.analytics.rollup._ROLL_UP)` of two commits with `:k`/`:limit` replaced.
Fills `analytics.posts` up to `--posts` rows (ids far above real ones), sets the queue's
statistics as an ANALYZE taken while `--queue-stats` events were queued would, then each
round queues 10 events (8 views without an author, 2 likes with one) and rolls them up with
one version, alternating the order every round. Needs `pg_stat_statements` loaded: prints
its mean time and buffers per call for each version. A scratch database only: it writes
rollups and projection rows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from pathlib import Path

import asyncpg

LOCK_KEY = 0x726F_6C6C_7570


async def run(dsn: str, old: str, new: str, posts: int, rounds: int, queue_stats: int) -> None:
    c = await asyncpg.connect(dsn)
    n = await c.fetchval("SELECT count(*) FROM analytics.posts")
    if n < posts:
        await c.execute(
            "INSERT INTO analytics.posts (post_id, author_id, created_at) "
            "SELECT 900000000000 + g, 1 + g % 2000, now() FROM generate_series($1::int, $2::int) g",
            n,
            posts - 1,
        )
        await c.execute("VACUUM ANALYZE analytics.posts")
    ids = [r[0] for r in await c.fetch("SELECT post_id FROM analytics.posts")]
    if queue_stats:
        await c.execute(
            "INSERT INTO analytics.rollup_queue (type, occurred_at, post_id) "
            "SELECT 'POST_VIEW', now(), g FROM generate_series(1, $1::int) g",
            queue_stats,
        )
        await c.execute("ANALYZE analytics.rollup_queue")
        await c.execute("DELETE FROM analytics.rollup_queue")
    await c.execute("SELECT pg_stat_statements_reset()")
    # tagged, to tell them apart in pg_stat_statements (which drops a leading comment)
    stmts = {
        name: await c.prepare(sql.replace("WITH", f"WITH /* {name} */", 1))
        for name, sql in (("old", old), ("new", new))
    }
    rng = random.Random(1)
    for i in range(rounds):
        for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
            await c.execute(
                "INSERT INTO analytics.rollup_queue (type, occurred_at, post_id, owner_id) "
                "SELECT CASE WHEN o <= 8 THEN 'POST_VIEW' ELSE 'LIKE' END, now(), p, "
                "CASE WHEN o <= 8 THEN NULL ELSE 1 END "
                "FROM unnest($1::bigint[]) WITH ORDINALITY AS t(p, o)",
                rng.sample(ids, 10),
            )
            assert await stmts[name].fetchval(LOCK_KEY, 50_000) == 10
    for name in ("old", "new"):
        row = await c.fetchrow(
            "SELECT calls, mean_exec_time, "
            "(shared_blks_hit + shared_blks_read)::float / calls AS per_call "
            "FROM pg_stat_statements WHERE strpos(query, $1) > 0",
            f"WITH /* {name} */",
        )
        if row is None:
            print(f"{name}: not found in pg_stat_statements")
            continue
        print(
            f"{name}: {row['calls']} calls, mean {row['mean_exec_time']:.3f} ms, "
            f"{row['per_call']:.1f} buffers a call"
        )
    await c.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("dsn")
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--posts", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--queue-stats", type=int, default=1000)
    a = p.parse_args()
    print(f"analytics.posts {a.posts:,} rows, queue statistics at {a.queue_stats} rows")
    asyncio.run(run(a.dsn, a.old.read_text(), a.new.read_text(), a.posts, a.rounds, a.queue_stats))


if __name__ == "__main__":
    main()
