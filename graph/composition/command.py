"""``puppies compose``: the function the CLI calls, and a click command wrapping it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from graph.composition.errors import CompositionError, CompositionFailure
from graph.composition.sources import compose_command
from graph.errors import ConfigError


def run_compose(
    config_path: str | Path | None = "router.yaml",
    output: str | Path = "supergraph.graphql",
    *,
    timeout: float = 10.0,
    check: bool = False,
) -> int:
    """Compose the subgraphs of router.yaml into `output`; print what happened; return the exit
    status: 0 done (or up to date with `check`), 1 composition errors or a stale file with
    `check`, 2 a bad config or a subgraph whose SDL could not be fetched."""
    try:
        result = compose_command(config_path, output, timeout=timeout, check=check)
    except CompositionError as exc:
        click.echo(str(exc), err=True)
        return 1
    except (CompositionFailure, ConfigError) as exc:
        click.echo(f"compose: {exc}", err=True)
        return 2
    if check:
        if not result:
            click.echo(f"{output} is stale: run `puppies compose`", err=True)
            return 1
        click.echo(f"{output} is up to date")
    else:
        click.echo(f"{'wrote' if result else 'unchanged:'} {output}")
    return 0


def compose(config_path: str = "router.yaml", output: str = "supergraph.graphql") -> None:
    """What ``puppies compose --config X -o Y`` calls (by import string)."""
    status = run_compose(config_path, output)
    if status:
        sys.exit(status)


@click.command("compose")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default="router.yaml",
    show_default=True,
    help="router.yaml whose `subgraphs` section lists the subgraphs.",
)
@click.option(
    "--output",
    "-o",
    default="supergraph.graphql",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the supergraph SDL.",
)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per subgraph fetch.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the file is stale.")
def compose_cli(config_path: str, output: str, timeout: float, check: bool) -> None:
    """Compose the subgraphs listed in router.yaml into a supergraph SDL file."""
    sys.exit(run_compose(config_path, output, timeout=timeout, check=check))
