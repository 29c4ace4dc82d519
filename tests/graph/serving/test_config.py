"""router.yaml: every section loads, bad keys and values stop start-up naming the key."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from graph.app import create_app
from graph.config import RouterConfig, config_from_mapping, load_config
from graph.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
PUPPIES = str(Path(sys.executable).parent / "puppies")


def test_checked_in_router_yaml_loads() -> None:
    config = load_config(ROOT / "router.yaml")
    assert config.supergraph.listen == "127.0.0.1:4000"
    assert config.supergraph.introspection is True
    assert set(config.subgraphs) == {"users", "posts", "feed", "analytics"}
    assert config.subgraphs["feed"].routing_url == "http://127.0.0.1:4003/graphql"
    assert config.traffic_shaping.timeout_for("analytics") == 10.0
    assert config.traffic_shaping.timeout_for("users") == 30.0


def test_defaults_without_a_file() -> None:
    config = load_config(None)
    assert config.supergraph.path == "/graphql"
    assert config.supergraph.introspection is False
    assert config.limits.http_max_request_bytes == 2_000_000
    assert config.limits.parser_max_tokens == 15_000
    assert config.health_check.path == "/health"
    assert config.csrf.required_headers == ["x-apollo-operation-name", "apollo-require-preflight"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"supergraph": {"listn": "x"}}, "unknown key 'supergraph.listn' (did you mean 'listen'?)"),
        ({"limits": {"max_dept": 3}}, "unknown key 'limits.max_dept' (did you mean 'max_depth'?)"),
        ({"telemetrie": {}}, "unknown key 'telemetrie' (did you mean 'telemetry'?)"),
        (
            {"headers": {"all": {"request": [{"propagate": {"namd": "x"}}]}}},
            "unknown key 'headers.all.request[0].propagate.namd' (did you mean 'named'?)",
        ),
        (
            {"traffic_shaping": {"subgraphs": {"users": {"timout": "1s"}}}},
            "unknown key 'traffic_shaping.subgraphs.users.timout' (did you mean 'timeout'?)",
        ),
        (
            {"cors": {"origin": ["https://x"]}},
            "unknown key 'cors.origin' (did you mean 'origins'?)",
        ),
        (
            {"include_subgraph_errors": {"al": True}},
            "unknown key 'include_subgraph_errors.al' (did you mean 'all'?)",
        ),
        (
            {"health_check": {"enabled": True, "port": 1}},
            "unknown key 'health_check.port'",
        ),
        (
            {"csrf": {"required_header": ["x"]}},
            "unknown key 'csrf.required_header' (did you mean 'required_headers'?)",
        ),
        (
            {"telemetry": {"exporters": {"metrics": {"prometheus": {"enable": True}}}}},
            "unknown key 'telemetry.exporters.metrics.prometheus.enable'",
        ),
    ],
)
def test_unknown_keys_are_named(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(data)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"traffic_shaping": {"all": {"timeout": "soon"}}}, "traffic_shaping.all.timeout"),
        ({"traffic_shaping": {"all": {"timeout": "0s"}}}, "greater than zero"),
        ({"supergraph": {"listen": "4000"}}, "supergraph.listen: '4000' is not a listen address"),
        ({"supergraph": {"listen": "h:70000"}}, "out of range"),
        ({"supergraph": {"path": "graphql"}}, "supergraph.path: a path starts with '/'"),
        ({"limits": {"max_depth": 0}}, "limits.max_depth"),
        ({"limits": {"max_depth": "deep"}}, "limits.max_depth"),
        ({"cors": {"match_origins": ["("]}}, "not a valid regular expression"),
        (
            {"cors": {"allow_any_origin": True, "allow_credentials": True}},
            "cannot be combined",
        ),
        (
            {"headers": {"all": {"request": [{"insert": {"name": "host", "value": "x"}}]}}},
            "'host' is set by the router's HTTP client",
        ),
        (
            {"headers": {"all": {"request": [{"propagate": {"named": "a", "matching": "b"}}]}}},
            "exactly one of 'named' or 'matching'",
        ),
        (
            {"headers": {"all": {"request": [{"propagate": {"named": "a"}, "insert": {}}]}}},
            "exactly one key: propagate, insert or remove",
        ),
        ({"subgraphs": {"users": {"schema": {"file": "x"}}}}, "subgraphs.users.routing_url"),
        ([1, 2], "the top level must be a mapping"),
    ],
)
def test_bad_values_are_named(data: object, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(data)
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"limits": {"max_dept": 1}, "cors": {"origin": []}})
    message = str(caught.value)
    assert "2 problems" in message
    assert "limits.max_dept" in message
    assert "cors.origin" in message


def test_environment_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_LISTEN", "127.0.0.1:4100")
    config = config_from_mapping(
        {
            "supergraph": {"listen": "${env.ROUTER_LISTEN}"},
            "health_check": {"path": "${env.PUPPIES_UNSET_HEALTH:-/ready}"},
        }
    )
    assert config.supergraph.port == 4100
    assert config.health_check.path == "/ready"
    with pytest.raises(ConfigError, match=r"supergraph.path refers to \$\{env.PUPPIES_NOPE\}"):
        config_from_mapping({"supergraph": {"path": "${env.PUPPIES_NOPE}"}})


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "router.yaml"
    bad.write_text("supergraph: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read router config"):
        load_config(tmp_path / "missing.yaml")


def test_subgraph_names_the_supergraph_lacks_are_a_warning(supergraph_sdl: str) -> None:
    config = config_from_mapping(
        {
            "traffic_shaping": {"subgraphs": {"acounts": {"timeout": "1s"}}},
            "headers": {"subgraphs": {"reviewz": {"request": []}}},
        }
    )
    app = create_app(supergraph_sdl, config)
    assert len(app.warnings) == 1
    warning = app.warnings[0]
    assert "traffic_shaping.subgraphs.acounts" in warning
    assert "headers.subgraphs.reviewz" in warning
    assert "accounts, reviews" in warning
    assert create_app(supergraph_sdl, config_from_mapping({})).warnings == []


def test_cli_prints_the_subgraph_name_warning(tmp_path: Path, supergraph_sdl: str) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    config = tmp_path / "router.yaml"
    # the port is taken, so the router stops right after its start-up checks
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config.write_text(
            f"supergraph:\n  listen: 127.0.0.1:{port}\n"
            "include_subgraph_errors:\n  subgraphs:\n    reviewz: true\n"
        )
        result = subprocess.run(
            [PUPPIES, "serve", "router", "--supergraph", str(supergraph), "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert "WARNING router[" in result.stderr
    assert "graph.app: router.yaml names subgraphs" in result.stderr
    assert "include_subgraph_errors.subgraphs.reviewz" in result.stderr


def test_cli_exits_2_naming_the_unknown_key(tmp_path: Path, supergraph_sdl: str) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    config = tmp_path / "router.yaml"
    config.write_text("supergraph:\n  listen: 127.0.0.1:0\nlimits:\n  max_dpth: 3\n")
    result = subprocess.run(
        [PUPPIES, "serve", "router", "--supergraph", str(supergraph), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == 2
    assert "unknown key 'limits.max_dpth' (did you mean 'max_depth'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_exits_2_on_a_missing_supergraph(tmp_path: Path) -> None:
    result = subprocess.run(
        [PUPPIES, "serve", "router", "--supergraph", str(tmp_path / "nope.graphql")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot read supergraph" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_exits_2_on_a_file_that_is_not_a_supergraph(tmp_path: Path) -> None:
    plain = tmp_path / "schema.graphql"
    plain.write_text("type Query { a: Int }\n")
    result = subprocess.run(
        [PUPPIES, "serve", "router", "--supergraph", str(plain)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"cannot serve supergraph {plain}" in result.stderr
    assert "Traceback" not in result.stderr


def _key_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """The dotted path of every leaf key of a config model (``<name>`` for map keys)."""
    paths: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        models = [
            a
            for a in (annotation, *get_args(annotation))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if get_origin(annotation) is dict:
            value = get_args(annotation)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                paths += _key_paths(value, f"{path}.<name>.")
            else:
                paths.append(f"{path}.<name>")
        elif models:
            paths += _key_paths(models[0], f"{path}.")
        else:
            paths.append(path)
    return paths


def test_every_key_is_documented() -> None:
    docs = (ROOT / "docs" / "router-config.md").read_text()
    paths = _key_paths(RouterConfig)
    assert len(paths) > 30
    missing = [path for path in paths if f"`{path}`" not in docs]
    assert missing == []
