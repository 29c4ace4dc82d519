"""The limits of one router process, in memory: what the rate limits fall back to while
Redis is slow or unreachable (``rate_limits.local_fallback``).

The same limits as in Redis (graph/rate_limits/limiter.py: GCRA windows, daily quotas, all
of a request's limits or none), divided by ``replicas`` (the number of router processes
sharing the traffic; rounded down, at least 1), against this process's clock. So with
``replicas`` set to the number of router processes, the platform as a whole admits about
what the shared limits allow; with 1, each process admits up to the full limit. State is
one number per key, pruned as buckets fill up again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from graph.rate_limits.limiter import QUOTA, Decision, Limit, Usage, gcra

_PRUNE_EVERY = 4096  # checks between sweeps of the keys that are full again


class LocalLimiter:
    def __init__(self, replicas: int = 1, clock: Callable[[], float] = time.time) -> None:
        self.replicas = max(1, replicas)
        self.clock = clock
        self.state: dict[str, float] = {}  # window: TAT (ms); quota: count
        self.expires: dict[str, float] = {}  # key -> ms after which its state is moot
        self._checks = 0

    def share(self, limit: int) -> int:
        return max(1, limit // self.replicas)

    def check(self, limits: list[Limit]) -> Decision:
        now = self.clock() * 1000
        self._checks += 1
        if self._checks % _PRUNE_EVERY == 0:
            self._prune(now)
        checked: list[tuple[Limit, int, float]] = []  # (limit as shown, used, frees in ms)
        updates: list[tuple[str, float, float]] = []  # (key, state, expires at) if admitted
        denied_at = -1
        for i, limit in enumerate(limits):
            local = self.share(limit.limit)
            shown = Limit(
                limit.name,
                limit.key,
                limit.kind,
                local,
                limit.span_ms,
                limit.weight,
                limit.window_seconds,
            )
            if limit.kind == QUOTA:
                count = self.state.get(limit.key, 0.0)
                if now >= self.expires.get(limit.key, now + 1):
                    count = 0.0  # a past day's counter
                admitted = count + limit.weight <= local
                checked.append((shown, int(count), limit.span_ms - now))
                updates.append((limit.key, count + limit.weight, float(limit.span_ms)))
            else:
                admitted, tat, used, frees = gcra(
                    self.state.get(limit.key, 0.0), now, local, limit.span_ms, limit.weight
                )
                checked.append((shown, used, frees))
                updates.append((limit.key, tat, tat))
            if not admitted and denied_at < 0:
                denied_at = i
        if denied_at < 0:
            for key, value, expires in updates:
                self.state[key] = value
                self.expires[key] = expires
        usages = [
            Usage(
                shown,
                used + (shown.weight if denied_at < 0 and shown.kind == QUOTA else 0),
                math.ceil(frees),
            )
            for shown, used, frees in checked
        ]
        denied = usages[denied_at] if denied_at >= 0 else None
        return Decision(denied is None, usages, denied)

    def _prune(self, now: float) -> None:
        for key in [k for k, at in self.expires.items() if at <= now]:
            del self.expires[key]
            self.state.pop(key, None)
