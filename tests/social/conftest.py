"""Social features end to end: the router in front of real subgraph and worker processes and
a real SMTP server process (`smtp`), the session's shared stack (`running`,
tests/support/shared_stack.py). Each test makes its own accounts, so tests never see each
other's data and no table is truncated under the running processes."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.db import Database
from puppies.settings import Settings
from tests.support.shared_stack import eventually as eventually  # re-exported for the tests
from tests.support.stack import RunningStack

ROOT = Path(__file__).resolve().parents[2]
# What the router answers, before any subgraph is asked, for a field whose authorization
# directive (@authenticated, @requiresScopes, @policy) the caller does not meet; the
# subgraphs check again themselves (UNAUTHENTICATED / FORBIDDEN when called directly).
DENIED = "UNAUTHORIZED_FIELD_OR_TYPE"
PASSWORD = "correct horse battery staple"

CREATE_POST = """mutation($input: CreatePostInput!) { createPost(input: $input) {
  post { id } uploads { mediaId url fields { name value } } errors { code field message } } }"""
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code } } }"
COMMENT = """mutation($p: ID!, $t: String!, $r: ID) {
  addComment(input: {postId: $p, text: $t, replyTo: $r}) {
    comment { id } errors { code field message } } }"""
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { changed } }"
BLOCK = "mutation($id: ID!) { blockUser(userId: $id) { changed } }"
FEED = "query($first: Int) { feed(first: $first) { edges { node { id } } } }"
SIGN_UP = """mutation($u: String!, $e: String!, $p: String!) {
  signUp(input: {username: $u, email: $e, password: $p}) {
    session { accessToken refreshToken user { id username } } errors { code field message } } }"""


@dataclass(frozen=True)
class Account:
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

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The first error of a response that must have one."""
        body = await self.gql(query, variables, token=token)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error

    async def account(self, prefix: str = "pup", display_name: str | None = None) -> Account:
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

    async def new_post(self, who: Account, text: str = "woof") -> str:
        """A new text post by `who`; its id."""
        body = await self.data(CREATE_POST, {"input": {"text": text}}, token=who.token)
        payload = body["createPost"]
        assert payload["errors"] == [], payload
        post_id: str = payload["post"]["id"]
        return post_id

    async def like(self, who: Account, post_id: str) -> None:
        body = await self.data(LIKE, {"id": post_id}, token=who.token)
        assert body["likePost"]["errors"] == [], body

    async def comment(
        self, who: Account, post_id: str, text: str = "nice", reply_to: str | None = None
    ) -> str:
        body = await self.data(COMMENT, {"p": post_id, "t": text, "r": reply_to}, token=who.token)
        payload = body["addComment"]
        assert payload["errors"] == [], payload
        comment_id: str = payload["comment"]["id"]
        return comment_id

    async def follow(self, who: Account, other: Account) -> None:
        await self.data(FOLLOW, {"id": other.id}, token=who.token)

    async def block(self, who: Account, other: Account) -> None:
        await self.data(BLOCK, {"id": other.id}, token=who.token)

    async def feed(self, who: Account, first: int = 50) -> list[str]:
        body = await self.data(FEED, {"first": first}, token=who.token)
        return [e["node"]["id"] for e in body["feed"]["edges"]]


@pytest.fixture
async def api(running: RunningStack) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield Api(running, http)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The test session's database, for checks a client cannot make (rows, counters)."""
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()
