"""`puppies dev`: start services, migrate, run every process, keep them running, stop them all.

- Each process runs in its own session, so a terminal's Ctrl-C (or a SIGTERM to `make run`'s
  process group) reaches only the supervisor, which stops everything in order: the
  processes (SIGTERM, SIGKILL after 10 s), then the embedded servers.
- SIGINT, SIGTERM and SIGHUP only record that a stop was asked for (a plain assignment: no
  lock, nothing that can deadlock against the main thread); every wait polls that record,
  so a stop is honoured within a fraction of a second at any point of start-up or running.
- A watchdog process (puppies/watchdog.py) stops every process group it was told about if
  the supervisor dies without stopping them (SIGKILL included).
- A process that crashes while the stack runs is restarted with exponential backoff
  (1 s, 2 s, 4 s, ... up to 30 s; back to 1 s after a minute up), and the console says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from puppies import devstate, migrate
from puppies.components import Component, stack
from puppies.embedded import EmbeddedService, ensure_port_free
from puppies.errors import ServiceStartError, StopRequested
from puppies.s3 import create_s3_client, ensure_bucket
from puppies.services import RunningServices, embedded_services, reset_data, start_services
from puppies.settings import Settings
from puppies.watchdog import Watchdog

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0  # up this long: the next crash starts the backoff afresh
POLL_SECONDS = 0.1


class StopFlag:
    """The signal handler: records the first stop signal, nothing else."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum

    def requested(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        if self.signum is not None:
            raise StopRequested(f"stopped by {signal.Signals(self.signum).name}")

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early when a stop is asked for."""
        deadline = time.monotonic() + seconds
        while not self.requested() and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def backoff(consecutive_crashes: int) -> float:
    """Seconds to wait before the n-th restart in a row (n >= 1)."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (consecutive_crashes - 1))


def _port_open(port: int, host: str) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@dataclass
class Child:
    """One process of the stack, and what its restarts look like."""

    component: Component
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: int = 0  # in a row, without a healthy minute in between
    restart_at: float | None = None
    announced: bool = False  # "is back" printed after a restart


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        components: list[Component],
        stop: StopFlag,
        watchdog: Watchdog,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self.watchdog = watchdog
        self.out = out
        self.err = err
        self.children = [Child(c) for c in components]
        self.services: RunningServices | None = None
        self.env: dict[str, str] = {}

    def say(self, text: str, *, error: bool = False) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed terminal stops nothing
            print(text, file=self.err if error else self.out, flush=True)

    # -- start -----------------------------------------------------------------------------

    def check_ports(self, embedded: list[EmbeddedService]) -> None:
        """Every port anything will bind must be free before anything starts."""
        for child in self.children:
            if child.component.port is not None:
                ensure_port_free(child.component.port, child.component.name)
        for service in embedded:
            for port in service.ports:
                ensure_port_free(port, f"embedded {service.name}")

    def start(self) -> None:
        self.say("starting services ...")
        self.services = start_services(
            self.settings, watchdog=self.watchdog, cancelled=self.stop.requested
        )
        s = self.services.settings
        for started in self.services.started:
            self.say(f"  {started.name:<9} {started.url}  (embedded, data in {started.data_dir})")
        self.stop.check()
        self.say("migrating ...")
        migrate.upgrade(s)
        ensure_bucket(create_s3_client(s), s.s3_bucket)
        self.stop.check()
        self.env = {**os.environ, **self.services.env(), "PYTHONUNBUFFERED": "1"}
        for child in self.children:
            self.spawn(child)
        for child in self.children:
            self.wait_listening(child)
            port = child.component.port
            if port is not None:
                self.say(f"  {child.component.name:<9} http://{s.host}:{port}/graphql")
        router_url = None
        if any(c.component.name == "router" for c in self.children):
            router_url = f"http://{s.host}:{s.router_port}/graphql"
            self.say(f"\nPuppies graph served at {router_url}")
        else:
            self.say("\nPuppies subgraphs are up (no router built yet)")
        # Where `puppies seed` / `puppies migrate` in another terminal find this stack.
        devstate.write(s, {k: self.env[k] for k in devstate.SERVICE_URLS}, router_url)
        self.say("Ctrl-C stops everything.")

    def spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(
            child.component.argv, env=self.env, start_new_session=True, stdin=subprocess.DEVNULL
        )
        self.watchdog.watch(child.proc.pid, signal.SIGTERM)
        child.started_at = time.monotonic()
        child.restart_at = None

    def wait_listening(self, child: Child) -> None:
        port = child.component.port
        if port is None:
            return
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        assert child.proc is not None
        while not _port_open(port, self.settings.host):
            self.stop.check()
            if child.proc.poll() is not None:
                raise ServiceStartError(
                    f"{child.component.name} exited with code {child.proc.returncode} at start"
                )
            if time.monotonic() > deadline:
                raise ServiceStartError(f"{child.component.name} did not listen on {port}")
            time.sleep(POLL_SECONDS)

    # -- run -------------------------------------------------------------------------------

    def run(self) -> None:
        """Keep everything running until a stop is asked for."""
        while not self.stop.requested():
            now = time.monotonic()
            for child in self.children:
                self.tend(child, now)
            self.tend_services()
            time.sleep(POLL_SECONDS)

    def tend(self, child: Child, now: float) -> None:
        name = child.component.name
        if child.proc is not None and child.proc.poll() is not None:
            code = child.proc.returncode
            self.watchdog.forget(child.proc.pid)
            with contextlib.suppress(ProcessLookupError):  # whatever it left in its group
                os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc = None
            if now - child.started_at >= HEALTHY_AFTER_SECONDS:
                child.crashes = 0
            child.crashes += 1
            delay = backoff(child.crashes)
            child.restart_at = now + delay
            child.announced = False
            self.say(
                f"{name} exited with code {code}; restarting it in {delay:.0f} s "
                f"(restart {child.crashes} in a row)",
                error=True,
            )
        if child.proc is None and child.restart_at is not None and now >= child.restart_at:
            self.say(f"restarting {name} ...", error=True)
            self.spawn(child)
        port = child.component.port
        if (
            not child.announced
            and child.crashes
            and child.proc is not None
            and port is not None
            and _port_open(port, self.settings.host)
        ):
            child.announced = True
            self.say(f"{name} is back on port {port}", error=True)

    def tend_services(self) -> None:
        """An embedded server that died is started again (same port, same data)."""
        assert self.services is not None
        for service in self.services.started:
            if service.proc is not None and service.proc.poll() is not None:
                code = service.proc.returncode
                self.watchdog.forget(service.proc.pid)
                service.proc = None
                self.say(
                    f"embedded {service.name} exited with code {code}; restarting it", error=True
                )
                try:
                    service.start()
                except StopRequested:
                    return
                except ServiceStartError as exc:
                    self.say(f"embedded {service.name} did not start again: {exc}", error=True)
                    self.stop.signum = signal.SIGTERM  # nothing works without it: stop
                    return
                self.say(f"embedded {service.name} is back at {service.url}", error=True)

    # -- stop ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """SIGTERM every process group, SIGKILL what is left after 10 s; then the servers."""
        devstate.clear(self.settings)
        procs = [c.proc for c in self.children if c.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            # Whatever the process left behind in its group goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            self.watchdog.forget(proc.pid)
        for child in self.children:
            child.proc = None
        if self.services is not None:
            self.services.stop()


def run_dev(
    settings: Settings,
    *,
    reset: bool = False,
    root: Path | None = None,
) -> int:
    root = root or Path.cwd()
    stop = StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        if reset:
            reset_data(settings)
            print(f"wiped {settings.data_dir}")
        components = stack(
            settings,
            [sys.executable, "-m", "puppies.cli"],
            str(root / "supergraph.graphql"),
            str(root / "router.yaml"),
        )
        watchdog = Watchdog()
        supervisor = Supervisor(settings, components, stop, watchdog)
        code = 0
        try:
            supervisor.check_ports(embedded_services(settings, settings.data_dir.resolve()))
            supervisor.start()
            supervisor.run()
        except StopRequested:
            pass
        except ServiceStartError as exc:
            # A start step killed by the same signal (SIGTERM to the process group reaches
            # initdb too) is a stop, not an error.
            if not stop.requested():
                supervisor.say(f"error: {exc}", error=True)
                code = 1
        finally:
            supervisor.say("stopping ...")
            supervisor.shutdown()
            watchdog.close()
            supervisor.say("stopped.")
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
