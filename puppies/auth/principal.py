"""The principal the router forwards to subgraphs, verified here.

The router verifies the client's credential once and sends the result on every subgraph
request as a short-lived HS256 JWT in one header (``x-puppies-principal`` by default),
signed with a secret the router and the subgraphs share (the router's
``authentication.subgraph.principal.secret`` = the subgraphs' ``ROUTER_PRINCIPAL_SECRET``).
The token's format is the router's contract (graph/authentication/principal_token.py):
``iss`` puppies-router, ``aud`` puppies-subgraphs, ``exp``, ``kind`` (anonymous, user,
api_key, router), ``sub``, ``uid``, ``tier``, ``scope``, ``client``, ``sid`` (the session
of a user's token, from its own ``sid`` claim); the header's ``kid``
is the first 8 hex digits of the SHA-256 of the secret, so the previous secret can still
verify during a rotation.

A verified token is remembered until it expires: the router reuses one token per
principal for half its lifetime, so a subgraph checks each signature once. Expired tokens
are swept out every SWEEP_SECONDS, so the cache holds about the tokens of the last minute
(before, they stayed until `cache_size` of them made it start again: the analytics
subgraph, with few requests per viewer, grew ~1 MiB a minute for ~9 minutes so,
bench/RESULTS.md "Session 24: analytics memory").

A token not seen before (each new viewer's: most of a page's subgraph requests under many
viewers) is checked by joserfc the first time its protected header is seen; once one token
with that header verified, later ones with the same header text are checked without
joserfc's objects (`_known_signature`): the HMAC-SHA256 of `header.payload` with that
header's key, encoded, must equal the signature text exactly, and the payload is decoded by
joserfc's own functions. Whatever does not match exactly goes through joserfc, so every
token is accepted or refused as joserfc would, with the same claims checks (tests/puppies/
auth/test_router_principal.py compares both on generated and tampered tokens).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jws import extract_compact
from joserfc.util import urlsafe_b64decode

from puppies.auth.errors import AuthError
from puppies.auth.viewer import ANONYMOUS, Viewer

ISSUER = "puppies-router"
AUDIENCE = "puppies-subgraphs"
ALGORITHM = "HS256"
LEEWAY_SECONDS = 5
# How often verify() drops the expired tokens from its cache (one pass over it).
SWEEP_SECONDS = 30.0
# distinct protected headers remembered for the quick signature check (the router sends one
# per secret; bounded so that a caller cannot grow the map)
KNOWN_HEADERS = 16
# the claims the router sends (graph/authentication/principal_token.py); joserfc's registry
# checks iss, aud, exp, iat, sub and kind of these, and nothing of the others
_USUAL_CLAIMS = frozenset(
    {"iss", "aud", "exp", "iat", "kind", "sub", "uid", "sid", "tier", "scope", "client"}
)


@dataclass(frozen=True)
class ForwardedPrincipal:
    kind: str  # anonymous | user | api_key | router
    viewer: Viewer
    client: str | None = None

    @property
    def is_router(self) -> bool:
        return self.kind == "router"


def _kid(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


class PrincipalVerifier:
    """Checks the router's signed principal header; remembers good tokens until expiry."""

    def __init__(
        self,
        secrets: Iterable[str],
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = {_kid(s): OctKey.import_key(s.encode()) for s in secrets if s}
        self._secrets = {_kid(s): s.encode() for s in secrets if s}
        self.cache_size = cache_size
        self.clock = clock
        self._cache: dict[str, tuple[float, ForwardedPrincipal]] = {}
        # protected header text (first segment) -> the secret that verified a token with it
        self._headers: dict[str, bytes] = {}
        self._next_sweep = 0.0

    @property
    def cached(self) -> int:
        """Tokens remembered now."""
        return len(self._cache)

    def verify(self, token: str) -> ForwardedPrincipal:
        now = self.clock()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        claims = self._known_signature(token)
        if claims is None:
            claims = self._decode(token)
        try:
            if not self._usual_claims(claims, int(now)):
                jwt.JWTClaimsRegistry(
                    now=int(now),
                    leeway=LEEWAY_SECONDS,
                    iss={"essential": True, "value": ISSUER},
                    aud={"essential": True, "value": AUDIENCE},
                    exp={"essential": True},
                    kind={"essential": True},
                ).validate(claims)
            found = _principal(claims)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise AuthError("the router's principal header does not verify") from exc
        if now >= self._next_sweep:
            self._cache = {t: hit for t, hit in self._cache.items() if hit[0] > now}
            self._next_sweep = now + SWEEP_SECONDS
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), found)  # type: ignore[arg-type]
        return found

    @staticmethod
    def _usual_claims(claims: dict[str, object], now: int) -> bool:
        """True for claims of the router's usual shape that joserfc's registry (below)
        accepts: only known claim names, `iss` and `aud` exactly the expected strings, an
        integer `exp` not past (with the leeway), a non-empty string `kind`, an integer
        `iat` not in the future, a string `sub`. False for anything else, which the
        registry then judges (it may still accept it)."""
        if not claims.keys() <= _USUAL_CLAIMS:
            return False
        iss, aud, exp, kind = (
            claims.get("iss"),
            claims.get("aud"),
            claims.get("exp"),
            claims.get("kind"),
        )
        if type(iss) is not str or iss != ISSUER or type(aud) is not str or aud != AUDIENCE:
            return False
        if type(exp) is not int or exp <= now - LEEWAY_SECONDS:
            return False
        if type(kind) is not str or not kind:
            return False
        if "iat" in claims:
            iat = claims["iat"]
            if type(iat) is not int or iat > now + LEEWAY_SECONDS:
                return False
        return "sub" not in claims or type(claims["sub"]) is str

    def _decode(self, token: str) -> dict[str, object]:
        """The claims of a token whose signature joserfc verifies (AuthError otherwise);
        its protected header is remembered for `_known_signature`."""
        try:
            kid = extract_compact(token.encode("ascii")).protected.get("kid")
        except (JoseError, ValueError, UnicodeError) as exc:
            raise AuthError("the router's principal header is malformed") from exc
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise AuthError("the router's principal header is signed with an unknown key")
        try:
            decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise AuthError("the router's principal header does not verify") from exc
        header = token.split(".", 1)[0]
        if header not in self._headers:
            if len(self._headers) >= KNOWN_HEADERS:
                self._headers.clear()
            self._headers[header] = self._secrets[kid]  # type: ignore[index]
        return decoded.claims

    def _known_signature(self, token: str) -> dict[str, object] | None:
        """The claims of a token whose protected header verified before (with the same
        key) and whose signature is exactly that key's over this header and payload;
        None for any other token (joserfc then decides)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header, payload, signature = parts
        secret = self._headers.get(header)
        if secret is None:
            return None
        try:
            signing_input = f"{header}.{payload}".encode("ascii")
            expected = urlsafe_b64encode(
                hmac.new(secret, signing_input, hashlib.sha256).digest()
            ).rstrip(b"=")
            if not hmac.compare_digest(expected, signature.encode("ascii")):
                return None
            # as joserfc's jwt.decode reads a verified payload
            claims = json.loads(urlsafe_b64decode(payload.encode("ascii")))
        except (ValueError, TypeError, UnicodeError):
            return None
        return claims if isinstance(claims, dict) else None


def _principal(claims: dict[str, object]) -> ForwardedPrincipal:
    kind = str(claims["kind"])
    client = claims.get("client")
    client_name = client if isinstance(client, str) else None
    if kind == "user":
        sid = claims.get("sid")
        session = int(sid) if isinstance(sid, str) and sid.isdigit() else None
        viewer = Viewer(user_id=int(str(claims["sub"])), kind="user", session_id=session)
        return ForwardedPrincipal(kind, viewer)
    if kind == "api_key":
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        tier = claims.get("tier")
        viewer = Viewer(
            user_id=int(str(claims["uid"])),
            kind="api_key",
            tier=tier if isinstance(tier, str) else None,
            scopes=scopes,
            api_key_id=int(str(claims["sub"])),
        )
        return ForwardedPrincipal(kind, viewer, client_name)
    if kind in ("anonymous", "router"):
        return ForwardedPrincipal(kind, ANONYMOUS, client_name)
    raise ValueError(f"unknown principal kind {kind!r}")
