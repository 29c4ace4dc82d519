"""Automatic persisted queries (APQ), Apollo's protocol.

A client sends ``extensions.persistedQuery = {version: 1, sha256Hash}`` without the query
text; when the router knows the hash it runs the stored operation, otherwise it answers
``PERSISTED_QUERY_NOT_FOUND`` and the client retries with both the hash and the text, which
the router checks (the SHA-256 must match) and stores. Repeated operations then cost the
client a hash instead of the whole document, and work over GET (cacheable URLs).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any

from pydantic import Field
from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.http import GraphQLParams, HttpError
from graph.plugins.base import Duration, StrictModel
from graph.plugins.redis import RedisConfig
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

logger = logging.getLogger("graph.apq")

_NOT_FOUND = "PersistedQueryNotFound"
_LOG_EVERY = 60.0


class InMemory(StrictModel):
    limit: int = Field(default=512, gt=0)


class ApqRedis(RedisConfig):
    """``apq.router.cache.redis``: the store shared by every router process."""

    ttl: Duration | None = None  # unset: kept until Redis evicts them


class ApqCache(StrictModel):
    in_memory: InMemory = Field(default_factory=InMemory)
    redis: ApqRedis | None = None


class ApqRouter(StrictModel):
    cache: ApqCache = Field(default_factory=ApqCache)


class ApqConfig(StrictModel):
    """``apq``: automatic persisted queries (on by default, as in Apollo Router)."""

    enabled: bool = True
    router: ApqRouter = Field(default_factory=ApqRouter)


class PersistedQueries:
    """The hash -> operation text store: a bounded LRU, in front of Redis when configured."""

    def __init__(self, config: ApqConfig, redis: Redis | None = None) -> None:
        self.enabled = config.enabled
        self.limit = config.router.cache.in_memory.limit
        self._store: OrderedDict[str, str] = OrderedDict()
        shared = config.router.cache.redis
        self.redis = redis if shared is not None else None
        self.prefix = f"{shared.namespace}:apq:" if shared is not None else ""
        self.ttl = int(shared.ttl) if shared is not None and shared.ttl else None
        self._last_log = 0.0

    def _remember(self, digest: str, query: str) -> None:
        self._store[digest] = query
        if len(self._store) > self.limit:
            self._store.popitem(last=False)

    def _redis_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY:
            self._last_log = now
            logger.warning("APQ: Redis unreachable (%s); using the in-memory store", exc)

    async def _shared_get(self, digest: str) -> str | None:
        if self.redis is None:
            return None
        try:
            found = await self.redis.get(self.prefix + digest)
        except (RedisError, OSError, TimeoutError) as exc:
            self._redis_failed(exc)
            return None
        return found.decode("utf-8") if isinstance(found, bytes) else found

    async def _shared_set(self, digest: str, query: str) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.set(self.prefix + digest, query.encode("utf-8"), ex=self.ttl)
        except (RedisError, OSError, TimeoutError) as exc:
            self._redis_failed(exc)

    async def resolve(self, params: GraphQLParams) -> str:
        """The operation text to run for ``params``; raise ``HttpError`` when there is none."""
        extensions = params.extensions
        persisted = extensions.get("persistedQuery") if extensions is not None else None
        if persisted is None:
            if params.query is None:  # pragma: no cover - params_from_mapping prevents it
                raise HttpError(400, "The request has no 'query' parameter.")
            return params.query
        if not self.enabled:
            if params.query is not None:
                return params.query  # APQ off: the text is all we need
            raise HttpError(
                400,
                "Persisted queries are not enabled on this router (apq.enabled); send the "
                "operation text in 'query'.",
                "PERSISTED_QUERY_NOT_SUPPORTED",
            )
        digest = _check_extension(persisted)
        if params.query is None:
            found = self._store.get(digest)
            if found is not None:
                self._store.move_to_end(digest)
                return found
            found = await self._shared_get(digest)
            if found is None:
                # 200, as Apollo's servers answer: clients read the code and resend the text
                raise HttpError(200, _NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
            self._remember(digest, found)
            return found
        actual = hashlib.sha256(params.query.encode("utf-8")).hexdigest()
        if actual != digest:
            raise HttpError(
                400,
                "provided sha does not match query: extensions.persistedQuery.sha256Hash must "
                "be the hex SHA-256 of the 'query' text.",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        if digest not in self._store:
            self._remember(digest, params.query)
            await self._shared_set(digest, params.query)
        return params.query


def _check_extension(persisted: Any) -> str:
    if not isinstance(persisted, dict):
        raise HttpError(400, "extensions.persistedQuery must be an object.")
    if persisted.get("version") != 1:
        raise HttpError(
            400,
            "Unsupported persisted query version: extensions.persistedQuery.version must be 1.",
            "PERSISTED_QUERY_NOT_SUPPORTED",
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise HttpError(
            400, "extensions.persistedQuery.sha256Hash must be a hex SHA-256 (64 characters)."
        )
    return digest.lower()


class ApqStage(Stage):
    """Resolves ``extensions.persistedQuery`` hashes to operation text (after the manifest
    stage, which decides first when persisted-query manifests are configured)."""

    name = "apq"

    def __init__(self, store: PersistedQueries) -> None:
        self.store = store

    async def on_request(self, request: RouterRequest) -> None:
        if request.query is None:
            request.query = await self.store.resolve(request.params)
