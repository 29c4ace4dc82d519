"""Exact rate limits and quotas shared by every router process: one Lua script, one round
trip per request, all of a request's limits checked and counted together (all or nothing).

Two kinds of limit:

- **window** (``per minute``): at most ``limit`` requests in *any* window of ``window``
  seconds (a sliding-window log: the time of each admitted request is kept in a sorted set,
  entries older than the window dropped). Exact across processes, because the time is the
  Redis server's (``TIME`` inside the script), not each router's clock.
- **quota** (``per day``): at most ``limit`` requests per UTC day (a counter that expires at
  the end of the day); the reset time is the next 00:00 UTC.

A request is admitted only if every limit it is subject to has room for its ``weight``; then
each one is charged. A refused request charges nothing. The script returns, per limit, what
is used and when it frees up, for the ``RateLimit`` headers.

Keys (Redis Cluster safe): every key of one subject shares one hash tag, ``{<subject>}``,
so a request's keys always live in one slot: ``<ns>:{u:42}:key:7:w`` (an API key's window),
``<ns>:{u:42}:key:7:d:20261206`` (its daily quota), ``<ns>:{u:42}:f:Mutation.createPost:w``
(a root field's window for that user), ``<ns>:{ip:203.0.113.9}:w`` (an anonymous caller).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

WINDOW = "w"
QUOTA = "q"

# ARGV: member prefix, then per key: kind, limit, span (window ms; for a quota, the
# absolute ms of its end), weight. Returns {denied index (0: admitted), then per key
# used-after, ms until it frees up}.
_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member = ARGV[1]
local n = #KEYS
local used = {}
local frees = {}
local denied = 0
for i = 1, n do
  local base = 1 + (i - 1) * 4
  local kind = ARGV[base + 1]
  local limit = tonumber(ARGV[base + 2])
  local span = tonumber(ARGV[base + 3])
  local weight = tonumber(ARGV[base + 4])
  local key = KEYS[i]
  if kind == 'w' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
    local count = redis.call('ZCARD', key)
    used[i] = count
    if weight > limit then
      frees[i] = span
      if denied == 0 then denied = i end
    elseif count + weight > limit then
      -- the entry whose expiry makes room for this request
      local at = count + weight - limit - 1
      local entry = redis.call('ZRANGE', key, at, at, 'WITHSCORES')
      frees[i] = tonumber(entry[2]) + span - now
      if denied == 0 then denied = i end
    else
      local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      if first[2] then frees[i] = tonumber(first[2]) + span - now else frees[i] = span end
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
    local base = 1 + (i - 1) * 4
    local kind = ARGV[base + 1]
    local span = tonumber(ARGV[base + 3])
    local weight = tonumber(ARGV[base + 4])
    local key = KEYS[i]
    if kind == 'w' then
      for j = 1, weight do
        redis.call('ZADD', key, now, member .. ':' .. now .. ':' .. j)
      end
      redis.call('PEXPIRE', key, span)
      if used[i] == 0 then frees[i] = span end
    else
      redis.call('INCRBY', key, weight)
      redis.call('PEXPIREAT', key, span + 60000)
    end
    used[i] = used[i] + weight
  end
end
local out = {denied}
for i = 1, n do
  out[#out + 1] = used[i]
  out[#out + 1] = frees[i]
end
return out
"""


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
    frees_in_ms: int  # until a slot frees up (WINDOW) or the period ends (QUOTA)

    @property
    def remaining(self) -> int:
        return max(0, self.limit.limit - self.used)


@dataclass(frozen=True)
class Decision:
    admitted: bool
    usages: list[Usage]
    denied: Usage | None  # the (first) limit that refused it


class RedisLimiter:
    """Checks and charges a request's limits in one round trip."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.script = redis.register_script(_SCRIPT)

    async def check(self, limits: list[Limit]) -> Decision:
        argv: list[str | int] = [secrets.token_hex(6)]
        for limit in limits:
            argv += [limit.kind, limit.limit, limit.span_ms, limit.weight]
        raw = await self.script(keys=[limit.key for limit in limits], args=argv)
        denied_index = int(raw[0])
        usages = [
            Usage(limit, int(raw[1 + 2 * i]), int(raw[2 + 2 * i])) for i, limit in enumerate(limits)
        ]
        denied = usages[denied_index - 1] if denied_index else None
        return Decision(denied is None, usages, denied)
