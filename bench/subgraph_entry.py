"""A subgraph request's whole in-process cost, this tree against another, side by side.

    .venv/bin/python -m bench.subgraph_entry --contender /tmp/main-tree \\
        [--data-dir /tmp/puppies-bench-mixed-2000] [--rounds 2] [--requests 600] \\
        [--fresh-tokens 0.6]

On the seeded data of `python -m bench.mixed` (one stack: PostgreSQL, Redis, S3), each round
runs one child process per tree, contender first then this tree (ABAB...). A child builds
the three subgraph apps from its tree's code (lifespan run: pools, loaders, GC set-up) and
sends the home feed page's three subgraph requests (bench/mixed/core.py OPS: feed
`feed(first: 20)`, posts `_entities` x20, users `_entities` x20) as uvicorn calls the app:
under uvicorn's ProxyHeadersMiddleware, a full ASGI scope, the router's signed principal
header. `--fresh-tokens`: the share of requests whose principal token the subgraph has not
seen (a new viewer's; about 0.6 of the stack's feed pages at 2,000 viewers, 60 pages/s),
the others repeat one token. Tokens are made before the timing. Printed: CPU microseconds
per request (time.process_time over `--requests` sequential requests, after a warm-up), per
subgraph and tree, each round, and the ratio of the medians.

No socket and no uvicorn protocol (httptools parsing, transport writes): what a change to
the app costs or saves, not the server's share.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
SUBGRAPHS = ("feed", "posts", "users")


def _child(config: dict[str, Any]) -> None:
    """In a tree's checkout (cwd): time its apps, print {subgraph: us per request}."""
    import time

    import asyncpg
    import orjson
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from bench.mixed.core import OPS, asgi_post, principal_header
    from puppies.settings import load_settings

    async def main() -> dict[str, float]:
        conn = await asyncpg.connect(config["dsn"])
        try:
            users = [r["id"] for r in await conn.fetch("SELECT id FROM users.users LIMIT 2000")]
            posts = [
                r["id"]
                for r in await conn.fetch("SELECT id FROM posts.posts ORDER BY id DESC LIMIT 500")
            ]
        finally:
            await conn.close()
        rng = random.Random(7)
        n, warm = config["requests"], 50
        out: dict[str, float] = {}
        for sub in config["subgraphs"]:
            _name, query, kind = OPS[sub][0]
            module = __import__(f"subgraphs.{sub}.app", fromlist=["create_app"])
            app = module.create_app(load_settings())
            served = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")
            repeated = principal_header(users[0]).encode()
            tokens = [
                principal_header(rng.choice(users)).encode()
                if rng.random() < config["fresh"]
                else repeated
                for _ in range(n + warm)
            ]
            bodies = []
            for _ in range(n + warm):
                variables: dict[str, Any] = {}
                if kind in ("posts", "users"):
                    ids = rng.sample(posts if kind == "posts" else users, 20)
                    typename = "Post" if kind == "posts" else "User"
                    variables = {
                        "representations": [{"__typename": typename, "id": str(i)} for i in ids]
                    }
                bodies.append(orjson.dumps({"query": query, "variables": variables}))
            async with app.router.lifespan_context(app):
                for i in range(warm):
                    await asgi_post(served, bodies[i], [(b"x-puppies-principal", tokens[i])])
                started = time.process_time()
                for i in range(warm, warm + n):
                    body = await asgi_post(served, bodies[i], [(b"x-puppies-principal", tokens[i])])
                    assert b'"errors"' not in body, body[:300]
                out[sub] = (time.process_time() - started) / n * 1e6
        return out

    import uvloop  # as `puppies serve` runs a subgraph

    print(json.dumps(uvloop.run(main())), flush=True)


def _run_child(tree: Path, env: dict[str, str], config: dict[str, Any]) -> dict[str, float]:
    code = (
        "import runpy, sys; sys.argv = ['subgraph_entry', '--child', sys.argv[1]]; "
        f"runpy.run_path({str(HERE)!r}, run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(config)],
        cwd=tree,
        env={**os.environ, **env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: child failed\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.subgraph_entry")
    ap.add_argument("--contender", type=Path, help="the other tree (A)")
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/puppies-bench-mixed-2000"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--fresh-tokens", type=float, default=0.6)
    ap.add_argument("--subgraphs", default=",".join(SUBGRAPHS))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        _child(json.loads(args.child))
        return
    if args.contender is None:
        ap.error("--contender is required")
    from bench.analytics.stack import stack

    data_dir = args.data_dir.resolve()
    if not (data_dir / "seeded.json").exists():
        raise SystemExit(f"{data_dir} is not seeded: run python -m bench.mixed first")
    trees = {"A": args.contender.resolve(), "B": HERE.parent.parent}
    times: dict[str, dict[str, list[float]]] = {t: {} for t in trees}
    with stack(data_dir) as st:
        url = st.settings.database_url
        assert url
        env = {k: v for k, v in st.env.items() if k.isupper()}
        env["JWKS_URL"] = "http://127.0.0.1:9/.well-known/jwks.json"  # never used: principals
        config = {
            "dsn": url.replace("postgresql+asyncpg://", "postgresql://"),
            "requests": args.requests,
            "fresh": args.fresh_tokens,
            "subgraphs": args.subgraphs.split(","),
        }
        with contextlib.suppress(KeyboardInterrupt):
            for r in range(args.rounds):
                for label, tree in trees.items():
                    found = _run_child(tree, env, config)
                    for sub, us in found.items():
                        times[label].setdefault(sub, []).append(us)
                    print(f"round {r + 1} {label} ({tree}): {found}", flush=True)
    print(f"| subgraph request | A {trees['A']} (us CPU) | B {trees['B']} (us CPU) | B / A |")
    print("|---|---|---|---|")
    for sub in config["subgraphs"]:
        a = statistics.median(times["A"][sub])
        b = statistics.median(times["B"][sub])
        print(f"| {sub} | {a:.0f} | {b:.0f} | {b / a:.2f} |")


if __name__ == "__main__":
    main()
