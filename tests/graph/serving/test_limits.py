"""Every request limit, over real HTTP: body size, parser tokens, depth, height, aliases, root
fields, warn_only; rejected operations never reach a subgraph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

GRJSON = {"accept": "application/graphql-response+json"}

LIMITS = {
    "supergraph": {"introspection": True},
    "limits": {
        "http_max_request_bytes": 2000,
        "parser_max_tokens": 60,
        "max_depth": 3,
        "max_height": 6,
        "max_aliases": 2,
        "max_root_fields": 3,
    },
}


@pytest.fixture(scope="module")
def limited_url(start_router: Callable[..., str]) -> str:
    return start_router(LIMITS)


@pytest.fixture
async def limited(limited_url: str) -> Any:
    async with httpx.AsyncClient(base_url=limited_url, timeout=10) as http:
        yield http


async def post(http: httpx.AsyncClient, query: str, **extra: Any) -> httpx.Response:
    return await http.post("/graphql", json={"query": query, **extra}, headers=GRJSON)


def codes(response: httpx.Response) -> list[str]:
    body = response.json()
    assert "data" not in body, body
    return [e["extensions"]["code"] for e in body["errors"]]


async def test_within_every_limit_runs(limited: httpx.AsyncClient) -> None:
    response = await post(limited, "{ me { a: name b: name friends { id } } }")
    assert response.status_code == 200
    assert response.json()["data"]["me"]["a"] == "Ada"


async def test_depth(limited: httpx.AsyncClient) -> None:
    ok = await post(limited, "{ me { friends { id } } }")  # depth 3
    assert ok.status_code == 200
    deep = await post(limited, "{ me { friends { friends { id } } } }")  # depth 4
    assert deep.status_code == 400
    error = deep.json()["errors"][0]
    assert error["extensions"] == {"code": "MAX_DEPTH_LIMIT", "limit": 3, "measured": 4}


async def test_depth_counts_through_fragments(limited: httpx.AsyncClient) -> None:
    query = """
      query { me { ...F } }
      fragment F on User { friends { ... on User { friends { id } } } }
    """
    response = await post(limited, query)
    assert response.status_code == 400
    assert codes(response) == ["MAX_DEPTH_LIMIT"]


async def test_height_counts_distinct_fields(limited: httpx.AsyncClient) -> None:
    # me, id, name, friends, (User.id, User.name seen already) -> 4 distinct: fine
    same = await post(limited, "{ me { id name x: name friends { id name } } }")
    assert same.status_code == 200
    # me, id, name, friends, reviews, Review.id, Review.body -> 7 > 6
    tall = await post(limited, "{ me { id name friends { id } reviews { id body } } }")
    assert tall.status_code == 400
    assert codes(tall) == ["MAX_HEIGHT_LIMIT"]


async def test_aliases(limited: httpx.AsyncClient) -> None:
    two = await post(limited, "{ a: me { id } b: me { id } }")
    assert two.status_code == 200
    three = await post(limited, "{ a: me { id } b: me { id } me { c: id } }")
    assert three.status_code == 400
    assert codes(three) == ["MAX_ALIASES_LIMIT"]


async def test_root_fields_count_each_use(limited: httpx.AsyncClient) -> None:
    three = await post(limited, "{ me { id } users { id } headers }")
    assert three.status_code == 200
    four = await post(
        limited, "{ me { id } users { id } headers ...R } fragment R on Query { me { id } }"
    )
    assert four.status_code == 400
    assert "MAX_ROOT_FIELDS_LIMIT" in codes(four)


async def test_several_limits_at_once(limited: httpx.AsyncClient) -> None:
    query = "{ a: me { id } b: me { id } c: me { friends { friends { id } } } d: users { id } }"
    response = await post(limited, query)
    assert response.status_code == 400
    assert set(codes(response)) == {
        "MAX_DEPTH_LIMIT",
        "MAX_ALIASES_LIMIT",
        "MAX_ROOT_FIELDS_LIMIT",
    }


async def test_only_the_selected_operation_is_measured(limited: httpx.AsyncClient) -> None:
    query = "query Small { me { id } } query Deep { me { friends { friends { id } } } }"
    small = await post(limited, query, operationName="Small")
    assert small.status_code == 200
    deep = await post(limited, query, operationName="Deep")
    assert deep.status_code == 400
    assert codes(deep) == ["MAX_DEPTH_LIMIT"]


async def test_limits_with_application_json_are_200_without_data(
    limited: httpx.AsyncClient,
) -> None:
    response = await limited.post(
        "/graphql",
        json={"query": "{ me { friends { friends { id } } } }"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 200
    assert codes(response) == ["MAX_DEPTH_LIMIT"]


async def test_rejected_mutation_changes_nothing(limited: httpx.AsyncClient) -> None:
    response = await post(
        limited,
        'mutation { a: rename(id: "2", name: "X") { id } b: rename(id: "2", name: "Y") { id }'
        ' c: rename(id: "2", name: "Z") { id } }',
    )
    assert response.status_code == 400
    assert "MAX_ALIASES_LIMIT" in codes(response)
    after = await post(limited, '{ user(id: "2") { name } }')
    assert after.json() == {"data": {"user": {"name": "Grace"}}}


async def test_parser_max_tokens(limited: httpx.AsyncClient) -> None:
    fields = " ".join("id" for _ in range(80))
    response = await post(limited, f"{{ me {{ {fields} }} }}")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "token" in error["message"].lower()


async def test_body_over_http_max_request_bytes(limited: httpx.AsyncClient) -> None:
    padding = " " * 2100
    response = await limited.post(
        "/graphql",
        content=f'{{"query": "{{ __typename }}"{padding}}}'.encode(),
        headers={"content-type": "application/json", **GRJSON},
    )
    assert response.status_code == 413
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]


async def test_chunked_body_over_the_limit(limited: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(30):
            yield b"x" * 100
        yield b'"}'

    response = await limited.post(
        "/graphql",
        content=chunks(),
        headers={"content-type": "application/json", **GRJSON},
    )
    assert response.status_code == 413
    assert codes(response) == ["PAYLOAD_TOO_LARGE"]


async def test_warn_only_logs_and_runs(start_router: Callable[..., str]) -> None:
    url = start_router({"limits": {"max_depth": 1, "warn_only": True}})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await post(http, "{ me { friends { id } } }")
    assert response.status_code == 200
    assert response.json()["data"]["me"]["friends"][0]["id"] == "2"


async def test_introspection_disabled(start_router: Callable[..., str]) -> None:
    url = start_router({"supergraph": {"introspection": False}})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        schema = await post(http, "{ __schema { queryType { name } } }")
        typ = await post(
            http, 'query { ...F } fragment F on Query { __type(name: "User") { name } }'
        )
        typename = await post(http, "{ __typename me { __typename } }")
    assert schema.status_code == 400
    assert codes(schema) == ["INTROSPECTION_DISABLED"]
    assert codes(typ) == ["INTROSPECTION_DISABLED"]
    assert typename.json() == {"data": {"__typename": "Query", "me": {"__typename": "User"}}}


async def test_chunked_body_within_the_limit(limited: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        yield b'{"query": '
        yield b'"{ me { name } }"'
        yield b"}"

    response = await limited.post(
        "/graphql",
        content=chunks(),
        headers={"content-type": "application/json", **GRJSON},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"name": "Ada"}}}
