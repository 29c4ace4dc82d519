"""The processes of the stack, and how to find the code behind each (by import string).

`puppies/` sits below every other layer, so it names upper-layer code only as strings and
loads it at run time; this is also what lets `puppies dev` start only what exists.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# subgraph name -> "module:factory" of its ASGI app factory, taking (settings).
SUBGRAPH_APPS: dict[str, str] = {
    "users": "subgraphs.users.app:create_app",
    "posts": "subgraphs.posts.app:create_app",
    "feed": "subgraphs.feed.app:create_app",
    "analytics": "subgraphs.analytics.app:create_app",
}
ROUTER_CLI = "graph.cli"
COMPOSE_COMMAND = "graph.composition.command:compose_cli"
PLAN_COMMAND = "graph.cli:plan_command"
WORKER_MAIN = "workers.main:run"
SEED_MAIN = "workers.seed:run"
USERS_COMMAND = "workers.admin:users_cli"
API_KEY_CLIENT = "workers.admin:set_api_key_client"


def exists(target: str) -> bool:
    """True when the module behind "module:attr" can be imported (it has been built)."""
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def load(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    port: int | None


def stack(settings: Any, cli: list[str], supergraph: str, router_config: str) -> list[Component]:
    """Every process `puppies dev` starts, in start order; only those whose code exists."""
    out: list[Component] = []
    for name, target in SUBGRAPH_APPS.items():
        if exists(target):
            out.append(Component(name, [*cli, "serve", name], getattr(settings, f"{name}_port")))
    if exists(WORKER_MAIN):
        # its /health and /metrics listener (0: a free port, nothing to wait for)
        out.append(Component("worker", [*cli, "worker"], settings.worker_port or None))
    if exists(ROUTER_CLI + ":serve_router"):
        out.append(
            Component(
                "router",
                [*cli, "serve", "router", "--supergraph", supergraph, "--config", router_config],
                settings.router_port,
            )
        )
    return out
