"""A throwaway stack for the analytics benchmarks, in its own data directory and ports.

Real embedded PostgreSQL (durable: fsync on), Redis and S3 started with the same code as
`puppies dev`, migrated; subgraphs and the worker started as real `puppies` processes.
Nothing here collides with `puppies dev` or the test suite (own data dir, free ports).
Every process started (the servers and the `puppies` processes) is registered with a
watchdog (puppies/watchdog.py): if the benchmark is killed (a timeout's SIGKILL) the
watchdog stops them all, so no process is left behind holding ports and data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from puppies import migrate
from puppies.embedded import free_port
from puppies.s3 import create_s3_client, ensure_bucket
from puppies.services import RunningServices, start_services
from puppies.settings import Settings, load_settings
from puppies.watchdog import Watchdog


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` (or a child of it) has a listening TCP socket on `port`."""
    try:
        root = psutil.Process(pid)
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
            for p in (root, *root.children(recursive=True))
            for c in p.net_connections(kind="tcp")
        )
    except psutil.Error:
        return False


@dataclass
class Stack:
    services: RunningServices
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    watchdog: Watchdog | None = None  # stops every process if this one dies

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def start(
        self,
        args: list[str],
        port: int | None = None,
        *,
        extra_env: dict[str, str] | None = None,
        log: Path | None = None,
        profile: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """`profile`: run the process under cProfile, its stats written there on exit."""
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
        prefix = ["-m", "bench.profiled", str(profile)] if profile else []
        proc = subprocess.Popen(
            [sys.executable, *prefix, "-m", "puppies.cli", *args],
            env={**self.env, **(extra_env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        if self.watchdog is not None:
            self.watchdog.watch(proc.pid, signal.SIGTERM)
        if port is not None:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{args} exited with {proc.returncode}")
                with socket.socket() as s:
                    # its own listener: on a shared machine another process can take the
                    # free port first, and this one then exits (address already in use)
                    if s.connect_ex(("127.0.0.1", port)) == 0 and _listens(proc.pid, port):
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{args} did not listen on {port}")
                time.sleep(0.1)
        return proc

    @staticmethod
    def name_of(proc: subprocess.Popen[bytes]) -> str:
        """What a started process is: `worker`, `router` or the subgraph it serves."""
        args = [str(a) for a in proc.args]  # type: ignore[union-attr]
        rest = args[args.index("puppies.cli") + 1 :]
        return rest[1] if rest[0] == "serve" else rest[0]

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """`proc` (exited) is no longer the stack's."""
        self.procs.remove(proc)
        if self.watchdog is not None:
            self.watchdog.forget(proc.pid)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                    # a process frozen with SIGSTOP (bench.faults) gets the SIGTERM only
                    # once continued
                    os.killpg(proc.pid, signal.SIGCONT)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            if self.watchdog is not None:
                self.watchdog.forget(proc.pid)
        self.procs.clear()


@contextlib.contextmanager
def stack(data_dir: Path, **overrides: object) -> Iterator[Stack]:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    base = load_settings(
        data_dir=data_dir, jwt_keys_dir=data_dir / "keys", log_level="WARNING", **overrides
    )
    watchdog = Watchdog()  # also when every server is given by URL: it watches our processes
    try:
        running = start_services(
            base,
            data_dir=data_dir,
            ports=(free_port(), free_port(), free_port()),
            watchdog=watchdog,
        )
    except BaseException:
        watchdog.close()
        raise
    try:
        migrate.upgrade(running.settings)
        ensure_bucket(create_s3_client(running.settings), running.settings.s3_bucket)
        s = running.settings
        env = {
            **os.environ,
            **running.env(),
            "JWT_KEYS_DIR": str(s.keys_dir),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **{k.upper(): str(v) for k, v in overrides.items()},
        }
        st = Stack(running, env, watchdog=watchdog)
        try:
            yield st
        finally:
            st.stop_all()
    finally:
        running.stop()
        watchdog.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
