"""GraphQL over HTTP: methods, content negotiation, status codes and bad input, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

GRJSON = "application/graphql-response+json"
JSON = "application/json"


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "data" not in body, body
    assert len(body["errors"]) >= 1, body
    error: dict[str, Any] = body["errors"][0]
    assert error["message"], body
    return error


async def test_post_query_runs_against_the_subgraph(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ users { id name } }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JSON)
    assert response.json() == {
        "data": {
            "users": [
                {"id": "1", "name": "Ada"},
                {"id": "2", "name": "Grace"},
                {"id": "3", "name": "Linus"},
            ]
        }
    }


async def test_get_query_with_variables_and_operation_name(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql",
        params={
            "query": "query Other { me { id } } query One($id: ID!) { user(id: $id) { name } }",
            "operationName": "One",
            "variables": json.dumps({"id": "2"}),
        },
        headers={"accept": GRJSON},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GRJSON)
    assert response.json() == {"data": {"user": {"name": "Grace"}}}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/*", JSON),
        (GRJSON, GRJSON),
        (f"{GRJSON}, application/json;q=0.9", GRJSON),
        (f"application/json, {GRJSON};q=0.5", JSON),
        ("text/html, */*;q=0.1", JSON),
        (f"{GRJSON}; charset=utf-8", GRJSON),
    ],
)
async def test_content_negotiation(
    client: httpx.AsyncClient, accept: str | None, expected: str
) -> None:
    headers = {"accept": accept} if accept is not None else {}
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_unacceptable_accept_is_406(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/html"}
    )
    assert response.status_code == 406
    assert only_error(response)["extensions"]["code"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
        ("query A { me { id } } query B { me { id } }", None),  # which one? -> request error
    ],
)
async def test_request_errors_are_400_with_graphql_response_json_and_200_with_json(
    client: httpx.AsyncClient, query: str, code: str | None
) -> None:
    strict = await client.post("/graphql", json={"query": query}, headers={"accept": GRJSON})
    assert strict.status_code == 400
    error = only_error(strict)
    if code is not None:
        assert error["extensions"]["code"] == code
    legacy = await client.post("/graphql", json={"query": query}, headers={"accept": JSON})
    assert legacy.status_code == 200
    assert only_error(legacy) == error


async def test_variables_that_do_not_coerce(client: httpx.AsyncClient) -> None:
    body = {"query": "query Q($id: ID!) { user(id: $id) { name } }", "variables": {"id": None}}
    strict = await client.post("/graphql", json=body, headers={"accept": GRJSON})
    assert strict.status_code == 400
    assert only_error(strict)["extensions"]["code"] == "BAD_USER_INPUT"
    legacy = await client.post("/graphql", json=body, headers={"accept": JSON})
    assert legacy.status_code == 200
    assert only_error(legacy)["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_type = await client.post(
        "/graphql",
        json={"query": "query Q($n: Float!) { slow(seconds: $n) }", "variables": {"n": "x"}},
        headers={"accept": GRJSON},
    )
    assert wrong_type.status_code == 400
    assert only_error(wrong_type)["extensions"]["code"] == "BAD_USER_INPUT"


async def test_mutation_over_get_is_405_and_changes_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": 'mutation { rename(id: "3", name: "Mallory") { name } }'}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert only_error(response)["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    after = await client.post("/graphql", json={"query": '{ user(id: "3") { name } }'})
    assert after.json() == {"data": {"user": {"name": "Linus"}}}


async def test_mutation_over_post_runs(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": 'mutation { rename(id: "99", name: "Nobody") { name } }'}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"rename": None}}


async def test_subscription_without_a_stream_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "subscription { countdown(start: 2) }"})
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "SUBSCRIPTION_NEEDS_STREAM"
    assert "text/event-stream" in error["message"]
    assert "WebSocket" in error["message"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
async def test_other_methods_are_405(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert only_error(response)["extensions"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b'{ "not a JSON', "not valid JSON"),
        (b"42", "got a number"),
        (b'"query"', "got a string"),
        (b"null", "got null"),
        (b"[]", "Batched requests"),
        (b'{"qeury": "{ __typename }"}', "no 'query'"),
        (b'{"query": 1}', "'query' parameter must be a string"),
        (b'{"query": {"a": 1}}', "'query' parameter must be a string"),
        (b'{"query": "{ __typename }", "variables": "x"}', "'variables' parameter"),
        (b'{"query": "{ __typename }", "variables": [1]}', "'variables' parameter"),
        (b'{"query": "{ __typename }", "operationName": 0}', "'operationName' parameter"),
        (b'{"query": "{ __typename }", "extensions": false}', "'extensions' parameter"),
        (b'{"extensions": {"persistedQuery": {"version": 1}}}', "sha256Hash must be"),
        (b'{"extensions": {"persistedQuery": {"version": 2}}}', "Unsupported persisted query"),
        (b"\xff\xfe{}", "not valid JSON"),
    ],
)
async def test_malformed_requests_are_400_with_a_code(
    client: httpx.AsyncClient, body: bytes, fragment: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": JSON, "accept": GRJSON}
    )
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] in {
        "BAD_REQUEST",
        "BATCHING_NOT_SUPPORTED",
        "PERSISTED_QUERY_NOT_SUPPORTED",
    }
    assert fragment in error["message"]


@pytest.mark.parametrize(
    ("query_string", "fragment"),
    [
        ("", "no 'query'"),
        ("query={__typename}&variables={bad", "'variables' URL parameter is not valid JSON"),
        ("query={__typename}&variables=[1]", "'variables' parameter"),
        ("query={__typename}&extensions=3", "'extensions' parameter"),
        ("query={__typename}&query={__typename}", "more than once"),
    ],
)
async def test_malformed_get_requests_are_400(
    client: httpx.AsyncClient, query_string: str, fragment: str
) -> None:
    response = await client.get(f"/graphql?{query_string}")
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert fragment in error["message"]


@pytest.mark.parametrize(
    "content_type", ["application/xml", "application/graphql", "application/json; charset=latin-1"]
)
async def test_wrong_content_type_is_415(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": content_type},
    )
    assert response.status_code == 415
    assert only_error(response)["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphq", json={"query": "{ __typename }"})
    assert response.status_code == 404
    assert only_error(response)["extensions"]["code"] == "NOT_FOUND"


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "UP"}
    await client.post("/graphql", json={"query": "{ nope }"})
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'router_http_requests_total{method="POST",status="200"}' in text
    assert 'router_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}' in text
    assert "router_http_request_duration_seconds_bucket" in text
    assert "process_resident_memory_bytes" in text


async def test_utf8_round_trip(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content='{"query": "{ __type(name: \\"Run🏃Swim🏊\\") { name } }"}'.encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__type": None}}
