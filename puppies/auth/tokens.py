"""Access tokens: short-lived ES256 JWTs with `kid`, checked for issuer, audience and expiry."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from puppies.auth.errors import AuthError
from puppies.auth.keys import ALGORITHM, KeyRing
from puppies.settings import Settings

LEEWAY_SECONDS = 5


class KeySource(Protocol):
    """Where a verifier finds public keys: the local keyring or a remote JWKS."""

    async def key_set(self, kid: str) -> KeySet: ...


class LocalKeys:
    """The users process verifies with its own keyring."""

    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    async def key_set(self, kid: str) -> KeySet:
        return self.keyring.public_key_set()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    kid: str


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    jti: str
    expires_at: datetime
    raw: dict[str, Any]
    # the refresh-token family (session) the token was issued for; None for older tokens
    session_id: int | None = None

    @property
    def roles(self) -> frozenset[str]:
        roles = self.raw.get("roles")
        return frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset()


def issue_access_token(
    keyring: KeyRing,
    settings: Settings,
    user_id: int,
    *,
    now: float | None = None,
    ttl_seconds: int | None = None,
    roles: list[str] | None = None,
    session_id: int | None = None,
) -> IssuedToken:
    """An access token for `user_id`; `roles` (the account's effective roles) becomes the
    `roles` claim the router's `@policy` rules read; `session_id` (the session, i.e.
    refresh-token family, this token belongs to) the `sid` claim, so a request can tell
    which session it comes from (changePassword keeps it)."""
    signing = keyring.signing_key()
    issued = int(now if now is not None else time.time())
    exp = issued + (ttl_seconds if ttl_seconds is not None else settings.access_token_ttl_seconds)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "iat": issued,
        "nbf": issued,
        "exp": exp,
        "jti": secrets.token_urlsafe(12),
        "roles": list(roles) if roles is not None else ["user"],
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    header = {"alg": ALGORITHM, "kid": signing.kid, "typ": "JWT"}
    token = jwt.encode(header, claims, signing.key, algorithms=[ALGORITHM])
    return IssuedToken(token, datetime.fromtimestamp(exp, UTC), signing.kid)


def _unverified_kid(token: str) -> str:
    from joserfc.jws import extract_compact

    try:
        obj = extract_compact(token.encode("ascii"))
    except (JoseError, ValueError, UnicodeError) as exc:
        raise AuthError("the access token is malformed") from exc
    kid = obj.protected.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthError("the access token has no key id (kid)")
    if obj.protected.get("alg") != ALGORITHM:
        raise AuthError(f"the access token must be signed with {ALGORITHM}")
    return kid


async def verify_access_token(
    token: str, keys: KeySource, settings: Settings, *, now: float | None = None
) -> AccessClaims:
    """Check signature (by `kid`), issuer, audience, expiry; AuthError when anything is off."""
    kid = _unverified_kid(token)
    key_set = await keys.key_set(kid)
    try:
        decoded = jwt.decode(token, key_set, algorithms=[ALGORITHM])
    except JoseError as exc:
        raise AuthError("the access token's signature is invalid or its key is unknown") from exc
    registry = jwt.JWTClaimsRegistry(
        now=int(now) if now is not None else None,
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": settings.jwt_issuer},
        aud={"essential": True, "value": settings.jwt_audience},
        exp={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except ExpiredTokenError as exc:
        raise AuthError("the access token has expired; refresh the session") from exc
    except JoseError as exc:
        raise AuthError(f"the access token was refused: {exc.description or exc}") from exc
    claims = decoded.claims
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise AuthError("the access token's subject is not a user id") from exc
    sid = claims.get("sid")
    return AccessClaims(
        user_id=user_id,
        jti=str(claims.get("jti", "")),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        raw=claims,
        session_id=int(sid) if isinstance(sid, str) and sid.isdigit() else None,
    )
