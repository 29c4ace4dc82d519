"""router.yaml -> the gateway's options, and a warning when router.yaml names subgraphs the
supergraph does not have."""

from __future__ import annotations

from graph.config import RouterConfig
from graph.execution.breaker import BreakerOptions
from graph.execution.gateway import GatewayOptions, SubgraphOptions
from graph.plugins.headers import HeaderPropagation
from graph.plugins.traffic_shaping import TrafficShapingConfig


def _breaker(shaping: TrafficShapingConfig, subgraph: str) -> BreakerOptions | None:
    found = shaping.circuit_breaker_for(subgraph)
    if found is None:
        return None
    return BreakerOptions(
        error_threshold=found.error_threshold,
        volume_threshold=found.volume_threshold,
        reset_timeout=found.reset_timeout,
        half_open_attempts=found.half_open_attempts,
    )


def gateway_options(config: RouterConfig) -> GatewayOptions:
    """The gateway's options from router.yaml (timeouts, breakers, subgraph errors, plan
    cache)."""
    named = (
        set(config.traffic_shaping.subgraphs)
        | set(config.include_subgraph_errors.subgraphs)
        | set(config.override_subgraph_url)
    )
    shaping, errors = config.traffic_shaping, config.include_subgraph_errors
    return GatewayOptions(
        plan_cache_size=config.supergraph.query_planning.cache.in_memory.limit,
        subgraphs={
            name: SubgraphOptions(
                timeout=shaping.timeout_for(name),
                include_errors=errors.includes(name),
                url=config.override_subgraph_url.get(name),
                deduplicate=shaping.deduplicate_for(name),
                breaker=_breaker(shaping, name),
            )
            for name in sorted(named)
        },
        default=SubgraphOptions(
            timeout=shaping.default_timeout,
            include_errors=errors.all,
            deduplicate=shaping.deduplicate_for(""),
            breaker=_breaker(shaping, ""),
        ),
        deduplicate_requests=shaping.router.deduplicate_requests,
        defer_support=config.supergraph.defer_support,
        suggestions=config.supergraph.introspection,
    )


def unknown_subgraph_names(config: RouterConfig, known: list[str]) -> str | None:
    """A warning naming every per-subgraph key for a subgraph the supergraph does not have.

    Not an error: the same router.yaml serves supergraphs with fewer subgraphs (a dev stack
    where only some subgraphs run), and such keys then simply do nothing. The router prints
    the warning at start-up, so a misspelt subgraph name does not go unnoticed.
    """
    problems = []
    for section, names in (
        ("traffic_shaping.subgraphs", config.traffic_shaping.subgraphs),
        ("include_subgraph_errors.subgraphs", config.include_subgraph_errors.subgraphs),
        ("headers.subgraphs", config.headers.subgraphs),
        ("override_subgraph_url", config.override_subgraph_url),
    ):
        for name in names:
            if name not in known:
                problems.append(f"{section}.{name}")
    if not problems:
        return None
    return (
        "router.yaml names subgraphs the supergraph does not have (these keys do nothing): "
        + ", ".join(problems)
        + f" (the supergraph's subgraphs: {', '.join(sorted(known)) or 'none'})"
    )


_CREDENTIALS = ("authorization", "x-api-key")


def credentials_warning(config: RouterConfig, known: list[str]) -> str | None:
    """A warning when subgraphs would learn nothing of who calls: the header rules pass
    neither ``authorization`` nor ``x-api-key`` to some subgraph and the router forwards no
    signed principal (``authentication.subgraph.principal``). None when that is not so, or
    when the router.yaml configures neither headers nor authentication (a plain gateway)."""
    if config.authentication.subgraph.principal is not None:
        return None
    propagation = HeaderPropagation(config.headers)
    if not propagation.enabled and not config.authentication.enabled:
        return None
    client = {name: ["credential"] for name in _CREDENTIALS}
    deaf = []
    for name in sorted(known):
        out: dict[str, str] = {}
        propagation.apply(client, name, out)
        if not any(header in out for header in _CREDENTIALS):
            deaf.append(name)
    if not deaf:
        return None
    return (
        "router.yaml: no credential reaches subgraph(s) "
        + ", ".join(deaf)
        + ": the headers rules pass neither authorization nor x-api-key to them, and the "
        "router forwards no signed principal (authentication.subgraph.principal), so they "
        "see every caller as anonymous. Forward the principal, or propagate the headers."
    )
