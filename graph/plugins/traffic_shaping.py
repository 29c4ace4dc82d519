"""``traffic_shaping``: per-subgraph request timeouts and circuit breakers (``all`` and
per-subgraph overrides), and
for the router itself a request timeout and a global rate limit (``traffic_shaping.router``)."""

from __future__ import annotations

import math
import time

from pydantic import Field

from graph.http import HttpError
from graph.plugins.base import Duration, StrictModel
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

DEFAULT_SUBGRAPH_TIMEOUT = 30.0


class CircuitBreakerConfig(StrictModel):
    """``circuit_breaker`` of ``traffic_shaping.all`` or ``.subgraphs.<name>``: stop calling a
    subgraph while most of its recent requests fail (graph/execution/breaker.py)."""

    enabled: bool = True
    # open when at least this share of the last `volume_threshold` requests failed
    error_threshold: float = Field(default=0.5, gt=0, le=1)
    volume_threshold: int = Field(default=10, ge=1, le=10_000)
    # how long an open breaker fails fast before letting probes through
    reset_timeout: Duration = 5.0
    # probes let through at once when half-open; all must succeed to close it
    half_open_attempts: int = Field(default=1, ge=1, le=1000)


class SubgraphShaping(StrictModel):
    """Traffic shaping for one subgraph (or all): ``timeout`` as a duration, e.g. ``"30s"``."""

    timeout: Duration | None = None
    deduplicate_query: bool | None = None
    circuit_breaker: CircuitBreakerConfig | None = None


class RateLimitConfig(StrictModel):
    """At most ``capacity`` requests per ``interval``, over all clients."""

    capacity: int = Field(gt=0)
    interval: Duration


class RouterShaping(StrictModel):
    """``traffic_shaping.router``: limits on the client requests the router accepts."""

    timeout: Duration | None = None
    global_rate_limit: RateLimitConfig | None = None
    deduplicate_requests: bool = True


class TrafficShapingConfig(StrictModel):
    """``traffic_shaping``: ``router.*``, ``all.timeout`` and ``subgraphs.<name>.timeout``."""

    router: RouterShaping = Field(default_factory=RouterShaping)
    all: SubgraphShaping = Field(default_factory=SubgraphShaping)
    subgraphs: dict[str, SubgraphShaping] = Field(default_factory=dict)

    @property
    def default_timeout(self) -> float:
        """Seconds a fetch may take when its subgraph has no timeout of its own."""
        return self.all.timeout if self.all.timeout is not None else DEFAULT_SUBGRAPH_TIMEOUT

    def timeout_for(self, subgraph: str) -> float:
        """Seconds a fetch to ``subgraph`` may take (the per-subgraph value, else ``all``)."""
        own = self.subgraphs.get(subgraph)
        if own is not None and own.timeout is not None:
            return own.timeout
        return self.default_timeout

    def circuit_breaker_for(self, subgraph: str) -> CircuitBreakerConfig | None:
        """The breaker settings of ``subgraph`` (its own block replaces ``all``'s whole), or
        None when it has no breaker."""
        own = self.subgraphs.get(subgraph)
        found = own.circuit_breaker if own is not None else None
        if found is None:
            found = self.all.circuit_breaker
        return found if found is not None and found.enabled else None

    def deduplicate_for(self, subgraph: str) -> bool:
        """Whether identical in-flight queries to ``subgraph`` share one round trip."""
        own = self.subgraphs.get(subgraph)
        if own is not None and own.deduplicate_query is not None:
            return own.deduplicate_query
        return self.all.deduplicate_query if self.all.deduplicate_query is not None else True


class RateLimiter:
    """A token bucket: ``capacity`` tokens, refilled evenly over ``interval``."""

    def __init__(self, config: RateLimitConfig) -> None:
        self.capacity = float(config.capacity)
        self.rate = config.capacity / config.interval
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def try_acquire(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def retry_after(self) -> int:
        """Whole seconds until the next request would be accepted."""
        return max(1, math.ceil((1.0 - self.tokens) / self.rate))


class GlobalRateLimitStage(Stage):
    """``traffic_shaping.router.global_rate_limit``: one bucket for the whole router process,
    checked before anything else (it protects the process, not a quota)."""

    name = "global_rate_limit"

    def __init__(self, config: RateLimitConfig) -> None:
        self.limiter = RateLimiter(config)

    async def on_request(self, request: RouterRequest) -> None:
        if not self.limiter.try_acquire():
            raise HttpError(
                429,
                "Too many requests: the router's global rate limit "
                "(traffic_shaping.router.global_rate_limit) is reached; retry later.",
                "REQUEST_RATE_LIMITED",
                [(b"retry-after", str(self.limiter.retry_after()).encode())],
            )
