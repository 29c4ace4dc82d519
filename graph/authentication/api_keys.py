"""API keys at the router: resolved to a principal by the service that owns them (the users
subgraph's ``POST /internal/api-keys/verify``, called with the router's signed principal),
cached, and dropped from the cache everywhere within a second of a revocation.

Revocations arrive over Redis pub/sub (the owner publishes the key's id on a channel after
the revocation commits). While the subscription is down (Redis unreachable), cached
verdicts live at most ``fallback_ttl`` (1 s), so a revoked key still stops working within
a second, at the cost of one verification per key per second. Without Redis, a revoked key
works until its cached verdict expires (``cache_ttl``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.authentication.credentials import CredentialError
from graph.serving.request import Principal

logger = logging.getLogger("graph.authentication")

FALLBACK_TTL = 1.0
RECONNECT_DELAY = 1.0


class ApiKeyResolver:
    def __init__(
        self,
        verify_url: str,
        *,
        cache_ttl: float = 60.0,
        refusal_ttl: float = 5.0,
        timeout: float = 5.0,
        service_headers: Callable[[], Mapping[str, str]] = dict,
        redis: Redis | None = None,
        channel: str = "puppies:api-keys:revoked",
        cache_size: int = 100_000,
    ) -> None:
        self.verify_url = verify_url
        self.cache_ttl = cache_ttl
        self.refusal_ttl = refusal_ttl
        self.timeout = timeout
        self.service_headers = service_headers
        self.redis = redis
        self.channel = channel
        self.cache_size = cache_size
        # raw key -> (cached at, valid until, verdict, key id)
        self._cache: dict[str, tuple[float, float, Principal | CredentialError, str | None]] = {}
        self._inflight: dict[str, asyncio.Future[Principal | CredentialError]] = {}
        self._revoked_at: dict[str, float] = {}  # key id -> monotonic time of its revocation
        self.listening = redis is None  # no Redis: cached verdicts live their whole TTL
        self.verifications = 0
        self._session: aiohttp.ClientSession | None = None
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    # ---- lifecycle
    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        if self.redis is not None:
            self._listener = asyncio.create_task(self._listen(self.redis))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._session is not None:
            await self._session.close()

    # ---- resolution
    async def resolve(self, raw: str) -> Principal:
        now = time.monotonic()
        hit = self._cache.get(raw)
        if hit is not None:
            cached_at, until, verdict, _ = hit
            if not self.listening:  # revocations may be missed: trust a verdict 1 s at most
                until = min(until, cached_at + FALLBACK_TTL)
            if until > now:
                if isinstance(verdict, CredentialError):
                    raise verdict
                return verdict
        shared = self._inflight.get(raw)
        if shared is None:
            shared = asyncio.ensure_future(self._verify(raw))
            self._inflight[raw] = shared
            shared.add_done_callback(lambda _: self._inflight.pop(raw, None))
        verdict = await asyncio.shield(shared)
        if isinstance(verdict, CredentialError):
            raise verdict
        return verdict

    async def _verify(self, raw: str) -> Principal | CredentialError:
        asked = time.monotonic()
        verdict, key_id = await self._ask(raw)
        if key_id is not None and self._revoked_at.get(key_id, -1.0) >= asked:
            # revoked while we asked: the answer may predate the revocation
            verdict = CredentialError("the API key has been revoked")
        if isinstance(verdict, CredentialError) and verdict.unavailable:
            return verdict  # not remembered: the next request asks again
        ttl = self.refusal_ttl if isinstance(verdict, CredentialError) else self.cache_ttl
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        now = time.monotonic()
        self._cache[raw] = (now, now + ttl, verdict, key_id)
        return verdict

    async def _ask(self, raw: str) -> tuple[Principal | CredentialError, str | None]:
        self.verifications += 1
        session = self._session
        if session is None:  # pragma: no cover - start() runs before any request
            raise RuntimeError("ApiKeyResolver used before start()")
        try:
            async with session.post(
                self.verify_url,
                data=orjson.dumps({"key": raw}),
                headers={"content-type": "application/json", **self.service_headers()},
            ) as response:
                body: Any = orjson.loads(await response.read() or b"{}")
                status = response.status
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            logger.warning("cannot verify an API key at %s: %s", self.verify_url, exc)
            return CredentialError(
                "the router cannot verify API keys right now; retry later", unavailable=True
            ), None
        if status == 200 and isinstance(body, dict):
            try:
                principal = Principal(
                    kind="api_key",
                    id=str(body["id"]),
                    user_id=str(body["userId"]),
                    tier=str(body["tier"]),
                    scopes=frozenset(str(s) for s in body.get("scopes") or ()),
                    client_name=body.get("clientName") or None,
                )
            except (KeyError, TypeError):
                return CredentialError(
                    "the key service answered something the router does not understand",
                    unavailable=True,
                ), None
            return principal, principal.id
        if status in (400, 401, 404):
            message = body.get("error") if isinstance(body, dict) else None
            return CredentialError(str(message or "the API key was refused")), None
        # 403: the key service refused the router itself (its signed principal): a
        # misconfiguration (authentication.subgraph.principal) the client cannot fix
        logger.warning("API key verification answered %s: %s", status, body)
        return CredentialError(
            "the router cannot verify API keys right now; retry later", unavailable=True
        ), None

    # ---- revocations
    def revoke(self, key_id: str) -> None:
        """Forget every cached verdict for the key with id ``key_id`` (in this process)."""
        self._revoked_at[key_id] = time.monotonic()
        if len(self._revoked_at) > 10_000:
            cutoff = time.monotonic() - 2 * self.timeout
            self._revoked_at = {k: t for k, t in self._revoked_at.items() if t > cutoff}
        for raw in [r for r, (_, _, _, kid) in self._cache.items() if kid == key_id]:
            del self._cache[raw]

    async def _listen(self, redis: Redis) -> None:
        down_logged = False
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                # whatever was revoked while we were not listening: forget everything once
                self._cache.clear()
                self.listening = True
                self.subscribed.set()
                if down_logged:
                    logger.warning("API key revocations: listening on Redis again")
                    down_logged = False
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is None:
                        await pubsub.ping()
                        continue
                    data = message.get("data")
                    if isinstance(data, bytes):
                        data = data.decode("utf-8", "replace")
                    self.revoke(_key_id(str(data)))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.listening = False
                self.subscribed.clear()
                if not down_logged:
                    logger.warning(
                        "API key revocations: Redis unreachable (%s); cached API keys are "
                        "re-verified every %gs until it is back",
                        exc,
                        FALLBACK_TTL,
                    )
                    down_logged = True
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


def _key_id(data: str) -> str:
    """A revocation message is the key's id, or a JSON object with ``id``."""
    text = data.strip()
    if text.startswith("{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(text)
            if isinstance(body, dict) and "id" in body:
                return str(body["id"])
    return text
