"""CORS: which browser origins may call the router, answered on preflights and responses.

The keys are Apollo Router's ``cors`` keys. An origin is allowed when it is listed in
``origins``, matches one of the ``match_origins`` regular expressions, or when
``allow_any_origin`` is on. A disallowed origin gets no CORS headers at all, so the browser
blocks the response; the request itself is not an error.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from graph.plugins.base import Duration, StrictModel

Headers = list[tuple[bytes, bytes]]


class CorsConfig(StrictModel):
    """``cors``: the browser origins allowed to call the router."""

    allow_any_origin: bool = False
    allow_credentials: bool = False
    allow_headers: list[str] = Field(default_factory=list)
    expose_headers: list[str] | None = None
    origins: list[str] = Field(default_factory=lambda: ["https://studio.apollographql.com"])
    match_origins: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "OPTIONS"])
    max_age: Duration | None = None

    @field_validator("match_origins")
    @classmethod
    def _regexes_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return value

    @field_validator("methods")
    @classmethod
    def _methods_upper(cls, value: list[str]) -> list[str]:
        return [m.strip().upper() for m in value]

    @model_validator(mode="after")
    def _credentials_need_explicit_origins(self) -> CorsConfig:
        if self.allow_credentials and (self.allow_any_origin or "*" in self.origins):
            raise ValueError(
                "cors.allow_credentials cannot be combined with allow_any_origin or an origin "
                "of '*': list the origins that may send credentials"
            )
        return self


class Cors:
    """Applies a :class:`CorsConfig` to requests."""

    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        self.any_origin = config.allow_any_origin or "*" in config.origins
        self.origins = frozenset(o.encode("latin-1") for o in config.origins if o != "*")
        self.patterns = [re.compile(p) for p in config.match_origins]
        self.methods = ", ".join(config.methods).encode("latin-1")
        self.allow_headers = (
            ", ".join(config.allow_headers).encode("latin-1") if config.allow_headers else None
        )
        self.expose = (
            ", ".join(config.expose_headers).encode("latin-1") if config.expose_headers else None
        )
        self.max_age = (
            str(int(config.max_age)).encode("latin-1") if config.max_age is not None else None
        )

    def origin_allowed(self, origin: bytes) -> bool:
        if self.any_origin or origin in self.origins:
            return True
        if self.patterns:
            text = origin.decode("latin-1")
            return any(p.fullmatch(text) for p in self.patterns)
        return False

    def _allow_origin(self, origin: bytes) -> Headers:
        headers: Headers = []
        if self.any_origin and not self.config.allow_credentials:
            headers.append((b"access-control-allow-origin", b"*"))
        else:
            headers.append((b"access-control-allow-origin", origin))
            headers.append((b"vary", b"Origin"))
        if self.config.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    def response_headers(self, origin: bytes | None) -> Headers:
        """Headers to add to an actual (non-preflight) response."""
        if origin is None or not self.origin_allowed(origin):
            return [] if self.any_origin or origin is None else [(b"vary", b"Origin")]
        headers = self._allow_origin(origin)
        if self.expose is not None:
            headers.append((b"access-control-expose-headers", self.expose))
        return headers

    def preflight_headers(self, origin: bytes, request_headers: bytes | None) -> Headers:
        """Headers for the answer to an ``OPTIONS`` preflight from ``origin``."""
        if not self.origin_allowed(origin):
            return [(b"vary", b"Origin")]
        headers = self._allow_origin(origin)
        headers.append((b"access-control-allow-methods", self.methods))
        if self.allow_headers is not None:
            headers.append((b"access-control-allow-headers", self.allow_headers))
        elif request_headers:
            # no list configured: mirror what the browser asks for, as Apollo Router does
            headers.append((b"access-control-allow-headers", request_headers))
            headers.append((b"vary", b"Access-Control-Request-Headers"))
        if self.max_age is not None:
            headers.append((b"access-control-max-age", self.max_age))
        return headers
