"""Partner API keys: `pk_<prefix>_<secret>`, shown once, stored as a SHA-256 of the secret.

The 12-hex-digit prefix is stored in clear and indexed, so a key is found with one lookup;
the secret (32 random bytes) is compared by hash in constant time. A high-entropy random
secret needs no slow hash: SHA-256 cannot be brute-forced back from it.

Verification across processes (documented in docs/users.md): the users process verifies
against its database; every other process asks the users subgraph's internal endpoint
`POST /internal/api-keys/verify` and caches each answer (good or bad) for
`cache_seconds` (default 10 s), which bounds how long a revoked key keeps working there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from puppies.auth.errors import AuthError

KEY_RE = re.compile(r"^pk_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,100})$")
TIERS = ("free", "pro", "enterprise")
SCOPES = (
    "read:profile",
    "write:profile",
    "write:follows",
    "read:posts",
    "write:posts",
    "read:feed",
    "read:analytics",
    "write:analytics",
)


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str
    secret_hash: str


@dataclass(frozen=True)
class ApiKeyPrincipal:
    key_id: int
    user_id: int
    tier: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    client: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.key_id),
            "userId": str(self.user_id),
            "tier": self.tier,
            "scopes": sorted(self.scopes),
            "clientName": self.client,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ApiKeyPrincipal:
        return cls(
            int(body["id"]),
            int(body["userId"]),
            str(body["tier"]),
            frozenset(str(s) for s in body["scopes"]),
            body.get("clientName") or None,
        )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(f"pk_{prefix}_{secret}", prefix, hash_secret(secret))


def looks_like_api_key(value: str) -> bool:
    return value.startswith("pk_")


def parse_api_key(raw: str) -> tuple[str, str]:
    """(prefix, secret) of a well-formed key; AuthError otherwise."""
    m = KEY_RE.match(raw.strip())
    if m is None:
        raise AuthError("the API key is malformed (expected pk_<prefix>_<secret>)")
    return m["prefix"], m["secret"]


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


class ApiKeyVerifier(Protocol):
    async def verify(self, raw: str) -> ApiKeyPrincipal: ...


class RemoteApiKeyVerifier:
    """Asks the users subgraph, caching each verdict briefly (per process)."""

    def __init__(self, url: str, *, cache_seconds: float = 10.0, timeout: float = 5.0) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._cache: dict[str, tuple[float, ApiKeyPrincipal | str]] = {}
        self._lock = asyncio.Lock()
        self.calls = 0

    async def verify(self, raw: str) -> ApiKeyPrincipal:
        parse_api_key(raw)
        digest = hashlib.sha256(raw.encode()).hexdigest()
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is None or hit[0] < now:
            verdict = await self._ask(raw)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self.cache_seconds, verdict)
        else:
            verdict = hit[1]
        if isinstance(verdict, str):
            raise AuthError(verdict)
        return verdict

    async def _ask(self, raw: str) -> ApiKeyPrincipal | str:
        self.calls += 1
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http,
                http.post(self.url, json={"key": raw}) as resp,
            ):
                body = await resp.json(content_type=None)
                if resp.status == 200:
                    return ApiKeyPrincipal.from_json(body)
                if resp.status in (401, 403):
                    return str(body.get("error", "the API key was refused"))
                raise AuthError(
                    f"API key verification failed ({resp.status})", code="INTERNAL_SERVER_ERROR"
                )
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            raise AuthError(
                f"cannot verify the API key right now: {exc}", code="INTERNAL_SERVER_ERROR"
            ) from exc
