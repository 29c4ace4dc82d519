"""The analytics subgraph served over real HTTP on the real services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from models.db import Database
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys, issue_access_token
from puppies.settings import Settings
from resolvers.runtime import Resources
from subgraphs.analytics.app import create_app
from tests.support.servers import serve_asgi


@dataclass
class Analytics:
    url: str
    client: httpx.AsyncClient
    ring: KeyRing
    settings: Settings
    res: Resources

    @property
    def db(self) -> Database:
        return self.res.db

    def token(self, user_id: int) -> dict[str, str]:
        t = issue_access_token(self.ring, self.settings, user_id).token
        return {"Authorization": f"Bearer {t}"}

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, *, as_user: int | None = None
    ) -> dict[str, Any]:
        headers = self.token(as_user) if as_user is not None else {}
        r = await self.client.post(
            self.url + "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
async def analytics(clean: Settings) -> AsyncIterator[Analytics]:
    ring = KeyRing(clean.keys_dir).load()
    app = create_app(clean, key_source=lambda resources: LocalKeys(ring))
    res = Resources.open(clean)
    try:
        async with serve_asgi(app) as url, httpx.AsyncClient(timeout=30) as client:
            yield Analytics(url, client, ring, clean, res)
    finally:
        await res.close()
