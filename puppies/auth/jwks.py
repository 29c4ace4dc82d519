"""A cached copy of a remote JWKS (the users subgraph's `/.well-known/jwks.json`).

Keys are cached for `max_age` seconds. A token whose `kid` is not in the cache triggers a
refetch (at most once per `min_refetch_interval`, so forged kids cannot hammer the users
subgraph); that is how a rotated-in key is picked up without waiting for the cache to expire.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from puppies.auth.errors import AuthError


class RemoteJWKS:
    def __init__(
        self,
        url: str,
        *,
        max_age: float = 300.0,
        min_refetch_interval: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.max_age = max_age
        self.min_refetch_interval = min_refetch_interval
        self.timeout = timeout
        self._set: KeySet | None = None
        self._kids: set[str] = set()
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http,
                http.get(self.url) as resp,
            ):
                resp.raise_for_status()
                body: dict[str, Any] = await resp.json(content_type=None)
            key_set = KeySet.import_key_set(body)  # type: ignore[arg-type]
        except (aiohttp.ClientError, TimeoutError, ValueError, JoseError) as exc:
            if self._set is None:
                raise AuthError(
                    f"cannot fetch the signing keys from {self.url}: {exc}",
                    code="INTERNAL_SERVER_ERROR",
                ) from exc
            return  # keep serving the keys we have
        self._set = key_set
        self._kids = {str(k.kid) for k in key_set.keys}
        self._fetched_at = time.monotonic()

    def _needs_fetch(self, kid: str) -> bool:
        age = time.monotonic() - self._fetched_at
        if self._set is None or age > self.max_age:
            return True
        return kid not in self._kids and age > self.min_refetch_interval

    async def key_set(self, kid: str) -> KeySet:
        if self._needs_fetch(kid):
            async with self._lock:
                if self._needs_fetch(kid):
                    await self._fetch()
        assert self._set is not None
        return self._set
