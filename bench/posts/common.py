"""Shared set-up for the posts benchmarks: the stack, tokens, a post to hammer."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil

from bench.analytics.stack import Stack
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import issue_access_token
from puppies.embedded import free_port


def start_posts_stack(st: Stack, data_dir: Path, *, posts_workers: int, worker: bool = True) -> str:
    """Users (for JWKS), posts (N processes) and the worker; returns the posts URL."""
    users_port, posts_port = free_port(), free_port()
    env = {"JWKS_URL": f"http://127.0.0.1:{users_port}/.well-known/jwks.json"}
    st.env.update(env)
    st.start(["serve", "users", "--port", str(users_port)], users_port, log=data_dir / "users.log")
    st.start(
        ["serve", "posts", "--port", str(posts_port), "--workers", str(posts_workers)],
        posts_port,
        log=data_dir / "posts.log",
    )
    if worker:
        st.start(["worker"], log=data_dir / "worker.log")
    return f"http://127.0.0.1:{posts_port}"


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(st: Stack, data_dir: Path) -> dict[str, float]:
    """CPU seconds (user+system) used so far by each part of the stack.

    Parts: the processes started by `st` by their command (users, posts, worker), and the
    embedded services, found by their data directory in the command line.
    """
    out: dict[str, float] = {}
    for proc in st.procs:
        name = st.name_of(proc)
        for p in _tree(proc.pid):
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                out[name] = out.get(name, 0.0) + t.user + t.system
    marker = str(data_dir.resolve())
    # redis-server's command line names only its address, not the data directory
    redis_addr = (st.settings.redis_url or "").split("//", 1)[-1].split("/", 1)[0]
    for p in psutil.process_iter(["cmdline", "name"]):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(p.info["cmdline"] or []).strip()
            if "redis-server" in cmd and redis_addr and cmd.endswith(redis_addr):
                cmd += " " + marker
            if marker not in cmd and not (p.info["name"] or "").startswith("postgres"):
                continue
            kind = (
                "postgres"
                if "postgres" in (p.info["name"] or "") or "postgres" in cmd
                else "redis"
                if "redis" in cmd
                else "s3"
                if "weed" in cmd
                else None
            )
            if kind is None:
                continue
            if kind == "postgres" and not _owned_by(p, marker):
                continue
            t = p.cpu_times()
            out[kind] = out.get(kind, 0.0) + t.user + t.system
    return out


def _owned_by(p: psutil.Process, marker: str) -> bool:
    """A postgres backend belongs to our cluster when its postmaster's command has our dir."""
    with contextlib.suppress(psutil.Error):
        for q in [p, *p.parents()]:
            if marker in " ".join(q.cmdline()):
                return True
    return False


def tokens(st: Stack, user_ids: range) -> dict[int, str]:
    ring = KeyRing(st.settings.keys_dir).load()
    return {u: issue_access_token(ring, st.settings, u, ttl_seconds=3600).token for u in user_ids}


async def gql(
    session: aiohttp.ClientSession,
    url: str,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with session.post(
        url + "/graphql",
        headers=headers,
        data=orjson.dumps({"query": query, "variables": variables}),
    ) as r:
        body: dict[str, Any] = orjson.loads(await r.read())
        return body


async def create_post(url: str, token: str) -> str:
    async with aiohttp.ClientSession() as session:
        for _ in range(50):  # the users subgraph's JWKS may not be fetched yet
            body = await gql(
                session,
                url,
                'mutation { createPost(input: {text: "hot"}) { post { id } errors { message } } }',
                {},
                token,
            )
            if "data" in body and body["data"]["createPost"]["post"]:
                pid: str = body["data"]["createPost"]["post"]["id"]
                return pid
            await asyncio.sleep(0.2)
    raise RuntimeError(f"could not create the post: {body}")
