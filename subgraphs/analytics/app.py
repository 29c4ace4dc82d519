"""The analytics subgraph's ASGI app (`puppies serve analytics`, port 4004)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from puppies.auth import Viewer
from puppies.auth.tokens import KeySource
from puppies.settings import Settings, load_settings
from resolvers.analytics.loaders import AnalyticsLoaders
from resolvers.runtime import Resources
from subgraphs.analytics.schema import schema
from subgraphs.common import SubgraphSpec, create_subgraph_app


def create_app(
    settings: Settings | None = None, *, key_source: Callable[[Resources], KeySource] | None = None
) -> FastAPI:
    """`key_source`: how access tokens are verified (default: the users subgraph's JWKS)."""
    settings = settings or load_settings()

    def make_loaders(resources: Resources, viewer: Viewer) -> AnalyticsLoaders:
        return AnalyticsLoaders(resources, viewer)

    spec = SubgraphSpec(
        name="analytics", schema=schema, make_loaders=make_loaders, key_source=key_source
    )
    return create_subgraph_app(spec, settings)
