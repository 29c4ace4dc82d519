"""The worker's own HTTP listener: `/health` (`?ready`) and `/metrics`, as on every process.

It listens on HOST:WORKER_PORT (default 4005; 0 picks a free port, which is logged). Ready
means PostgreSQL and Redis answer (puppies/observability/health.py).
"""

from __future__ import annotations

import logging

from aiohttp import web

from puppies.observability import metrics
from puppies.observability.health import UP, Readiness, wants_readiness

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, readiness: Readiness, host: str, port: int) -> None:
        self.readiness = readiness
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def _health(self, request: web.Request) -> web.Response:
        if wants_readiness(request.query_string):
            status, body = await self.readiness.answer()
        else:
            status, body = 200, UP
        return web.Response(status=status, body=body, content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def start(self) -> int:
        """Listen; returns the port (the chosen one when the setting is 0)."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        log.info("worker health and metrics at http://%s:%d/health", self.host, port)
        return int(port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
