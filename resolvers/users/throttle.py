"""Failed-login throttling in Redis, per account and per client IP.

Each failure INCRs `login:fail:acct:<login>` and `login:fail:ip:<ip>` (expiring after the
window); at `login_max_failures_per_account` / `_per_ip` further attempts are refused until
the window passes, whether or not the password is right. A success clears the account
counter (not the IP's, so one good account cannot launder guesses at others).
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from puppies.settings import Settings


def _keys(login: str, ip: str | None) -> tuple[str, str | None]:
    return (f"login:fail:acct:{login.strip().lower()}", f"login:fail:ip:{ip}" if ip else None)


@dataclass(frozen=True)
class Throttled:
    retry_after: int
    scope: str  # "account" | "ip"


async def check(redis: Redis, settings: Settings, login: str, ip: str | None) -> Throttled | None:
    acct, ipkey = _keys(login, ip)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(acct)
        pipe.ttl(acct)
        if ipkey:
            pipe.get(ipkey)
            pipe.ttl(ipkey)
        values = await pipe.execute()
    if int(values[0] or 0) >= settings.login_max_failures_per_account:
        return Throttled(max(int(values[1]), 1), "account")
    if ipkey and int(values[2] or 0) >= settings.login_max_failures_per_ip:
        return Throttled(max(int(values[3]), 1), "ip")
    return None


async def record_failure(redis: Redis, settings: Settings, login: str, ip: str | None) -> None:
    window = settings.login_failure_window_seconds
    async with redis.pipeline(transaction=True) as pipe:
        for key in _keys(login, ip):
            if key:  # start the window on the first failure; INCR keeps the TTL
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
        await pipe.execute()


async def record_success(redis: Redis, login: str) -> None:
    await redis.delete(_keys(login, None)[0])
