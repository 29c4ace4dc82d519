"""The posts subgraph's mix operations in-process, CPU per operation, writes included.

    .venv/bin/python -m bench.posts.writes [--runs 200] [--users 2000] [--data-dir DIR]

On the seeded data of `python -m bench.mixed` (same --data-dir), the posts subgraph's app is
built in this process (its lifespan run: database, Redis, the like broker) and each of the
mix's posts operations is sent through the whole ASGI app (as `bench.mixed.core`'s `http`:
the router's signed principal, JSON in and out, no socket), `--runs` times each, the
operations interleaved, CPU milliseconds per operation (time.process_time; PostgreSQL's and
Redis's CPU are not counted):

- feed: `_entities` of 20 posts (the home feed page's posts fetch);
- postDetail: the post detail page's posts operation (post, media, 20 comments);
- like / unlike: likePost then unlikePost of the same hot post by the same viewer (each a
  change: row, outbox, live counter, live event);
- comment: addComment on a hot post;
- createPost: a post without media.

`--profile OP` prints the cProfile statistics of that operation's measured runs.

For a side-by-side comparison run it in two trees (e.g. `git archive main` into /tmp)
against the same --data-dir, alternately (ABAB). Every answer is checked for errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import random
import time
from pathlib import Path

import asyncpg
import orjson
from fastapi import FastAPI

from bench.analytics.stack import stack
from bench.mixed.core import ENTITIES, asgi_post, principal_header

FEED = ENTITIES + (
    "{ ... on Post { text createdAt likeCount viewerHasLiked "
    "author { __typename _fed_id: id } } } }"
)
DETAIL = (
    "query PostDetail__posts__0($id: ID!) { post(id: $id) { id text createdAt likeCount "
    "viewerHasLiked commentCount author { id __typename } media { id status url } "
    "comments(first: 20) { edges { node { id text createdAt author { id __typename } } } "
    "pageInfo { hasNextPage endCursor } } } }"
)
LIKE = (
    "mutation Like__posts__0($id: ID!) { likePost(postId: $id) { post { id likeCount "
    "viewerHasLiked } errors { code message } } }"
)
UNLIKE = (
    "mutation Unlike__posts__0($id: ID!) { unlikePost(postId: $id) { post { id likeCount "
    "viewerHasLiked } errors { code message } } }"
)
COMMENT = (
    "mutation Comment__posts__0($input: AddCommentInput!) { addComment(input: $input) "
    "{ comment { id text createdAt author { __typename id } } errors { code message } } }"
)
CREATE = (
    "mutation CreatePost__posts__0($input: CreatePostInput!) { createPost(input: $input) "
    "{ post { id text createdAt } uploads { mediaId method url fields { name value } } "
    "errors { code message } } }"
)
OPS = ("feed", "postDetail", "like", "unlike", "comment", "createPost")


async def run(args: argparse.Namespace, env: dict[str, str], dsn: str) -> None:
    import os

    os.environ.update(env)
    from puppies.settings import load_settings

    conn = await asyncpg.connect(dsn)
    try:
        users = [r["id"] for r in await conn.fetch("SELECT id FROM users.users LIMIT 500")]
        posts = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM posts.posts WHERE deleted_at IS NULL AND published_at IS NOT "
                "NULL ORDER BY id DESC LIMIT 500"
            )
        ]
    finally:
        await conn.close()
    rng = random.Random(7)
    viewer = rng.choice(users)
    principal = [(b"x-puppies-principal", principal_header(viewer).encode())]
    module = __import__("subgraphs.posts.app", fromlist=["create_app"])
    app: FastAPI = module.create_app(load_settings())

    def body(op: str, pid: int) -> bytes:
        if op == "feed":
            reps = [{"__typename": "Post", "id": str(i)} for i in rng.sample(posts, 20)]
            return orjson.dumps({"query": FEED, "variables": {"representations": reps}})
        if op == "postDetail":
            return orjson.dumps({"query": DETAIL, "variables": {"id": str(pid)}})
        if op in ("like", "unlike"):
            query = LIKE if op == "like" else UNLIKE
            return orjson.dumps({"query": query, "variables": {"id": str(pid)}})
        if op == "comment":
            text = f"bench comment {rng.randrange(10**9)}"
            variables = {"input": {"postId": str(pid), "text": text}}
            return orjson.dumps({"query": COMMENT, "variables": variables})
        text = f"bench post {rng.randrange(10**9)}"
        return orjson.dumps({"query": CREATE, "variables": {"input": {"text": text}}})

    async with app.router.lifespan_context(app):
        hot = posts[:50]
        # start from "not liked" for this viewer on every hot post
        for pid in hot:
            await asgi_post(app, body("unlike", pid), principal)
        times: dict[str, list[float]] = {op: [] for op in OPS}
        prof = cProfile.Profile() if args.profile else None
        for i in range(args.runs + 5):
            pid = hot[i % len(hot)]
            for op in OPS:
                b = body(op, pid)
                profiled = prof if op == args.profile and i >= 5 else None
                if profiled is not None:
                    profiled.enable()
                t = time.process_time()
                out = await asgi_post(app, b, principal)
                spent = (time.process_time() - t) * 1000
                if profiled is not None:
                    profiled.disable()
                assert b'"errors"' not in out or b'"errors":[]' in out, out[:300]
                assert b'"errors":[{' not in out, out[:300]
                if i >= 5:  # warm-up runs are not counted
                    times[op].append(spent)
    if prof is not None:
        pstats.Stats(prof).sort_stats(args.sort).print_stats(40)
    print("| operation | CPU ms (median) | p25 | p75 |")
    print("|---|---|---|---|")
    for op in OPS:
        v = sorted(times[op])
        n = len(v)
        print(f"| {op} | {v[n // 2]:.3f} | {v[n // 4]:.3f} | {v[3 * n // 4]:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.posts.writes")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--users", type=int, default=2000, help="the bench.mixed graph to use")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--profile", default="", choices=("", *OPS), help="an operation to profile")
    ap.add_argument("--sort", default="tottime", help="how the profile is sorted (pstats keys)")
    args = ap.parse_args()
    data_dir = (args.data_dir or Path(f"/tmp/puppies-bench-mixed-{args.users}")).resolve()
    if not (data_dir / "seeded.json").exists():
        raise SystemExit(f"{data_dir} is not seeded: run python -m bench.mixed first")
    with stack(data_dir) as st:
        url = st.settings.database_url
        assert url
        env = {k: v for k, v in st.env.items() if k.isupper()}
        env["JWKS_URL"] = "http://127.0.0.1:9/.well-known/jwks.json"  # never used: principals
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(args, env, url.replace("postgresql+asyncpg://", "postgresql://")))


if __name__ == "__main__":
    main()
