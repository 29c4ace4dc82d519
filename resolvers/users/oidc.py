"""OpenID Connect sign-in, the protocol half: authorization code flow with PKCE, `state` and
`nonce`, through authlib's OAuth 2 client (docs/identity.md).

1. `OidcClients.start` makes the authorization URL for a configured provider: a fresh
   `state` (the flow's name), `nonce` and PKCE `code_verifier` (S256 challenge in the URL),
   kept in Redis for `OIDC_FLOW_TTL_SECONDS` with the provider, the redirect URI (one of
   `OIDC_REDIRECT_URIS`, exact match), the purpose and, for a confirmation, the viewer.
2. The client sends the user there; the provider redirects to the redirect URI with `code`
   and `state`.
3. `OidcClients.finish` takes the flow out of Redis (once: a replayed `state` finds
   nothing), exchanges the code at the provider's token endpoint with the code verifier,
   and verifies the ID token against the provider's JWKS: signature, `iss` (the configured
   issuer, which the discovery document must also name), `aud`/`azp` (our client id),
   `exp`/`iat`, the flow's `nonce`, `at_hash`; a confirmation also needs a recent
   `auth_time`. What comes out is a `VerifiedIdentity`; resolvers/users/oidc_accounts.py
   turns it into an account and a session.

Discovery documents and JWKS are cached per process (authlib's client); a token signed
with a key id the cached JWKS lacks makes one refetch (key rotation at the provider).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx2
from authlib.integrations.base_client import BaseApp, FrameworkIntegration, OAuthError
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from puppies.settings import OidcProvider, Settings
from resolvers.errors import BadInput
from resolvers.runtime import Resources

log = logging.getLogger(__name__)

FLOW_PREFIX = "puppies:oidc:flow:"


class Purpose(StrEnum):
    SIGN_IN = "sign_in"  # sign in or sign up
    CONFIRM = "confirm"  # prove again who you are (deleteAccount), a fresh log-in required


class OidcFailure(Exception):
    """An expected failure of a sign-in, reported in the payload's errors."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class Flow:
    provider: str
    redirect_uri: str
    nonce: str
    code_verifier: str
    purpose: Purpose
    user_id: int | None

    def dump(self) -> str:
        return json.dumps(
            {
                "provider": self.provider,
                "redirect_uri": self.redirect_uri,
                "nonce": self.nonce,
                "code_verifier": self.code_verifier,
                "purpose": self.purpose.value,
                "user_id": self.user_id,
            }
        )

    @classmethod
    def load(cls, raw: bytes | str) -> Flow:
        data = json.loads(raw)
        return cls(
            provider=str(data["provider"]),
            redirect_uri=str(data["redirect_uri"]),
            nonce=str(data["nonce"]),
            code_verifier=str(data["code_verifier"]),
            purpose=Purpose(data["purpose"]),
            user_id=int(data["user_id"]) if data.get("user_id") is not None else None,
        )


@dataclass(frozen=True)
class VerifiedIdentity:
    provider: str
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    preferred_username: str | None
    auth_time: int | None
    purpose: Purpose
    flow_user_id: int | None  # the viewer who started a confirmation


class _ProviderApp(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):
    """authlib's asynchronous OAuth 2 / OpenID Connect client app, on httpx."""

    client_cls = AsyncOAuth2Client


def signed_client_secret(provider: OidcProvider, *, now: float | None = None) -> str:
    """The client secret a provider such as Apple wants: an ES256 JWT the app signs."""
    spec = provider.signed_client_secret
    if spec is None:
        raise ValueError("this provider has no signed_client_secret")
    issued = int(now if now is not None else time.time())
    key = ECKey.import_key(spec.private_key_file.read_bytes())
    claims = {
        "iss": spec.team_id,
        "iat": issued,
        "exp": issued + spec.ttl_seconds,
        "aud": spec.audience,
        "sub": provider.client_id,
    }
    return jwt.encode({"alg": "ES256", "kid": spec.key_id}, claims, key, algorithms=["ES256"])


def _is_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class OidcClients:
    """The configured providers' authlib clients, made on first use, one set per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._apps: dict[str, _ProviderApp] = {}

    def names(self) -> list[str]:
        return sorted(self.settings.oidc_providers)

    def provider(self, name: str, field: str = "provider") -> OidcProvider:
        found = self.settings.oidc_providers.get(name)
        if found is None:
            known = self.names()
            raise BadInput(
                f"no OpenID Connect provider {name!r}; "
                + (f"use one of {known}" if known else "none is configured on this server"),
                field=field,
            )
        return found

    def _app(self, name: str) -> _ProviderApp:
        app = self._apps.get(name)
        if app is None:
            provider = self.provider(name)
            secret = provider.client_secret.get_secret_value() if provider.client_secret else None
            app = _ProviderApp(
                FrameworkIntegration(name),
                name,
                client_id=provider.client_id,
                client_secret=secret,
                server_metadata_url=provider.discovery_url,
                client_kwargs={
                    "scope": " ".join(provider.scopes),
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": provider.token_endpoint_auth_method,
                    "timeout": self.settings.oidc_http_timeout_seconds,
                },
            )
            self._apps[name] = app
        return app

    async def _metadata(self, name: str) -> dict[str, Any]:
        app = self._app(name)
        try:
            metadata: dict[str, Any] = await app.load_server_metadata()
        except (httpx2.HTTPError, ValueError) as exc:
            raise OidcFailure(
                "OIDC_PROVIDER_UNAVAILABLE",
                f"cannot reach the {name} sign-in service right now; try again later",
            ) from exc
        issuer = self.provider(name).issuer
        if metadata.get("issuer") != issuer:
            log.error(
                "OIDC provider %s: the discovery document names issuer %r, not %r",
                name,
                metadata.get("issuer"),
                issuer,
            )
            app.server_metadata.pop("_loaded_at", None)  # read it again next time
            raise OidcFailure(
                "OIDC_PROVIDER_UNAVAILABLE", f"the {name} sign-in service is misconfigured"
            )
        return metadata

    # ---- 1. start ---------------------------------------------------------------------
    async def start(
        self,
        res: Resources,
        name: str,
        redirect_uri: str,
        *,
        purpose: Purpose = Purpose.SIGN_IN,
        user_id: int | None = None,
    ) -> Authorization:
        provider = self.provider(name)
        if redirect_uri not in self.settings.oidc_redirect_uris:
            raise BadInput(
                "this redirect URI is not allowed; use one listed in OIDC_REDIRECT_URIS "
                "(exact match)",
                field="redirectUri",
            )
        if purpose is Purpose.CONFIRM and user_id is None:
            raise BadInput("log in first: a confirmation is for the logged-in account")
        await self._metadata(name)
        extra: dict[str, Any] = {}
        if provider.response_mode is not None:
            extra["response_mode"] = provider.response_mode
        if purpose is Purpose.CONFIRM:
            extra["prompt"] = "login"
            extra["max_age"] = str(self.settings.oidc_confirm_max_age_seconds)
        made = await self._app(name).create_authorization_url(redirect_uri, **extra)
        flow = Flow(
            provider=name,
            redirect_uri=redirect_uri,
            nonce=made["nonce"],
            code_verifier=made["code_verifier"],
            purpose=purpose,
            user_id=user_id,
        )
        ttl = self.settings.oidc_flow_ttl_seconds
        await res.redis.set(FLOW_PREFIX + made["state"], flow.dump(), ex=ttl, nx=True)
        return Authorization(
            url=made["url"],
            state=made["state"],
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )

    # ---- 3. finish ----------------------------------------------------------------------
    async def take_flow(self, res: Resources, state: str) -> Flow:
        """The flow named by `state`, removed from Redis so it is used once."""
        if not state or len(state) > 200:
            raise OidcFailure(
                "OIDC_STATE_INVALID", "this sign-in is unknown; start again", field="state"
            )
        async with res.redis.pipeline(transaction=True) as pipe:
            pipe.get(FLOW_PREFIX + state)
            pipe.delete(FLOW_PREFIX + state)
            raw, _ = await pipe.execute()
        if raw is None:
            raise OidcFailure(
                "OIDC_STATE_INVALID",
                "this sign-in is unknown, expired or already used; start again",
                field="state",
            )
        return Flow.load(raw)

    async def finish(self, res: Resources, state: str, code: str) -> VerifiedIdentity:
        flow = await self.take_flow(res, state)
        if not code or len(code) > 2000:
            raise OidcFailure("OIDC_CODE_REJECTED", "give the code the provider sent", "code")
        name = flow.provider
        if name not in self.settings.oidc_providers:
            raise OidcFailure("OIDC_STATE_INVALID", "this sign-in's provider is gone; start again")
        provider = self.provider(name)
        app = self._app(name)
        await self._metadata(name)
        if provider.signed_client_secret is not None:
            app.client_secret = signed_client_secret(provider)
        try:
            token = await app.fetch_access_token(
                redirect_uri=flow.redirect_uri, code=code, code_verifier=flow.code_verifier
            )
        except OAuthError as exc:
            raise OidcFailure(
                "OIDC_CODE_REJECTED",
                f"the {name} sign-in service refused the code ({exc.error}"
                + (f": {exc.description}" if exc.description else "")
                + "); start again",
                "code",
            ) from exc
        except (httpx2.HTTPError, ValueError) as exc:
            raise OidcFailure(
                "OIDC_PROVIDER_UNAVAILABLE",
                f"cannot reach the {name} sign-in service right now; try again later",
            ) from exc
        if not token.get("id_token"):
            raise OidcFailure("OIDC_ID_TOKEN_INVALID", f"{name} sent no ID token")
        try:
            claims = await app.parse_id_token(token, nonce=flow.nonce)
        except (JoseError, ValueError) as exc:
            detail = getattr(exc, "description", None) or str(exc) or type(exc).__name__
            log.warning("OIDC provider %s: ID token refused: %s", name, detail)
            raise OidcFailure(
                "OIDC_ID_TOKEN_INVALID", f"the ID token from {name} does not verify ({detail})"
            ) from exc
        except httpx2.HTTPError as exc:
            raise OidcFailure(
                "OIDC_PROVIDER_UNAVAILABLE",
                f"cannot fetch the {name} signing keys right now; try again later",
            ) from exc
        auth_time = claims.get("auth_time")
        if flow.purpose is Purpose.CONFIRM:
            limit = self.settings.oidc_confirm_max_age_seconds + 60
            if not isinstance(auth_time, int) or time.time() - auth_time > limit:
                raise OidcFailure(
                    "OIDC_REAUTHENTICATION_REQUIRED",
                    f"{name} did not ask for your password again; confirm once more",
                )
        email = claims.get("email")
        return VerifiedIdentity(
            provider=name,
            issuer=provider.issuer,
            subject=str(claims["sub"]),
            email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
            email_verified=_is_true(claims.get("email_verified")),
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
            preferred_username=claims.get("preferred_username")
            if isinstance(claims.get("preferred_username"), str)
            else None,
            auth_time=auth_time if isinstance(auth_time, int) else None,
            purpose=flow.purpose,
            flow_user_id=flow.user_id,
        )
