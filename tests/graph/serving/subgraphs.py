"""Two small real Strawberry subgraphs (accounts, reviews) and a hand-written supergraph
for them, used to test the router's serving layer over real HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import strawberry
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import Info

SUPERGRAPH_TEMPLATE = (Path(__file__).parent / "supergraph.graphql").read_text()

USERS = {"1": "Ada", "2": "Grace", "3": "Linus"}


def _headers(info: Info) -> str:
    request = info.context["request"]
    return json.dumps(dict(sorted(request.headers.items())))


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str

    @strawberry.field
    def friends(self) -> list[User]:
        return [User(id=strawberry.ID(k), name=v) for k, v in USERS.items() if k != self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return User(id=id, name=USERS[str(id)])


@strawberry.type(name="Query")
class AccountsQuery:
    @strawberry.field
    def me(self) -> User:
        return User(id=strawberry.ID("1"), name=USERS["1"])

    @strawberry.field
    def user(self, id: strawberry.ID) -> User | None:
        name = USERS.get(str(id))
        return User(id=id, name=name) if name else None

    @strawberry.field
    def users(self) -> list[User]:
        return [User(id=strawberry.ID(k), name=v) for k, v in USERS.items()]

    @strawberry.field
    def headers(self, info: Info) -> str:
        return _headers(info)

    @strawberry.field
    async def slow(self, seconds: float) -> str | None:
        await asyncio.sleep(seconds)
        return "done"

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("secret internal detail from accounts")


@strawberry.type(name="Mutation")
class AccountsMutation:
    @strawberry.mutation
    def rename(self, id: strawberry.ID, name: str) -> User | None:
        if str(id) not in USERS:
            return None
        USERS[str(id)] = name
        return User(id=id, name=name)


@strawberry.type(name="Subscription")
class AccountsSubscription:
    @strawberry.subscription
    async def countdown(self, start: int) -> AsyncGenerator[int, None]:
        for value in range(start, -1, -1):
            yield value
            await asyncio.sleep(0.01)

    @strawberry.subscription
    async def broken_ticker(self) -> AsyncGenerator[int | None, None]:
        yield 1
        raise ValueError("secret internal detail from the ticker")


@strawberry.type
class Review:
    id: strawberry.ID
    body: str
    author: ReviewsUser


@strawberry.federation.type(keys=["id"], name="User")
class ReviewsUser:
    id: strawberry.ID

    @strawberry.field
    def reviews(self) -> list[Review]:
        return [Review(id=strawberry.ID(f"r{self.id}"), body=f"review by {self.id}", author=self)]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ReviewsUser:
        return ReviewsUser(id=id)


@strawberry.type(name="Query")
class ReviewsQuery:
    @strawberry.field
    def top_reviews(self) -> list[Review]:
        return [
            Review(
                id=strawberry.ID(f"r{k}"),
                body=f"review by {k}",
                author=ReviewsUser(id=strawberry.ID(k)),
            )
            for k in ("1", "2")
        ]

    @strawberry.field
    def review_headers(self, info: Info) -> str:
        return _headers(info)


def accounts_app() -> Any:
    schema = strawberry.federation.Schema(
        query=AccountsQuery,
        mutation=AccountsMutation,
        subscription=AccountsSubscription,
        types=[User],
    )
    return GraphQL(schema, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])


def reviews_app() -> Any:
    schema = strawberry.federation.Schema(query=ReviewsQuery, types=[ReviewsUser])
    return GraphQL(schema)


def supergraph(accounts_url: str, reviews_url: str) -> str:
    return SUPERGRAPH_TEMPLATE.replace("{accounts}", accounts_url).replace("{reviews}", reviews_url)
