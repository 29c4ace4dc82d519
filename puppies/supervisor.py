"""`puppies dev`: start services, migrate, run every process, stop them all on Ctrl-C/SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from puppies import migrate
from puppies.components import Component, stack
from puppies.embedded import ensure_port_free
from puppies.errors import ServiceStartError
from puppies.s3 import create_s3_client, ensure_bucket
from puppies.services import reset_data, start_services
from puppies.settings import Settings


@dataclass
class Child:
    component: Component
    proc: subprocess.Popen[bytes]


def _port_open(port: int, host: str) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _terminate(children: list[Child], timeout: float = 10.0) -> None:
    for child in reversed(children):
        if child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.proc.wait(remaining)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait(5)


def run_dev(settings: Settings, *, reset: bool = False, root: Path | None = None) -> int:
    root = root or Path.cwd()
    if reset:
        reset_data(settings)
        print(f"wiped {settings.data_dir}")
    components = stack(
        settings,
        [sys.executable, "-m", "puppies.cli"],
        str(root / "supergraph.graphql"),
        str(root / "router.yaml"),
    )
    # Every port we will bind must be free before anything starts.
    for comp in components:
        if comp.port is not None:
            ensure_port_free(comp.port, f"{comp.name}")

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    print("starting services ...", flush=True)
    services = start_services(settings)
    children: list[Child] = []
    try:
        s = services.settings
        for started in services.started:
            print(f"  {started.name:<9} {started.url}  (embedded, data in {started.data_dir})")
        print("migrating ...", flush=True)
        migrate.upgrade(s)
        ensure_bucket(create_s3_client(s), s.s3_bucket)
        env = {**os.environ, **services.env(), "PYTHONUNBUFFERED": "1"}
        for comp in components:
            proc = subprocess.Popen(
                comp.argv, env=env, start_new_session=True, stdin=subprocess.DEVNULL
            )
            children.append(Child(comp, proc))
        for child in children:
            port = child.component.port
            if port is None:
                continue
            deadline = time.monotonic() + 60
            while not _port_open(port, s.host):
                if child.proc.poll() is not None:
                    raise ServiceStartError(f"{child.component.name} exited at start")
                if stop.is_set() or time.monotonic() > deadline:
                    raise ServiceStartError(f"{child.component.name} did not listen on {port}")
                time.sleep(0.1)
            print(f"  {child.component.name:<9} http://{s.host}:{port}/graphql", flush=True)
        router = next((c for c in children if c.component.name == "router"), None)
        if router is not None:
            print(f"\nPuppies graph served at http://{s.host}:{s.router_port}/graphql", flush=True)
        else:
            print("\nPuppies subgraphs are up (no router built yet)", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while not stop.is_set():
            for child in children:
                code = child.proc.poll()
                if code is not None:
                    print(f"{child.component.name} exited with {code}; stopping", file=sys.stderr)
                    stop.set()
                    return_code = 1
                    break
            else:
                stop.wait(0.5)
                continue
            break
        else:
            return_code = 0
    except ServiceStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return_code = 1
    finally:
        print("stopping ...", flush=True)
        _terminate(children)
        services.stop()
    return return_code
