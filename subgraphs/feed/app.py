"""The feed subgraph's ASGI app (`puppies serve feed`, port 4003)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from puppies.auth import Viewer
from puppies.auth.tokens import KeySource
from puppies.settings import Settings, load_settings
from resolvers.feed.read import install_read_budget
from resolvers.runtime import Resources
from subgraphs.common import SubgraphSpec, create_subgraph_app
from subgraphs.feed.schema import FeedRequestState, schema


def create_app(
    settings: Settings | None = None, *, key_source: Callable[[Resources], KeySource] | None = None
) -> FastAPI:
    """`key_source`: how access tokens are verified (default: the users subgraph's JWKS)."""
    settings = settings or load_settings()

    def make_state(resources: Resources, viewer: Viewer) -> FeedRequestState:
        return FeedRequestState()

    async def startup(app: FastAPI, resources: Resources) -> None:
        install_read_budget(resources)

    spec = SubgraphSpec(
        name="feed",
        schema=schema,
        make_loaders=make_state,
        key_source=key_source,
        on_startup=startup,
    )
    return create_subgraph_app(spec, settings)
