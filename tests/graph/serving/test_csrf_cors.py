"""CSRF prevention and CORS, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

QUERY = b'{"query": "{ __typename }"}'


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
async def test_simple_content_types_are_blocked_as_csrf(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post("/graphql", content=QUERY, headers={"content-type": content_type})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "CSRF_PREVENTION"
    assert "apollo-require-preflight" in error["message"]


async def test_simple_get_with_simple_content_type_is_blocked(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTION"


async def test_get_without_content_type_passes(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200


@pytest.mark.parametrize("header", ["apollo-require-preflight", "x-apollo-operation-name"])
async def test_required_header_lets_a_simple_request_through_to_content_type_checks(
    client: httpx.AsyncClient, header: str
) -> None:
    # not CSRF any more; text/plain is still no JSON body, so 415 (not 400 CSRF)
    response = await client.post(
        "/graphql", content=QUERY, headers={"content-type": "text/plain", header: "1"}
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    get = await client.get(
        "/graphql",
        params={"query": "{ __typename }"},
        headers={"content-type": "text/plain", header: "1"},
    )
    assert get.status_code == 200


async def test_custom_required_headers_and_disabling(start_router: Callable[..., str]) -> None:
    custom = start_router({"csrf": {"required_headers": ["x-my-client"]}})
    off = start_router({"csrf": {"unsafe_disabled": True}})
    params = {"query": "{ __typename }"}
    plain = {"content-type": "text/plain"}
    async with httpx.AsyncClient(timeout=10) as http:
        blocked = await http.get(f"{custom}/graphql", params=params, headers=plain)
        old_header = await http.get(
            f"{custom}/graphql", params=params, headers={**plain, "apollo-require-preflight": "1"}
        )
        allowed = await http.get(
            f"{custom}/graphql", params=params, headers={**plain, "x-my-client": "web"}
        )
        unprotected = await http.get(f"{off}/graphql", params=params, headers=plain)
    assert blocked.status_code == 400
    assert "x-my-client" in blocked.json()["errors"][0]["message"]
    assert old_header.status_code == 400
    assert allowed.status_code == 200
    assert unprotected.status_code == 200


CORS = {
    "cors": {
        "origins": ["https://app.example.com"],
        "match_origins": [r"^https://[a-z0-9]+\.preview\.example\.com$"],
        "allow_credentials": True,
        "allow_headers": ["content-type", "authorization"],
        "expose_headers": ["x-request-id"],
        "methods": ["GET", "POST"],
        "max_age": "10m",
    }
}


@pytest.fixture(scope="module")
def cors_url(start_router: Callable[..., str]) -> str:
    return start_router(CORS)


@pytest.fixture
async def cors(cors_url: str) -> Any:
    async with httpx.AsyncClient(base_url=cors_url, timeout=10) as http:
        yield http


@pytest.mark.parametrize("origin", ["https://app.example.com", "https://pr42.preview.example.com"])
async def test_preflight_from_allowed_origin(cors: httpx.AsyncClient, origin: str) -> None:
    response = await cors.options(
        "/graphql",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert response.status_code == 200
    h = response.headers
    assert h["access-control-allow-origin"] == origin
    assert h["access-control-allow-credentials"] == "true"
    assert h["access-control-allow-methods"] == "GET, POST"
    assert h["access-control-allow-headers"] == "content-type, authorization"
    assert h["access-control-max-age"] == "600"
    assert "Origin" in h["vary"]


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.com", "https://app.example.com.evil.com", "http://app.example.com"],
)
async def test_preflight_from_other_origin_gets_no_cors_headers(
    cors: httpx.AsyncClient, origin: str
) -> None:
    response = await cors.options(
        "/graphql", headers={"origin": origin, "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


async def test_actual_request_gets_cors_headers(cors: httpx.AsyncClient) -> None:
    allowed = await cors.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://app.example.com"}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["access-control-expose-headers"] == "x-request-id"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = await cors.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.example"}
    )
    assert other.status_code == 200  # CORS is the browser's business: it blocks the read
    assert "access-control-allow-origin" not in other.headers
    errors = await cors.post(
        "/graphql",
        content=b"{",
        headers={"origin": "https://app.example.com", "content-type": "application/json"},
    )
    assert errors.status_code == 400
    assert errors.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_any_origin_and_mirrored_headers(start_router: Callable[..., str]) -> None:
    url = start_router({"cors": {"allow_any_origin": True}})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        preflight = await http.options(
            "/graphql",
            headers={
                "origin": "https://anywhere.test",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-custom, content-type",
            },
        )
        actual = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://x.test"}
        )
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "x-custom, content-type"
    assert preflight.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert actual.headers["access-control-allow-origin"] == "*"


async def test_default_cors_allows_only_studio(client: httpx.AsyncClient) -> None:
    studio = await client.options(
        "/graphql",
        headers={
            "origin": "https://studio.apollographql.com",
            "access-control-request-method": "POST",
        },
    )
    assert studio.headers["access-control-allow-origin"] == "https://studio.apollographql.com"
    other = await client.options(
        "/graphql",
        headers={"origin": "https://example.com", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers
