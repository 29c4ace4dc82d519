"""The users subgraph's ASGI app (`puppies serve users`, port 4001).

HTTP and WebSocket on `/graphql`; one KeyedBroker per process feeds every
`notificationAdded` subscriber from one Redis pub/sub connection."""

from __future__ import annotations

from fastapi import FastAPI

from puppies.auth import Viewer
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys
from puppies.broker import KeyedBroker
from puppies.settings import Settings, load_settings
from resolvers.runtime import Resources
from resolvers.users.apikeys import DatabaseApiKeyVerifier
from resolvers.users.loaders import UsersLoaders
from resolvers.users.notifications import CHANNEL, NotificationRecord, decode_message
from resolvers.users.oidc import OidcClients
from subgraphs.common import SubgraphSpec, create_subgraph_app
from subgraphs.users.routes import build_routes
from subgraphs.users.schema import schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    keyring = KeyRing(settings.keys_dir).load()
    oidc = OidcClients(settings)
    brokers: list[KeyedBroker[NotificationRecord]] = []  # the process's one, once started

    async def startup(app: FastAPI, resources: Resources) -> None:
        broker = KeyedBroker(
            resources.redis, CHANNEL, decode_message, settings.subscription_queue_size
        )
        await broker.start()
        brokers.append(broker)
        app.state.notification_broker = broker

    async def shutdown(app: FastAPI, resources: Resources) -> None:
        for broker in brokers:
            await broker.stop()
        brokers.clear()

    def make_loaders(resources: Resources, viewer: Viewer) -> UsersLoaders:
        return UsersLoaders(
            resources,
            viewer,
            keyring,
            oidc=oidc,
            notification_broker=brokers[0] if brokers else None,
        )

    spec = SubgraphSpec(
        name="users",
        schema=schema,
        make_loaders=make_loaders,
        key_source=lambda resources: LocalKeys(keyring),
        api_key_verifier=DatabaseApiKeyVerifier,
        routers=[build_routes(keyring)],
        on_startup=startup,
        on_shutdown=shutdown,
    )
    return create_subgraph_app(spec, settings)
