"""Health answers in Apollo Router's format, the same on every process.

    GET /health          liveness:  200 {"status":"UP"} while the process serves
    GET /health?live     the same
    GET /health?ready    readiness: 200 {"status":"UP"}, or 503 {"status":"DOWN"} when a
                         dependency the process needs does not answer

A subgraph is ready when PostgreSQL and Redis answer; the worker too. Checks run with a
timeout, so a dependency that hangs makes readiness fail instead of hanging the probe. Why a
check failed goes to the log (once per change), never into the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import parse_qs

import orjson

from puppies.observability.tracing import untraced

log = logging.getLogger(__name__)

UP = orjson.dumps({"status": "UP"})
DOWN = orjson.dumps({"status": "DOWN"})
CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], Awaitable[object]]


def wants_readiness(query_string: str | bytes) -> bool:
    """True for `?ready` (Apollo's readiness probe), false for `?live` or nothing."""
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    return "ready" in parse_qs(query_string, keep_blank_values=True)


class Readiness:
    """Runs named checks concurrently, each bounded by a timeout; logs state changes."""

    def __init__(self, checks: Mapping[str, Check], timeout: float = CHECK_TIMEOUT_SECONDS):
        self.checks = dict(checks)
        self.timeout = timeout
        self._failing: frozenset[str] = frozenset()

    async def _run(self, name: str, check: Check) -> str | None:
        try:
            with untraced():
                await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            return f"{name}: no answer within {self.timeout:g}s"
        except Exception as exc:
            return f"{name}: {type(exc).__name__}: {exc}"
        return None

    async def failures(self) -> list[str]:
        results = await asyncio.gather(*(self._run(n, c) for n, c in self.checks.items()))
        failed = [r for r in results if r is not None]
        names = frozenset(f.split(":", 1)[0] for f in failed)
        if names != self._failing:
            if failed:
                log.warning("not ready: %s", "; ".join(failed))
            else:
                log.info("ready again")
            self._failing = names
        return failed

    async def answer(self) -> tuple[int, bytes]:
        """(status, body) for `/health?ready`."""
        return (503, DOWN) if await self.failures() else (200, UP)
