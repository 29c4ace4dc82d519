"""Executing a schema with a chosen execution context class (fast path against general)."""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, GraphQLSchema, execute
from strawberry.execution.is_awaitable import optimized_is_awaitable


async def execute_with(
    schema: GraphQLSchema, document: DocumentNode, context_class: Any, **kwargs: Any
) -> tuple[Any, list[Any]]:
    """graphql-core's `execute` with `context_class`, as Strawberry calls it: the data and
    the formatted errors."""
    result = execute(
        schema,
        document,
        execution_context_class=context_class,
        is_awaitable=optimized_is_awaitable,
        **kwargs,
    )
    if optimized_is_awaitable(result):
        result = await result  # type: ignore[misc]
    errors = [e.formatted for e in result.errors or []]  # type: ignore[union-attr]
    return result.data, errors  # type: ignore[union-attr]
