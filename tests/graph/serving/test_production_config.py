"""router.production.yaml: the image's default config. Loaded with the environment a
deployment gives it, and served by a real router process in front of the test subgraphs:
introspection off (and no "Did you mean"), subgraph errors redacted, no IDE, nosniff."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from graph.config import load_config
from graph.errors import ConfigError
from puppies.embedded import free_port
from puppies.settings import Settings
from tests.support.servers import run_cli

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = ROOT / "router.production.yaml"
SECRET = "production-config-test-principal-secret-0123"


def _env(redis_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "ROUTER_PRINCIPAL_SECRET": SECRET,
        "HOST": "127.0.0.1",
        "ROUTER_PORT": str(port),
    }


def test_the_production_config_is_what_production_needs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _env(str(settings.redis_url), 4000).items():
        monkeypatch.setenv(key, value)
    config = load_config(PRODUCTION)
    assert config.supergraph.introspection is False
    assert config.include_subgraph_errors.all is False
    assert not config.include_subgraph_errors.subgraphs
    assert config.graphiql.enabled is False
    assert config.authentication.enabled
    assert config.authentication.subgraph.principal is not None
    assert config.rate_limits.enabled and config.demand_control.mode == "enforce"
    assert config.limits.max_directives is not None
    monkeypatch.delenv("ROUTER_PRINCIPAL_SECRET")
    with pytest.raises(ConfigError, match="ROUTER_PRINCIPAL_SECRET"):
        load_config(PRODUCTION)  # no secret, no start


def test_the_image_serves_the_production_config() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "router.production.yaml" in dockerfile
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert '"router.production.yaml"' in cmd


async def test_a_router_on_the_production_config(
    settings: Settings, supergraph_sdl: str, tmp_path: Path
) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    port = free_port()
    args = ["serve", "router", "--supergraph", str(supergraph), "--config", str(PRODUCTION)]
    with run_cli(args, _env(str(settings.redis_url), port), port=port):
        url = f"http://127.0.0.1:{port}/graphql"
        async with httpx.AsyncClient(timeout=30) as http:
            schema = await http.post(url, json={"query": "{ __schema { types { name } } }"})
            typo = await http.post(url, json={"query": "{ mee { name } }"})
            broken = await http.post(url, json={"query": "{ broken me { name } }"})
            ide = await http.get(url, headers={"accept": "text/html"})
    assert schema.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert "Did you mean" not in typo.text
    assert broken.json()["data"]["me"] == {"name": "Ada"}
    assert broken.json()["errors"][0]["message"] == "Subgraph errors redacted"
    assert "secret internal detail" not in broken.text
    assert "graphiql" not in ide.text.lower()
    for answer in (schema, typo, broken, ide):
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "ratelimit" in broken.headers  # anonymous callers are limited per address
