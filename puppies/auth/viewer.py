"""Who is calling: `Authorization: Bearer <access JWT>` or an API key (`Bearer pk_...`,
`ApiKey pk_...` or an `X-API-Key` header)."""

from __future__ import annotations

from dataclasses import dataclass, field

from puppies.auth.apikeys import ApiKeyVerifier, looks_like_api_key
from puppies.auth.errors import AuthError
from puppies.auth.tokens import KeySource, verify_access_token
from puppies.settings import Settings


@dataclass(frozen=True)
class Viewer:
    user_id: int | None = None
    kind: str = "anonymous"  # "anonymous" | "user" | "api_key"
    tier: str | None = None
    scopes: frozenset[str] | None = None  # None: a user session, every scope
    api_key_id: int | None = None
    token_id: str | None = field(default=None, compare=False)
    issued_at: float | None = field(default=None, compare=False)  # the access token's iat
    # a session's refresh-token family (the access token's `sid` claim), when known
    session_id: int | None = field(default=None, compare=False)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def require_user(self) -> int:
        if self.user_id is None:
            raise AuthError("you must be logged in (send Authorization: Bearer <access token>)")
        return self.user_id

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes

    def require_scope(self, scope: str) -> int:
        user_id = self.require_user()
        if not self.has_scope(scope):
            raise AuthError(f"this API key lacks the {scope!r} scope", code="FORBIDDEN")
        return user_id


ANONYMOUS = Viewer()


class Authenticator:
    def __init__(
        self, settings: Settings, keys: KeySource, api_keys: ApiKeyVerifier | None = None
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.api_keys = api_keys

    async def authenticate(self, authorization: str | None, api_key: str | None = None) -> Viewer:
        """The viewer for these headers; AuthError when a credential is sent but bad."""
        if api_key:
            return await self._api_key(api_key.strip())
        if not authorization:
            return ANONYMOUS
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if not credential:
            raise AuthError("the Authorization header has no credential")
        scheme = scheme.lower()
        if scheme == "apikey" or (scheme == "bearer" and looks_like_api_key(credential)):
            return await self._api_key(credential)
        if scheme != "bearer":
            raise AuthError("unsupported Authorization scheme (use Bearer)")
        claims = await verify_access_token(credential, self.keys, self.settings)
        issued = claims.raw.get("iat")
        return Viewer(
            user_id=claims.user_id,
            kind="user",
            token_id=claims.jti,
            issued_at=float(issued) if isinstance(issued, int | float) else None,
            session_id=claims.session_id,
        )

    async def _api_key(self, raw: str) -> Viewer:
        if self.api_keys is None:
            raise AuthError("API keys are not accepted here")
        p = await self.api_keys.verify(raw)
        return Viewer(
            user_id=p.user_id, kind="api_key", tier=p.tier, scopes=p.scopes, api_key_id=p.key_id
        )
