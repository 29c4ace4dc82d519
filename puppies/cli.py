"""``puppies``: the command line. (Minimal version on the router branch; the lead merges it
into the full CLI.) Commands of upper layers are loaded by import string, so ``puppies``
never imports them at module level."""

from __future__ import annotations

import importlib
from typing import Any

import click


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@click.group()
def main() -> None:
    """Puppies: a federated GraphQL API for a social app."""


@main.group()
def serve() -> None:
    """Serve one process."""


@serve.command("router")
@click.option("--supergraph", "supergraph_path", required=True, type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--listen", default=None, help="host:port, overriding supergraph.listen.")
@click.option("--log-level", default="warning", show_default=True)
def serve_router(
    supergraph_path: str, config_path: str | None, listen: str | None, log_level: str
) -> None:
    """Serve a supergraph file with the router (router.yaml from --config)."""
    run_or_exit = _load("graph.cli:run_or_exit")
    serve = _load("graph.cli:serve_router")
    run_or_exit(lambda: serve(supergraph_path, config_path, listen=listen, log_level=log_level))
