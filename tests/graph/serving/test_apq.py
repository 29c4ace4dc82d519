"""Automatic persisted queries over real HTTP: the Apollo client flow, GET, and bad hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

QUERY = "query Who($id: ID!) { user(id: $id) { name } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def persisted(digest: str = HASH) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_apollo_client_flow(start_router: Callable[..., str]) -> None:
    url = start_router({})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        # 1. hash only: unknown -> PERSISTED_QUERY_NOT_FOUND (200, as Apollo answers)
        miss = await http.post(
            "/graphql", json={"extensions": persisted(), "variables": {"id": "1"}}
        )
        assert miss.status_code == 200
        assert miss.json() == {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        }
        # 2. hash and text: registered and run
        register = await http.post(
            "/graphql",
            json={"query": QUERY, "extensions": persisted(), "variables": {"id": "1"}},
        )
        assert register.json() == {"data": {"user": {"name": "Ada"}}}
        # 3. hash only now works, over POST and over GET
        hit = await http.post(
            "/graphql", json={"extensions": persisted(), "variables": {"id": "2"}}
        )
        assert hit.json() == {"data": {"user": {"name": "Grace"}}}
        get = await http.get(
            "/graphql",
            params={"extensions": json.dumps(persisted()), "variables": json.dumps({"id": "1"})},
        )
        assert get.status_code == 200
        assert get.json() == {"data": {"user": {"name": "Ada"}}}


@pytest.mark.parametrize(
    ("extensions", "code", "status"),
    [
        (persisted("0" * 64), "PERSISTED_QUERY_HASH_MISMATCH", 400),
        (
            {"persistedQuery": {"version": 2, "sha256Hash": HASH}},
            "PERSISTED_QUERY_NOT_SUPPORTED",
            400,
        ),
        ({"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, "BAD_REQUEST", 400),
        ({"persistedQuery": "x"}, "BAD_REQUEST", 400),
    ],
)
async def test_bad_persisted_queries(
    client: httpx.AsyncClient, extensions: dict[str, Any], code: str, status: int
) -> None:
    response = await client.post(
        "/graphql", json={"query": QUERY, "extensions": extensions, "variables": {"id": "1"}}
    )
    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == code


async def test_a_mismatched_hash_is_not_stored(client: httpx.AsyncClient) -> None:
    wrong = hashlib.sha256(b"{ me { id } }").hexdigest()
    await client.post("/graphql", json={"query": QUERY, "extensions": persisted(wrong)})
    after = await client.post("/graphql", json={"extensions": persisted(wrong)})
    assert after.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_disabled(start_router: Callable[..., str]) -> None:
    url = start_router({"apq": {"enabled": False}})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        hash_only = await http.post("/graphql", json={"extensions": persisted()})
        with_text = await http.post(
            "/graphql",
            json={"query": QUERY, "extensions": persisted(), "variables": {"id": "3"}},
        )
    assert hash_only.status_code == 400
    assert hash_only.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert with_text.json() == {"data": {"user": {"name": "Linus"}}}
