"""Fixtures for the edge tests: the users subgraph (in this process, over real HTTP),
a supergraph composed from it, and router processes started on demand."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from graph.composition import Subgraph, compose
from puppies.settings import Settings
from subgraphs.posts.app import create_app as create_posts
from subgraphs.users.app import create_app as create_users
from tests.graph.edge.stack import SECRET, Edge, RequestCounter
from tests.support.servers import serve_asgi
from tests.support.tmp import private_tmp_dir

EdgeFactory = Callable[..., AbstractAsyncContextManager[Edge]]


@pytest.fixture
def edge_stack(clean: Settings, service_env: dict[str, str]) -> EdgeFactory:
    @asynccontextmanager
    async def start(
        environment: str = "test", posts: bool = False, redis_url: str | None = None
    ) -> AsyncIterator[Edge]:
        """`redis_url`: the subgraphs' Redis instead of the session's (a test's own)."""
        settings = clean.model_copy(
            update={"environment": environment, "router_principal_secret": SecretStr(SECRET)}
        )
        if redis_url is not None:
            settings = settings.model_copy(update={"redis_url": redis_url})
        users = RequestCounter(create_users(settings))
        workdir = private_tmp_dir("edge")
        async with contextlib.AsyncExitStack() as stack:
            users_url = await stack.enter_async_context(serve_asgi(users))
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
            subgraphs = [("users", users_url)]
            posts_app = None
            posts_url = None
            if posts:
                jwks = settings.model_copy(
                    update={"jwks_url": f"{users_url}/.well-known/jwks.json"}
                )
                posts_app = create_posts(jwks)
                posts_url = await stack.enter_async_context(serve_asgi(posts_app))
                subgraphs.append(("posts", posts_url))
            edge = Edge(
                settings,
                users_url,
                users,
                workdir / "supergraph.graphql",
                workdir,
                {
                    **service_env,
                    "ROUTER_PRINCIPAL_SECRET": SECRET,
                },
                http,
            )
            sources = []
            for name, url in subgraphs:
                response = await http.post(
                    f"{url}/graphql",
                    json={"query": "{ _service { sdl } }"},
                    headers=edge.direct_headers(),
                )
                sdl = response.json()["data"]["_service"]["sdl"]
                sources.append(Subgraph(name, f"{url}/graphql", sdl))
            edge.supergraph.write_text(compose(sources))
            edge.posts_app = posts_app
            edge.posts_url = posts_url if posts else None
            try:
                yield edge
            finally:
                edge.close()

    return start


@pytest.fixture
async def edge(edge_stack: EdgeFactory) -> AsyncIterator[Edge]:
    async with edge_stack() as stack:
        yield stack
