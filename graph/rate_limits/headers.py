"""The IETF ``RateLimit-Policy`` and ``RateLimit`` response fields
(draft-ietf-httpapi-ratelimit-headers): one entry per limit the request was subject to.

    RateLimit-Policy: "minute";q=60;w=60, "day";q=1000;w=86400
    RateLimit: "minute";r=59;t=1, "day";r=999;t=41234

``q`` is the quota, ``w`` the window in seconds, ``r`` what remains, ``t`` the seconds until
it resets: until the bucket is full again (a window; one refill per ``w / q`` seconds), the
day ends (a quota), or, for the limit that refused the request, it would be admitted.
"""

from __future__ import annotations

import math

from graph.rate_limits.limiter import Usage


def _seconds(ms: int) -> int:
    return max(0, math.ceil(ms / 1000))


def policy_header(usages: list[Usage]) -> bytes:
    return ", ".join(
        f'"{u.limit.name}";q={u.limit.limit};w={u.limit.window_seconds}' for u in usages
    ).encode("latin-1")


def state_header(usages: list[Usage]) -> bytes:
    return ", ".join(
        f'"{u.limit.name}";r={u.remaining};t={_seconds(u.frees_in_ms)}' for u in usages
    ).encode("latin-1")


def retry_after(usage: Usage) -> int:
    """Whole seconds until the refused request would be admitted (at least 1)."""
    return max(1, _seconds(usage.frees_in_ms))
