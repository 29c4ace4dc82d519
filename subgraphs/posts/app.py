"""The posts subgraph's ASGI app (`puppies serve posts`, port 4002).

HTTP and WebSocket (graphql-transport-ws and graphql-ws) on `/graphql`. One LikeBroker per
process feeds every `postLikeChanged` subscriber from one Redis pub/sub connection.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from puppies.auth import Viewer
from puppies.auth.tokens import KeySource
from puppies.settings import Settings, load_settings
from resolvers.posts.live import LikeBroker
from resolvers.posts.loaders import PostsLoaders
from resolvers.runtime import Resources
from subgraphs.common import SubgraphSpec, create_subgraph_app
from subgraphs.posts.schema import schema


def create_app(
    settings: Settings | None = None, *, key_source: Callable[[Resources], KeySource] | None = None
) -> FastAPI:
    """`key_source`: how access tokens are verified (default: the users subgraph's JWKS)."""
    settings = settings or load_settings()
    brokers: list[LikeBroker] = []  # the process's one broker, once started

    async def startup(app: FastAPI, resources: Resources) -> None:
        resources.s3  # noqa: B018 (make boto3's client now, not in the first createPost)
        broker = LikeBroker(resources.redis, settings.subscription_queue_size)
        await broker.start()
        brokers.append(broker)
        app.state.like_broker = broker

    async def shutdown(app: FastAPI, resources: Resources) -> None:
        for broker in brokers:
            await broker.stop()
        brokers.clear()

    def make_loaders(resources: Resources, viewer: Viewer) -> PostsLoaders:
        return PostsLoaders(resources, viewer.user_id, brokers[0])

    spec = SubgraphSpec(
        name="posts",
        schema=schema,
        make_loaders=make_loaders,
        key_source=key_source,
        on_startup=startup,
        on_shutdown=shutdown,
    )
    return create_subgraph_app(spec, settings)
