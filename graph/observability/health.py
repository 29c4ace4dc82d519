"""The router's readiness: its supergraph is loaded and every subgraph answered recently.

A background task asks each subgraph ``query { __typename }`` every
``health_check.readiness.interval.sampling`` (each probe bounded by that interval too), on
its own connections, so a busy request pool never delays it. The router is ready while every
subgraph's last good answer is at most ``interval.unready`` old. A subgraph that hangs (a
frozen process, a full accept queue) therefore makes ``/health?ready`` answer 503 within
``unready`` + ``sampling``, and the router is ready again at the first good answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping

from graph.execution.http import SubgraphClient

log = logging.getLogger("graph.health")

PROBE = {"query": "query __RouterReadiness { __typename }"}
# sent with every probe, so a subgraph (or a test counting its requests) can tell them apart
PROBE_HEADER = "x-router-readiness-probe"


def _unsampled_traceparent() -> dict[str, str]:
    """A W3C traceparent whose sampled flag is off: subgraphs that trace (parent-based
    sampling) record nothing for a probe instead of a new trace every few seconds."""
    return {
        "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
        PROBE_HEADER: "1",
    }


class SubgraphReadiness:
    def __init__(
        self,
        urls: Callable[[], Mapping[str, str]],
        sampling: float,
        unready: float,
        on_probe: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.urls = urls  # the current gateway's subgraph URLs (a reload changes them)
        self.sampling = sampling
        self.unready = unready
        self.on_probe = on_probe
        self.last_ok: dict[str, float] = {}
        self._clients: dict[tuple[str, str], SubgraphClient] = {}
        self._down: frozenset[str] = frozenset()

    def _client(self, name: str, url: str) -> SubgraphClient:
        client = self._clients.get((name, url))
        if client is None:
            client = SubgraphClient(name, url, self.sampling, 2, deduplicate=False)
            self._clients[(name, url)] = client
        return client

    async def _probe(self, name: str, url: str) -> None:
        ok = False
        try:
            answer = await self._client(name, url).post(PROBE, _unsampled_traceparent())
            ok = isinstance(answer.get("data"), dict)
        except Exception as exc:
            log.debug("readiness probe of %s failed: %s", name, exc)
        if ok:
            self.last_ok[name] = time.monotonic()
        if self.on_probe is not None:
            self.on_probe(name, ok)

    async def probe_all(self) -> None:
        urls = dict(self.urls())
        await asyncio.gather(*(self._probe(n, u) for n, u in urls.items()))
        self.failing()

    def failing(self) -> list[str]:
        """The subgraphs without a good answer within `unready`; a change is logged."""
        now = time.monotonic()
        failing = [
            name
            for name in self.urls()
            if now - self.last_ok.get(name, float("-inf")) > self.unready
        ]
        down = frozenset(failing)
        if down != self._down:
            if down:
                log.warning("not ready: no answer from subgraph(s) %s", ", ".join(sorted(down)))
            else:
                log.info("ready: every subgraph answers")
            self._down = down
        return failing

    def ready(self) -> bool:
        return not self.failing()

    async def run(self) -> None:
        """Probe until cancelled."""
        try:
            while True:
                started = time.monotonic()
                await self.probe_all()
                await asyncio.sleep(max(0.0, self.sampling - (time.monotonic() - started)))
        finally:
            for client in self._clients.values():
                with contextlib.suppress(Exception):
                    await client.aclose()
