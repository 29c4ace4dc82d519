"""What every embedded server shares: free-port checks, waiting for readiness, the child process.

Each server keeps its data under a directory it is given, listens on 127.0.0.1, and runs in
its own process group with its output in `<data_dir>/<name>.log`.
"""

from __future__ import annotations

import abc
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from puppies.errors import PortInUseError, ServiceStartError, StopRequested
from puppies.watchdog import Watchdog


def never() -> bool:
    return False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind `port` now: checked the way servers bind, with
    SO_REUSEADDR, so a connection lingering in TIME_WAIT does not count as busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral port that is free right now (tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_block(count: int, low: int = 20000, high: int = 30000) -> int:
    """The first of `count` consecutive ports that are all free right now (tests).

    Drawn at random below Linux's ephemeral range, so no outgoing connection takes one
    between this check and the server binding it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(low, high - count)
        if all(port_is_free(p) for p in range(base, base + count)):
            return base
    raise ServiceStartError(f"no {count} consecutive free ports between {low} and {high}")


def ensure_port_free(port: int, what: str) -> None:
    if not port_is_free(port):
        raise PortInUseError(port, what)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    log: Path | None,
    cancelled: Callable[[], bool] = never,
) -> None:
    """Poll `check` until it is true; StopRequested as soon as `cancelled()` is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cancelled():
            raise StopRequested(f"stopped while waiting for {what}")
        if check():
            return
        time.sleep(0.1)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise ServiceStartError(f"{what} did not become ready within {timeout:.0f}s{tail}")


def tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class EmbeddedService(abc.ABC):
    """A child server process with a data directory and a log file."""

    name = "service"

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / f"{self.name}.log"
        # Set by whoever owns the service (services.start_services): the watchdog that stops
        # it if the owner dies, and a test for "stop requested" that aborts a start.
        self.watchdog: Watchdog | None = None
        self.cancelled: Callable[[], bool] = never

    @property
    def ports(self) -> list[int]:
        """Every port the server binds."""
        return [self.port]

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The URL clients connect to."""

    @abc.abstractmethod
    def start(self) -> str:
        """Start the server, wait until it answers, and return its URL."""

    def _spawn(self, args: list[str], **kwargs: object) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its life
        try:
            self.proc = subprocess.Popen(  # type: ignore[call-overload]
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **kwargs,
            )
        finally:
            log.close()
        if self.watchdog is not None:
            self.watchdog.watch(self.proc.pid, self.stop_signal)

    def _wait_ready(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        wait_until(check, timeout, what, self.log_path, self.cancelled)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (`stop_signal`), SIGKILL the group after `timeout` seconds."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self.watchdog is not None:
            self.watchdog.forget(proc.pid)

    stop_signal: int = signal.SIGTERM
