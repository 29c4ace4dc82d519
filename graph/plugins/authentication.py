"""``authentication``: who is calling, decided once at the router, and told to subgraphs.

- ``authentication.router.jwt``: access tokens verified against JWKS, with Apollo Router's
  keys (``jwks[]`` with ``url``, ``issuer``/``issuers``, ``audiences``, ``algorithms``,
  ``poll_interval``, ``headers``; ``header_name``, ``header_value_prefix``,
  ``ignore_other_prefixes``, ``sources``, ``on_error``).
- ``authentication.router.api_keys``: partner API keys (``X-Api-Key``, or ``Authorization:
  Bearer pk_...``) resolved by the service that owns them, cached, revoked through Redis.
- ``authentication.subgraph.principal``: the verified principal forwarded to every subgraph
  request as a signed header (graph/authentication/principal_token.py).

A request without a credential is anonymous. A credential that fails (expired, bad
signature, unknown issuer, revoked or unknown key) is refused before any subgraph is
called: HTTP 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` and an
``UNAUTHENTICATED`` error; on WebSocket the socket is closed with 4403.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from graph.authentication.api_keys import ApiKeyResolver
from graph.authentication.credentials import CredentialError
from graph.authentication.jwks import Jwks
from graph.authentication.jwt import DEFAULT_ALGORITHMS, JwtVerifier, TrustedIssuer
from graph.authentication.principal_token import ROUTER, PrincipalSigner
from graph.authentication.revocations import RevokedSubjects
from graph.http import HttpError
from graph.plugins.base import Duration, StrictModel
from graph.plugins.redis import RedisConfig, RedisConnections
from graph.serving.request import ANONYMOUS, Principal, RouterRequest
from graph.serving.stage import Stage

logger = logging.getLogger("graph.authentication")


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


class HeaderValue(StrictModel):
    name: str
    value: str


class JwksConfig(StrictModel):
    """One ``jwks`` entry: a key set and what its tokens must say."""

    url: str
    issuer: str | None = None
    issuers: list[str] | None = None
    audiences: list[str] | None = None
    algorithms: list[str] | None = None
    poll_interval: Duration = 60.0
    headers: list[HeaderValue] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value.startswith("file://"):
            return value
        return _http_url(value)

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = sorted(set(value) - set(DEFAULT_ALGORITHMS))
            if unknown:
                raise ValueError(
                    f"unsupported algorithms {unknown}; use some of {list(DEFAULT_ALGORITHMS)}"
                )
        return value

    def all_issuers(self) -> frozenset[str] | None:
        found = set(self.issuers or ()) | ({self.issuer} if self.issuer else set())
        return frozenset(found) if found else None


class JwtSource(StrictModel):
    """Another place to look for the token: a header (with its prefix) or a cookie."""

    type: Literal["header", "cookie"]
    name: str
    value_prefix: str | None = None

    @model_validator(mode="after")
    def _prefix_for_headers(self) -> JwtSource:
        if self.type == "cookie" and self.value_prefix is not None:
            raise ValueError("value_prefix goes with type: header, not cookie")
        return self


class SubjectRevocationsConfig(StrictModel):
    """Tokens refused before they expire (graph/authentication/revocations.py): a Redis
    sorted set of subject -> revocation time, and the channel announcing additions."""

    redis: RedisConfig
    key: str = "puppies:auth:revoked-subjects"
    channel: str = "puppies:auth:subjects:revoked"
    retention: Duration = 3600.0


class JwtConfig(StrictModel):
    jwks: list[JwksConfig] = Field(min_length=1)
    header_name: str = "authorization"
    header_value_prefix: str = "Bearer"
    ignore_other_prefixes: bool = False
    sources: list[JwtSource] = Field(default_factory=list)
    on_error: Literal["Error", "Continue"] = "Error"
    revocations: SubjectRevocationsConfig | None = None


class RevocationsConfig(StrictModel):
    redis: RedisConfig
    channel: str = "puppies:api-keys:revoked"


class ApiKeysConfig(StrictModel):
    """Partner API keys, resolved by ``verify_url`` (the users subgraph's internal endpoint)."""

    verify_url: str
    header_name: str = "x-api-key"
    bearer_prefix: str = "pk_"
    cache_ttl: Duration = 60.0
    refusal_ttl: Duration = 5.0
    timeout: Duration = 5.0
    revocations: RevocationsConfig | None = None

    @field_validator("verify_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class RouterAuthenticationConfig(StrictModel):
    jwt: JwtConfig | None = None
    api_keys: ApiKeysConfig | None = None


class PrincipalForwardingConfig(StrictModel):
    """The verified principal, signed, on every subgraph request."""

    header_name: str = "x-puppies-principal"
    secret: SecretStr
    ttl: Duration = 60.0

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("the principal signing secret must be at least 32 characters")
        return value


class SubgraphAuthenticationConfig(StrictModel):
    principal: PrincipalForwardingConfig | None = None


class AuthenticationConfig(StrictModel):
    """``authentication``: ``router`` (verify credentials), ``subgraph`` (forward them)."""

    router: RouterAuthenticationConfig = Field(default_factory=RouterAuthenticationConfig)
    subgraph: SubgraphAuthenticationConfig = Field(default_factory=SubgraphAuthenticationConfig)

    @property
    def enabled(self) -> bool:
        return self.router.jwt is not None or self.router.api_keys is not None


def _unauthenticated(message: str, *, unavailable: bool = False) -> HttpError:
    if unavailable:
        return HttpError(503, message, "AUTHENTICATION_UNAVAILABLE", [(b"retry-after", b"1")])
    escaped = message.replace("\\", "\\\\").replace('"', "'")
    challenge = f'Bearer error="invalid_token", error_description="{escaped}"'
    return HttpError(
        401,
        message,
        "UNAUTHENTICATED",
        [(b"www-authenticate", challenge.encode("latin-1", "replace"))],
    )


class AuthenticationStage(Stage):
    """Finds the credential, verifies it, and sets ``request.principal``."""

    name = "authentication"

    def __init__(
        self,
        config: AuthenticationConfig,
        redis: RedisConnections,
        signer: PrincipalSigner | None = None,
    ) -> None:
        router = config.router
        self.jwt_config = router.jwt
        self.revoked: RevokedSubjects | None = None
        self.jwks: list[Jwks] = []
        self.jwt: JwtVerifier | None = None
        if router.jwt is not None:
            trusted = []
            for entry in router.jwt.jwks:
                jwks = Jwks(
                    entry.url,
                    poll_interval=entry.poll_interval,
                    headers={h.name: h.value for h in entry.headers},
                )
                self.jwks.append(jwks)
                audiences = frozenset(entry.audiences) if entry.audiences else None
                algorithms = tuple(entry.algorithms or DEFAULT_ALGORITHMS)
                trusted.append(TrustedIssuer(jwks, entry.all_issuers(), audiences, algorithms))
            self.jwt = JwtVerifier(trusted)
            revocations = router.jwt.revocations
            if revocations is not None:
                self.revoked = RevokedSubjects(
                    redis.client(revocations.redis),
                    key=revocations.key,
                    channel=revocations.channel,
                    retention=revocations.retention,
                )
            self.header = router.jwt.header_name.lower().encode("latin-1")
            self.prefix = router.jwt.header_value_prefix
            self.continue_on_error = router.jwt.on_error == "Continue"
        else:
            self.header = b"authorization"
            self.prefix = "Bearer"
            self.continue_on_error = False
        self.api_keys: ApiKeyResolver | None = None
        self.api_key_header = b"x-api-key"
        self.bearer_prefix = "pk_"
        keys = router.api_keys
        if keys is not None:

            def service_headers() -> Mapping[str, str]:
                if signer is None or principal_header is None:
                    return {}
                return {principal_header: signer.token_for(ROUTER)}

            forwarding = config.subgraph.principal
            principal_header = forwarding.header_name if forwarding is not None else None
            self.api_keys = ApiKeyResolver(
                keys.verify_url,
                cache_ttl=keys.cache_ttl,
                refusal_ttl=keys.refusal_ttl,
                timeout=keys.timeout,
                service_headers=service_headers,
                redis=redis.client(keys.revocations.redis) if keys.revocations else None,
                channel=keys.revocations.channel if keys.revocations else "",
            )
            self.api_key_header = keys.header_name.lower().encode("latin-1")
            self.bearer_prefix = keys.bearer_prefix

    async def start(self) -> None:
        for jwks in self.jwks:
            await jwks.start()
        if self.revoked is not None:
            await self.revoked.start()
        if self.api_keys is not None:
            await self.api_keys.start()

    async def stop(self) -> None:
        for jwks in self.jwks:
            await jwks.stop()
        if self.revoked is not None:
            await self.revoked.stop()
        if self.api_keys is not None:
            await self.api_keys.stop()

    async def on_request(self, request: RouterRequest) -> None:
        request.principal = await self.authenticate(request)

    async def on_connect(self, request: RouterRequest) -> None:
        request.principal = await self.authenticate(request)

    async def authenticate(self, request: RouterRequest) -> Principal:
        """The principal for the request's credential; HttpError 401 when it is bad."""
        try:
            return await self._authenticate(request)
        except CredentialError as error:
            if self.continue_on_error and not error.unavailable:
                return ANONYMOUS
            raise _unauthenticated(error.message, unavailable=error.unavailable) from None

    async def _authenticate(self, request: RouterRequest) -> Principal:
        if self.api_keys is not None:
            key = request.header(self.api_key_header)
            if key is not None:
                return await self.api_keys.resolve(key.decode("latin-1").strip())
        token = self._token(request)
        if token is None:
            return ANONYMOUS
        if self.api_keys is not None and token.startswith(self.bearer_prefix):
            return await self.api_keys.resolve(token)
        if self.jwt is None:
            raise CredentialError(
                "this router does not accept bearer tokens; send an API key"
                if self.api_keys is not None
                else "this router accepts no credentials"
            )
        principal = await self.jwt.verify(token)
        if self.revoked is not None:
            await self.revoked.check(principal.id, principal.claims)
        return principal

    def _token(self, request: RouterRequest) -> str | None:
        raw = request.header(self.header)
        if raw is not None:
            value = raw.decode("latin-1").strip()
            scheme, _, rest = value.partition(" ")
            if self.prefix == "":
                return value or None
            if scheme.lower() == self.prefix.lower() and rest.strip():
                return rest.strip()
            if scheme.lower() == "apikey" and self.api_keys is not None and rest.strip():
                return rest.strip()  # Authorization: ApiKey pk_...
            if scheme.lower() == self.prefix.lower():
                raise CredentialError(f"the {self.header.decode()} header has no token")
            if self.jwt_config is None or not self.jwt_config.ignore_other_prefixes:
                raise CredentialError(
                    f"the {self.header.decode()} header must be '{self.prefix} <token>'"
                )
        if self.jwt_config is None:
            return None
        for source in self.jwt_config.sources:
            if source.type == "header":
                found = request.header(source.name.lower().encode("latin-1"))
                if found is None:
                    continue
                value = found.decode("latin-1").strip()
                prefix = source.value_prefix
                if prefix:
                    scheme, _, rest = value.partition(" ")
                    if scheme.lower() != prefix.lower() or not rest.strip():
                        continue
                    value = rest.strip()
                if value:
                    return value
            else:
                cookie = request.header(b"cookie")
                if cookie is None:
                    continue
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(cookie.decode("latin-1"))
                except CookieError:
                    continue
                morsel = jar.get(source.name)
                if morsel is not None and morsel.value:
                    return morsel.value
        return None


class PrincipalForwardingStage(Stage):
    """Adds the signed principal to every subgraph request (after header propagation, so no
    propagated client header can take its place)."""

    name = "principal_forwarding"

    def __init__(self, config: PrincipalForwardingConfig, signer: PrincipalSigner) -> None:
        self.header = config.header_name.lower()
        self.signer = signer

    def subgraph_headers(
        self, request: RouterRequest, subgraph: str, headers: dict[str, str]
    ) -> None:
        headers[self.header] = self.signer.token_for(request.principal)
        if request.client_ip is not None:
            # the client's address as the router determined it (plugins/client_ip.py), so a
            # subgraph that trusts the router (its peer) sees the client, not the router
            headers["x-forwarded-for"] = request.client_ip


def signer_for(config: AuthenticationConfig) -> PrincipalSigner | None:
    forwarding = config.subgraph.principal
    if forwarding is None:
        return None
    return PrincipalSigner(forwarding.secret.get_secret_value(), forwarding.ttl)
