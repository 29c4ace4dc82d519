"""The checked-in `supergraph.graphql` is what our four subgraphs compose into today.

Each subgraph's `_service { sdl }` is taken in-process from its Strawberry schema (no server,
no database) and composed with the routing URLs of `router.yaml`. When a subgraph's schema
changes, this test fails until `puppies compose` (with the subgraphs running) or
`python -m tests.graph.composition.test_checked_in_supergraph` rewrites the file."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from graph.composition import Subgraph, compose
from graph.config import load_config

ROOT = Path(__file__).resolve().parents[3]
NAMES = ("users", "posts", "feed", "analytics")


def _schemas() -> dict[str, Any]:
    found = {}
    for name in NAMES:
        try:
            module = importlib.import_module(f"subgraphs.{name}.schema")
        except ModuleNotFoundError:
            return {}
        found[name] = module.schema
    return found


def composed_supergraph() -> str:
    config = load_config(ROOT / "router.yaml")
    subgraphs = []
    for name, schema in _schemas().items():
        result = schema.execute_sync("{ _service { sdl } }")
        assert not result.errors, result.errors
        routing_url = config.subgraphs[name].routing_url
        subgraphs.append(Subgraph(name, routing_url, result.data["_service"]["sdl"]))
    return compose(subgraphs)


@pytest.mark.skipif(not _schemas(), reason="the four subgraph packages are not in this tree")
def test_checked_in_supergraph_is_current() -> None:
    path = ROOT / "supergraph.graphql"
    assert path.exists(), "supergraph.graphql is missing: run `puppies compose`"
    assert path.read_text() == composed_supergraph(), (
        "supergraph.graphql is stale: run `puppies compose` (or "
        "`python -m tests.graph.composition.test_checked_in_supergraph`)"
    )


if __name__ == "__main__":  # rewrite the file from the schemas in this tree
    (ROOT / "supergraph.graphql").write_text(composed_supergraph())
    sys.stdout.write(f"wrote {ROOT / 'supergraph.graphql'}\n")
