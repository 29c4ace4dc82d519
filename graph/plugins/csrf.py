"""CSRF prevention, as Apollo Router does it.

A browser sends a cross-site request without a CORS preflight only when its content type is
one of the "simple" ones (``text/plain``, ``application/x-www-form-urlencoded``,
``multipart/form-data``) and it carries no custom header. Such a request could be a forgery,
so the router refuses it unless it carries one of ``csrf.required_headers``. A request with
no content type at all (a plain GET) or a non-simple one (``application/json``) is fine:
a browser would have preflighted it, and CORS decides.
"""

from __future__ import annotations

import functools

from pydantic import Field

from graph.plugins.base import StrictModel

_SIMPLE_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)

CSRF_MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). "
    "Please either specify a 'content-type' header (with a type that is not one of "
    "application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide one of "
    "the following headers: {headers}"
)


class CsrfConfig(StrictModel):
    """``csrf``: refuse requests a browser could send cross-site without a preflight."""

    unsafe_disabled: bool = False
    required_headers: list[str] = Field(
        default_factory=lambda: ["x-apollo-operation-name", "apollo-require-preflight"]
    )


class CsrfGuard:
    """Decides whether a request is safe from CSRF."""

    def __init__(self, config: CsrfConfig) -> None:
        self.enabled = not config.unsafe_disabled
        self.required = frozenset(h.lower().encode("latin-1") for h in config.required_headers)
        self.message = CSRF_MESSAGE.format(headers=", ".join(config.required_headers))

    def is_preflighted(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """True when a browser would have preflighted this request (or CSRF is off)."""
        if not self.enabled:
            return True
        content_types: list[bytes] = []
        for name, value in headers:
            if name in self.required:
                return True
            if name == b"content-type":
                content_types.append(value)
        if not content_types:
            return True
        if len(content_types) == 1:
            return _requires_preflight(content_types[0])
        return _requires_preflight(b",".join(content_types))


@functools.lru_cache(maxsize=256)
def _requires_preflight(content_type: bytes) -> bool:
    try:
        text = content_type.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return True
    if "," in text:
        return True  # several content types: not one a browser sends as "simple"
    essence = text.split(";", 1)[0].strip().lower()
    if "/" not in essence or not essence.split("/", 1)[1]:
        return True  # unparseable: a browser would not send it unpreflighted
    return essence not in _SIMPLE_TYPES
