"""`puppies dev` as a user runs it (`make run`): a real process tree on free ports, for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from puppies.embedded import free_port_block, port_is_free

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "Ctrl-C stops everything"
PORT_SETTINGS = (
    "ROUTER_PORT",
    "USERS_PORT",
    "POSTS_PORT",
    "FEED_PORT",
    "ANALYTICS_PORT",
    "WORKER_PORT",  # the worker's /health listener: 4005 may be another stack's on this machine
    "EMBEDDED_POSTGRES_PORT",
    "EMBEDDED_REDIS_PORT",
    "EMBEDDED_S3_PORT",  # last: the nine ports above it are the S3 server's internal ones
)
S3_INTERNAL_PORTS = 9


def dev_env(data_dir: Path, **extra: str) -> tuple[dict[str, str], dict[str, int]]:
    """Environment for a `puppies dev` of its own: one block of free ports, its DATA_DIR."""
    base = free_port_block(len(PORT_SETTINGS) + S3_INTERNAL_PORTS)
    ports = {name: base + i for i, name in enumerate(PORT_SETTINGS)}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL"}
    }
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            "JWKS_URL": f"http://127.0.0.1:{ports['USERS_PORT']}/.well-known/jwks.json",
            **extra,
        }
    )
    return env, ports


def all_ports(ports: dict[str, int]) -> list[int]:
    s3 = ports["EMBEDDED_S3_PORT"]
    return [*ports.values(), *range(s3 + 1, s3 + 1 + S3_INTERNAL_PORTS)]


@dataclass
class DevStack:
    """One `python -m puppies.cli dev` in its own process group, its output collected."""

    env: dict[str, str]
    ports: dict[str, int]
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @classmethod
    def start(cls, env: dict[str, str], ports: dict[str, int], *args: str) -> DevStack:
        proc = subprocess.Popen(
            [sys.executable, "-m", "puppies.cli", "dev", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # like `make run` in a terminal: its own process group
        )
        stack = cls(env=env, ports=ports, proc=proc)
        stack._reader = threading.Thread(target=stack._read, daemon=True)
        stack._reader.start()
        return stack

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None and self._reader is not None:
                self._reader.join(5)
                if text in self.output:
                    return
                code = self.proc.returncode
                raise AssertionError(f"puppies dev exited with {code}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout}s:\n{self.output}")
            time.sleep(0.1)

    def wait_ready(self, timeout: float = 180) -> DevStack:
        """The ready line, then the router's own readiness (its first subgraph probes)."""
        self.wait_for(READY_LINE, timeout)
        url = f"http://127.0.0.1:{self.ports['ROUTER_PORT']}/health?ready"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url, timeout=5).json().get("status") == "UP":
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the router was not ready within {timeout}s:\n{self.output}")
            time.sleep(0.2)

    @property
    def router(self) -> str:
        return f"http://127.0.0.1:{self.ports['ROUTER_PORT']}/graphql"

    def gql(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            self.router,
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signum)

    def kill_everything(self, known: list[psutil.Process] | None = None) -> None:
        """SIGKILL the supervisor and every process under it (and `known` ones, which may
        have lost their parent already) at the same instant: cleanup after a failed test."""
        procs = [*self.descendants(), *(known or [])]
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(self.proc.pid))
        for p in procs:
            with contextlib.suppress(psutil.Error):
                p.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(30)
        psutil.wait_procs(procs, timeout=30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM the process group (what a terminal's Ctrl-C or `kill -TERM -PGID` does)."""
        if self.proc.poll() is None:
            self.signal_group(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self._reader is not None:
                self._reader.join(5)


def leftovers(procs: list[psutil.Process], ports: list[int]) -> list[str]:
    """What a stopped stack left behind: live processes and bound ports."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"process {p.pid} {p.name()}")
        except psutil.NoSuchProcess:  # it exited between the two questions: not left behind
            continue
    out += [f"port {port}" for port in ports if not port_is_free(port)]
    return out


def wait_no_leftovers(procs: list[psutil.Process], ports: list[int], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = leftovers(procs, ports)
        if not remaining or time.monotonic() > deadline:
            return remaining
        time.sleep(0.1)
