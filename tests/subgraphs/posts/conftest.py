"""Fixtures for the posts subgraph: the app over real HTTP, tokens, a real worker process."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys, issue_access_token
from puppies.settings import Settings
from subgraphs.posts.app import create_app
from tests.support.servers import run_cli, serve_asgi


@dataclass
class PostsClient:
    url: str
    http: httpx.AsyncClient
    keyring: KeyRing
    settings: Settings
    app: Any = None

    def token(self, user_id: int) -> str:
        return issue_access_token(self.keyring, self.settings, user_id).token

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, user: int | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        r = await self.http.post(
            self.url + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        assert r.status_code in (200, 400, 401, 403), r.text
        body: dict[str, Any] = r.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, user: int | None = None
    ) -> dict[str, Any]:
        body = await self.gql(query, variables, user=user)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
async def posts_api(clean: Settings) -> AsyncIterator[PostsClient]:
    ring = KeyRing(clean.keys_dir).load()
    app = create_app(clean, key_source=lambda resources: LocalKeys(ring))
    async with serve_asgi(app) as url, httpx.AsyncClient(timeout=30) as http:
        yield PostsClient(url=url, http=http, keyring=ring, settings=clean, app=app)


@pytest.fixture
def worker_env(service_env: dict[str, str]) -> dict[str, str]:
    return {**service_env, "LIKES_FLUSH_INTERVAL_SECONDS": "0.2", "LOG_LEVEL": "INFO"}


@pytest.fixture
def worker(clean: Settings, worker_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A real `puppies worker` process (arq + relay) for the test."""
    with run_cli(["worker"], worker_env) as proc:
        yield proc
