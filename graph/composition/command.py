"""``puppies compose``: the click command (wired into the CLI by import string)."""

from __future__ import annotations

import sys

import click

from graph.composition.errors import CompositionError, CompositionFailure
from graph.composition.sources import compose_command
from graph.errors import ConfigError


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
    "--output", "-o", default="supergraph.graphql", show_default=True,
    type=click.Path(dir_okay=False), help="Where to write the supergraph SDL.",
)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per subgraph fetch.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the file is stale.")
def compose_cli(config_path: str, output: str, timeout: float, check: bool) -> None:
    """Compose the subgraphs listed in router.yaml into a supergraph SDL file."""
    try:
        result = compose_command(config_path, output, timeout=timeout, check=check)
    except CompositionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except (CompositionFailure, ConfigError) as exc:
        click.echo(f"compose: {exc}", err=True)
        sys.exit(2)
    if check:
        if not result:
            click.echo(f"{output} is stale: run `puppies compose`", err=True)
            sys.exit(1)
        click.echo(f"{output} is up to date")
    else:
        click.echo(f"{'wrote' if result else 'unchanged:'} {output}")


if __name__ == "__main__":  # pragma: no cover
    compose_cli()
