"""The checked-in router.yaml fits the checked-in supergraph: every @policy the subgraphs use
has a rule, and the demand-control stage builds on it."""

from __future__ import annotations

from pathlib import Path

from graph.config import load_config
from graph.execution.gateway import Gateway
from graph.plugins.authorization import AuthorizationStage, UserScopes
from graph.plugins.demand_control import DemandControlStage

ROOT = Path(__file__).resolve().parents[3]


def test_every_policy_of_the_supergraph_has_a_rule() -> None:
    config = load_config(ROOT / "router.yaml")
    gateway = Gateway.from_supergraph_sdl((ROOT / "supergraph.graphql").read_text())
    stage = AuthorizationStage(config.authorization, gateway)
    used = {
        p
        for r in (*stage.authorizer.types.values(), *stage.authorizer.fields.values())
        for p in r.policy_names
    }
    assert used == {"session", "admin", "moderator"}
    assert config.authorization.directives.evaluator().unknown(used) == []
    assert config.authorization.directives.user_scopes is UserScopes.ALL
    assert stage.authorizer.enabled  # the supergraph carries directives to enforce


def test_demand_control_builds_on_the_supergraph() -> None:
    config = load_config(ROOT / "router.yaml")
    gateway = Gateway.from_supergraph_sdl((ROOT / "supergraph.graphql").read_text())
    stage = DemandControlStage(config.demand_control, gateway)
    assert stage.maximum("free") == 1000 and stage.maximum(None) == 5000
    assert stage.calculator.spec.list_sizes  # the connections are annotated
