"""The stack as separate real processes on free ports, started one by one, for tests that need
what an operator sees: several instances, their logs, their signals (tests/support/stack.py
starts the whole stack at once, the way `make run` does).

    with ProcessStack(service_env, tmp_path) as stack:
        stack.start_subgraphs("users", "posts")   # started together, then waited for
        stack.start_worker()
        router = stack.start_router()
        ...
        stack.log_lines("posts")   # what the process wrote to stderr

Each `start_*` waits until the process answers its health check; with `wait=False` it
returns at once, and `stack.wait_ready(process)` waits later (so that processes that do not
need each other start side by side). Every process runs in its own process group with stdout
and stderr in a file under the stack's directory; `stop()` (and leaving the block) ends them
all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from puppies.embedded import free_port
from puppies.settings import DEV_ROUTER_PRINCIPAL_SECRET

SUBGRAPHS = ("users", "posts", "feed", "analytics")
REPO = Path(__file__).resolve().parents[2]
SUPERGRAPH = REPO / "supergraph.graphql"


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def router_yaml(ports: Mapping[str, int], extra: str = "", redis_url: str | None = None) -> str:
    """A router.yaml for the stack, as the dev router.yaml: the subgraphs at their ports; the
    router authenticates callers (JWT against the users JWKS, API keys through its internal
    endpoint) and forwards the signed principal; authorization directives on. With
    `redis_url`, API-key revocations and persisted queries (APQ) are shared through Redis."""
    users = f"http://127.0.0.1:{ports['users']}"
    shared = (
        f"""      revocations:
        redis:
          urls: ["{redis_url}"]
apq:
  router:
    cache:
      redis:
        urls: ["{redis_url}"]
"""
        if redis_url
        else ""
    )
    overrides = "\n".join(
        f"  {name}: http://127.0.0.1:{port}/graphql" for name, port in ports.items()
    )
    return f"""
supergraph:
  introspection: true
include_subgraph_errors:
  all: true
authorization:
  directives:
    enabled: true
    user_scopes: all
    policies:
      session:
        kinds: [user]
      moderator:
        kinds: [user]
        claims:
          roles: moderator
      admin:
        kinds: [user]
        claims:
          roles: admin
override_subgraph_url:
{overrides}
authentication:
  subgraph:
    principal:
      secret: {DEV_ROUTER_PRINCIPAL_SECRET}
  router:
    jwt:
      jwks:
        - url: {users}/.well-known/jwks.json
          issuer: puppies
          audiences: [puppies]
          algorithms: [ES256]
    api_keys:
      verify_url: {users}/internal/api-keys/verify
      cache_ttl: 60s
{shared}
{extra}
"""


class ProcessStack:
    def __init__(self, env: Mapping[str, str], directory: Path) -> None:
        self.directory = directory
        self.ports = {name: free_port() for name in SUBGRAPHS}
        self.env = {
            **env,
            **{f"{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[Process] = []
        self._count = 0

    def __enter__(self) -> ProcessStack:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _spawn(
        self, name: str, args: list[str], port: int, extra_env: Mapping[str, str] | None
    ) -> Process:
        self._count += 1
        log = self.directory / f"{self._count:02d}-{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "puppies.cli", *args],
                env={**self.env, **(extra_env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, proc, port, log)
        self.processes.append(process)
        return process

    def wait_ready(self, process: Process, timeout: float = 90.0, path: str = "/health") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.proc.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited with {process.proc.returncode}:\n"
                    + process.log.read_text(errors="replace")[-4000:]
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(process.url + path, timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{process.name} not up within {timeout}s")

    def start_subgraph(
        self,
        name: str,
        *,
        workers: int = 1,
        port: int | None = None,
        extra_env: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> Process:
        """`puppies serve <name>`; the first one of a name gets the stack's port for it."""
        port = port if port is not None else self.ports[name]
        args = ["serve", name, "--port", str(port), "--workers", str(workers)]
        return self._started(self._spawn(name, args, port, extra_env), wait)

    def start_subgraphs(
        self, *names: str, extra_env: Mapping[str, str] | None = None
    ) -> list[Process]:
        """The named subgraphs (all four without names), started side by side; once each
        answers, the processes in the order named."""
        started = [
            self.start_subgraph(name, extra_env=extra_env, wait=False)
            for name in names or SUBGRAPHS
        ]
        for process in started:
            self.wait_ready(process)
        return started

    def start_worker(
        self, extra_env: Mapping[str, str] | None = None, wait: bool = True
    ) -> Process:
        port = free_port()
        process = self._spawn(
            "worker", ["worker"], port, {"WORKER_PORT": str(port), **(extra_env or {})}
        )
        return self._started(process, wait)

    def _started(self, process: Process, wait: bool) -> Process:
        if wait:
            self.wait_ready(process)
        return process

    def start_router(
        self,
        *,
        config: str | None = None,
        workers: int = 1,
        extra_env: Mapping[str, str] | None = None,
        supergraph: Path = SUPERGRAPH,
        wait: bool = True,
    ) -> Process:
        port = free_port()
        self._count += 1
        config_path = self.directory / f"router-{self._count}.yaml"
        config_path.write_text(
            config
            if config is not None
            else router_yaml(self.ports, redis_url=self.env.get("REDIS_URL"))
        )
        args = [
            "serve",
            "router",
            "--supergraph",
            str(supergraph),
            "--config",
            str(config_path),
            "--listen",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ]
        return self._started(self._spawn("router", args, port, extra_env), wait)

    def log_lines(self, name: str) -> list[str]:
        lines: list[str] = []
        for process in self.processes:
            if process.name == name:
                lines += process.log.read_text(errors="replace").splitlines()
        return lines

    def stop(self, processes: Iterable[Process] | None = None) -> None:
        targets = list(processes) if processes is not None else list(reversed(self.processes))
        for process in targets:
            if process.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.proc.pid, signal.SIGCONT)  # a frozen one must hear it
                    os.killpg(process.proc.pid, signal.SIGTERM)
        for process in targets:
            try:
                process.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.proc.pid, signal.SIGKILL)
                process.proc.wait(5)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
