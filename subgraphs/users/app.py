"""The users subgraph's ASGI app (`puppies serve users`, port 4001)."""

from __future__ import annotations

from fastapi import FastAPI

from puppies.auth import Viewer
from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys
from puppies.settings import Settings, load_settings
from resolvers.runtime import Resources
from resolvers.users.apikeys import DatabaseApiKeyVerifier
from resolvers.users.loaders import UsersLoaders
from resolvers.users.oidc import OidcClients
from subgraphs.common import SubgraphSpec, create_subgraph_app
from subgraphs.users.routes import build_routes
from subgraphs.users.schema import schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    keyring = KeyRing(settings.keys_dir).load()
    oidc = OidcClients(settings)

    def make_loaders(resources: Resources, viewer: Viewer) -> UsersLoaders:
        return UsersLoaders(resources, viewer, keyring, oidc=oidc)

    spec = SubgraphSpec(
        name="users",
        schema=schema,
        make_loaders=make_loaders,
        key_source=lambda resources: LocalKeys(keyring),
        api_key_verifier=DatabaseApiKeyVerifier,
        routers=[build_routes(keyring)],
    )
    return create_subgraph_app(spec, settings)
