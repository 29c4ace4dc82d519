"""Security defaults of the serving layer: nosniff on every response, no "Did you mean"
hints without introspection, directive limits, one error for unknown directives, the
credentials start-up warning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from graph.app import create_app
from graph.config import config_from_mapping

SECRET = "security-defaults-principal-secret-0123456789"


async def test_every_response_says_nosniff(start_router: Callable[..., str]) -> None:
    url = start_router({"supergraph": {"introspection": True}})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answers = [
            await http.post("/graphql", json={"query": "{ me { name } }"}),
            await http.post("/graphql", json={"query": "{ nope }"}),
            await http.post("/graphql", content=b"{}", headers={"content-type": "text/plain"}),
            await http.get("/health"),
            await http.get("/metrics"),
            await http.get("/nowhere"),
            await http.post(
                "/graphql",
                json={"query": "{ me { name } }"},
                headers={"accept": "text/event-stream"},
            ),
            await http.post(
                "/graphql",
                json={"query": "{ me { name } }"},
                headers={"accept": "multipart/mixed"},
            ),
        ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url


def _message(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["message"])


async def test_no_suggestions_without_introspection(start_router: Callable[..., str]) -> None:
    closed = start_router({})
    open_ = start_router({"supergraph": {"introspection": True}})
    async with httpx.AsyncClient(timeout=10) as http:
        hidden = await http.post(f"{closed}/graphql", json={"query": "{ mee { name } }"})
        shown = await http.post(f"{open_}/graphql", json={"query": "{ mee { name } }"})
    assert "Did you mean" in _message(shown.json())
    assert "Did you mean" not in _message(hidden.json())
    assert "me" not in _message(hidden.json()).replace("'mee'", "")
    assert hidden.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_unknown_directives_are_one_error(start_router: Callable[..., str]) -> None:
    url = start_router({})
    directives = " ".join(f"@nope{i}" for i in range(10))
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": f"{{ me {directives} {{ name }} }}"})
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "@nope0" in errors[0]["message"] and "@nope9" in errors[0]["message"]


async def test_directives_per_document_are_limited(start_router: Callable[..., str]) -> None:
    url = start_router({"limits": {"max_directives": 3}})
    many = (
        "{ me @include(if: true) { name @include(if: true) @skip(if: false) } "
        "__typename @skip(if: false) }"
    )
    few = "{ me @include(if: true) { name } }"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        refused = await http.post("/graphql", json={"query": many})
        admitted = await http.post("/graphql", json={"query": few})
    error = refused.json()["errors"][0]
    assert error["extensions"] == {"code": "MAX_DIRECTIVES_LIMIT", "limit": 3, "measured": 4}
    assert admitted.json() == {"data": {"me": {"name": "Ada"}}}


def test_a_router_yaml_that_keeps_credentials_from_subgraphs_is_a_warning(
    supergraph_sdl: str,
) -> None:
    only_ids = {"headers": {"all": {"request": [{"propagate": {"named": "x-request-id"}}]}}}
    warned = create_app(supergraph_sdl, config_from_mapping(only_ids))
    assert any("no credential reaches subgraph(s) accounts, reviews" in w for w in warned.warnings)
    removing = {
        "headers": {
            "all": {"request": [{"propagate": {"named": "authorization"}}]},
            "subgraphs": {"reviews": {"request": [{"remove": {"named": "authorization"}}]}},
        }
    }
    partly = create_app(supergraph_sdl, config_from_mapping(removing))
    assert any("subgraph(s) reviews:" in w for w in partly.warnings)
    forwarding = {**only_ids, "authentication": {"subgraph": {"principal": {"secret": SECRET}}}}
    assert create_app(supergraph_sdl, config_from_mapping(forwarding)).warnings == []
    assert create_app(supergraph_sdl, config_from_mapping({})).warnings == []
