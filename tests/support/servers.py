"""Serve ASGI apps and CLI processes over real HTTP on ephemeral ports, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn

from puppies.embedded import free_port


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, *, ws: str = "websockets-sansio") -> AsyncIterator[str]:
    """Run `app` under uvicorn on this event loop; yields its base URL (http://127.0.0.1:N)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws=ws,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited at start")
        if time.monotonic() > deadline:
            raise TimeoutError("server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Return once something listens on 127.0.0.1:`port`; fail if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} at start")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {port} within {timeout}s")


@contextlib.contextmanager
def run_cli(
    args: list[str],
    env: Mapping[str, str],
    *,
    port: int | None = None,
    timeout: float = 60,
    output: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `puppies <args>` as a real child process; stop its whole group afterwards.
    `output`: a file for its stdout and stderr (else the test's own)."""
    with contextlib.ExitStack() as files:
        out = files.enter_context(output.open("wb")) if output is not None else None
        proc = subprocess.Popen(
            [sys.executable, "-m", "puppies.cli", *args],
            env=dict(env),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        if port is not None:
            wait_listening(port, proc, timeout)
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
