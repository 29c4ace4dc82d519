"""docker-compose.yml: valid against the Compose Specification's JSON schema (the copy that
check-jsonschema ships, offline), and coherent: every process of the stack from the one
image with the command the CLI knows, settings that exist, health checks on each process's
own port, dependencies that exist, files that exist. Docker does not run here, so this is
what can be checked of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
import pytest
import yaml

from graph.config import config_from_mapping
from puppies import components
from puppies.observability.tracing import TracingSettings
from puppies.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SCHEMA = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
PORTS = {
    "router": 4000,
    "users": 4001,
    "posts": 4002,
    "feed": 4003,
    "analytics": 4004,
    "worker": 4005,
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def test_the_file_validates_against_the_compose_specification():
    errors = sorted(validator().iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes():
    broken = compose()
    broken["services"]["router"]["restart"] = ["always"]
    broken["services"]["users"]["healthcheck"]["retrys"] = 3
    broken["services"]["feed"]["dependson"] = ["users"]
    assert len(list(validator().iter_errors(broken))) >= 3


def test_every_process_runs_from_the_one_image_with_a_known_command():
    services = compose()["services"]
    puppies = {name: s for name, s in services.items() if s.get("image") == "puppies:latest"}
    assert sorted(puppies) == sorted(["migrate", "router", "worker", *components.SUBGRAPH_APPS])
    assert services["migrate"]["build"] == "." and services["migrate"]["command"] == ["migrate"]
    for name in components.SUBGRAPH_APPS:
        assert puppies[name]["command"] == ["serve", name]
    assert puppies["worker"]["command"] == ["worker"]
    router = puppies["router"]["command"]
    assert router[:2] == ["serve", "router"]
    assert (REPO / router[router.index("--supergraph") + 1]).is_file()
    for name, service in puppies.items():
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name


def test_health_checks_ask_each_process_on_its_own_port():
    services = compose()["services"]
    for name, port in PORTS.items():
        test = " ".join(services[name]["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/health?ready" in test, name
    for name in ("postgres", "redis", "s3"):
        assert services[name]["healthcheck"]["test"], name


def test_dependencies_and_volumes_exist():
    document = compose()
    services = document["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} is missing"
            else:
                assert source in document["volumes"], f"{name}: volume {source} not declared"
    assert services["router"]["depends_on"].keys() == set(components.SUBGRAPH_APPS)


def test_environment_names_only_settings_that_exist():
    known = {n.upper() for n in Settings.model_fields} | {
        n.upper() for n in TracingSettings.model_fields
    }
    for name, service in compose()["services"].items():
        if service.get("image") != "puppies:latest":
            continue
        env = service["environment"]
        for key in env:
            assert key in known, f"{name}: {key} is not a setting"
        settings = Settings(
            **{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields}
        )
        settings.require_services()
        assert settings.environment == "production" and settings.log_format == "json"


def _compose_value(value: str) -> str:
    """`${NAME:-default}` as compose resolves it with NAME unset."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


@pytest.mark.parametrize("name", ["router.yaml", "s3.json"])
def test_mounted_files_are_valid(name: str, monkeypatch: pytest.MonkeyPatch):
    path = REPO / "deploy" / "compose" / name
    if name == "router.yaml":
        # the router's environment in the compose file, as its ${env.X} references see it
        for key, value in compose()["services"]["router"]["environment"].items():
            monkeypatch.setenv(key, _compose_value(str(value)))
        config = config_from_mapping(yaml.safe_load(path.read_text()))
        assert config.authentication.subgraph.principal is not None
        services = compose()["services"]
        for subgraph, url in config.override_subgraph_url.items():
            assert url == f"http://{subgraph}:{PORTS[subgraph]}/graphql"
            assert subgraph in services
    else:
        identities = json.loads(path.read_text())["identities"]
        env = compose()["x-puppies"]["environment"]
        (credentials,) = identities[0]["credentials"]
        assert credentials == {
            "accessKey": env["S3_ACCESS_KEY_ID"],
            "secretKey": env["S3_SECRET_ACCESS_KEY"],
        }
