"""The whole stack as a user meets it: the router in front of the four subgraphs and the
worker, each a real `puppies ...` process, on the test session's PostgreSQL, Redis and S3.

The router serves the checked-in `supergraph.graphql` with the repository's `router.yaml`
(what `make run` runs), on free ports exported the way `puppies dev` exports them
(`ROUTER_PORT`, `USERS_PORT`, ...; router.yaml's `override_subgraph_url` follows them).

    with running_stack(service_env, repo_root) as stack:
        ...  # stack.router_url, stack.env
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from puppies.embedded import free_port
from tests.support.servers import run_cli, wait_listening

SUBGRAPHS = ("users", "posts", "feed", "analytics")


@dataclass(frozen=True)
class RunningStack:
    router_url: str
    ports: dict[str, int]
    env: dict[str, str]

    @property
    def graphql_url(self) -> str:
        return self.router_url + "/graphql"

    def subgraph_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/graphql"


def stack_env(service_env: Mapping[str, str], ports: Mapping[str, int]) -> dict[str, str]:
    return {
        **service_env,
        "HOST": "127.0.0.1",
        **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()},
        # A loaded test machine must not turn feed pages into degraded answers.
        "FEED_READ_TIMEOUT_MS": "10000",
        "LIKES_FLUSH_INTERVAL_SECONDS": "0.2",
        "ANALYTICS_TRENDING_CACHE_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
    }


@contextlib.contextmanager
def running_stack(
    service_env: Mapping[str, str],
    repo_root: Path,
    *,
    worker: bool = True,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = 180,
) -> Iterator[RunningStack]:
    """Start every process (in parallel), wait until each listens and the router answers;
    stop them all (process groups) on exit."""
    ports = {name: free_port() for name in (*SUBGRAPHS, "router")}
    env = {**stack_env(service_env, ports), **(extra_env or {})}
    with contextlib.ExitStack() as processes:
        started = {
            name: processes.enter_context(
                run_cli(["serve", name, "--port", str(ports[name])], env, timeout=timeout)
            )
            for name in SUBGRAPHS
        }
        others = [processes.enter_context(run_cli(["worker"], env))] if worker else []
        started["router"] = processes.enter_context(
            run_cli(
                [
                    "serve",
                    "router",
                    "--supergraph",
                    str(repo_root / "supergraph.graphql"),
                    "--config",
                    str(repo_root / "router.yaml"),
                ],
                env,
            )
        )
        # On the way out every process gets its SIGTERM at once (this callback runs first),
        # so they stop side by side; each run_cli then only waits for its own.
        processes.callback(_terminate_all, [*started.values(), *others])
        for name, proc in started.items():
            wait_listening(ports[name], proc, timeout)
        router_url = f"http://127.0.0.1:{ports['router']}"
        _wait_ready(router_url, timeout)
        yield RunningStack(router_url, ports, env)


def _terminate_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)


def _wait_ready(router_url: str, timeout: float) -> None:
    """The router answers a query that needs a subgraph."""
    deadline = time.monotonic() + timeout
    last: object = None
    with httpx.Client(timeout=30) as http:
        while time.monotonic() < deadline:
            try:
                r = http.post(router_url + "/graphql", json={"query": "{ me { id } }"})
                if r.status_code == 200 and r.json().get("data") == {"me": None}:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.2)
    raise TimeoutError(f"the stack did not answer through the router: {last!r}")
