"""A real Strawberry subgraph with authorization and cost directives (federation v2.9), and
routers for it: what the authorization and demand-control stages are tested against.

The subgraph counts the root fields it resolves, so a test can tell a field the router
removed (never asked for) from one that came back null."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.asgi import GraphQL
from strawberry.federation.schema_directives import ListSize
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from graph.composition import Subgraph, compose
from graph.http import HttpError
from graph.serving.request import Principal, RouterRequest
from graph.serving.stage import Stage

RESOLVED: Counter[str] = Counter()


@strawberry.type
class Account:
    id: strawberry.ID
    name: str


@strawberry.federation.type(keys=["id"])
class Product:
    id: strawberry.ID
    name: str
    price: int = strawberry.federation.field(authenticated=True)
    margin: int | None = strawberry.federation.field(requires_scopes=[["read:margins"]])


def _products(n: int) -> list[Product]:
    return [
        Product(id=strawberry.ID(str(i)), name=f"product {i}", price=10 * i, margin=i)
        for i in range(1, n + 1)
    ]


@strawberry.type
class Query:
    @strawberry.federation.field(authenticated=True)
    def me(self) -> Account:
        RESOLVED["me"] += 1
        return Account(id=strawberry.ID("7"), name="Ada")

    @strawberry.field
    def product(self, id: strawberry.ID) -> Product | None:
        RESOLVED["product"] += 1
        return Product(id=id, name=f"product {id}", price=42, margin=5)

    @strawberry.field(
        directives=[
            ListSize(
                assumed_size=5,
                slicing_arguments=["first"],
                sized_fields=[],
                require_one_slicing_argument=True,
            )
        ]
    )
    def products(self, first: int = 5) -> list[Product]:
        RESOLVED["products"] += 1
        return _products(min(first, 20))

    @strawberry.field(
        directives=[
            ListSize(
                assumed_size=5,
                slicing_arguments=["first", "last"],
                sized_fields=[],
                require_one_slicing_argument=True,
            )
        ]
    )
    def window(self, first: int | None = None, last: int | None = None) -> list[Product]:
        RESOLVED["window"] += 1
        return _products(first or last or 1)

    @strawberry.federation.field(policy=[["auditor"]])
    def audit(self) -> str:
        RESOLVED["audit"] += 1
        return "all clear"


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(requires_scopes=[["write:orders"]])
    def order(self, id: strawberry.ID) -> Product:
        RESOLVED["order"] += 1
        return Product(id=id, name=f"product {id}", price=42, margin=5)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, n: int) -> AsyncGenerator[int, None]:
        for i in range(n):
            yield i
            await asyncio.sleep(0.01)

    @strawberry.federation.field(authenticated=True, is_subscription=True)
    async def secret_ticks(self) -> AsyncGenerator[int, None]:
        RESOLVED["secretTicks"] += 1
        yield 1


SCHEMA = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Product],
    federation_version="2.9",
)


def shop_app() -> Any:
    return GraphQL(SCHEMA, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])


def shop_supergraph(url: str) -> str:
    sdl = SCHEMA.execute_sync("{ _service { sdl } }").data["_service"]["sdl"]  # type: ignore[index]
    return compose([Subgraph("shop", url, sdl)])


class HeaderIdentity(Stage):
    """Stands in for authentication, which the router does not have yet: the caller's
    principal from an ``x-test-principal: kind;scope,scope;tier`` header."""

    name = "test_identity"

    async def on_request(self, request: RouterRequest) -> None:
        raw = request.header(b"x-test-principal")
        if raw is None:
            return
        kind, scopes, tier = ([*raw.decode().split(";"), "", ""])[:3]
        if kind not in ("user", "api_key"):
            raise HttpError(400, f"unknown test principal kind {kind!r}")
        request.principal = Principal(
            kind=kind,
            id="test",
            user_id="7",
            tier=tier or None,
            scopes=frozenset(s for s in scopes.split(",") if s),
        )
