"""Social features end to end: the router in front of real subgraph and worker processes and
a real SMTP server process (`smtp`), the session's shared stack (`running`,
tests/support/shared_stack.py), through tests/support/client.py's client with the social
helpers. Each test makes its own accounts, so tests never see each other's data and no table
is truncated under the running processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from models.db import Database
from puppies.settings import Settings
from tests.support.client import Account, Api
from tests.support.stack import RunningStack

ROOT = Path(__file__).resolve().parents[2]
# What the router answers, before any subgraph is asked, for a field whose authorization
# directive (@authenticated, @requiresScopes, @policy) the caller does not meet; the
# subgraphs check again themselves (UNAUTHENTICATED / FORBIDDEN when called directly).
DENIED = "UNAUTHORIZED_FIELD_OR_TYPE"

LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code } } }"
COMMENT = """mutation($p: ID!, $t: String!, $r: ID) {
  addComment(input: {postId: $p, text: $t, replyTo: $r}) {
    comment { id } errors { code field message } } }"""
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { changed } }"
BLOCK = "mutation($id: ID!) { blockUser(userId: $id) { changed } }"
FEED = "query($first: Int) { feed(first: $first) { edges { node { id } } } }"


class SocialApi(Api):
    """The router's client with the social helpers: like, comment, follow, block, feed."""

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
async def api(running: RunningStack) -> AsyncIterator[SocialApi]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield SocialApi(running, http)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The test session's database, for checks a client cannot make (rows, counters)."""
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()
