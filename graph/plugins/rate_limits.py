"""``rate_limits``: per-principal rate limits and daily quotas, per-root-field limits, exact
and shared by every router process (Redis; graph/rate_limits/limiter.py).

Who is limited, by what (all configurable; the defaults are the platform's tiers):

- an API key, by its tier: ``free`` 60 per minute and 1,000 per day, ``pro`` 300 and
  10,000, ``enterprise`` 1,000 and 100,000;
- a signed-in user (a JWT without a ``tier`` claim), by ``users`` (1,000 per minute);
- an anonymous caller, per client address (``client_ip``), by ``anonymous`` (1,000 per
  minute);
- on top, per root field and per user (or address): ``root_fields`` (e.g. ``createPost``
  10 per minute). A root field with ``own_budget`` is counted only against its own limit:
  an operation made only of such fields (``trackEvents``) does not use the caller's
  general budget.

Every response to an operation that went through this stage carries the IETF
``RateLimit-Policy`` and ``RateLimit`` fields (graph/rate_limits/headers.py), so clients see
what remains before they hit the limit. Over a limit: HTTP 429, ``Retry-After``, a
``RATE_LIMITED`` error whose extensions name the policy (and, for a daily quota,
``resetAt``). A refused request is not counted.

Redis slow or unreachable (no answer within ``rate_limits.redis.timeout``): with
``local_fallback`` (the default) this process goes on enforcing the same limits in memory
(divided by ``local_fallback.replicas``) and asks Redis again after
``local_fallback.retry_interval``; without it, ``fail_open`` admits everything (the
default) or refuses with 503. Either way counted in ``router_rate_limit_failures_total``
(and local decisions in ``router_rate_limit_local_decisions_total``) and logged once per
``failure_log_interval``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from graphql import GraphQLSchema
from pydantic import Field, field_validator, model_validator

from graph.http import HttpError
from graph.observability.metrics import Metrics
from graph.planning.operation import OpField, OpSelection
from graph.plugins.base import Duration, StrictModel
from graph.plugins.redis import RedisConfig
from graph.rate_limits.connection import LimiterConnection, RedisReplyError
from graph.rate_limits.headers import policy_header, retry_after, state_header
from graph.rate_limits.limiter import QUOTA, WINDOW, Decision, Limit, RedisLimiter, Usage
from graph.rate_limits.local import LocalLimiter
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

logger = logging.getLogger("graph.rate_limits")

DAY_SECONDS = 86_400
_INTROSPECTION = frozenset({"__typename", "__schema", "__type"})


class TierLimits(StrictModel):
    """``limit`` requests per ``rate_limits.window``, ``daily_quota`` per UTC day."""

    limit: int | None = Field(default=None, gt=0)
    daily_quota: int | None = Field(default=None, gt=0)


def _default_tiers() -> dict[str, TierLimits]:
    return {
        "free": TierLimits(limit=60, daily_quota=1_000),
        "pro": TierLimits(limit=300, daily_quota=10_000),
        "enterprise": TierLimits(limit=1_000, daily_quota=100_000),
    }


class RootFieldLimit(StrictModel):
    limit: int = Field(gt=0)
    window: Duration | None = None  # default: rate_limits.window
    own_budget: bool = False


class LocalFallbackConfig(StrictModel):
    """While Redis is slow or unreachable: the same limits per router process, in memory."""

    enabled: bool = True
    replicas: int = Field(default=1, ge=1)  # the limits are divided by this
    retry_interval: Duration = Field(default=1.0, gt=0)  # then Redis is asked again


class RateLimitsConfig(StrictModel):
    enabled: bool = False
    redis: RedisConfig | None = None
    window: Duration = 60.0
    fail_open: bool = True
    local_fallback: LocalFallbackConfig = Field(default_factory=LocalFallbackConfig)
    failure_log_interval: Duration = 60.0
    tiers: dict[str, TierLimits] = Field(default_factory=_default_tiers)
    default_tier: str = "free"
    users: TierLimits | None = Field(default_factory=lambda: TierLimits(limit=1_000))
    anonymous: TierLimits | None = Field(default_factory=lambda: TierLimits(limit=1_000))
    root_fields: dict[str, RootFieldLimit] = Field(default_factory=dict)

    @field_validator("root_fields")
    @classmethod
    def _type_dot_field(cls, value: dict[str, RootFieldLimit]) -> dict[str, RootFieldLimit]:
        for name in value:
            kind, _, field = name.partition(".")
            if not kind or not field:
                raise ValueError(
                    f"{name!r}: name a root field as Type.field, e.g. Mutation.createPost"
                )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RateLimitsConfig:
        if self.enabled and self.redis is None:
            raise ValueError("rate_limits.enabled needs rate_limits.redis.urls")
        if self.default_tier not in self.tiers:
            raise ValueError(
                f"rate_limits.default_tier {self.default_tier!r} is not one of the tiers "
                f"({', '.join(sorted(self.tiers))})"
            )
        return self


def root_fields(selections: tuple[OpSelection, ...], root: str) -> Counter[str]:
    """``Type.field`` -> how many times the operation selects it at its root (fragments on the
    root type included; fields removed by authorization and introspection not counted)."""
    counts: Counter[str] = Counter()

    def walk(items: tuple[OpSelection, ...]) -> None:
        for item in items:
            if isinstance(item, OpField):
                if not item.denied and not item.internal and item.name not in _INTROSPECTION:
                    counts[f"{root}.{item.name}"] += 1
            else:
                walk(item.selections)

    walk(selections)
    return counts


def _end_of_day(now: float) -> tuple[str, int]:
    """(yyyymmdd, epoch ms of the next 00:00 UTC) for ``now``."""
    day = datetime.fromtimestamp(now, UTC).date()
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return day.strftime("%Y%m%d"), int(end.timestamp() * 1000)


class RateLimitStage(Stage):
    name = "rate_limits"

    def __init__(
        self,
        config: RateLimitsConfig,
        schema: GraphQLSchema,
        metrics: Metrics,
    ) -> None:
        assert config.redis is not None
        self.config = config
        # a connection of its own (pipelined; graph/rate_limits/connection.py), not the
        # client the other stages share
        self.connection = LimiterConnection(config.redis.urls[0], config.redis.timeout)
        self.limiter = RedisLimiter(self.connection)
        self.local = LocalLimiter(config.local_fallback.replicas)
        self.namespace = config.redis.namespace
        self.window_ms = int(config.window * 1000)
        self.window_s = max(1, round(config.window))
        self.metrics = metrics
        self._last_failure_log = 0.0
        self._failures_since_log = 0
        self._redis_down_until = 0.0  # monotonic: until then, Redis is not asked
        known = {
            t.name: set(t.fields)
            for t in (schema.query_type, schema.mutation_type, schema.subscription_type)
            if t is not None
        }
        for name in config.root_fields:
            kind, _, field = name.partition(".")
            if field not in known.get(kind, set()):
                logger.warning(
                    "rate_limits.root_fields.%s: the supergraph has no such root field "
                    "(this limit does nothing)",
                    name,
                )

    async def stop(self) -> None:
        await self.connection.aclose()

    async def on_operation(self, request: RouterRequest) -> None:
        limits = self._limits(request)
        if not limits:
            return
        if time.monotonic() < self._redis_down_until:
            decision = self._without_redis(None, limits)
        else:
            try:
                # bounded by rate_limits.redis.timeout (the connection's own timeout)
                decision = await self.limiter.check(limits)
            except (RedisReplyError, OSError, TimeoutError) as exc:
                retry = self.config.local_fallback.retry_interval
                self._redis_down_until = time.monotonic() + retry
                decision = self._without_redis(exc, limits)
        if decision is None:
            return
        request.response_headers.append((b"ratelimit-policy", policy_header(decision.usages)))
        request.response_headers.append((b"ratelimit", state_header(decision.usages)))
        if not decision.admitted:
            self.metrics.rate_limited.labels(
                decision.denied.limit.name if decision.denied else ""
            ).inc()
            raise self._refusal(decision, request)

    def _without_redis(self, exc: BaseException | None, limits: list[Limit]) -> Decision | None:
        """Redis failed (``exc``) or is known to be down: decide locally, admit, or refuse
        (None: admit without headers)."""
        self._failed(exc)
        if not self.config.fail_open:
            raise HttpError(
                503,
                "The router cannot check rate limits right now; retry shortly.",
                "RATE_LIMIT_UNAVAILABLE",
                [(b"retry-after", b"1")],
            )
        if not self.config.local_fallback.enabled:
            return None
        self.metrics.rate_limit_local.inc()
        return self.local.check(limits)

    # ---- what a request is subject to
    def _limits(self, request: RouterRequest) -> list[Limit]:
        principal = request.principal
        ns = self.namespace
        if principal.kind == "api_key":
            tier = principal.tier if principal.tier in self.config.tiers else None
            tier_name = tier or self.config.default_tier
            policy: TierLimits | None = self.config.tiers[tier_name]
            subject = f"u:{principal.user_id}"
            scope = f"key:{principal.id}"
            label = tier_name
        elif principal.kind == "user":
            if principal.tier is not None and principal.tier in self.config.tiers:
                policy, label = self.config.tiers[principal.tier], principal.tier
            else:
                policy, label = self.config.users, "user"
            subject, scope = f"u:{principal.user_id}", "user"
        else:
            policy, label = self.config.anonymous, "anonymous"
            subject, scope = f"ip:{request.client_ip or 'unknown'}", "anon"
        limits: list[Limit] = []
        prepared = request.prepared
        own_budget_only = False
        if prepared is not None and self.config.root_fields:
            fields = prepared.shape_cache.get(_FIELDS_KEY)
            if fields is None:
                fields = prepared.shape_cache[_FIELDS_KEY] = root_fields(
                    prepared.planned_from.selections, prepared.root_type
                )
            configured = [(f, n, self.config.root_fields.get(f)) for f, n in fields.items()]
            own_budget_only = bool(fields) and all(
                c is not None and c.own_budget for _, _, c in configured
            )
            for field, count, rule in configured:
                if rule is None:
                    continue
                window = rule.window if rule.window is not None else self.config.window
                limits.append(
                    Limit(
                        field.partition(".")[2],
                        f"{ns}:{{{subject}}}:f:{field}:t",
                        WINDOW,
                        rule.limit,
                        int(window * 1000),
                        count,
                        max(1, round(window)),
                    )
                )
        if policy is not None and not own_budget_only:
            if policy.limit is not None:
                limits.insert(
                    0,
                    Limit(
                        label,
                        f"{ns}:{{{subject}}}:{scope}:t",
                        WINDOW,
                        policy.limit,
                        self.window_ms,
                        1,
                        self.window_s,
                    ),
                )
            if policy.daily_quota is not None:
                day, end_ms = _end_of_day(time.time())
                limits.insert(
                    1 if policy.limit is not None else 0,
                    Limit(
                        f"{label}-daily",
                        f"{ns}:{{{subject}}}:{scope}:d:{day}",
                        QUOTA,
                        policy.daily_quota,
                        end_ms,
                        1,
                        DAY_SECONDS,
                    ),
                )
        return limits

    def _refusal(self, decision: Decision, request: RouterRequest) -> HttpError:
        denied = decision.denied
        assert denied is not None
        wait = retry_after(denied)
        limit = denied.limit
        extensions: dict[str, object] = {
            "policy": limit.name,
            "limit": limit.limit,
            "retryAfter": wait,
        }
        who = _who(request)
        if limit.kind == QUOTA:
            reset = datetime.fromtimestamp(limit.span_ms / 1000, UTC)
            extensions["resetAt"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
            message = (
                f"Daily quota exceeded: {who} may make {limit.limit} requests per day (UTC); "
                f"it resets at {extensions['resetAt']}."
            )
        elif limit.key.split(":f:", 1)[0] != limit.key:
            extensions["window"] = limit.window_seconds
            message = (
                f"Rate limit exceeded: {limit.name} may be called {limit.limit} times per "
                f"{limit.window_seconds}s per user; retry in {wait}s."
            )
        else:
            extensions["window"] = limit.window_seconds
            message = (
                f"Rate limit exceeded: {who} may make {limit.limit} requests per "
                f"{limit.window_seconds}s; retry in {wait}s."
            )
        return HttpError(
            429,
            message,
            "RATE_LIMITED",
            [(b"retry-after", str(wait).encode())],
            extensions,
        )

    def _failed(self, exc: BaseException | None) -> None:
        self.metrics.rate_limit_failures.inc()
        self._failures_since_log += 1
        now = time.monotonic()
        if now - self._last_failure_log >= self.config.failure_log_interval:
            if not self.config.fail_open:
                outcome = "refused"
            elif self.config.local_fallback.enabled:
                outcome = "limited per process (local fallback)"
            else:
                outcome = "admitted"
            logger.warning(
                "rate limits: Redis unreachable or slow (%s); %s %d request(s) since the "
                "last report",
                (str(exc) or type(exc).__name__) if exc is not None else "still down",
                outcome,
                self._failures_since_log,
            )
            self._last_failure_log = now
            self._failures_since_log = 0


_FIELDS_KEY = ("rate_limits", "root_fields")


def _who(request: RouterRequest) -> str:
    principal = request.principal
    if principal.kind == "api_key":
        return f"this API key (tier {principal.tier or 'unknown'})"
    if principal.kind == "user":
        return "this user"
    return "an anonymous client at this address"


__all__ = ["LocalFallbackConfig", "RateLimitStage", "RateLimitsConfig", "Usage"]
