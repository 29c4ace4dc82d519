"""End to end through the router: real router, subgraph and worker processes, the session's
shared stack (`running`, tests/support/shared_stack.py); each test makes its own accounts, so
tests never see each other's data."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.shared_stack import eventually as eventually  # re-exported for the tests
from tests.support.stack import RunningStack

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"

SIGN_UP = """mutation($u: String!, $e: String!, $p: String!) {
  signUp(input: {username: $u, email: $e, password: $p}) {
    session { accessToken user { id username } } errors { code field message } } }"""
CREATE_POST = """mutation($input: CreatePostInput!) { createPost(input: $input) {
  post { id } uploads { mediaId url fields { name value } } errors { code field message } } }"""
COMPLETE = """mutation($id: ID!) { completeMediaUpload(mediaId: $id) {
  media { id status } errors { code field message } } }"""


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    token: str


@dataclass
class Api:
    """A client of the router, as an app would be."""

    stack: RunningStack
    http: httpx.AsyncClient

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        # ASCII JSON (\uXXXX escapes), as browsers send: a lone surrogate can be sent too
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        return await self.http.post(self.stack.graphql_url, content=body, headers=headers)

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The response body (errors included); never a 5xx."""
        r = await self.post(query, variables, token=token)
        assert r.status_code < 500, (r.status_code, r.text)
        body: dict[str, Any] = r.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        body = await self.gql(query, variables, token=token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def account(self, prefix: str = "pup") -> Account:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        body = await self.data(SIGN_UP, {"u": name, "e": f"{name}@example.com", "p": PASSWORD})
        session = body["signUp"]["session"]
        assert session, body
        return Account(session["user"]["id"], name, session["accessToken"])

    async def create_post(
        self,
        who: Account,
        text: str = "woof",
        files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    ) -> tuple[str, list[dict[str, Any]]]:
        """(post id, uploads), declaring each file's type and size."""
        media = [{"contentType": ct, "byteSize": len(body)} for ct, body in files]
        body = await self.data(
            CREATE_POST, {"input": {"text": text, "media": media}}, token=who.token
        )
        payload = body["createPost"]
        assert payload["errors"] == [], payload
        return payload["post"]["id"], payload["uploads"]

    async def upload(self, spec: dict[str, Any], body: bytes, content_type: str) -> None:
        """POST the file to S3 with the presigned form fields."""
        fields = {f["name"]: f["value"] for f in spec["fields"]}
        r = await self.http.post(
            spec["url"], data=fields, files={"file": ("upload", body, content_type)}
        )
        assert r.status_code in (200, 201, 204), r.text

    async def complete(self, who: Account, media_id: str) -> dict[str, Any]:
        body = await self.data(COMPLETE, {"id": media_id}, token=who.token)
        payload: dict[str, Any] = body["completeMediaUpload"]
        return payload


@pytest.fixture
async def api(running: RunningStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield Api(running, http)
