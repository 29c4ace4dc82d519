"""Python ports of federation-gateway-audit suites (graphql-hive/federation-gateway-audit):
each module's `SUBGRAPHS` are the suite's subgraph SDLs, data and resolvers, rewritten as
executable graphql-core subgraphs (tests/graph/fixtures/executable.py), so the router can be
tested on them in-process. `SUITES` maps the suite id to its subgraphs."""

from __future__ import annotations

import importlib

from tests.graph.fixtures.executable import SubgraphDef

NAMES = [
    "complex-entity-call",
    "include-skip",
    "keys-mashup",
    "non-resolvable-interface-object",
    "null-keys",
    "parent-entity-call",
    "parent-entity-call-complex",
    "provides-on-interface",
    "requires-circular",
    "requires-interface",
    "requires-requires",
    "requires-with-argument",
    "shared-root",
    "simple-entity-call",
    "simple-requires-provides",
    "typename",
    "union-intersection",
]


def link(*directives: str, version: str = "2.3") -> str:
    """The `extend schema @link(...)` line of a Federation 2 subgraph importing `directives`."""
    imports = ", ".join(f'"@{d}"' for d in directives)
    return (
        f'extend schema @link(url: "https://specs.apollo.dev/federation/v{version}", '
        f"import: [{imports}])\n"
    )


def subgraphs(suite: str) -> list[SubgraphDef]:
    module = importlib.import_module(f"tests.graph.audit.suites.{suite.replace('-', '_')}")
    return list(module.SUBGRAPHS)
