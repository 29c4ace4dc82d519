"""The CPU of a post's fan-out, two trees side by side (bench/RESULTS.md, "Session 23: the
worker and PostgreSQL per mix request").

    .venv/bin/python -m bench.feed.fanout_ab /tmp/main-tree . [--rounds 4] [--posts 150]
        [--followers 50] [--data-dir /tmp/puppies-bench-fanout-ab]

Starts embedded PostgreSQL/Redis/S3 (migrated by this tree), seeds `--followers` followers
for each of 20 authors, then alternates the trees (ABAB... `--rounds` times each): a child
process run in the tree (its own modules) creates `--posts` posts (not measured) and runs
`resolvers.feed.fanout.fan_out_post` on each, one after another, as the worker's consumer
does; then as many follow + unfollow pairs (the feed's consumers: sync_follow or
sync_unfollow, then reconcile_vip; the users domain's writes not measured).
Per post: the child's CPU (process time) and PostgreSQL's (every process of the
cluster, from /proc), and the statements PostgreSQL ran (pg_stat_database's transactions are
not enough: pg_stat_statements is not loaded here, so statements are counted by the child
with SQLAlchemy's before_cursor_execute event on a separate, uncounted pass).
FANOUT_AB_PROFILE=PREFIX in the environment: each measured child's fan-outs under cProfile
(CPU time), stats in PREFIX.<pid>.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

AUTHORS = 20


def _cluster_cpu(pgdata: Path) -> float:
    """Seconds of CPU of the postmaster and every child of it, live or exited."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:  # with its exited children's (a child's backends exit with it)
            total += sum(int(f) for f in fields[11:15])
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


async def _child(posts: int, authors: list[int], count: bool) -> dict[str, float]:
    from sqlalchemy import event

    from puppies.settings import load_settings
    from resolvers.feed.fanout import fan_out_post
    from resolvers.posts.posts import create_post
    from resolvers.runtime import Resources

    res = Resources.open(load_settings())
    try:
        await res.db.warm()
        made = []
        for i in range(posts):
            author = authors[i % len(authors)]
            created = await create_post(res, author, f"bench {i}", [])
            made.append((created.post.id, author))
        statements = 0
        if count:

            def counted(*_args: object) -> None:
                nonlocal statements
                statements += 1

            event.listen(res.db.engine.sync_engine, "before_cursor_execute", counted)
        profile = os.environ.get("FANOUT_AB_PROFILE")
        profiler = cProfile.Profile(time.process_time) if profile and not count else None
        if profiler is not None:
            profiler.enable()
        cpu0 = time.process_time()
        for post_id, author in made:
            result = await fan_out_post(res, post_id, author)
            assert result.state == "done", result
        cpu = time.process_time() - cpu0
        fanout_statements = statements
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{os.getpid()}")
        # a follow and an unfollow as the feed's consumers run them (the users domain's
        # write, not measured; then sync + the VIP reconcile, measured), by followers of
        # another author (their inboxes get the backfill)
        from resolvers.feed.follows import sync_follow, sync_unfollow
        from resolvers.feed.vip import reconcile_vip
        from resolvers.users.follows import follow, unfollow

        pairs = [(authors[i % len(authors)], authors[(i + 1) % len(authors)]) for i in range(posts)]
        follow_cpu = 0.0
        follow_statements = 0
        for viewer, followee in pairs:
            await follow(res, viewer, followee)
            t0 = time.process_time()
            before = statements
            await sync_follow(res, viewer, followee)
            await reconcile_vip(res, followee)
            follow_cpu += time.process_time() - t0
            follow_statements += statements - before
            await unfollow(res, viewer, followee)
            t0 = time.process_time()
            before = statements
            await sync_unfollow(res, viewer, followee)
            await reconcile_vip(res, followee)
            follow_cpu += time.process_time() - t0
            follow_statements += statements - before
        return {
            "cpu_ms": cpu * 1000 / posts,
            "statements": fanout_statements / posts,
            "follow_statements": follow_statements / posts,
            "follow_ms": follow_cpu * 1000 / posts,
        }
    finally:
        await res.close()


def _run_child(
    tree: Path, env: dict[str, str], posts: int, authors: list[int], count: bool
) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            json.dumps({"posts": posts, "authors": authors, "count": count}),
        ],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child in {tree} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def _seed(followers: int) -> list[int]:
    from puppies.settings import load_settings
    from resolvers.runtime import Resources
    from resolvers.users.bulk import insert_follows, insert_users, recount

    res = Resources.open(load_settings())
    try:
        n = AUTHORS * (1 + followers)
        rows = [(f"fab{i}", f"fab{i}@example.test", f"Fab {i}", "") for i in range(n)]
        made = await insert_users(res, rows, "not-a-real-hash")
        ids = [made[r[0]] for r in rows]
        authors = ids[:AUTHORS]
        edges = []
        for k, author in enumerate(authors):
            start = AUTHORS + k * followers
            edges += [(f, author) for f in ids[start : start + followers]]
        await insert_follows(res, edges)
        await recount(res)
        return authors
    finally:
        await res.close()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        args = json.loads(sys.argv[2])
        print(json.dumps(asyncio.run(_child(args["posts"], args["authors"], args["count"]))))
        return
    from bench.analytics.stack import stack

    ap = argparse.ArgumentParser(prog="python -m bench.feed.fanout_ab")
    ap.add_argument("a", type=Path, help="tree A (e.g. a `git archive main` with its .venv)")
    ap.add_argument("b", type=Path, help="tree B")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--posts", type=int, default=150)
    ap.add_argument("--followers", type=int, default=50)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-fanout-ab"))
    args = ap.parse_args()
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    shutil.rmtree(args.data_dir, ignore_errors=True)  # a fresh cluster: the seed is fixed
    with stack(args.data_dir) as st:
        env = {**st.env}
        os.environ.update(st.env)
        authors = asyncio.run(_seed(args.followers))
        pgdata = next(args.data_dir.resolve().rglob("postmaster.pid")).parent
        figures: dict[str, list[tuple[float, float, float]]] = {"A": [], "B": []}
        for name, tree in trees.items():  # warm-up pass of each, counting statements
            counted = _run_child(tree, env, 20, authors, True)
            print(
                f"{name} {tree}: {counted['statements']:.1f} statements per fan-out, "
                f"{counted['follow_statements']:.1f} per follow + unfollow",
                flush=True,
            )
        for r in range(args.rounds):
            for name in ("A", "B") if r % 2 == 0 else ("B", "A"):
                pg0 = _cluster_cpu(pgdata)
                got = _run_child(trees[name], env, args.posts, authors, False)
                # PostgreSQL's CPU over the child (post creation included: the same in both)
                pg = (_cluster_cpu(pgdata) - pg0) * 1000 / args.posts
                figures[name].append((got["cpu_ms"], pg, got["follow_ms"]))
                print(
                    f"round {r} {name}: fan-out CPU {got['cpu_ms']:.2f} ms/post, "
                    f"follow+unfollow {got['follow_ms']:.2f} ms/pair, PostgreSQL "
                    f"{pg:.2f} ms/post (creation, follows included)",
                    flush=True,
                )
        for name in ("A", "B"):
            cpu = sorted(f[0] for f in figures[name])
            pg = sorted(f[1] for f in figures[name])
            fol = sorted(f[2] for f in figures[name])
            print(
                f"{name}: fan-out CPU median {cpu[len(cpu) // 2]:.2f} ms/post, follow+unfollow "
                f"{fol[len(fol) // 2]:.2f} ms/pair, PostgreSQL median {pg[len(pg) // 2]:.2f} "
                "ms/post"
            )


if __name__ == "__main__":
    main()
