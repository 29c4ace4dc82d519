"""subgraphs/common/inputs.py: the text check on every field with arguments, and raw
arguments that can never silently skip a field extension."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission

from resolvers.errors import BadInput
from subgraphs.common import build_schema
from subgraphs.common.inputs import TextInput, acceptable, check_strings, raw_arguments


async def _raw(_root: object, _info: Any, words: list[str]) -> int:
    return len(words)


class Shout(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs)


class Nobody(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Query:
    @strawberry.field
    def echo(self, text: str) -> str:
        return text

    @strawberry.field
    def constant(self) -> int:
        return 1


def test_every_field_with_arguments_gets_the_text_check() -> None:
    schema = build_schema(Query)
    fields = {f.python_name: f for f in schema.get_type_by_name("Query").fields}  # type: ignore[union-attr]
    assert any(isinstance(e, TextInput) for e in fields["echo"].extensions)
    assert not fields["constant"].extensions
    result = schema.execute_sync('{ echo(text: "a\\u0000b") }')
    assert result.errors and result.errors[0].extensions == {
        "code": "BAD_USER_INPUT",
        "field": "text",
    }
    assert "NUL character (U+0000) at position 1" in result.errors[0].message
    assert schema.execute_sync('{ echo(text: "tab\\tand\\nnewline") }').errors is None


async def test_raw_arguments_run_the_raw_resolver() -> None:
    @strawberry.type
    class Mutation:
        @strawberry.mutation(metadata=raw_arguments(_raw))
        def count(self, words: list[str]) -> int:
            raise AssertionError("the raw resolver answers")

    schema = build_schema(Query, Mutation)
    result = await schema.execute('mutation { count(words: ["a", "b\\u0000"]) }')
    assert result.errors is None and result.data == {"count": 2}  # its own text rules


@pytest.mark.parametrize(
    "options",
    [{"extensions": [Shout()]}, {"permission_classes": [Nobody]}],
    ids=["field extension", "permission class"],
)
def test_raw_arguments_refuse_what_they_would_skip(options: dict[str, Any]) -> None:
    @strawberry.type
    class Mutation:
        @strawberry.mutation(metadata=raw_arguments(_raw), **options)
        def count(self, words: list[str]) -> int:
            return len(words)

    with pytest.raises(TypeError, match="would never run"):
        build_schema(Query, Mutation)


@strawberry.input
class Pair:
    first: str
    second: list[str | None] | None = None


_TEXT = st.text(
    alphabet=st.sampled_from(["a", "é", " ", "\t", "\n", "\x00", "\x07", "\x7f", "\x85", "\ud800"]),
    max_size=8,
)
_VALUES = st.recursive(
    st.none() | st.integers() | st.booleans() | _TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.sampled_from(["__typename", "id", "k"]), inner, max_size=3)
        | st.builds(Pair, first=_TEXT, second=st.none() | st.lists(st.none() | _TEXT, max_size=3))
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=_VALUES, limit=st.integers(min_value=0, max_value=6))
def test_acceptable_says_what_check_strings_does(value: Any, limit: int) -> None:
    """The check without paths (`acceptable`, taken first for every argument) passes
    exactly the values `check_strings` passes; a value it refuses gets `check_strings`'
    own error (its message names the string's path)."""
    try:
        check_strings(value, "representations", limit)
        passes = True
    except BadInput:
        passes = False
    assert acceptable(value, limit) is passes
