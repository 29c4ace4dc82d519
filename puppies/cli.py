"""``puppies``: the command line. (Minimal version on the router branch; the lead merges it
into the full CLI.) Commands of upper layers are loaded by import string when they run, so
``puppies`` never imports them at module level."""

from __future__ import annotations

import importlib
from typing import Any

import click


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


class LazyGroup(click.Group):
    """A click group whose sub-commands are named by import strings and loaded on use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            command: click.Command = _load(self.lazy[cmd_name])
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy={
        "compose": "graph.composition.command:compose_cli",
        "plan": "graph.cli:plan_command",
    },
)
def main() -> None:
    """Puppies: a federated GraphQL API for a social app."""


@main.group(cls=LazyGroup, lazy={"router": "graph.cli:serve_command"})
def serve() -> None:
    """Serve one process."""
