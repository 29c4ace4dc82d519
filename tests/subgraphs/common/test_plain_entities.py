"""`_entities` through PlainFieldsExecutionContext (its items straight to their selection,
simple variables coerced directly: subgraphs/common/plain.py, variables.py) answers as
Strawberry's execution context does: generated representation lists mixing two entity types
(one resolved by `resolve_references` for the whole list, one by `resolve_reference` each),
unknown and missing typenames, missing and wrong-typed keys, extra keys, values that are not
objects; references that resolve to nothing, raise, give an object of the other type, of no
Strawberry type, or one whose non-null field cannot be completed; generated selections.
Data and errors (messages, paths, locations) compared."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import strawberry
from graphql import parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from subgraphs.common import build_schema
from subgraphs.common.plain import PlainFieldsExecutionContext
from tests.support.execution import execute_with


class Stranger:
    """An object of no Strawberry type."""


def _dog(key: object) -> Any:
    if key == "none":
        return None
    if key == "boom":
        raise ValueError("no dog today")
    if key == "cat":
        return Cat(id=strawberry.ID("c1"), lives=9)
    if key == "stranger":
        return Stranger()
    if key == "error":
        return ValueError("a returned error")
    if key == "nameless":
        return Dog(id=strawberry.ID("d0"), name=None, tags=["x"])  # type: ignore[arg-type]
    return Dog(id=strawberry.ID(str(key)), name=f"dog {key}", tags=["a", "b"][: len(str(key))])


@strawberry.federation.type(keys=["id"])
class Dog:
    id: strawberry.ID
    name: str
    tags: list[str]

    @strawberry.field
    def friend(self) -> Dog | None:
        return Dog(id=strawberry.ID("f" + self.id), name="friend", tags=[])

    @classmethod
    def resolve_reference(cls, info: Any, id: strawberry.ID) -> Any:
        return _dog(id)

    @classmethod
    async def resolve_references(cls, info: Any, ids: list[object]) -> list[Any]:
        out = []
        for key in ids:
            try:
                out.append(_dog(key))
            except ValueError as exc:
                out.append(exc)
        return out


@strawberry.federation.type(keys=["id"])
class Cat:
    id: strawberry.ID
    lives: int

    @classmethod
    async def resolve_reference(cls, id: strawberry.ID) -> Any:
        if id == "none":
            return None
        if id == "boom":
            raise ValueError("no cat today")
        if id == "dog":
            return _dog("d9")
        if id == "lifeless":
            return Cat(id=id, lives="many")  # type: ignore[arg-type]
        return Cat(id=id, lives=len(id))


@strawberry.type
class Query:
    hello: str = "hi"


SCHEMA = build_schema(Query, types=[Dog, Cat])

DOG_KEYS = ["d1", "d2", "d3", "none", "boom", "cat", "stranger", "error", "nameless"]
CAT_KEYS = ["c1", "c22", "none", "boom", "dog", "lifeless"]


def _representation(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.45:
        return {"__typename": "Dog", "id": rng.choice(DOG_KEYS)}
    if r < 0.8:
        return {"__typename": "Cat", "id": rng.choice(CAT_KEYS)}
    return rng.choice(
        [
            {"__typename": "Wolf", "id": "w1"},
            {"id": "d1"},
            {"__typename": "Dog"},
            {"__typename": "Dog", "id": 5},
            {"__typename": "Dog", "id": "d1", "extra": "x"},
            {"__typename": "Query"},
            "a string",
            7,
        ]
    )


def _representations(rng: random.Random) -> list[Any]:
    if rng.random() < 0.4:  # only good dogs: the batch path
        return [{"__typename": "Dog", "id": f"d{rng.randint(1, 9)}"} for _ in range(5)]
    return [_representation(rng) for _ in range(rng.randint(0, 6))]


def _document(rng: random.Random) -> str:
    dog = rng.sample(["id", "name", "tags", "friend { id name }", "__typename"], 3)
    cat = rng.sample(["id", "lives", "__typename"], 2)
    parts = [f"... on Dog {{ {' '.join(dog)} }}", f"... on Cat {{ {' '.join(cat)} }}"]
    if rng.random() < 0.5:
        parts.append("__typename")
    rng.shuffle(parts)
    return f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ {' '.join(parts)} }} }}"


@pytest.mark.parametrize("seed", range(30))
async def test_entities_answer_as_strawberry_does(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(10):
        text = _document(rng)
        representations = _representations(rng)
        document = parse(text)
        answers = []
        for cls in (StrawberryGraphQLCoreExecutionContext, PlainFieldsExecutionContext):
            # fresh: Strawberry's `_entities` changes the representations it is given
            variables = {"r": copy.deepcopy(representations)}
            answers.append(
                await execute_with(SCHEMA._schema, document, cls, variable_values=variables)
            )
        assert answers[1] == answers[0], (text, representations)


async def test_the_generated_entities_reach_every_outcome() -> None:
    """Not vacuous: entities of both types, nulls, and errors of each kind occur."""
    messages: set[str] = set()
    typenames: set[str] = set()
    for seed in range(30):
        rng = random.Random(seed)
        for _ in range(10):
            text = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"
            _document(rng)
            variables = {"r": _representations(rng)}
            data, errors = await execute_with(
                SCHEMA._schema, parse(text), PlainFieldsExecutionContext, variable_values=variables
            )
            messages |= {e["message"].split(" ")[0] for e in errors}
            for entity in (data or {}).get("_entities") or []:
                typenames.add(entity["__typename"] if entity else "null")
    assert {"Dog", "Cat", "null"} <= typenames, typenames
    assert len(messages) >= 8, messages
