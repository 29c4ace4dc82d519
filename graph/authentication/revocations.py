"""Revoked subjects: access tokens refused before they expire (``authentication.router.jwt.
revocations``), e.g. every token of an account being deleted.

The service that owns accounts keeps a Redis sorted set, subject -> the time of the
revocation, and publishes ``"<subject> <time>"`` on a channel when it adds one. Every
router process loads the set when it subscribes (and again on every resubscription, so a
revocation made while it was not listening is not missed) and then applies each message:
a token whose ``sub`` is in the set and whose ``iat`` is at or before that time is refused
with the usual 401, at once. Entries older than ``retention`` (the longest a token lives,
plus leeway) are forgotten: every token they could refuse has expired.

While the subscription is down, each request with a token asks Redis (one ZSCORE); if
Redis cannot answer either, the token is accepted and that is logged once (the account
service has revoked the account's refresh tokens already; its access tokens expire soon).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.authentication.credentials import CredentialError

logger = logging.getLogger("graph.authentication")

RECONNECT_DELAY = 1.0


class RevokedSubjects:
    def __init__(self, redis: Redis, *, key: str, channel: str, retention: float) -> None:
        self.redis = redis
        self.key = key
        self.channel = channel
        self.retention = retention
        self._revoked: dict[str, float] = {}
        self.listening = False
        self.subscribed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._down_logged = False

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    # ---- the check -------------------------------------------------------------------------
    async def check(self, subject: str | None, claims: Mapping[str, Any]) -> None:
        """CredentialError when the token (its ``sub`` and ``iat``) was revoked."""
        if subject is None:
            return
        if self.listening:
            revoked = self._revoked.get(subject)
        else:
            revoked = await self._ask(subject)
        if revoked is None:
            return
        issued = claims.get("iat")
        if isinstance(issued, int | float) and issued > revoked:
            return  # issued after the revocation
        raise CredentialError("this account's tokens were revoked (the account is disabled)")

    async def _ask(self, subject: str) -> float | None:
        try:
            score = await self.redis.zscore(self.key, subject)
        except (RedisError, OSError) as exc:
            if not self._down_logged:
                logger.warning("revoked subjects: Redis unreachable (%s); tokens accepted", exc)
                self._down_logged = True
            return None
        return float(score) if score is not None else None

    # ---- keeping the set ----------------------------------------------------------------
    def revoke(self, subject: str, at: float) -> None:
        self._revoked[subject] = max(at, self._revoked.get(subject, at))
        self._forget_old()

    def _forget_old(self) -> None:
        cutoff = time.time() - self.retention
        if self._revoked and min(self._revoked.values()) < cutoff:
            self._revoked = {s: t for s, t in self._revoked.items() if t >= cutoff}

    async def _load(self) -> None:
        since = time.time() - self.retention
        entries = await self.redis.zrangebyscore(self.key, since, "+inf", withscores=True)
        self._revoked = {
            (s.decode() if isinstance(s, bytes) else str(s)): float(t) for s, t in entries
        }

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                await self._load()
                self.listening = True
                self.subscribed.set()
                if self._down_logged:
                    logger.warning("revoked subjects: listening on Redis again")
                    self._down_logged = False
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is None:
                        await pubsub.ping()
                        self._forget_old()
                        continue
                    data = message.get("data")
                    if isinstance(data, bytes):
                        data = data.decode("utf-8", "replace")
                    subject, _, at = str(data).strip().partition(" ")
                    with contextlib.suppress(ValueError):
                        self.revoke(subject, float(at) if at else time.time())
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.listening = False
                self.subscribed.clear()
                if not self._down_logged:
                    logger.warning(
                        "revoked subjects: Redis unreachable (%s); asking it per request "
                        "until it is back",
                        exc,
                    )
                    self._down_logged = True
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
