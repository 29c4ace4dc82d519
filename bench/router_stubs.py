"""Stub subgraphs for the router benches: one process answers every subgraph of a supergraph
(at ``/<name>``) with data generated from the supergraph schema, so the router's side of a
request (plan, fetches, HTTP client, parsing, entity merge, shaping) can be measured without
the subgraphs' and PostgreSQL's CPU in the same picture.

    .venv/bin/python -m bench.router_stubs --port PORT [--supergraph FILE]

The answer to a request is a function of its body (cached: the second identical request
costs a dictionary look-up): `_entities` returns one object per representation (its keys
echoed), lists are as long as the nearest `first`/`limit` argument (else 3), scalars are
deterministic (IDs count up per response, so the entities of a page are distinct), abstract
types resolve to their first possible type. Not a GraphQL server: no validation, no errors.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import graphql
import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)

ROOT = Path(__file__).resolve().parents[1]
TEXT = "A walk in the park with the puppies this morning, then a long nap in the sun. "


class Responder:
    """Generates a subgraph's answer to a request from the supergraph schema."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.cache: dict[bytes, bytes] = {}

    def answer(self, body: bytes) -> bytes:
        cached = self.cache.get(body)
        if cached is None:
            request = orjson.loads(body)
            data = self.data(request["query"], request.get("variables") or {})
            cached = self.cache[body] = orjson.dumps({"data": data})
        return cached

    def data(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        document = graphql.parse(query)
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.ids = itertools.count(1001)
        root = self.schema.get_root_type(operation.operation)
        assert root is not None
        return self.object(root, operation.selection_set, {}, 3)

    def _skipped(self, node: Any) -> bool:
        for directive in node.directives or ():
            if directive.name.value in ("skip", "include") and directive.arguments:
                value = value_from_ast_untyped(directive.arguments[0].value, self.variables)
                if bool(value) == (directive.name.value == "skip"):
                    return True
        return False

    def _fields(self, type_: GraphQLObjectType, selection_set: SelectionSetNode) -> list[FieldNode]:
        out: list[FieldNode] = []
        for selection in selection_set.selections:
            if self._skipped(selection):
                continue
            if isinstance(selection, FieldNode):
                out.append(selection)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, sub = selection.type_condition, selection.selection_set
            else:
                assert isinstance(selection, FragmentSpreadNode)
                fragment = self.fragments[selection.name.value]
                condition, sub = fragment.type_condition, fragment.selection_set
            if condition is None or self._applies(type_, condition.name.value):
                out.extend(self._fields(type_, sub))
        return out

    def _applies(self, type_: GraphQLObjectType, condition: str) -> bool:
        if condition == type_.name:
            return True
        abstract = self.schema.get_type(condition)
        return isinstance(
            abstract, GraphQLInterfaceType | GraphQLUnionType
        ) and self.schema.is_sub_type(abstract, type_)

    def object(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        given: dict[str, Any],
        size: int,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in self._fields(type_, selection_set):
            key = field.alias.value if field.alias else field.name.value
            name = field.name.value
            if name == "__typename":
                out[key] = type_.name
            elif name == "_entities":
                out[key] = self._entities(field)
            elif name in given and not isinstance(given[name], dict):
                out[key] = given[name]
            else:
                definition = type_.fields[name]
                args = {
                    a.name.value: value_from_ast_untyped(a.value, self.variables)
                    for a in field.arguments or ()
                }
                for arg in ("first", "limit"):
                    if isinstance(args.get(arg), int):
                        size = min(args[arg], 20)
                value = self.value(definition.type, field, given.get(name) or {}, size)
                if key in out and isinstance(value, dict):
                    out[key].update(value)
                else:
                    out[key] = value
        return out

    def _entities(self, field: FieldNode) -> list[dict[str, Any]]:
        argument = next(a for a in field.arguments or () if a.name.value == "representations")
        representations = value_from_ast_untyped(argument.value, self.variables)
        entities = []
        for representation in representations:
            type_ = self.schema.get_type(representation["__typename"])
            assert isinstance(type_, GraphQLObjectType)
            assert field.selection_set is not None
            entities.append(self.object(type_, field.selection_set, representation, 3))
        return entities

    def value(self, type_: GraphQLOutputType, field: FieldNode, given: Any, size: int) -> Any:
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            return [self.value(type_.of_type, field, given, size) for _ in range(size)]
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            type_ = sorted(self.schema.get_possible_types(type_), key=lambda t: t.name)[0]
        if isinstance(type_, GraphQLObjectType):
            assert field.selection_set is not None
            return self.object(type_, field.selection_set, given, size)
        if isinstance(type_, GraphQLEnumType):
            return next(iter(type_.values))
        assert isinstance(type_, GraphQLScalarType)
        n = next(self.ids)
        name = field.name.value
        if type_.name == "ID":
            return str(n)
        if type_.name == "Int":
            return n % 97
        if type_.name == "Float":
            return n / 7
        if type_.name == "Boolean":
            return n % 2 == 0
        if type_.name == "DateTime":
            return f"2026-12-07T11:{n % 60:02d}:00.123456+00:00"
        if name == "text" or name == "bio":
            return TEXT[: 40 + n % 40]
        if "cursor" in name.lower() or "Cursor" in name:
            return f"Y3Vyc29yOnYyOpK5MjAyNi0xMi0wN1QxMTo{n}"
        if "url" in name.lower():
            return f"https://cdn.example.test/media/{n}.jpg"
        return f"{name}{n}"


def serve(port: int, supergraph: Path) -> None:
    import asyncio

    import uvicorn

    schema = graphql.build_schema(supergraph.read_text())
    responder = Responder(schema)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = responder.answer(b"".join(chunks)) if scope["method"] == "POST" else b"{}"
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    asyncio.run(uvicorn.Server(config).serve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--supergraph", type=Path, default=ROOT / "supergraph.graphql")
    args = parser.parse_args()
    serve(args.port, args.supergraph)


if __name__ == "__main__":
    main()
