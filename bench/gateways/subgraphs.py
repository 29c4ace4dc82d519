"""The benchmark's four subgraphs in one lean raw-ASGI app: POST /accounts, /inventory,
/products, /reviews; GET /health.

Every request really executes its operation with graphql-core (sync resolvers over in-memory
data). The only shortcut is a parse+validate cache keyed by the query text, the same cache
any production GraphQL server keeps. Run with several uvicorn workers:

    .venv/bin/uvicorn bench.gateways.subgraphs:app --port 4200 --workers 2 \
        --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute_sync,
    parse,
    validate,
)

from bench.gateways.data import IN_STOCK, PRODUCTS, REVIEWS, SDL, USERS

_PRELUDE = """
scalar _Any
scalar link__Import
type _Service { sdl: String }
directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @external on FIELD_DEFINITION | OBJECT
directive @requires(fields: String!) on FIELD_DEFINITION
directive @provides(fields: String!) on FIELD_DEFINITION
directive @shareable repeatable on FIELD_DEFINITION | OBJECT
"""

USERS_BY_ID = {u["id"]: u for u in USERS}
PRODUCTS_BY_UPC = {p["upc"]: p for p in PRODUCTS}
REVIEWS_BY_ID = {r["id"]: r for r in REVIEWS}


def _review(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "__typename": "Review",
        "id": r["id"],
        "body": r["body"],
        "product": {"__typename": "Product", "upc": r["product_upc"]},
        # @provides(fields: "username"): the author comes with its username.
        "author": {"__typename": "User", "id": "1", "username": "urigo"},
    }


def _user_reviews(_user_id: str) -> list[dict[str, Any]]:
    return [_review(r) for r in REVIEWS[:2]]


def _entity(name: str, rep: dict[str, Any]) -> dict[str, Any] | None:
    typename = rep.get("__typename")
    if name == "accounts" and typename == "User":
        return USERS_BY_ID.get(str(rep.get("id")))
    if name == "products" and typename == "Product":
        return PRODUCTS_BY_UPC.get(str(rep.get("upc")))
    if name == "inventory" and typename == "Product":
        upc = str(rep.get("upc"))
        price, weight = rep.get("price"), rep.get("weight")
        estimate = None
        if isinstance(price, int) and isinstance(weight, int):
            estimate = 0 if price > 1000 else weight // 2
        return {"upc": upc, "inStock": IN_STOCK.get(upc), "shippingEstimate": estimate}
    if name == "reviews" and typename == "User":
        return {"__typename": "User", "id": str(rep.get("id")), "username": rep.get("username")}
    if name == "reviews" and typename == "Product":
        return {"__typename": "Product", "upc": str(rep.get("upc"))}
    if name == "reviews" and typename == "Review":
        review = REVIEWS_BY_ID.get(str(rep.get("id")))
        return None if review is None else _review(review)
    return None


def _root(name: str) -> dict[str, Any]:
    if name == "accounts":
        return {
            "me": lambda *_: USERS[0],
            "user": lambda _root, _info, id: USERS_BY_ID.get(id),
            "users": lambda *_: USERS,
        }
    if name == "products":
        return {"topProducts": lambda _root, _info, first=5: PRODUCTS[:first]}
    return {}


def build_subgraph(name: str) -> GraphQLSchema:
    sdl = SDL[name]
    body = sdl.split("\n", 1)[1]  # drop `extend schema @link(...)`
    entities = {
        "accounts": "User",
        "inventory": "Product",
        "products": "Product",
        "reviews": "Review | User | Product",
    }[name]
    has_query = "type Query" in body
    query_ext = (
        "extend type Query" if has_query else "type Query"
    ) + " { _service: _Service! _entities(representations: [_Any!]!): [_Entity]! }"
    schema = build_schema(_PRELUDE + body + f"\nunion _Entity = {entities}\n" + query_ext)
    query = schema.query_type
    assert query is not None
    for field_name, resolver in _root(name).items():
        query.fields[field_name].resolve = resolver
    query.fields["_service"].resolve = lambda *_: {"sdl": sdl}
    query.fields["_entities"].resolve = lambda _root, _info, representations: [
        _entity(name, rep) for rep in representations
    ]
    if name == "reviews":
        user, product = schema.type_map["User"], schema.type_map["Product"]
        user.fields["reviews"].resolve = (  # type: ignore[attr-defined]
            lambda u, _info: _user_reviews(u["id"])
        )
        product.fields["reviews"].resolve = (  # type: ignore[attr-defined]
            lambda p, _info: [_review(r) for r in REVIEWS if r["product_upc"] == p["upc"]]
        )
    entity_union = schema.type_map["_Entity"]
    entity_union.resolve_type = _resolve_entity_type  # type: ignore[attr-defined]
    return schema


def _resolve_entity_type(value: Any, info: Any, abstract: Any) -> str | None:
    if "__typename" in value:
        return str(value["__typename"])
    return "Product" if "upc" in value else "User"


class SubgraphServer:
    def __init__(self, name: str) -> None:
        self.schema = build_subgraph(name)
        self.documents: dict[str, DocumentNode | list[GraphQLError]] = {}

    def handle(self, payload: Any) -> bytes:
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return orjson.dumps({"errors": [{"message": "POST a JSON object with a query"}]})
        query: str = payload["query"]
        document = self.documents.get(query)
        if document is None:
            try:
                parsed = parse(query)
                errors = validate(self.schema, parsed)
                document = errors if errors else parsed
            except GraphQLError as exc:
                document = [exc]
            if len(self.documents) < 1000:
                self.documents[query] = document
        if isinstance(document, list):
            return orjson.dumps({"errors": [e.formatted for e in document]})
        result = execute_sync(
            self.schema,
            document,
            variable_values=payload.get("variables"),
            operation_name=payload.get("operationName"),
        )
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        return orjson.dumps(out)


SERVERS = {name: SubgraphServer(name) for name in SDL}
# Per-process counters (requests, request bytes, response bytes) by subgraph, for GET /stats:
# meaningful with one worker, which is how fetch_stats runs it.
STATS: dict[str, list[int]] = {name: [0, 0, 0] for name in SDL}
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_JSON = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"].rstrip("/").rsplit("/", 1)[-1]
    if scope["method"] == "GET" and path == "health":
        await _respond(send, 200, b"OK", [(b"content-type", b"text/plain")])
        return
    if scope["method"] == "GET" and path == "stats":
        await _respond(send, 200, orjson.dumps(STATS), _JSON)
        return
    server = SERVERS.get(path)
    if server is None or scope["method"] != "POST":
        await _respond(send, 404, b'{"errors":[{"message":"not found"}]}', _JSON)
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        await _respond(send, 400, b'{"errors":[{"message":"invalid JSON"}]}', _JSON)
        return
    answer = server.handle(payload)
    counters = STATS[path]
    counters[0] += 1
    counters[1] += len(body)
    counters[2] += len(answer)
    await _respond(send, 200, answer, _JSON)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
