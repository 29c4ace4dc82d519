"""The users subgraph served over real HTTP against the real services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from puppies.settings import Settings
from subgraphs.users.app import create_app
from tests.support.graphql import GraphQLClient
from tests.support.servers import serve_asgi

SIGN_UP = """
mutation($u: String!, $e: String!, $p: String!) {
  signUp(input: {username: $u, email: $e, password: $p}) {
    session { accessToken refreshToken accessTokenExpiresAt refreshTokenExpiresAt
              user { id username displayName } }
    errors { code field message }
  }
}"""

LOG_IN = """
mutation($l: String!, $p: String!) {
  logIn(input: {login: $l, password: $p}) {
    session { accessToken refreshToken user { id username } }
    errors { code field message }
  }
}"""

PASSWORD = "correct horse battery"


@dataclass
class Account:
    id: str
    username: str
    token: str
    refresh: str


@dataclass
class UsersApi:
    url: str
    gql: GraphQLClient
    http: httpx.AsyncClient
    app: Any

    async def sign_up(self, username: str, password: str = PASSWORD) -> Account:
        body = await self.gql.data(
            SIGN_UP, {"u": username, "e": f"{username}@example.com", "p": password}
        )
        s = body["signUp"]["session"]
        assert s is not None, body
        return Account(s["user"]["id"], username, s["accessToken"], s["refreshToken"])


@pytest.fixture
async def users_api(clean: Settings) -> AsyncIterator[UsersApi]:
    app = create_app(clean)
    async with serve_asgi(app) as url, httpx.AsyncClient(timeout=30) as http:
        yield UsersApi(url, GraphQLClient(http, url), http, app)


def make_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)
