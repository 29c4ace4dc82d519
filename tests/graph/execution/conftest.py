"""Real subgraphs (graphql-core over HTTP on ephemeral ports) and a Gateway in front of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from graph.execution.gateway import Gateway, GatewayOptions, SubgraphOptions
from tests.graph.fixtures.subgraphs import (
    SubgraphServer,
    accounts,
    inventory,
    products,
    reviews,
    supergraph_sdl,
)


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[str, SubgraphServer]]:
    servers = {s.name: s.start() for s in (accounts(), inventory(), products(), reviews())}
    yield servers
    for s in servers.values():
        s.stop()


@pytest.fixture
def servers(_servers: dict[str, SubgraphServer]) -> dict[str, SubgraphServer]:
    for s in _servers.values():
        s.reset()
    return _servers


@pytest.fixture
def sdl(servers: dict[str, SubgraphServer]) -> str:
    return supergraph_sdl({name: s.url for name, s in servers.items()})


@pytest.fixture
async def gateway(sdl: str) -> AsyncIterator[Gateway]:
    gw = Gateway.from_supergraph_sdl(
        sdl, GatewayOptions(default=SubgraphOptions(timeout=5, include_errors=True))
    )
    yield gw
    await gw.aclose()
