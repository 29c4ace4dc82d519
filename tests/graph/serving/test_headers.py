"""Header propagation to subgraphs, observed by the subgraphs themselves (they echo what
they received)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

HEADERS = {
    "headers": {
        "all": {
            "request": [
                {"propagate": {"named": "authorization"}},
                {"propagate": {"matching": "^x-trace-.*"}},
                {"propagate": {"named": "x-client", "rename": "x-client-name"}},
                {"propagate": {"named": "accept-language", "default": "en"}},
                {"insert": {"name": "x-from-router", "value": "yes"}},
            ]
        },
        "subgraphs": {
            "reviews": {
                "request": [
                    {"remove": {"named": "authorization"}},
                    {"remove": {"matching": "^x-trace-b.*"}},
                    {"insert": {"name": "x-reviews-only", "value": "1"}},
                ]
            }
        },
    }
}


async def test_propagation_rules_per_subgraph(start_router: Callable[..., str]) -> None:
    url = start_router(HEADERS)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ headers reviewHeaders }"},
            headers={
                "authorization": "Bearer abc",
                "x-trace-a": "1",
                "x-trace-b": "2",
                "x-client": "web",
                "cookie": "session=secret",
                "x-other": "no",
            },
        )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    accounts = json.loads(data["headers"])
    reviews = json.loads(data["reviewHeaders"])
    assert accounts["authorization"] == "Bearer abc"
    assert accounts["x-trace-a"] == "1"
    assert accounts["x-trace-b"] == "2"
    assert accounts["x-client-name"] == "web"
    assert "x-client" not in accounts
    assert accounts["accept-language"] == "en"
    assert accounts["x-from-router"] == "yes"
    assert "cookie" not in accounts
    assert "x-other" not in accounts
    assert "x-reviews-only" not in accounts
    assert "authorization" not in reviews
    assert reviews["x-trace-a"] == "1"
    assert "x-trace-b" not in reviews
    assert reviews["x-reviews-only"] == "1"
    assert reviews["x-from-router"] == "yes"


async def test_nothing_is_propagated_by_default(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ headers }"},
        headers={"authorization": "Bearer abc", "x-trace-a": "1"},
    )
    received = json.loads(response.json()["data"]["headers"])
    assert "authorization" not in received
    assert "x-trace-a" not in received


async def test_default_applies_and_client_value_wins(start_router: Callable[..., str]) -> None:
    url = start_router(HEADERS)
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ headers }"},
            headers={"accept-language": "fr"},
        )
    assert json.loads(response.json()["data"]["headers"])["accept-language"] == "fr"
