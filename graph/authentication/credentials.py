"""What the authentication parts raise: a credential that was sent but is not good."""

from __future__ import annotations

from graph.errors import GraphError


class CredentialError(GraphError):
    """A credential was presented and refused (expired, bad signature, revoked, unknown
    issuer ...). ``message`` tells the client what to fix; ``unavailable`` marks a refusal
    because something the router needs did not answer (JWKS, the key service)."""

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unavailable = unavailable
