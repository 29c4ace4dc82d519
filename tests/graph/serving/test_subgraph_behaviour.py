"""traffic_shaping timeouts and include_subgraph_errors, as router.yaml sets them."""

from __future__ import annotations

from collections.abc import Callable

import httpx


async def test_subgraph_errors_are_redacted_by_default(start_router: Callable[..., str]) -> None:
    url = start_router({})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": "{ broken me { id } }"})
    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {"broken": None, "me": {"id": "1"}}
    assert "secret internal detail" not in response.text
    assert body["errors"][0]["path"] == ["broken"]
    assert body["errors"][0]["extensions"]["code"]


async def test_subgraph_errors_included_when_allowed(start_router: Callable[..., str]) -> None:
    everywhere = start_router({"include_subgraph_errors": {"all": True}})
    only_reviews = start_router(
        {"include_subgraph_errors": {"all": True, "subgraphs": {"accounts": False}}}
    )
    async with httpx.AsyncClient(timeout=10) as http:
        shown = await http.post(f"{everywhere}/graphql", json={"query": "{ broken }"})
        hidden = await http.post(f"{only_reviews}/graphql", json={"query": "{ broken }"})
    assert "secret internal detail from accounts" in shown.json()["errors"][0]["message"]
    assert shown.json()["errors"][0]["path"] == ["broken"]
    assert "secret internal detail" not in hidden.text
    assert hidden.json()["errors"][0]["path"] == ["broken"]


# The timeouts below are generous (seconds, where a quick call takes milliseconds) and the
# slow calls are far longer still, so a loaded machine cannot turn a quick call into a
# timeout, nor a slow one into an answer.


async def test_per_subgraph_timeout(start_router: Callable[..., str]) -> None:
    url = start_router(
        {
            "traffic_shaping": {
                "all": {"timeout": "60s"},
                "subgraphs": {"accounts": {"timeout": "2s"}},
            }
        }
    )
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        fast = await http.post("/graphql", json={"query": "{ slow(seconds: 0) }"})
        # 20 s is within `all` but past accounts' own 2 s: only the override can cut it short
        slow = await http.post(
            "/graphql", json={"query": "{ slow(seconds: 20) topReviews { id } }"}
        )
    assert fast.json() == {"data": {"slow": "done"}}
    body = slow.json()
    assert slow.status_code == 200
    # the timed-out subgraph's part is null with an error; the other subgraph's part stands
    assert body["data"]["topReviews"] == [{"id": "r1"}, {"id": "r2"}]
    assert body["data"].get("slow") is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "SUBREQUEST_TIMEOUT"


async def test_router_timeout(start_router: Callable[..., str]) -> None:
    url = start_router({"traffic_shaping": {"router": {"timeout": "2s"}}})
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        quick = await http.post("/graphql", json={"query": "{ slow(seconds: 0) }"})
        slow = await http.post("/graphql", json={"query": "{ slow(seconds: 20) }"})
    assert quick.json() == {"data": {"slow": "done"}}
    assert slow.status_code == 504
    body = slow.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "GATEWAY_TIMEOUT"


async def test_global_rate_limit(start_router: Callable[..., str]) -> None:
    url = start_router(
        {"traffic_shaping": {"router": {"global_rate_limit": {"capacity": 3, "interval": "1m"}}}}
    )
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answers = [await http.post("/graphql", json={"query": "{ __typename }"}) for _ in range(5)]
        health = await http.get("/health")
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    limited = answers[-1]
    assert limited.json()["errors"][0]["extensions"]["code"] == "REQUEST_RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    assert health.status_code == 200  # the health check is not rate limited
