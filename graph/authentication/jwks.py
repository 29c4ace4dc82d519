"""A JWKS the router verifies access tokens with: fetched at start, refreshed every
``poll_interval`` (``url`` may be ``file://`` for a key set on disk), and refetched at once
when a token names a ``kid`` the cached set does not have (a key rotated in). Those
refetches are rate-limited so forged kids cannot make the router hammer the identity
provider: each unknown kid triggers at most one, and all of them share a small bucket (3,
refilled one per 10 s). A failed refresh keeps the keys it had."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet
from joserfc.jws import JWSAlgModel, JWSRegistry

from graph.authentication.credentials import CredentialError

logger = logging.getLogger("graph.authentication")


class Jwks:
    def __init__(
        self,
        url: str,
        *,
        poll_interval: float = 60.0,
        refetch_burst: int = 3,
        refetch_every: float = 10.0,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.poll_interval = poll_interval
        self.refetch_burst = refetch_burst
        self.refetch_every = refetch_every
        self._refetch_tokens = float(refetch_burst)
        self._refetch_updated = time.monotonic()
        self._tried_kids: set[str] = set()  # unknown kids already refetched for
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.key_set: KeySet | None = None
        self.kids: frozenset[str] = frozenset()
        # (kid, alg) -> the key and algorithm joserfc would verify with, or None when the
        # token must go through joserfc's whole path; per key set (reset on a new one)
        self._verifiers: dict[tuple[str, str], tuple[JWSAlgModel, Key] | None] = {}
        self.fetched_at = 0.0  # monotonic time of the last fetch attempt
        self.fetches = 0
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        with contextlib.suppress(CredentialError):
            await self.refresh()  # a JWKS that is down at start is retried on demand
        self._poller = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            with contextlib.suppress(CredentialError):
                await self.refresh()

    async def refresh(self) -> None:
        """Fetch the key set now; keep the old one when the fetch fails."""
        async with self._lock:
            self.fetches += 1
            self.fetched_at = time.monotonic()
            try:
                body = await self._read()
                key_set = KeySet.import_key_set(body)
            except (
                aiohttp.ClientError,
                OSError,
                TimeoutError,
                ValueError,
                JoseError,
                TypeError,
            ) as exc:
                logger.warning("cannot fetch the JWKS at %s: %s", self.url, exc)
                if self.key_set is None:
                    raise CredentialError(
                        "the router cannot fetch the keys to verify this token; retry later",
                        unavailable=True,
                    ) from exc
                return
            self.key_set = key_set
            self.kids = frozenset(str(k.kid) for k in key_set.keys if k.kid)
            self._verifiers = {}
            self._tried_kids.clear()

    async def _read(self) -> Any:
        if self.url.startswith("file://"):
            path = Path(self.url[len("file://") :])
            return orjson.loads(await asyncio.to_thread(path.read_bytes))
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http,
            http.get(self.url, headers=self.headers) as response,
        ):
            response.raise_for_status()
            return await response.json(content_type=None)

    async def keys_for(self, kid: str | None) -> KeySet:
        """The key set to verify a token with key id ``kid`` (refetched once when new)."""
        unknown = kid is not None and kid not in self.kids
        if self.key_set is None or (unknown and self._may_refetch(str(kid))):
            await self.refresh()
        assert self.key_set is not None
        return self.key_set

    def verifier(self, kid: str, alg: str) -> tuple[JWSAlgModel, Key] | None:
        """The algorithm and the key a token signed with ``alg`` under ``kid`` verifies with,
        chosen once per key set as joserfc chooses them for each token (``get_by_kid``, the
        algorithm's ``check_key``: use, key type, curve, the key's own ``alg``); None when
        that choice is not plain (no such key, several keys with this kid, a refusal), so
        such a token goes through joserfc's whole path and gets its exact verdict."""
        if (kid, alg) in self._verifiers:
            return self._verifiers[(kid, alg)]
        verifier: tuple[JWSAlgModel, Key] | None = None
        key_set = self.key_set
        model = JWSRegistry.algorithms.get(alg)
        if (
            key_set is not None
            and model is not None
            and alg != "none"
            and sum(1 for k in key_set.keys if k.kid == kid) == 1
        ):
            try:
                key = key_set.get_by_kid(kid, {"alg": alg, "use": "sig"})
                model.check_key(key)
            except (JoseError, ValueError, TypeError):
                pass
            else:
                verifier = (model, key)
        self._verifiers[(kid, alg)] = verifier
        return verifier

    def _may_refetch(self, kid: str) -> bool:
        if kid in self._tried_kids or len(self._tried_kids) > 1000:
            return False
        now = time.monotonic()
        self._refetch_tokens = min(
            float(self.refetch_burst),
            self._refetch_tokens + (now - self._refetch_updated) / self.refetch_every,
        )
        self._refetch_updated = now
        if self._refetch_tokens < 1.0:
            return False
        self._refetch_tokens -= 1.0
        self._tried_kids.add(kid)
        return True
