"""Settings for every process, from the environment and `.env` (pydantic-settings).

Built once at start-up by the CLI (or a test fixture) and passed down; nothing reads the
environment at import time. An invalid value stops start-up with a message naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from puppies.errors import ConfigError

# Development only: the secret the dev router.yaml and these settings share out of the box,
# so `puppies dev` forwards a signed principal without configuration. Refused in production.
DEV_ROUTER_PRINCIPAL_SECRET = "puppies-development-router-principal-secret"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1")


class SignedClientSecret(BaseModel):
    """A client secret the app signs itself (Sign in with Apple): an ES256 JWT from the
    developer account's team id, key id and private key (a .p8 PEM file)."""

    model_config = ConfigDict(extra="forbid")

    team_id: str = Field(min_length=1)
    key_id: str = Field(min_length=1)
    private_key_file: Path
    audience: str = "https://appleid.apple.com"
    ttl_seconds: int = Field(default=3600, ge=60, le=180 * 24 * 3600)


class OidcProvider(BaseModel):
    """One OpenID Connect provider users may sign in with (docs/identity.md)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(description="the issuer URL; its discovery document is read from it")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    signed_client_secret: SignedClientSecret | None = None
    display_name: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"
    )
    response_mode: Literal["query", "form_post"] | None = None
    link_by_email: bool = True

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(v)):
            return v  # compared with the discovery document's and tokens' `iss` as is
        raise ValueError("an issuer is an https:// URL (http:// only on localhost)")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, v: list[str]) -> list[str]:
        if "openid" not in v:
            raise ValueError("the scopes must include openid")
        return v

    @model_validator(mode="after")
    def _secret(self) -> OidcProvider:
        if self.client_secret is not None and self.signed_client_secret is not None:
            raise ValueError("give client_secret or signed_client_secret, not both")
        if self.token_endpoint_auth_method != "none" and (
            self.client_secret is None and self.signed_client_secret is None
        ):
            raise ValueError(
                "a confidential client needs client_secret (or signed_client_secret); "
                "a public one sets token_endpoint_auth_method: none"
            )
        return self

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Services. Unset means "start an embedded, real server" in `puppies dev` and in tests.
    database_url: str | None = Field(
        default=None, description="postgresql+asyncpg://user:pass@host:port/db"
    )
    redis_url: str | None = Field(default=None, description="redis://host:port/0")
    # A Redis that accepts connections and never answers (frozen, partitioned) fails a
    # command of a subgraph, the worker or a CLI after this long, like a Redis that is down
    # (docs/operations.md, "Redis dies"); pub/sub listeners read with timeouts of their own.
    redis_socket_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    redis_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=60)
    s3_endpoint_url: str | None = Field(default=None, description="http://host:port")
    s3_bucket: str = "puppies-media"
    s3_region: str = "us-east-1"
    s3_access_key_id: str = "puppies"
    s3_secret_access_key: str = "puppies-secret"
    media_public_base_url: str | None = Field(
        default=None, description="CDN base URL for media; presigned GETs when unset"
    )

    # Where embedded services and dev keys keep their data.
    data_dir: Path = Path(".puppies")

    # Ports (DESIGN.md).
    host: str = "127.0.0.1"
    router_port: int = 4000
    users_port: int = 4001
    posts_port: int = 4002
    feed_port: int = 4003
    analytics_port: int = 4004
    # Embedded services: outside 4000-4004 and outside Linux's ephemeral port range
    # (32768-60999), which outgoing connections draw their local ports from.
    embedded_postgres_port: int = Field(default=15432, ge=1, le=65535)
    embedded_redis_port: int = Field(default=16379, ge=1, le=65535)
    embedded_s3_port: int = Field(
        default=19000, ge=1, le=65526, description="and the nine ports above it (S3's internals)"
    )

    # Database pool. Connections opened are kept: SQLAlchemy closes an overflow connection
    # as soon as it is returned, so every burst above DB_POOL_SIZE costs new PostgreSQL
    # backends, asyncpg's type introspection and every statement prepared again
    # (bench/RESULTS.md, "PostgreSQL connections"). A burst above the pool waits for a
    # connection instead; raise DB_MAX_OVERFLOW only for rare bursts.
    db_pool_size: int = Field(default=20, ge=1, le=200)
    db_max_overflow: int = Field(default=0, ge=0, le=200)
    # Open the pool to DB_POOL_SIZE when a subgraph or the worker starts (a fixed-size pool):
    # no connection is opened on a request's path, and the count is flat from the start.
    db_pool_prewarm: bool = True
    db_echo: bool = False

    # Auth.
    jwt_issuer: str = "puppies"
    jwt_audience: str = "puppies"
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30, le=24 * 3600)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    jwt_keys_dir: Path | None = Field(
        default=None, description="directory of PEM private keys; default <data_dir>/keys"
    )
    jwks_url: str | None = Field(
        default=None,
        description="where non-users processes fetch the JWKS; default the users subgraph",
    )
    # OpenID Connect sign-in (docs/identity.md): provider name -> its settings, as JSON in
    # OIDC_PROVIDERS; the redirect URIs clients may ask for (exact match), in
    # OIDC_REDIRECT_URIS.
    oidc_providers: dict[str, OidcProvider] = Field(default_factory=dict)
    oidc_redirect_uris: list[str] = Field(default_factory=list)
    oidc_flow_ttl_seconds: int = Field(
        default=600, ge=30, le=3600, description="time to finish a sign-in once started"
    )
    oidc_confirm_max_age_seconds: int = Field(
        default=300, ge=0, le=3600, description="how recent a confirming sign-in must be"
    )
    oidc_http_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The principal the router verified, forwarded to subgraphs as a signed header
    # (docs/users.md, "The router's principal"). Production requires a secret of its own.
    router_principal_secret: SecretStr = Field(default=SecretStr(DEV_ROUTER_PRINCIPAL_SECRET))
    router_principal_previous_secret: SecretStr | None = Field(
        default=None, description="still accepted while routers move to a new secret"
    )
    router_principal_header: str = "x-puppies-principal"
    api_key_revocation_channel: str = "puppies:api-keys:revoked"
    # Accounts whose access tokens stop working at once (a deletion): a Redis sorted set
    # (user id -> time) every router reads, and the channel that tells them at once
    # (docs/privacy.md; the router's authentication.router.jwt.revocations).
    revoked_subjects_key: str = "puppies:auth:revoked-subjects"
    subject_revocation_channel: str = "puppies:auth:subjects:revoked"
    password_reset_ttl_seconds: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600, description="how long a reset link works"
    )
    password_reset_url: str = Field(
        default="http://localhost:4000/app/#/reset-password?token={token}",
        description="the link mailed for a password reset; {token} is replaced",
    )
    password_reset_max_per_address: int = Field(
        default=3, ge=1, description="reset requests per address per window"
    )
    password_reset_max_per_ip: int = Field(
        default=20, ge=1, description="reset requests per client IP per window"
    )
    password_reset_window_seconds: int = Field(default=3600, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=15 * 60, ge=1)

    # Request limits shared by the subgraphs.
    max_text_input_length: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="characters in any one string input (fields with their own limit, "
        "such as a post's text, are checked against that too)",
    )
    max_page_size: int = Field(default=100, ge=1, le=1000)
    default_page_size: int = Field(default=20, ge=1, le=1000)

    # Feed: hybrid fan-out (docs/feed.md).
    feed_vip_threshold: int = Field(
        default=10_000,
        ge=1,
        description="followers at which an author's posts are merged at "
        "read time instead of being fanned out",
    )
    feed_follow_backfill: int = Field(
        default=50, ge=0, le=1000, description="followee posts copied into an inbox on follow"
    )
    feed_inbox_cap: int = Field(default=800, ge=1, description="entries kept per inbox")
    feed_fanout_batch: int = Field(
        default=10_000, ge=1, le=100_000, description="followers per fan-out statement"
    )
    feed_trim_every: int = Field(
        default=32, ge=1, description="each delivery into an inbox trims it with chance 1/N"
    )
    feed_read_timeout_ms: int = Field(
        default=250, ge=1, description="inbox read budget before the degraded answer"
    )
    feed_popular_size: int = Field(default=100, ge=1, le=1000)
    feed_fanout_lease_seconds: float = Field(
        default=15.0, gt=0, le=3600, description="a fan-out silent this long is resumed elsewhere"
    )

    # GDPR (docs/privacy.md): data export archives and account deletion.
    data_export_retention_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, description="an archive is deleted this long after"
    )
    data_export_link_seconds: int = Field(
        default=3600, ge=30, le=7 * 24 * 3600, description="a download link's lifetime"
    )
    data_export_max_per_day: int = Field(default=3, ge=1, le=1000)
    deletion_stall_seconds: int = Field(
        default=300, ge=10, description="a deletion without progress this long is resumed"
    )

    # Worker and transactional outbox (workers/relay.py, docs/events.md).
    worker_max_jobs: int = Field(default=20, ge=1, le=1000)
    worker_queue_name: str = "puppies:queue"
    # A running job stays reserved this long unless its worker renews the reservation (every
    # quarter of it): a job whose worker died runs again within this time (docs/events.md).
    worker_job_lease_seconds: float = Field(default=60.0, ge=2, le=3600)
    # The worker asks Redis for jobs when the relay (in the same process) queued some, and
    # otherwise every this many seconds: jobs queued by another process (a cron's, a retry
    # that was deferred, another worker's relay) wait at most this long (docs/events.md).
    worker_idle_poll_seconds: float = Field(default=0.5, ge=0.01, le=10)
    # A finished job's result stays in Redis this long; while it does, the relay refuses to
    # queue the same job id again. Every job is idempotent, so this only saves repeated
    # work; what it costs is Redis memory, which grows with the job rate times this
    # (an hour at 180 mix requests/s was ~190 MiB, bench/RESULTS.md "Soak").
    worker_keep_result_seconds: int = Field(default=120, ge=1, le=86_400)
    outbox_batch_size: int = Field(default=200, ge=1, le=10_000)
    # The relay wakes on NOTIFY; this is only its fallback poll (docs/events.md).
    outbox_poll_interval_seconds: float = Field(default=5.0, gt=0, le=60)
    outbox_retention_hours: int = Field(default=24, ge=1)

    # Posts, media and likes (docs/posts.md).
    post_max_text_length: int = Field(default=2000, ge=1, le=100_000)
    post_max_media: int = Field(default=4, ge=0, le=20)
    media_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    media_allowed_types: list[str] = ["image/jpeg", "image/png", "image/webp", "image/gif"]
    media_max_pixels: int = Field(default=50_000_000, ge=1)
    media_upload_expiry_seconds: int = Field(default=15 * 60, ge=30, le=7 * 24 * 3600)
    media_url_expiry_seconds: int = Field(default=3600, ge=30, le=7 * 24 * 3600)
    media_processing_deadline_hours: float = Field(
        default=24,
        gt=0,
        le=30 * 24,
        description="media still PROCESSING this long after upload is FAILED (its jobs kept "
        "failing, e.g. the media storage was down); until then it is retried",
    )
    likes_flush_interval_seconds: float = Field(default=1.0, gt=0, le=3600)
    likes_flush_batch_size: int = Field(default=500, ge=1, le=100_000)
    subscription_queue_size: int = Field(default=100, ge=1, le=100_000)

    # Analytics.
    analytics_retention_days: int = Field(
        default=90, ge=1, le=3650, description="raw event partitions older than this are dropped"
    )
    analytics_ingest_window_hours: int = Field(
        default=72,
        ge=1,
        le=24 * 90,
        description="trackEvents rejects events whose occurredAt is older than this",
    )
    analytics_future_skew_seconds: int = Field(
        default=60, ge=0, le=3600, description="tolerated client clock skew into the future"
    )
    analytics_partitions_ahead_days: int = Field(default=3, ge=1, le=60)
    analytics_max_batch: int = Field(default=500, ge=1, le=10_000)
    analytics_rollup_interval_ms: int = Field(default=100, ge=10, le=60_000)
    analytics_trending_cache_seconds: int = Field(default=30, ge=0, le=3600)

    # Mail (puppies/mail.py): SMTP to a configurable server, or .eml files in development.
    mail_backend: str = Field(
        default="auto",
        pattern="^(auto|smtp|file)$",
        description="auto: smtp when SMTP_HOST is set, else files (not in production)",
    )
    mail_from: str = "Puppies <no-reply@puppies.localhost>"
    mail_dir: Path | None = Field(
        default=None, description="where the file backend writes .eml files; <data_dir>/mail"
    )
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: str = Field(
        default="starttls",
        pattern="^(starttls|tls|none)$",
        description="starttls (port 587), tls (implicit, port 465) or none (a local relay)",
    )
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    log_level: str = Field(default="INFO", pattern="(?i)^(debug|info|warning|error|critical)$")
    log_format: str = Field(
        default="auto",
        pattern="^(auto|json|text)$",
        description="json: one JSON object per line; text: human lines; auto: json in "
        "production, text elsewhere",
    )
    environment: str = Field(default="development", pattern="^(development|test|production)$")
    worker_port: int = Field(
        default=4005,
        ge=0,
        le=65535,
        description="the worker's /health and /metrics listener (0: any free port)",
    )

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        if self.environment == "production" and (
            self.router_principal_secret.get_secret_value() == DEV_ROUTER_PRINCIPAL_SECRET
        ):
            raise ValueError(
                "ROUTER_PRINCIPAL_SECRET must be set in production (the same value as the "
                "router's authentication.subgraph.principal.secret)"
            )
        if len(self.router_principal_secret.get_secret_value()) < 32:
            raise ValueError("ROUTER_PRINCIPAL_SECRET must be at least 32 characters")
        return self

    @field_validator("oidc_providers")
    @classmethod
    def _provider_names(cls, v: dict[str, OidcProvider]) -> dict[str, OidcProvider]:
        for name in v:
            if not name or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
                raise ValueError(f"a provider name is letters, digits, - or _ ({name!r})")
        return v

    @field_validator("oidc_redirect_uris")
    @classmethod
    def _redirect_uris(cls, v: list[str]) -> list[str]:
        for uri in v:
            parts = urlsplit(uri)
            if not parts.scheme or parts.fragment:
                raise ValueError(f"{uri!r} is not an absolute URI without a fragment")
            if parts.scheme == "http" and not _is_loopback(uri):
                raise ValueError(f"{uri!r}: http:// redirect URIs only on localhost")
        return v

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if v.startswith("postgresql://") or v.startswith("postgres://"):
            v = "postgresql+asyncpg://" + v.split("://", 1)[1]
        if not v.startswith("postgresql+asyncpg://"):
            raise ValueError("must be a postgresql:// or postgresql+asyncpg:// URL")
        return v

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return v

    @field_validator("s3_endpoint_url", "media_public_base_url", "jwks_url")
    @classmethod
    def _check_http_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _text_limits_agree(self) -> Settings:
        if self.post_max_text_length > self.max_text_input_length:
            raise ValueError(
                f"POST_MAX_TEXT_LENGTH ({self.post_max_text_length}) is over "
                f"MAX_TEXT_INPUT_LENGTH ({self.max_text_input_length}), the longest string "
                "any input may be: raise MAX_TEXT_INPUT_LENGTH too"
            )
        return self

    @field_validator("password_reset_url")
    @classmethod
    def _check_reset_url(cls, v: str) -> str:
        if "{token}" not in v:
            raise ValueError("must contain {token}, where the reset token goes")
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @property
    def resolved_mail_dir(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"

    @property
    def resolved_mail_backend(self) -> str:
        """`smtp` or `file`: what `auto` means with these settings."""
        if self.mail_backend != "auto":
            return self.mail_backend
        return "smtp" if self.smtp_host or self.environment == "production" else "file"

    @property
    def keys_dir(self) -> Path:
        return self.jwt_keys_dir or self.data_dir / "keys"

    @property
    def resolved_jwks_url(self) -> str:
        return self.jwks_url or f"http://{self.host}:{self.users_port}/.well-known/jwks.json"

    def require_services(self) -> None:
        """Raise ConfigError unless every service URL is set (a process other than `dev`)."""
        missing = [
            name.upper()
            for name in ("database_url", "redis_url", "s3_endpoint_url")
            if getattr(self, name) is None
        ]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} not set: run `puppies dev` to start embedded services, "
                "or set them to your servers' URLs"
            )


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings; a bad value becomes a ConfigError naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper()
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {msg}" if name else msg)
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
