"""Automatic persisted queries (APQ), Apollo's protocol.

A client sends ``extensions.persistedQuery = {version: 1, sha256Hash}`` without the query
text; when the router knows the hash it runs the stored operation, otherwise it answers
``PERSISTED_QUERY_NOT_FOUND`` and the client retries with both the hash and the text, which
the router checks (the SHA-256 must match) and stores. Repeated operations then cost the
client a hash instead of the whole document, and work over GET (cacheable URLs).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from pydantic import Field

from graph.http import GraphQLParams, HttpError
from graph.plugins.base import StrictModel
from graph.serving.request import RouterRequest
from graph.serving.stage import Stage

_NOT_FOUND = "PersistedQueryNotFound"


class InMemory(StrictModel):
    limit: int = Field(default=512, gt=0)


class ApqCache(StrictModel):
    in_memory: InMemory = Field(default_factory=InMemory)


class ApqRouter(StrictModel):
    cache: ApqCache = Field(default_factory=ApqCache)


class ApqConfig(StrictModel):
    """``apq``: automatic persisted queries (on by default, as in Apollo Router)."""

    enabled: bool = True
    router: ApqRouter = Field(default_factory=ApqRouter)


class PersistedQueries:
    """The hash -> operation text store, a bounded LRU."""

    def __init__(self, config: ApqConfig) -> None:
        self.enabled = config.enabled
        self.limit = config.router.cache.in_memory.limit
        self._store: OrderedDict[str, str] = OrderedDict()

    def resolve(self, params: GraphQLParams) -> str:
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
            if found is None:
                # 200, as Apollo's servers answer: clients read the code and resend the text
                raise HttpError(200, _NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
            self._store.move_to_end(digest)
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
            self._store[digest] = params.query
            if len(self._store) > self.limit:
                self._store.popitem(last=False)
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
            request.query = self.store.resolve(request.params)
