"""Access-token (JWT) verification at the router, as Apollo Router's JWT authentication does
it: the token's ``kid`` picks a key from the configured JWKS (those whose issuers accept the
token's ``iss``), the signature must verify with an allowed algorithm, and ``exp``/``nbf``
hold with 60 s of leeway, ``iss`` and ``aud`` must match when configured.

A verified token is remembered (until it expires) and so is a refused one (briefly), so a
client reusing its token costs a dictionary lookup, not a signature check.

A token not seen before, when it is plain (three segments within joserfc's size limits, a
header of only ``alg``/``kid``/``typ`` strings, JSON objects that orjson reads), is parsed
once here and its signature checked with the algorithm and key joserfc would pick (chosen
once per key set: ``Jwks.verifier``) by joserfc's own ``verify``; anything else, or a
signature that does not verify, goes through joserfc's whole ``jwt.decode`` for its exact
verdict (tests/graph/plugins/test_jwt_fast_path.py compares both over generated tokens).
"""

from __future__ import annotations

import binascii
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jws import extract_compact
from joserfc.util import urlsafe_b64decode

from graph.authentication.credentials import CredentialError
from graph.authentication.jwks import Jwks
from graph.serving.request import Principal

LEEWAY_SECONDS = 60
DEFAULT_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
)
REFUSAL_MEMORY_SECONDS = 10.0
# joserfc's JWSRegistry limits (a longer segment is refused there: joserfc's path decides)
_MAX_HEADER = 512
_MAX_PAYLOAD = 128_000
_MAX_SIGNATURE = 1024
_PLAIN_HEADER = frozenset({"alg", "kid", "typ"})


@dataclass(frozen=True)
class TrustedIssuer:
    """One ``jwks`` entry: where its keys are and what its tokens must say."""

    jwks: Jwks
    issuers: frozenset[str] | None  # None: any issuer
    audiences: frozenset[str] | None  # None: any audience
    algorithms: tuple[str, ...]

    def accepts_issuer(self, issuer: object) -> bool:
        # the unverified ``iss`` may be anything JSON holds (a list is not hashable)
        return self.issuers is None or (isinstance(issuer, str) and issuer in self.issuers)


class JwtVerifier:
    def __init__(self, trusted: list[TrustedIssuer], cache_size: int = 10_000) -> None:
        self.trusted = trusted
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[float, Principal | CredentialError]] = OrderedDict()
        self.verifications = 0  # signatures actually checked (for tests and benchmarks)
        # one claims registry per trusted issuer, built once; "now" is set before each use
        self._now = 0
        self._claims = {id(t): self._registry(t) for t in trusted}

    async def verify(self, token: str) -> Principal:
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None:
            until, verdict = hit
            if until > now:
                if isinstance(verdict, CredentialError):
                    raise verdict
                return verdict
            del self._cache[token]
        try:
            principal, expires = await self._verify(token, now)
        except CredentialError as error:
            if not error.unavailable:
                self._remember(token, now + REFUSAL_MEMORY_SECONDS, error)
            raise
        self._remember(token, expires + LEEWAY_SECONDS, principal)
        return principal

    def _remember(self, token: str, until: float, verdict: Principal | CredentialError) -> None:
        self._cache[token] = (until, verdict)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def _verify(self, token: str, now: float) -> tuple[Principal, float]:
        plain = _plain(token)
        if plain is not None:
            header, unverified, signing_input, signature = plain
        else:
            try:
                compact = extract_compact(token.encode("ascii"))
                unverified = orjson.loads(compact.payload)
            except (JoseError, ValueError, UnicodeError, orjson.JSONDecodeError):
                raise CredentialError("the token is not a well-formed JWT") from None
            if not isinstance(unverified, dict):
                raise CredentialError("the token's payload is not a JSON object")
            header = compact.protected
        kid = header.get("kid")
        alg = header.get("alg")
        issuer = unverified.get("iss")
        candidates = [t for t in self.trusted if t.accepts_issuer(issuer)]
        if not candidates:
            raise CredentialError(f"the token's issuer {issuer!r} is not trusted by this router")
        last: CredentialError | None = None
        for trusted in candidates:
            if alg not in trusted.algorithms:
                last = CredentialError(f"the token's algorithm {alg!r} is not accepted")
                continue
            key_set = await trusted.jwks.keys_for(kid if isinstance(kid, str) else None)
            if isinstance(kid, str) and kid not in trusted.jwks.kids:
                last = CredentialError(f"no key {kid!r} to verify the token with")
                continue
            self.verifications += 1
            if plain is not None and isinstance(kid, str):  # (a plain header's are strings)
                verifier = trusted.jwks.verifier(kid, alg)
                if verifier is not None and _signed(verifier, signing_input, signature):
                    self._check_claims(unverified, trusted, now)
                    return _principal(unverified), float(unverified["exp"])
            try:
                decoded = jwt.decode(token, key_set, algorithms=list(trusted.algorithms))
            except BadSignatureError:
                last = CredentialError("the token's signature does not verify")
                continue
            except (JoseError, ValueError) as exc:
                last = CredentialError(f"the token was refused: {exc}")
                continue
            claims = decoded.claims
            self._check_claims(claims, trusted, now)
            return _principal(claims), float(claims["exp"])
        assert last is not None
        raise last

    def _registry(self, trusted: TrustedIssuer) -> jwt.JWTClaimsRegistry:
        options: dict[str, Any] = {"exp": {"essential": True}, "sub": {"essential": True}}
        if trusted.issuers is not None:
            options["iss"] = {"essential": True, "values": sorted(trusted.issuers)}
        if trusted.audiences is not None:
            options["aud"] = {"essential": True, "values": sorted(trusted.audiences)}
        return jwt.JWTClaimsRegistry(now=lambda: self._now, leeway=LEEWAY_SECONDS, **options)

    def _check_claims(self, claims: dict[str, Any], trusted: TrustedIssuer, now: float) -> None:
        registry = self._claims[id(trusted)]
        self._now = int(now)
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise CredentialError("the token has expired; refresh it") from None
        except MissingClaimError as exc:
            raise CredentialError(f"the token lacks the {exc.claim!r} claim") from None
        except InvalidClaimError as exc:
            raise CredentialError(f"the token's {exc.claim!r} claim is not accepted") from None
        except JoseError as exc:
            raise CredentialError(f"the token was refused: {exc.description or exc}") from None


def _plain(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes] | None:
    """(header, claims, signing input, signature segment) of a plain token (see the module's
    docstring), or None: joserfc's path reads it."""
    try:
        raw = token.encode("ascii")
    except UnicodeError:
        return None
    parts = raw.split(b".")
    if len(parts) != 3:
        return None
    head, body, signature = parts
    if not (
        0 < len(head) <= _MAX_HEADER
        and 0 < len(body) <= _MAX_PAYLOAD
        and len(signature) <= _MAX_SIGNATURE
    ):
        return None
    try:
        header = orjson.loads(urlsafe_b64decode(head))
        claims = orjson.loads(urlsafe_b64decode(body))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        return None
    if type(header) is not dict or type(claims) is not dict or not header.keys() <= _PLAIN_HEADER:
        return None
    if any(type(value) is not str for value in header.values()) or "alg" not in header:
        return None
    if "kid" not in header:
        return None
    return header, claims, head + b"." + body, signature


def _signed(verifier: tuple[Any, Any], signing_input: bytes, signature: bytes) -> bool:
    """joserfc's own check of the signature (False also when joserfc would refuse it some
    other way, e.g. the key's ``key_ops``: then its whole path gives the verdict)."""
    model, key = verifier
    try:
        return bool(model.verify(signing_input, urlsafe_b64decode(signature), key))
    except Exception:  # joserfc's path decides
        return False


def _principal(claims: dict[str, Any]) -> Principal:
    subject = str(claims["sub"])
    scope = claims.get("scope")
    if isinstance(scope, str):
        scopes = frozenset(scope.split())
    elif isinstance(claims.get("scp"), list):
        scopes = frozenset(str(s) for s in claims["scp"])
    else:
        scopes = frozenset()
    tier = claims.get("tier")
    client = claims.get("client_id") or claims.get("azp")
    session = claims.get("sid")
    return Principal(
        kind="user",
        id=subject,
        user_id=subject,
        tier=tier if isinstance(tier, str) else None,
        scopes=scopes,
        client_name=client if isinstance(client, str) else None,
        session_id=session if isinstance(session, str) and session else None,
        claims=claims,
    )
