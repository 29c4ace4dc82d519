"""Per-process memory and CPU of the whole stack under a mixed load: the figures the
Kubernetes production overlay is sized from (docs/scaling.md).

Starts durable embedded PostgreSQL, Redis and S3 (bench/analytics/stack.py), the four
subgraphs, the worker and the router as real processes; records each process's resident
memory at idle; then runs a mixed client load through the router for ``--seconds``
(``me``, the home feed, a post with its author, ``createPost``, ``likePost``, ``trackEvents``)
with ``--concurrency`` requests in flight; prints per process: RSS idle and peak, CPU seconds
and CPU ms per router request, and the router's request rate.

    .venv/bin/python -m bench.ops.footprint [--seconds 30] [--concurrency 16] [--users 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.analytics.stack import stack
from puppies.embedded import free_port
from puppies.settings import DEV_ROUTER_PRINCIPAL_SECRET

SIGN_UP = """mutation($u: String!, $e: String!, $p: String!) {
  signUp(input: {username: $u, email: $e, password: $p}) {
    session { accessToken user { id } } } }"""
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { changed } }"
NEW_POST = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id likeCount } errors { code } } }"
ME = "query Me { me { id username followerCount } }"
FEED = "query Feed { feed(first: 20) { edges { node { id text author { username } } } } }"
POST = "query Post($id: ID!) { post(id: $id) { id text likeCount author { username } } }"
TRACK = """mutation Track($e: [EventInput!]!) { trackEvents(events: $e) { accepted } }"""


def router_config(ports: dict[str, int]) -> str:
    """The dev router.yaml's authentication (JWT against the users JWKS, the signed principal
    to subgraphs, directives enforced), without the access log (stdout off)."""
    users = f"http://127.0.0.1:{ports['users']}"
    overrides = "".join(f"  {k}: http://127.0.0.1:{v}/graphql\n" for k, v in ports.items())
    return f"""authentication:
  router:
    jwt:
      jwks:
        - url: {users}/.well-known/jwks.json
          issuer: puppies
          audiences: [puppies]
          algorithms: [ES256]
  subgraph:
    principal:
      secret: {DEV_ROUTER_PRINCIPAL_SECRET}
authorization:
  directives:
    user_scopes: all
    policies:
      session: {{kinds: [user]}}
      moderator: {{kinds: [user], claims: {{roles: moderator}}}}
      admin: {{kinds: [user], claims: {{roles: admin}}}}
telemetry:
  exporters:
    logging:
      stdout:
        enabled: false
override_subgraph_url:
{overrides}"""


class Sampler(threading.Thread):
    """Samples the RSS of each process (tree) every 0.25 s; keeps the peak."""

    def __init__(self, procs: dict[str, psutil.Process]) -> None:
        super().__init__(daemon=True)
        self.procs = procs
        self.peak = dict.fromkeys(procs, 0)
        self.stop = threading.Event()

    def rss(self, name: str) -> int:
        proc = self.procs[name]
        total = 0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def run(self) -> None:
        while not self.stop.wait(0.25):
            for name in self.procs:
                self.peak[name] = max(self.peak[name], self.rss(name))


def cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def load(
    router: str, seconds: float, concurrency: int, users: int, measure: Any
) -> tuple[int, int]:
    """Set up accounts, follows and posts, call `measure()`, then run the mixed load."""
    async with httpx.AsyncClient(base_url=router, timeout=60) as http:

        async def gql(query: str, variables: Any = None, token: str | None = None) -> Any:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            body = {"query": query, "variables": variables or {}}
            return (await http.post("/graphql", json=body, headers=headers)).json()

        tokens: list[tuple[str, str]] = []
        for i in range(users):
            account = {"u": f"fp{i}", "e": f"fp{i}@example.com", "p": "correct horse battery"}
            session = (await gql(SIGN_UP, account))["data"]["signUp"]["session"]
            tokens.append((session["accessToken"], session["user"]["id"]))
        for token, _ in tokens:
            for _, other in random.sample(tokens, 10):
                await gql(FOLLOW, {"id": other}, token)
        posts: list[str] = []
        for token, _ in tokens[:20]:
            body = await gql(NEW_POST, {"t": "hello"}, token)
            posts.append(body["data"]["createPost"]["post"]["id"])
        done = errors = 0
        measure()
        deadline = time.monotonic() + seconds

        async def client(n: int) -> None:
            nonlocal done, errors
            rng = random.Random(n)
            while time.monotonic() < deadline:
                token, _ = rng.choice(tokens)
                roll = rng.random()
                if roll < 0.35:
                    body = await gql(FEED, token=token)
                elif roll < 0.6:
                    body = await gql(POST, {"id": rng.choice(posts)}, token)
                elif roll < 0.8:
                    body = await gql(ME, token=token)
                elif roll < 0.9:
                    body = await gql(LIKE, {"id": rng.choice(posts)}, token)
                elif roll < 0.95:
                    body = await gql(NEW_POST, {"t": "woof"}, token)
                else:
                    now = datetime.now(UTC).isoformat()
                    events = [
                        {
                            "id": str(uuid.uuid4()),
                            "type": "POST_VIEW",
                            "occurredAt": now,
                            "postId": rng.choice(posts),
                        }
                        for _ in range(20)
                    ]
                    body = await gql(TRACK, {"e": events}, token)
                done += 1
                if body.get("errors"):
                    errors += 1

        await asyncio.gather(*(client(n) for n in range(concurrency)))
        return done, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    data = Path("/tmp/puppies-bench-footprint")
    shutil.rmtree(data, ignore_errors=True)  # fresh accounts every run
    with stack(data) as st:
        ports = {name: free_port() for name in ("users", "posts", "feed", "analytics")}
        env = {f"{k.upper()}_PORT": str(v) for k, v in ports.items()}
        st.env.update(env)
        procs: dict[str, psutil.Process] = {}
        for name, port in ports.items():
            procs[name] = psutil.Process(st.start(["serve", name, "--port", str(port)], port).pid)
        procs["worker"] = psutil.Process(st.start(["worker"], extra_env={"WORKER_PORT": "0"}).pid)
        router_port = free_port()
        config = data / "router.yaml"
        config.write_text(router_config(ports))
        procs["router"] = psutil.Process(
            st.start(
                [
                    "serve",
                    "router",
                    "--supergraph",
                    "supergraph.graphql",
                    "--config",
                    str(config),
                    "--listen",
                    f"127.0.0.1:{router_port}",
                ],
                router_port,
            ).pid
        )
        time.sleep(3)
        sampler = Sampler(procs)
        idle = {name: sampler.rss(name) for name in procs}
        before: dict[str, float] = {}

        def measure() -> None:
            before.update({name: cpu(p) for name, p in procs.items()})
            sampler.start()

        router = f"http://127.0.0.1:{router_port}"
        started = time.monotonic()
        done, errors = asyncio.run(
            load(router, args.seconds, args.concurrency, args.users, measure)
        )
        sampler.stop.set()
        spent = {name: cpu(p) - before[name] for name, p in procs.items()}
        wall = time.monotonic() - started
        load_avg = psutil.getloadavg()
    print(
        f"\nrequests in {args.seconds:.0f} s: {done} ({done / args.seconds:.0f}/s, {errors} with "
        f"errors), concurrency {args.concurrency}; load average {load_avg[0]:.1f}; "
        f"wall time with set-up {wall:.0f} s\n"
    )
    print("| process | RSS idle | RSS peak under load | CPU s under load | CPU ms per request |")
    print("|---|---:|---:|---:|---:|")
    for name in procs:
        print(
            f"| {name} | {idle[name] / 2**20:.0f} MiB | {sampler.peak[name] / 2**20:.0f} MiB "
            f"| {spent[name]:.1f} | {spent[name] * 1000 / max(done, 1):.2f} |"
        )


if __name__ == "__main__":
    main()
