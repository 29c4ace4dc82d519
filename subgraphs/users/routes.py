"""Non-GraphQL routes of the users subgraph: the JWKS, and API-key verification for the
other subgraphs (internal: the router never exposes it; keep it off the public network)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from puppies.auth import AuthError
from puppies.auth.keys import KeyRing
from resolvers.runtime import Resources
from resolvers.users.apikeys import verify_api_key


def build_routes(keyring: KeyRing) -> APIRouter:
    router = APIRouter()

    @router.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        return JSONResponse(keyring.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @router.post("/internal/api-keys/verify")
    async def verify(request: Request) -> JSONResponse:
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
