"""Persisted queries from a local manifest and the safelist, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from graph.app import create_app
from graph.config import config_from_mapping, load_config
from graph.errors import ConfigError

PUPPIES = str(Path(sys.executable).parent / "puppies")
ME = "query Me { me { name } }"
USER = "query User($id: ID!) { user(id: $id) { name } }"


def write_manifest(path: Path, operations: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    return path


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_manifest(
        tmp_path_factory.mktemp("pq") / "manifest.json",
        [
            {"id": "me-v1", "body": ME, "name": "Me", "type": "query"},
            {"id": "user-v1", "body": USER, "name": "User", "type": "query"},
        ],
    )


def by_id(op_id: str, **extra: Any) -> dict[str, Any]:
    return {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": op_id}}, **extra}


def code(response: httpx.Response) -> str:
    body = response.json()
    assert "data" not in body, body
    return str(body["errors"][0]["extensions"]["code"])


async def test_ids_run_and_free_operations_still_run(
    start_router: Callable[..., str], manifest: Path
) -> None:
    url = start_router({"persisted_queries": {"enabled": True, "local_manifests": [str(manifest)]}})
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        me = await http.post("/graphql", json=by_id("me-v1"))
        user = await http.post("/graphql", json=by_id("user-v1", variables={"id": "2"}))
        get = await http.get(
            "/graphql",
            params={"extensions": json.dumps(by_id("me-v1")["extensions"])},
        )
        free = await http.post("/graphql", json={"query": "{ users { id } }"})
        unknown = await http.post("/graphql", json=by_id("nope"))
        apq_hash = await http.post("/graphql", json=by_id("ab" * 32))
    assert me.json() == {"data": {"me": {"name": "Ada"}}}
    assert user.json() == {"data": {"user": {"name": "Grace"}}}
    assert get.json() == {"data": {"me": {"name": "Ada"}}}
    assert free.json()["data"]["users"][0] == {"id": "1"}
    # not in the manifest, and not a hash automatic persisted queries could know
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    # a SHA-256 not in the manifest goes on to APQ, which does not know it either
    assert code(apq_hash) == "PERSISTED_QUERY_NOT_FOUND"


async def test_safelist(start_router: Callable[..., str], manifest: Path) -> None:
    url = start_router(
        {
            "apq": {"enabled": False},
            "persisted_queries": {
                "enabled": True,
                "local_manifests": [str(manifest)],
                "safelist": {"enabled": True},
            },
        }
    )
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        listed = await http.post("/graphql", json=by_id("me-v1"))
        same_text = await http.post("/graphql", json={"query": ME})
        reformatted = await http.post(
            "/graphql", json={"query": "# a comment\nquery Me {\n  me {\n    name\n  }\n}\n"}
        )
        other = await http.post("/graphql", json={"query": "{ users { id name } }"})
        unknown = await http.post("/graphql", json=by_id("nope"))
        mutation = await http.post(
            "/graphql", json={"query": 'mutation { rename(id: "1", name: "Mallory") { id } }'}
        )
        after = await http.post("/graphql", json=by_id("me-v1"))
    assert listed.json() == {"data": {"me": {"name": "Ada"}}}
    assert same_text.json() == {"data": {"me": {"name": "Ada"}}}
    assert reformatted.json() == {"data": {"me": {"name": "Ada"}}}
    assert other.status_code == 400
    assert code(other) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert code(mutation) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert after.json() == {"data": {"me": {"name": "Ada"}}}  # the mutation changed nothing


async def test_require_id(start_router: Callable[..., str], manifest: Path) -> None:
    url = start_router(
        {
            "apq": {"enabled": False},
            "persisted_queries": {
                "enabled": True,
                "local_manifests": [str(manifest)],
                "safelist": {"enabled": True, "require_id": True},
            },
        }
    )
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        listed = await http.post("/graphql", json=by_id("me-v1"))
        text = await http.post("/graphql", json={"query": ME})
    assert listed.json() == {"data": {"me": {"name": "Ada"}}}
    assert text.status_code == 400
    assert code(text) == "PERSISTED_QUERY_ID_REQUIRED"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"enabled": True}, "needs at least one local_manifests file"),
        ({"safelist": {"enabled": True}}, "needs persisted_queries.enabled: true"),
    ],
)
def test_config_errors(section: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        config_from_mapping({"persisted_queries": section})


def test_safelist_with_apq_is_refused(manifest: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot be combined with apq\.enabled"):
        config_from_mapping(
            {
                "persisted_queries": {
                    "enabled": True,
                    "local_manifests": [str(manifest)],
                    "safelist": {"enabled": True},
                }
            }
        )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "is not JSON"),
        ('{"format": "other", "operations": []}', "is not an 'apollo-persisted-query-manifest'"),
        ('{"format": "apollo-persisted-query-manifest"}', "has no 'operations' list"),
        (
            '{"format": "apollo-persisted-query-manifest", "operations": [{"id": 1}]}',
            "operations[0] needs string 'id' and 'body'",
        ),
        (
            '{"format": "apollo-persisted-query-manifest", '
            '"operations": [{"id": "a", "body": "{"}]}',
            "operations[0] (a) does not parse",
        ),
    ],
)
def test_bad_manifests(tmp_path: Path, supergraph_sdl: str, content: str, expected: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    config = config_from_mapping(
        {"persisted_queries": {"enabled": True, "local_manifests": [str(path)]}}
    )
    with pytest.raises(ConfigError) as caught:
        create_app(supergraph_sdl, config)
    assert expected in str(caught.value)


def test_manifest_paths_are_relative_to_router_yaml(tmp_path: Path, manifest: Path) -> None:
    (tmp_path / "pq").mkdir()
    write_manifest(tmp_path / "pq" / "m.json", [{"id": "x", "body": ME}])
    router_yaml = tmp_path / "router.yaml"
    router_yaml.write_text("persisted_queries:\n  enabled: true\n  local_manifests: [pq/m.json]\n")
    config = load_config(router_yaml)
    assert config.persisted_queries.local_manifests == [str(tmp_path / "pq" / "m.json")]


def test_cli_names_a_missing_manifest(tmp_path: Path, supergraph_sdl: str) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    router_yaml = tmp_path / "router.yaml"
    router_yaml.write_text(
        "persisted_queries:\n  enabled: true\n  local_manifests: [missing.json]\n"
    )
    result = subprocess.run(
        [PUPPIES, "serve", "router", "--supergraph", str(supergraph), "--config", str(router_yaml)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cannot read persisted query manifest {tmp_path / 'missing.json'}" in result.stderr
