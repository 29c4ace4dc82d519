"""Non-GraphQL routes of the users subgraph: the JWKS, and API-key verification for the
router (and, outside production, the other subgraphs).

`POST /internal/api-keys/verify` is internal: the router never exposes it. It answers only
a caller that carries the router's signed principal (kind `router`, see
puppies/auth/principal.py); in production a call without one is refused (403), so the
endpoint does not rely on network isolation alone. Outside production an unsigned call is
still answered (subgraphs called directly verify keys through it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from puppies.auth import AuthError
from puppies.auth.keys import KeyRing
from puppies.auth.principal import PrincipalVerifier
from puppies.settings import Settings
from resolvers.runtime import Resources
from resolvers.users.apikeys import verify_api_key


def build_routes(keyring: KeyRing) -> APIRouter:
    router = APIRouter()

    @router.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse(keyring.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @router.post("/internal/api-keys/verify")
    async def verify(request: Request) -> JSONResponse:
        refusal = _router_only(request)
        if refusal is not None:
            return refusal
        try:
            body: Any = await request.json()
            raw = body["key"]
            if not isinstance(raw, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'send {"key": "pk_..."}'}, status_code=400)
        resources: Resources = request.app.state.resources
        try:
            principal = await verify_api_key(resources, raw)
        except AuthError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        return JSONResponse(principal.as_json())

    return router


def _router_only(request: Request) -> JSONResponse | None:
    """None when the caller may use an internal endpoint, else the 403 to answer."""
    settings: Settings = request.app.state.resources.settings
    token = request.headers.get(settings.router_principal_header)
    if token is None:
        if settings.environment != "production":
            return None
        message = "only the router may call this endpoint (send its signed principal)"
    else:
        verifier: PrincipalVerifier = request.app.state.principals
        try:
            if verifier.verify(token).is_router:
                return None
            message = "only the router may call this endpoint (a client principal was sent)"
        except AuthError as exc:
            message = str(exc)
    return JSONResponse({"error": message, "code": "ROUTER_SIGNATURE_REQUIRED"}, status_code=403)
