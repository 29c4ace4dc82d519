"""The test client of the router, as an app uses it: one `Api` for the end-to-end packages
(tests/e2e, tests/social, tests/identity), each of which adds its own domain helpers in a
subclass (its conftest.py), over the session's shared stack (tests/support/shared_stack.py).

    async with httpx.AsyncClient(timeout=60) as http:
        api = Api(running, http)
        rex = await api.account("rex")          # a new account of its own, signed in
        body = await api.data(QUERY, {...}, token=rex.token)   # no errors allowed
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.stack import RunningStack

PASSWORD = "correct horse battery staple"

SIGN_UP = """mutation($u: String!, $e: String!, $p: String!) {
  signUp(input: {username: $u, email: $e, password: $p}) {
    session { accessToken refreshToken user { id username } } errors { code field message } } }"""
CREATE_POST = """mutation($input: CreatePostInput!) { createPost(input: $input) {
  post { id } uploads { mediaId url fields { name value } } errors { code field message } } }"""
COMPLETE_UPLOAD = """mutation($id: ID!) { completeMediaUpload(mediaId: $id) {
  media { id status } errors { code field message } } }"""


@dataclass(frozen=True)
class Account:
    """A signed-up user: its id, username and session tokens."""

    id: str
    username: str
    token: str
    refresh: str = ""

    @property
    def email(self) -> str:
        return f"{self.username}@example.com"


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
        """The `data` of a response that must have no errors."""
        body = await self.gql(query, variables, token=token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The first error of a response that must have one."""
        body = await self.gql(query, variables, token=token)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error

    async def account(self, prefix: str = "pup", display_name: str | None = None) -> Account:
        """A new account `<prefix>_<8 hex>` (email `<username>@example.com`), signed in."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        body = await self.data(SIGN_UP, {"u": name, "e": f"{name}@example.com", "p": PASSWORD})
        session = body["signUp"]["session"]
        assert session, body
        who = Account(session["user"]["id"], name, session["accessToken"], session["refreshToken"])
        if display_name is not None:
            await self.data(
                "mutation($n: String!) { updateProfile(input: {displayName: $n}) { id } }",
                {"n": display_name},
                token=who.token,
            )
        return who

    async def create_post(
        self, who: Account, text: str = "woof", files: Sequence[tuple[str, bytes]] = ()
    ) -> tuple[str, list[dict[str, Any]]]:
        """(post id, uploads), declaring each file's type and size; nothing uploaded yet."""
        media = [{"contentType": ct, "byteSize": len(body)} for ct, body in files]
        body = await self.data(
            CREATE_POST, {"input": {"text": text, "media": media}}, token=who.token
        )
        payload = body["createPost"]
        assert payload["errors"] == [], payload
        return str(payload["post"]["id"]), payload["uploads"]

    async def new_post(self, who: Account, text: str = "woof") -> str:
        """A new text post by `who`; its id."""
        post_id, _ = await self.create_post(who, text)
        return post_id

    async def upload(self, spec: dict[str, Any], body: bytes, content_type: str) -> None:
        """POST the file to S3 with the presigned form fields."""
        fields = {f["name"]: f["value"] for f in spec["fields"]}
        r = await self.http.post(
            spec["url"], data=fields, files={"file": ("upload", body, content_type)}
        )
        assert r.status_code in (200, 201, 204), r.text

    async def complete(self, who: Account, media_id: str) -> dict[str, Any]:
        """The completeMediaUpload payload (errors included)."""
        body = await self.data(COMPLETE_UPLOAD, {"id": media_id}, token=who.token)
        payload: dict[str, Any] = body["completeMediaUpload"]
        return payload
