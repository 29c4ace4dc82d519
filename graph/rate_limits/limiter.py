"""Rate limits and quotas shared by every router process: one Lua script (EVALSHA), one
round trip per request, all of a request's limits checked and counted together (all or
nothing).

Two kinds of limit:

- **window** (``limit`` per ``window``): GCRA, the generic cell rate algorithm, i.e. an exact
  token bucket of ``limit`` requests that refills continuously at ``limit`` per ``window``
  (one every ``window / limit``). The burst is the limit: a caller with a full bucket gets
  exactly ``limit`` requests at once, then one more each ``window / limit``. One number per
  key (the "theoretical arrival time" of the next request, in ms), whatever the limit; the
  key expires when the bucket is full again. Exact across processes, because the time is
  the Redis server's (``TIME`` inside the script), not each router's clock.
- **quota** (``per day``): at most ``limit`` requests per UTC day (a counter that expires at
  the end of the day); the reset time is the next 00:00 UTC.

A request is admitted only if every limit it is subject to has room for its ``weight``; then
each one is charged. A refused request charges nothing. The script returns, per limit, what
is used and when it frees up, for the ``RateLimit`` headers.

Keys (Redis Cluster safe): every key of one subject shares one hash tag, ``{<subject>}``,
so a request's keys always live in one slot: ``<ns>:{u:42}:key:7:t`` (an API key's window),
``<ns>:{u:42}:key:7:d:20261206`` (its daily quota), ``<ns>:{u:42}:f:Mutation.createPost:t``
(a root field's window for that user), ``<ns>:{ip:203.0.113.9}:anon:t`` (an anonymous
caller).

The same limits can be checked without Redis, per process (graph/rate_limits/local.py):
``gcra`` below is the one arithmetic both use.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from graph.rate_limits.connection import LimiterConnection, RedisReplyError, encode

WINDOW = "w"
QUOTA = "q"

# ARGV per key: kind, limit, span (window ms; for a quota, the absolute ms of its end),
# weight. Returns {denied index (0: admitted), then per key: used (after this request if
# admitted), ms until it frees up}. A window's state is its TAT (ms, 3 decimals); "frees
# up" is, for the limit that refused, when this request would be admitted, otherwise when
# the bucket is full again.
_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n = #KEYS
local used = {}
local frees = {}
local tats = {}
local denied = 0
for i = 1, n do
  local base = (i - 1) * 4
  local kind = ARGV[base + 1]
  local limit = tonumber(ARGV[base + 2])
  local span = tonumber(ARGV[base + 3])
  local weight = tonumber(ARGV[base + 4])
  local key = KEYS[i]
  if kind == 'w' then
    local interval = span / limit
    local tat = tonumber(redis.call('GET', key) or '0')
    if tat < now then tat = now end
    local new = tat + weight * interval
    if weight > limit or new - now > span + 0.0005 then
      used[i] = limit - math.floor((span - (tat - now)) / interval + 1e-9)
      if weight > limit then frees[i] = span else frees[i] = new - span - now end
      if denied == 0 then denied = i end
    else
      tats[i] = new
      used[i] = limit - math.floor((span - (new - now)) / interval + 1e-9)
      frees[i] = new - now
    end
  else
    local count = tonumber(redis.call('GET', key) or '0')
    used[i] = count
    frees[i] = span - now
    if count + weight > limit and denied == 0 then denied = i end
  end
end
if denied == 0 then
  for i = 1, n do
    local base = (i - 1) * 4
    local key = KEYS[i]
    if ARGV[base + 1] == 'w' then
      redis.call('SET', key, string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
    else
      local weight = tonumber(ARGV[base + 4])
      redis.call('INCRBY', key, weight)
      redis.call('PEXPIREAT', key, tonumber(ARGV[base + 3]) + 60000)
      used[i] = used[i] + weight
    end
  end
end
local out = {denied}
for i = 1, n do
  out[#out + 1] = used[i]
  out[#out + 1] = math.ceil(frees[i])
end
return out
"""
SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()


@dataclass(frozen=True)
class Limit:
    """One limit a request is subject to."""

    name: str  # the policy's name in the headers ("minute", "day", "createPost")
    key: str  # the Redis key (with the subject's hash tag)
    kind: str  # WINDOW or QUOTA
    limit: int
    span_ms: int  # WINDOW: the window's length; QUOTA: the end of the period (epoch ms)
    weight: int = 1
    window_seconds: int = 0  # for the RateLimit-Policy header


@dataclass(frozen=True)
class Usage:
    limit: Limit
    used: int  # after this request (if admitted)
    # the limit that refused: until the request would be admitted; otherwise until the
    # bucket is full again (WINDOW) or the period ends (QUOTA)
    frees_in_ms: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit.limit - self.used)


@dataclass(frozen=True)
class Decision:
    admitted: bool
    usages: list[Usage]
    denied: Usage | None  # the (first) limit that refused it


class RedisLimiter:
    """Checks and charges a request's limits in one round trip (EVALSHA on the limiter's
    own connection; the script is loaded on every new connection)."""

    def __init__(self, connection: LimiterConnection) -> None:
        self.connection = connection
        connection.on_connect.append(encode("SCRIPT", "LOAD", _SCRIPT))

    async def check(self, limits: list[Limit]) -> Decision:
        args: list[str | int] = ["EVALSHA", SCRIPT_SHA, len(limits)]
        args += [limit.key for limit in limits]
        for limit in limits:
            args += [limit.kind, limit.limit, limit.span_ms, limit.weight]
        command = encode(*args)
        try:
            raw = await self.connection.send(command)
        except RedisReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            # the scripts were flushed (or Redis restarted on this connection): load it again
            await self.connection.call("SCRIPT", "LOAD", _SCRIPT)
            raw = await self.connection.send(command)
        return decision(limits, raw)


def decision(limits: list[Limit], raw: list[int]) -> Decision:
    denied_index = int(raw[0])
    usages = [
        Usage(limit, int(raw[1 + 2 * i]), int(raw[2 + 2 * i])) for i, limit in enumerate(limits)
    ]
    denied = usages[denied_index - 1] if denied_index else None
    return Decision(denied is None, usages, denied)


def gcra(
    tat: float, now: float, limit: int, span: float, weight: int
) -> tuple[bool, float, int, float]:
    """One window limit, the script's arithmetic: (admitted, the new TAT, used, ms until it
    frees up) for a bucket whose TAT is ``tat`` (0: never used) at ``now`` (ms)."""
    interval = span / limit
    tat = max(tat, now)
    new = tat + weight * interval
    if weight > limit or new - now > span + 0.0005:
        used = limit - math.floor((span - (tat - now)) / interval + 1e-9)
        return False, tat, used, span if weight > limit else new - span - now
    return True, new, limit - math.floor((span - (new - now)) / interval + 1e-9), new - now
