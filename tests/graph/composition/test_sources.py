"""The I/O side: `_service { sdl }` from real Strawberry subgraphs over HTTP, files, router.yaml,
`puppies compose` (write, unchanged, --check) and the errors for bad sources."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import strawberry
import yaml
from click.testing import CliRunner
from strawberry.asgi import GraphQL

from graph.composition import CompositionError, SubgraphSourceError
from graph.composition.command import compose_cli
from graph.composition.sources import SubgraphLocation, compose_command, compose_locations
from graph.supergraph.model import Supergraph
from tests.graph.serving.servers import ServerThread

PRODUCTS_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { products: [Product] }
type Product @key(fields: "upc") { upc: String! weight: Int }
"""


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str


@strawberry.federation.type(keys=["upc"], extend=True)
class Product:
    upc: str = strawberry.federation.field(external=True)
    weight: int | None = strawberry.federation.field(external=True)

    @strawberry.federation.field(requires=["weight"])
    def shipping(self) -> int:
        return (self.weight or 0) // 2


@strawberry.type
class UsersQuery:
    @strawberry.field
    def me(self) -> User:
        return User(id=strawberry.ID("1"), name="Ada")


@strawberry.type
class PlainQuery:
    hello: str = "world"


def users_app() -> GraphQL:
    return GraphQL(strawberry.federation.Schema(query=UsersQuery, types=[Product]))


def plain_app() -> GraphQL:
    return GraphQL(strawberry.Schema(query=PlainQuery))


@pytest.fixture(scope="module")
def users_server() -> Iterator[ServerThread]:
    server = ServerThread(users_app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain_server() -> Iterator[ServerThread]:
    server = ServerThread(plain_app).start()
    yield server
    server.stop()


@pytest.fixture
def products_file(tmp_path: Path) -> Path:
    path = tmp_path / "products.graphql"
    path.write_text(PRODUCTS_SDL)
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_composes_from_service_sdl_and_file(
    users_server: ServerThread, products_file: Path
) -> None:
    sdl = compose_locations(
        [
            SubgraphLocation("users", f"{users_server.url}/graphql"),
            SubgraphLocation("products", "http://127.0.0.1:9/graphql", file=str(products_file)),
        ]
    )
    assert f'USERS @join__graph(name: "users", url: "{users_server.url}/graphql")' in sdl
    assert 'shipping: Int! @join__field(graph: USERS, requires: "weight")' in sdl
    loaded = Supergraph.from_sdl(sdl)
    assert set(loaded.subgraphs) == {"users", "products"}


def test_schema_url_differs_from_routing_url(
    users_server: ServerThread, products_file: Path
) -> None:
    sdl = compose_locations(
        [
            SubgraphLocation(
                "users", "http://users.internal/graphql", schema_url=f"{users_server.url}/graphql"
            ),
            SubgraphLocation(
                "products", "http://products.internal/graphql", file=str(products_file)
            ),
        ]
    )
    assert 'url: "http://users.internal/graphql"' in sdl


def test_unreachable_subgraph_is_named() -> None:
    port = _closed_port()
    with pytest.raises(SubgraphSourceError) as info:
        compose_locations(
            [SubgraphLocation("users", f"http://127.0.0.1:{port}/graphql")], timeout=2
        )
    assert 'subgraph "users"' in str(info.value)
    assert f"127.0.0.1:{port}" in str(info.value)


def test_endpoint_without_service_sdl(plain_server: ServerThread) -> None:
    with pytest.raises(SubgraphSourceError) as info:
        compose_locations([SubgraphLocation("plain", f"{plain_server.url}/graphql")])
    assert "is it a federation subgraph?" in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(SubgraphSourceError) as info:
        compose_locations([SubgraphLocation("x", "http://x", file="/nonexistent/x.graphql")])
    assert "cannot read schema file" in str(info.value)


def test_composition_errors_pass_through(products_file: Path, tmp_path: Path) -> None:
    clash = tmp_path / "clash.graphql"
    clash.write_text(PRODUCTS_SDL.replace("products: [Product]", "other: Int"))
    with pytest.raises(CompositionError) as info:
        compose_locations(
            [
                SubgraphLocation("products", "http://p", file=str(products_file)),
                SubgraphLocation("clash", "http://c", file=str(clash)),
            ]
        )
    assert "INVALID_FIELD_SHARING" in info.value.codes


def _router_yaml(tmp_path: Path, users_url: str) -> Path:
    config = {
        "subgraphs": {
            "users": {"routing_url": users_url, "schema": {"subgraph_url": users_url}},
            "products": {
                "routing_url": "http://127.0.0.1:4002/graphql",
                "schema": {"file": "products.graphql"},
            },
        }
    }
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_compose_command_writes_then_checks(
    users_server: ServerThread, products_file: Path, tmp_path: Path
) -> None:
    config = _router_yaml(tmp_path, f"{users_server.url}/graphql")
    out = tmp_path / "supergraph.graphql"
    assert compose_command(config, out) is True  # relative schema.file is found next to it
    first = out.read_text()
    assert compose_command(config, out) is False
    assert compose_command(config, out, check=True) is True
    out.write_text(first.replace("shipping", "stale"))
    assert compose_command(config, out, check=True) is False
    assert out.read_text() != first  # --check writes nothing


def test_cli(users_server: ServerThread, products_file: Path, tmp_path: Path) -> None:
    config = _router_yaml(tmp_path, f"{users_server.url}/graphql")
    out = tmp_path / "supergraph.graphql"
    runner = CliRunner()
    result = runner.invoke(compose_cli, ["--config", str(config), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    stale = runner.invoke(compose_cli, ["--config", str(config), "-o", str(out), "--check"])
    assert stale.exit_code == 0, stale.output
    out.write_text("type Query { stale: Int }\n")
    stale = runner.invoke(compose_cli, ["--config", str(config), "-o", str(out), "--check"])
    assert stale.exit_code == 1
    assert "is stale" in stale.output


def test_cli_reports_bad_config_and_composition_errors(tmp_path: Path) -> None:
    bad = tmp_path / "router.yaml"
    bad.write_text("subgraphs:\n  users:\n    routing_url: http://x\n    nope: 1\n")
    result = CliRunner().invoke(compose_cli, ["--config", str(bad), "-o", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "nope" in result.output
    a, b = tmp_path / "a.graphql", tmp_path / "b.graphql"
    a.write_text("type Query { t: T } type T { x: Int }")
    b.write_text("type Query { u: T } interface T { x: Int }")
    clash = tmp_path / "clash.yaml"
    clash.write_text(
        yaml.safe_dump(
            {
                "subgraphs": {
                    "a": {"routing_url": "http://a", "schema": {"file": str(a)}},
                    "b": {"routing_url": "http://b", "schema": {"file": str(b)}},
                }
            }
        )
    )
    result = CliRunner().invoke(compose_cli, ["--config", str(clash), "-o", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "TYPE_KIND_MISMATCH" in result.output
    assert not (tmp_path / "s").exists()


def test_compose_entry_point_for_the_puppies_cli(
    users_server: ServerThread, products_file: Path, tmp_path: Path
) -> None:
    """`puppies compose` calls `compose(config_path=..., output=...)` by import string."""
    from graph.composition.command import compose

    config = _router_yaml(tmp_path, f"{users_server.url}/graphql")
    out = tmp_path / "supergraph.graphql"
    compose(config_path=str(config), output=str(out))
    assert 'USERS @join__graph(name: "users"' in out.read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            {
                "subgraphs": {
                    "x": {
                        "routing_url": "http://x",
                        "schema": {"file": str(tmp_path / "missing.graphql")},
                    },
                }
            }
        )
    )
    with pytest.raises(SystemExit) as info:
        compose(config_path=str(broken), output=str(out))
    assert info.value.code == 2
