"""Field arguments, handled once for every subgraph.

`TextInput`: every string a field receives (arguments, nested input objects, lists, JSON
values such as entity representations) is checked with `resolvers.text` before the
resolver runs, with `MAX_TEXT_INPUT_LENGTH` from settings. A bad one is a BAD_USER_INPUT
error naming it (`text`, `media.0.contentType`, `scopes.2`; an `input:` argument's fields
are named without the `input.` prefix, as the domains' own checks name them) and the
resolver never runs. `SubgraphSchema.get_fields` puts it on every field with arguments.

`raw_arguments`: a root field may instead take graphql-core's coerced arguments as they
are (dicts keyed by GraphQL names) instead of Strawberry input objects, for a large list
of input objects where Strawberry's per-field conversion dominates the cost
(trackEvents). The Strawberry resolver still defines the field in the schema. Such a
field must judge its own text (per list item, so one bad item does not fail the others)
and may carry no field extensions or permission classes: they would not run, so
declaring one is an error at start-up, never a silent bypass.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from resolvers.text import check_text, text_problem

DEFAULT_MAX_TEXT = 10_000
RAW_RESOLVER = "puppies.raw_resolver"  # StrawberryField.metadata key

RawResolver = Callable[..., Awaitable[Any]]


def raw_arguments(resolver: RawResolver) -> dict[str, Any]:
    """Field metadata: resolve this root field with `resolver(root, info, **arguments)`,
    the arguments as graphql-core coerced them.

        @strawberry.mutation(metadata=raw_arguments(_track_events_raw))
        async def track_events(self, info: Info[...], events: list[EventInput]) -> ...
    """
    return {RAW_RESOLVER: resolver}


def raw_resolver_of(field: StrawberryField) -> RawResolver | None:
    metadata: Mapping[str, Any] = field.metadata or {}
    resolver = metadata.get(RAW_RESOLVER)
    return resolver if callable(resolver) else None


def check_raw_field(type_name: str, field: StrawberryField) -> None:
    if field.extensions or field.permission_classes:
        raise TypeError(
            f"{type_name}.{field.python_name} takes raw arguments, so field extensions and "
            "permission classes on it would never run; remove them or raw_arguments"
        )


def _max_length(info: Info[Any, Any]) -> int:
    settings = getattr(info.context, "settings", None)
    return int(getattr(settings, "max_text_input_length", DEFAULT_MAX_TEXT))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def check_strings(value: object, path: str, limit: int) -> None:
    """Raise BadInput for the first string in `value` that is not acceptable text."""
    if isinstance(value, str):
        check_text(value, path, limit)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_strings(item, _join(path, str(i)), limit)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_strings(item, _join(path, str(key)), limit)
    else:
        definition = get_object_definition(type(value))
        if definition is not None and definition.is_input:
            for f in definition.fields:
                name = f.graphql_name or to_camel_case(f.python_name)
                check_strings(getattr(value, f.python_name, None), _join(path, name), limit)


def acceptable(value: object, limit: int) -> bool:
    """Whether `check_strings` passes `value` (it raises for none of its strings), found
    without building the path of each string: the same walk (strings, lists and tuples,
    mappings, Strawberry input objects), the same `text_problem`. False also when the walk
    raises: `check_strings` then runs and answers as before."""
    try:
        return _acceptable(value, limit)
    except Exception:
        return False


def _acceptable(value: object, limit: int) -> bool:
    kind = type(value)
    if kind is dict:  # the common cases first, by exact type; then as `check_strings`
        items: Iterable[object] = value.values()  # type: ignore[attr-defined]
    elif kind is list:
        items = value  # type: ignore[assignment]
    elif isinstance(value, str):
        return text_problem(value, limit) is None
    elif isinstance(value, list | tuple):
        items = value
    elif isinstance(value, Mapping):
        # a coerced argument's keys are strings (GraphQL names, JSON keys): `check_strings`
        # only names them (`str(key)`) in a path
        items = value.values()
    else:
        definition = get_object_definition(type(value))
        if definition is None or not definition.is_input:
            return True
        items = [getattr(value, f.python_name, None) for f in definition.fields]
    for item in items:
        if type(item) is str:
            if text_problem(item, limit) is not None:
                return False
        elif item is not None and not _acceptable(item, limit):
            return False
    return True


def check_arguments(kwargs: Mapping[str, Any], limit: int) -> None:
    for python_name, value in kwargs.items():
        if python_name == "info" or acceptable(value, limit):
            continue
        # `input: SomeInput`: its fields are named on their own, as the domains name them
        name = "" if python_name == "input" else to_camel_case(python_name)
        check_strings(value, name, limit)


class TextInput(FieldExtension):
    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        check_arguments(kwargs, _max_length(info))
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        check_arguments(kwargs, _max_length(info))
        result = next_(source, info, **kwargs)
        # a subscription's resolver gives an async generator, not an awaitable
        return await result if inspect.isawaitable(result) else result


class RawArguments(SchemaExtension):
    """Resolves the fields declared with `raw_arguments` by their raw resolver. The
    innermost middleware: every other extension's `resolve` hook still wraps it."""

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        schema = self.execution_context.schema
        raw: RawResolver | None = getattr(schema, "raw_resolvers", {}).get(
            (info.parent_type.name, info.field_name)
        )
        if raw is None:
            return _next(root, info, *args, **kwargs)
        return raw(root, info, **kwargs)
