"""Composition: subgraph SDLs -> supergraph SDL (pure, no I/O; see `sources` for the I/O side)."""

from graph.composition.compose import build_supergraph, compose
from graph.composition.errors import (
    CompositionError,
    CompositionFailure,
    CompositionIssue,
    SubgraphSourceError,
)
from graph.composition.model import Subgraph

__all__ = [
    "CompositionError",
    "CompositionFailure",
    "CompositionIssue",
    "Subgraph",
    "SubgraphSourceError",
    "build_supergraph",
    "compose",
]
