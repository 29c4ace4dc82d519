"""A circuit breaker per subgraph: stop calling a subgraph that keeps failing, fail fast while
it is down, and let a few probe requests find out when it is back.

Three states, counted over the outcomes of real subgraph requests (no timers run):

- ``closed``: requests go through; the last ``volume_threshold`` outcomes are kept, and once
  that many are known and at least ``error_threshold`` of them failed, the breaker opens.
- ``open``: every request fails at once with ``SUBGRAPH_CIRCUIT_BREAKER_REJECTED`` (no
  connection, no timeout to wait for) until ``reset_timeout`` has passed.
- ``half_open``: at most ``half_open_attempts`` probe requests go through (the others are
  still rejected); one failure opens it again for another ``reset_timeout``, and when every
  probe has succeeded it closes with a fresh window.

A failure is a request without a usable answer (connection refused or reset, timeout, a body
that is not GraphQL) or an HTTP status of 500 or more; GraphQL errors inside a 2xx answer
are the subgraph working. A request cancelled by its caller counts as nothing.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from graph.execution.errors import SubgraphFetchError

logger = logging.getLogger("graph.execution")

REJECTED = "SUBGRAPH_CIRCUIT_BREAKER_REJECTED"


class CircuitState(Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True)
class BreakerOptions:
    """When to open (``error_threshold`` of the last ``volume_threshold`` requests failed),
    how long to stay open (``reset_timeout`` seconds), how many probes to let through."""

    error_threshold: float = 0.5
    volume_threshold: int = 10
    reset_timeout: float = 5.0
    half_open_attempts: int = 1


# (subgraph, from state, to state)
TransitionListener = Callable[[str, CircuitState, CircuitState], None]


class CircuitBreaker:
    """The breaker of one subgraph. `admit()` before each request (raises when it must not
    be sent), then `record(admitted, ok)` with its outcome, or `cancelled(admitted)`."""

    def __init__(
        self,
        subgraph: str,
        options: BreakerOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.subgraph = subgraph
        self.options = options
        self.clock = clock
        self.state = CircuitState.CLOSED
        self.listener: TransitionListener | None = None
        self._outcomes: deque[bool] = deque(maxlen=options.volume_threshold)  # True: failed
        self._failures = 0  # failed outcomes in the window
        self._opened_at = 0.0
        self._probes = 0  # probes admitted in this half-open period
        self._probes_ok = 0
        self._generation = 0  # bumped at every transition; outcomes of older ones are stale

    def admit(self) -> int | None:
        """Let one request through: its ticket (the state generation for a probe, None for
        a request of the closed state), or SubgraphFetchError when the breaker is open."""
        if self.state is CircuitState.CLOSED:
            return None
        if self.state is CircuitState.OPEN:
            waited = self.clock() - self._opened_at
            if waited < self.options.reset_timeout:
                raise self._rejection(self.options.reset_timeout - waited)
            self._move(CircuitState.HALF_OPEN)
        if self._probes >= self.options.half_open_attempts:
            raise self._rejection(None)
        self._probes += 1
        return self._generation

    def record(self, ticket: int | None, ok: bool) -> None:
        """The outcome of a request `admit()` let through."""
        if ticket is None:
            if self.state is CircuitState.CLOSED:
                self._count(ok)
            return  # a request sent before the breaker opened: already accounted for
        if ticket != self._generation or self.state is not CircuitState.HALF_OPEN:
            return
        if not ok:
            self._open()
            return
        self._probes_ok += 1
        if self._probes_ok >= self.options.half_open_attempts:
            self._move(CircuitState.CLOSED)

    def cancelled(self, ticket: int | None) -> None:
        """The request was abandoned before its outcome was known: a probe slot is free."""
        if ticket is not None and ticket == self._generation and self._probes > 0:
            self._probes -= 1

    def _count(self, ok: bool) -> None:
        window = self._outcomes
        if len(window) == window.maxlen and window[0]:
            self._failures -= 1
        window.append(not ok)
        if not ok:
            self._failures += 1
        full = len(window) == window.maxlen
        if full and self._failures and self._failures >= self.options.error_threshold * len(window):
            self._open()

    def _open(self) -> None:
        self._opened_at = self.clock()
        self._move(CircuitState.OPEN)

    def _move(self, to: CircuitState) -> None:
        was = self.state
        self.state = to
        self._generation += 1
        self._probes = self._probes_ok = 0
        if to is CircuitState.CLOSED:
            self._outcomes.clear()
            self._failures = 0
        if to is CircuitState.OPEN:
            logger.warning(
                "circuit breaker for subgraph %r opened (%s): failing fast for %gs",
                self.subgraph,
                "a probe failed" if was is CircuitState.HALF_OPEN else "too many failures",
                self.options.reset_timeout,
            )
        elif to is CircuitState.CLOSED:
            logger.warning(
                "circuit breaker for subgraph %r closed: it answers again", self.subgraph
            )
        if self.listener is not None:
            self.listener(self.subgraph, was, to)

    def _rejection(self, retry_in: float | None) -> SubgraphFetchError:
        when = (
            f"the next try in {retry_in:.1f}s"
            if retry_in is not None
            else "a probe request is finding out whether it is back"
        )
        return SubgraphFetchError(
            self.subgraph,
            f"subgraph '{self.subgraph}' is unavailable: most of its recent requests failed, "
            f"so the router's circuit breaker stops calling it for now ({when}).",
            REJECTED,
        )
