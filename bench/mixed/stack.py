"""The whole stack for the mixed workload and the soak, in its own data directory and ports.

Embedded PostgreSQL (durable: fsync on), Redis and S3 started with the code `puppies dev`
uses, migrated, seeded once per data directory with the `puppies seed --scale` generator at
a chosen size, then the four subgraphs, the worker and the router as real `puppies`
processes, one each. The router runs a copy of the repository's router.yaml with the rate
limits lifted for the benchmark's users (see `bench_router_config`), so the limiter still
runs (and costs what it costs) but never refuses a benchmark request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from bench.analytics.stack import Stack, stack
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port
from workers.seed_scale import ScaleSpec, seed_scale

ROOT = Path(__file__).resolve().parents[2]
SUBGRAPHS = ("users", "posts", "feed", "analytics")
# Requests per minute no benchmark user reaches: the limiter runs, and never refuses.
LIFTED = 1_000_000_000


def bench_router_config(data_dir: Path, overrides: dict[str, Any] | None = None) -> Path:
    """router.yaml with the rate limits lifted for signed-in users (and every root field
    limit raised to match); no browser pages; then `overrides` (top-level sections replaced
    whole). Written next to the data."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "router.yaml").read_text())
    config.update(overrides or {})
    limits = config["rate_limits"]
    limits["users"] = {"limit": LIFTED}
    limits["anonymous"] = {"limit": LIFTED}
    for rule in limits.get("root_fields", {}).values():
        rule["limit"] = LIFTED
    config.pop("static_files", None)
    config.pop("graphiql", None)
    path = data_dir / "router.bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class Population:
    """Who the generator plays and what they act on, sampled from the seeded graph."""

    tokens: list[str]  # access tokens of the sampled viewers (index = viewer slot)
    viewer_ids: list[str]
    post_ids: list[str]  # recent posts: detail pages, comments
    hot_post_ids: list[str]  # posts liked and watched live
    user_ids: list[str]  # accounts whose profiles are opened and followed


def _scale_spec(users: int) -> ScaleSpec:
    return ScaleSpec(users=users, follows=users * 50, posts=users * 10)


def _raw_dsn(st: Stack) -> str:
    url = st.settings.database_url
    assert url
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def liked_pairs(dsn: str, viewer_ids: list[str], post_ids: list[str]) -> set[tuple[str, str]]:
    """The (viewer, post) pairs of these viewers and posts that PostgreSQL holds a like for.

    A load that toggles likes must start from this, not from "nothing liked": the data
    directory is kept between runs (and the graph between scenarios), so a viewer may
    already like the post; a `likePost` then is an idempotent no-op, which changes nothing
    and publishes no live event (resolvers/posts/likes.py)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT user_id, post_id FROM posts.likes "
            "WHERE user_id = ANY($1::bigint[]) AND post_id = ANY($2::bigint[])",
            [int(v) for v in viewer_ids],
            [int(p) for p in post_ids],
        )
    finally:
        await conn.close()
    return {(str(r["user_id"]), str(r["post_id"])) for r in rows}


async def followed_pairs(
    dsn: str, viewer_ids: list[str], user_ids: list[str]
) -> set[tuple[str, str]]:
    """The (viewer, user) pairs of these viewers and users where the viewer follows the user
    in PostgreSQL. The follow op toggles from this, as the like op from liked_pairs: the
    seeded graph has each viewer following ~50 accounts, so "nothing followed" made about
    one follow in six a no-op on an existing follow (`changed: false`)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT follower_id, followee_id FROM users.follows "
            "WHERE follower_id = ANY($1::bigint[]) AND followee_id = ANY($2::bigint[])",
            [int(v) for v in viewer_ids],
            [int(u) for u in user_ids],
        )
    finally:
        await conn.close()
    return {(str(r["follower_id"]), str(r["followee_id"])) for r in rows}


async def _seed_if_needed(st: Stack, users: int, data_dir: Path) -> None:
    marker = data_dir / "seeded.json"
    if marker.exists():
        seeded = json.loads(marker.read_text())
        if seeded["users"] != users:
            raise SystemExit(
                f"{data_dir} holds a graph of {seeded['users']} users; pass --users "
                f"{seeded['users']} or another --data-dir"
            )
        return
    print(f"seeding {users:,} users (puppies seed --scale generator) ...", flush=True)
    summary = await seed_scale(st.settings, 42, _scale_spec(users))
    marker.write_text(json.dumps(summary))


async def _population(st: Stack, viewers: int, rng: random.Random) -> Population:
    conn = await asyncpg.connect(_raw_dsn(st))
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM users.users")]
        posts = [
            r["id"]
            # visible to everyone: in a reused data directory the newest posts include the
            # mix's own image posts still waiting for the worker, which are NOT_FOUND to others
            for r in await conn.fetch(
                "SELECT id FROM posts.posts WHERE published_at IS NOT NULL"
                " AND deleted_at IS NULL ORDER BY id DESC LIMIT 5000"
            )
        ]
    finally:
        await conn.close()
    chosen = rng.sample(ids, min(viewers, len(ids)))
    ring = KeyRing(st.settings.keys_dir).load()
    tokens = [issue_access_token(ring, st.settings, u, ttl_seconds=24 * 3600).token for u in chosen]
    return Population(
        tokens=tokens,
        viewer_ids=[str(u) for u in chosen],
        post_ids=[str(p) for p in posts],
        hot_post_ids=[str(p) for p in posts[:200]],
        user_ids=[str(u) for u in rng.sample(ids, min(5000, len(ids)))],
    )


@dataclass
class MixedStack:
    st: Stack
    router_url: str
    data_dir: Path
    population: Population


@contextlib.contextmanager
def mixed_stack(
    data_dir: Path,
    users: int,
    viewers: int,
    profile: tuple[str, ...] = (),
    router_overrides: dict[str, Any] | None = None,
) -> Iterator[MixedStack]:
    """`profile`: processes (router, users, ...) to run under cProfile, their stats written
    to <data_dir>/profiles/<name>.prof when the stack stops. `router_overrides`: router.yaml
    sections to replace (bench_router_config)."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with stack(data_dir) as st:
        asyncio.run(_seed_if_needed(st, users, data_dir))
        # the worker's health port too: on its default (4005) it collided with other stacks
        # on the machine, and the worker exited at start-up without the run noticing
        ports = {name: free_port() for name in (*SUBGRAPHS, "worker", "router")}
        st.env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
        st.env["JWKS_URL"] = f"http://127.0.0.1:{ports['users']}/.well-known/jwks.json"
        logs = data_dir / "logs"
        logs.mkdir(exist_ok=True)
        profiles = data_dir / "profiles"
        profiles.mkdir(exist_ok=True)

        def prof(name: str) -> Path | None:
            return profiles / f"{name}.prof" if name in profile else None

        for name in SUBGRAPHS:
            port = ports[name]
            st.start(
                ["serve", name, "--port", str(port)], port, log=logs / name, profile=prof(name)
            )
        st.start(["worker"], ports["worker"], log=logs / "worker", profile=prof("worker"))
        st.start(
            [
                "serve",
                "router",
                "--supergraph",
                str(ROOT / "supergraph.graphql"),
                "--config",
                str(bench_router_config(data_dir, router_overrides)),
                "--listen",
                f"127.0.0.1:{ports['router']}",
            ],
            ports["router"],
            log=logs / "router",
            profile=prof("router"),
        )
        population = asyncio.run(_population(st, viewers, random.Random(7)))
        time.sleep(1.0)  # the router's first JWKS fetch
        yield MixedStack(st, f"http://127.0.0.1:{ports['router']}", data_dir, population)
