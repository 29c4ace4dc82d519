"""The development stack as the browser tests use it: its URLs, and API calls that set up
what a test needs faster than clicking (accounts, many posts)."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"
_names = itertools.count()

SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) {
  session { accessToken user { id username } } errors { code message } } }"""
CREATE_POST = """mutation($text: String!) { createPost(input: {text: $text}) {
  post { id } errors { code message } } }"""
FEED = "query($after: String) { feed(first: 100, after: $after) { edges { node { id } } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { likeCount } errors { code } } }"
UNLIKE = "mutation($id: ID!) { unlikePost(postId: $id) { post { likeCount } errors { code } } }"


@dataclass
class User:
    id: str
    username: str
    token: str


@dataclass
class Site:
    url: str  # the router, http://127.0.0.1:N
    posts_port: int

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"

    @property
    def app(self) -> str:
        return f"{self.url}/app/"

    def call(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """A GraphQL request through the router that must succeed; its ``data``."""
        return _post(self.graphql, query, variables, token)

    def wait_until_ready(self, deadline: float) -> None:
        """Until a request through the router reaches the subgraphs."""
        while True:
            try:
                self.call('{ userByUsername(username: "nobody") { id } }')
                return
            except (httpx.HTTPError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def new_user(self, prefix: str = "dog") -> User:
        username = f"{prefix}{os.getpid() % 1000}x{next(_names)}"
        data = self.call(
            SIGN_UP,
            {
                "input": {
                    "username": username,
                    "email": f"{username}@example.com",
                    "password": PASSWORD,
                }
            },
        )["signUp"]
        assert data["errors"] == [], data
        return User(data["session"]["user"]["id"], username, data["session"]["accessToken"])

    def create_posts(self, user: User, texts: list[str]) -> list[str]:
        """Posts by ``user``, oldest first, made on the posts subgraph itself (so the
        router's per-user createPost limit does not slow a test that needs many)."""
        direct = f"http://127.0.0.1:{self.posts_port}/graphql"
        ids = []
        for text in texts:
            payload = _post(direct, CREATE_POST, {"text": text}, user.token)["createPost"]
            assert payload["errors"] == [], payload
            ids.append(payload["post"]["id"])
        return ids

    def wait_for_feed(self, user: User, count: int, timeout: float = 60) -> list[str]:
        """The ids in ``user``'s home feed once it has ``count`` posts (the worker fans
        posts out after they commit)."""
        deadline = time.monotonic() + timeout
        while True:
            edges = self.call(FEED, token=user.token)["feed"]["edges"]
            if len(edges) >= count or time.monotonic() > deadline:
                assert len(edges) >= count, f"{len(edges)} of {count} posts reached the feed"
                return [e["node"]["id"] for e in edges]
            time.sleep(0.2)

    def like(self, user: User, post_id: str, *, liked: bool = True) -> int:
        """Like (or unlike) through the router; the new count."""
        field = "likePost" if liked else "unlikePost"
        payload = self.call(LIKE if liked else UNLIKE, {"id": post_id}, user.token)[field]
        assert payload["errors"] == [], payload
        count: int = payload["post"]["likeCount"]
        return count


def _post(
    url: str, query: str, variables: dict[str, Any] | None, token: str | None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data
