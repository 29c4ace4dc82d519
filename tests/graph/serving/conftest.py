"""Fixtures: real subgraphs and routers on ephemeral ports, real HTTP clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from graph.app import create_app
from graph.config import config_from_mapping
from graph.serving.transports.ws_protocol import LeanWebSocketProtocol
from tests.graph.serving.servers import ServerThread
from tests.graph.serving.subgraphs import accounts_app, reviews_app, supergraph

DEV_CONFIG: dict[str, Any] = {"supergraph": {"introspection": True}}


@pytest.fixture(scope="session")
def subgraph_urls() -> Iterator[dict[str, str]]:
    accounts = ServerThread(accounts_app).start()
    reviews = ServerThread(reviews_app).start()
    yield {
        "accounts": f"{accounts.url}/graphql",
        "reviews": f"{reviews.url}/graphql",
    }
    accounts.stop()
    reviews.stop()


@pytest.fixture(scope="session")
def supergraph_sdl(subgraph_urls: dict[str, str]) -> str:
    return supergraph(subgraph_urls["accounts"], subgraph_urls["reviews"])


RouterFactory = Callable[..., str]


@pytest.fixture(scope="session")
def start_router(supergraph_sdl: str) -> Iterator[RouterFactory]:
    """``start_router(config_dict) -> base URL`` of a router serving that router.yaml."""
    started: list[ServerThread] = []

    def start(config: dict[str, Any] | None = None, **uvicorn_options: Any) -> str:
        parsed = config_from_mapping(config or {})
        server = ServerThread(
            lambda: create_app(supergraph_sdl, parsed),
            # the WebSocket protocol `puppies serve router` runs (graph/cli.py)
            **{"lifespan": "on", "ws": LeanWebSocketProtocol, **uvicorn_options},
        )
        started.append(server.start())
        return server.url

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def router_url(start_router: RouterFactory) -> str:
    """A router with defaults plus introspection on."""
    return start_router(DEV_CONFIG)


@pytest.fixture
async def client(router_url: str) -> Any:
    async with httpx.AsyncClient(base_url=router_url, timeout=10) as http:
        yield http
