"""router.yaml -> the gateway's options, and the check that router.yaml names only subgraphs
the supergraph has."""

from __future__ import annotations

from graph.config import RouterConfig
from graph.errors import ConfigError
from graph.execution.gateway import GatewayOptions, SubgraphOptions


def gateway_options(config: RouterConfig) -> GatewayOptions:
    """The gateway's options from router.yaml (timeouts, subgraph errors, plan cache)."""
    named = set(config.traffic_shaping.subgraphs) | set(config.include_subgraph_errors.subgraphs)
    shaping, errors = config.traffic_shaping, config.include_subgraph_errors
    return GatewayOptions(
        plan_cache_size=config.supergraph.query_planning.cache.in_memory.limit,
        subgraphs={
            name: SubgraphOptions(
                timeout=shaping.timeout_for(name), include_errors=errors.includes(name)
            )
            for name in sorted(named)
        },
        default=SubgraphOptions(timeout=shaping.default_timeout, include_errors=errors.all),
    )


def check_subgraph_names(config: RouterConfig, known: list[str]) -> None:
    """Raise ``ConfigError`` naming every per-subgraph key for a subgraph that does not exist."""
    problems = []
    for section, names in (
        ("traffic_shaping.subgraphs", config.traffic_shaping.subgraphs),
        ("include_subgraph_errors.subgraphs", config.include_subgraph_errors.subgraphs),
        ("headers.subgraphs", config.headers.subgraphs),
    ):
        for name in names:
            if name not in known:
                problems.append(f"{section}.{name}")
    if problems:
        raise ConfigError(
            "router.yaml names subgraphs the supergraph does not have: "
            + ", ".join(problems)
            + f" (the supergraph's subgraphs: {', '.join(sorted(known)) or 'none'})"
        )
