"""Identity, roles and GDPR end to end: the router in front of real subgraph and worker
processes and a real OpenID Connect provider process (`provider`), the session's shared stack
(`running`, tests/support/shared_stack.py), through tests/support/client.py's client with the
identity helpers. Each test makes its own accounts (and provider subjects), so tests never see
each other's data."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.client import Account, Api
from tests.support.oidc_provider import RunningProvider
from tests.support.polling import eventually
from tests.support.shared_stack import REDIRECT_URI
from tests.support.stack import RunningStack

ROOT = Path(__file__).resolve().parents[2]

LOG_IN = """mutation($l: String!, $p: String!) { logIn(input: {login: $l, password: $p}) {
  session { accessToken refreshToken user { id } } errors { code field message } } }"""
START = """mutation($p: String!, $r: String!, $purpose: OidcPurpose) {
  startOidcSignIn(input: {provider: $p, redirectUri: $r, purpose: $purpose}) {
    authorization { authorizationUrl state expiresAt } errors { code field message } } }"""
MEDIA_STATUS = """query($id: ID!) { post(id: $id) { media { id status } } }"""
COMPLETE = """mutation($s: String!, $c: String!) {
  completeOidcSignIn(input: {state: $s, code: $c}) {
    session { accessToken refreshToken user { id username displayName } }
    outcome passwordRemoved errors { code field message } } }"""


@dataclass
class IdentityApi(Api):
    """The router's client with the identity helpers: posts with processed photos, and
    signing in with the OpenID Connect provider."""

    provider: RunningProvider

    async def post_ready(
        self, who: Account, text: str = "woof", files: list[tuple[str, bytes]] | None = None
    ) -> str:
        """A post with its files uploaded and processed to READY; its id."""
        files = files or []
        post_id, uploads = await self.create_post(who, text, files)
        for spec, (content_type, blob) in zip(uploads, files, strict=True):
            await self.upload(spec, blob, content_type)
            done = await self.complete(who, spec["mediaId"])
            assert done["errors"] == [], done
        if files:

            async def ready() -> bool:
                got = await self.data(MEDIA_STATUS, {"id": post_id}, token=who.token)
                return all(m["status"] == "READY" for m in got["post"]["media"])

            await eventually(ready, timeout=120)
        return post_id

    async def start_oidc(
        self,
        provider: str = "testid",
        *,
        purpose: str | None = None,
        token: str | None = None,
        redirect_uri: str = REDIRECT_URI,
    ) -> dict[str, Any]:
        variables: dict[str, Any] = {"p": provider, "r": redirect_uri}
        if purpose:
            variables["purpose"] = purpose
        payload: dict[str, Any] = (await self.data(START, variables, token=token))[
            "startOidcSignIn"
        ]
        assert payload["errors"] == [], payload
        return dict(payload["authorization"])

    async def provider_redirect(self, authorization_url: str, sub: str) -> tuple[str, str]:
        """Log in at the provider as `sub`; (code, state) from the redirect."""
        url = await self.provider.log_in(self.http, authorization_url, sub)
        assert str(url).startswith(REDIRECT_URI), url
        return url.params["code"], url.params["state"]

    async def complete_oidc(self, state: str, code: str) -> dict[str, Any]:
        payload: dict[str, Any] = (await self.data(COMPLETE, {"s": state, "c": code}))[
            "completeOidcSignIn"
        ]
        return payload

    async def oidc_sign_in(self, sub: str, provider: str = "testid") -> dict[str, Any]:
        """The whole flow as a client app drives it; the completeOidcSignIn payload."""
        started = await self.start_oidc(provider)
        code, state = await self.provider_redirect(started["authorizationUrl"], sub)
        assert state == started["state"]
        return await self.complete_oidc(state, code)


@pytest.fixture
async def api(running: RunningStack, provider: RunningProvider) -> AsyncIterator[IdentityApi]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield IdentityApi(running, http, provider)


def new_subject(prefix: str = "sub") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def photo(width: int = 640, height: int = 480) -> bytes:
    """A real JPEG (a gradient, so it is not trivially small)."""
    image = Image.new("RGB", (width, height))
    pixels = image.load()
    assert pixels is not None
    for x in range(0, width, 4):
        for y in range(0, height, 4):
            pixels[x, y] = (x * 255 // width, y * 255 // height, (x + y) % 256)
    buf = io.BytesIO()
    image.save(buf, format="JPEG")
    return buf.getvalue()
