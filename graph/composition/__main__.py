"""``python -m graph.composition``: the same as ``puppies compose``."""

from graph.composition.command import compose_cli

compose_cli()
