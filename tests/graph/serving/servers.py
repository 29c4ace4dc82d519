"""Real uvicorn servers on ephemeral loopback ports, each in its own thread and event loop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn


class ServerThread:
    """Serve an ASGI app (built inside the server's thread) on 127.0.0.1:<free port>."""

    def __init__(self, factory: Callable[[], Any], **uvicorn_options: Any) -> None:
        self.factory = factory
        self.options = uvicorn_options
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.server: uvicorn.Server | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            app = self.factory()
            config = uvicorn.Config(
                app,
                loop="uvloop",
                http="httptools",
                log_level="warning",
                access_log=False,
                **{"lifespan": "auto", "ws": "websockets-sansio", **self.options},
            )
            self.server = uvicorn.Server(config)
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported to the test thread by start()
            self.error = exc

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.error is not None:
                raise self.error
            if self.server is not None and self.server.started:
                return self
            if not self.thread.is_alive():
                break
            time.sleep(0.02)
        raise RuntimeError(f"server did not start: {self.error!r}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
