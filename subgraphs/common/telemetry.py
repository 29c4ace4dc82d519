"""What a subgraph measures and traces of each GraphQL operation.

- `OperationMetrics` (always on): the operation's duration by type and name;
  `count_errors`: its errors by `extensions.code` (puppies.observability.metrics).
- `TracedOperations` (only with tracing on): Strawberry's OpenTelemetry extension, spans for
  the operation, parsing, validation and each resolver that is not a plain attribute read.
  Arguments are recorded as span attributes except secrets (passwords, tokens, keys).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension

from puppies.observability import metrics

_SECRET = re.compile(r"pass|token|secret|key|credential", re.IGNORECASE)
_REDACTED = "[redacted]"


def operation_label(execution_context: Any) -> str:
    """The operation's name, else its first root field (`_entities`, `posts`, ...)."""
    if execution_context is None:
        return "unknown"
    name = execution_context.operation_name
    if name:
        return str(name)
    document = execution_context.graphql_document
    if document is not None:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                for selection in definition.selection_set.selections:
                    field_name = getattr(getattr(selection, "name", None), "value", None)
                    if field_name:
                        return str(field_name)
    return "unknown"


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:  # a document that does not parse ends the operation with an exception
            observe_operation(self.execution_context, time.perf_counter() - started)


def observe_operation(ctx: Any, seconds: float) -> None:
    """The operation's duration, by its type and name (also subgraphs/common/execution.py)."""
    name = metrics.operation_names(operation_label(ctx))
    try:
        kind = ctx.operation_type.value
    except Exception:  # a document that did not parse has no operation type
        kind = "unknown"
    metrics.graphql_duration(kind, name).observe(seconds)


def count_errors(errors: list[GraphQLError], execution_context: Any) -> None:
    """Count errors by code (from the schema's `process_errors`, which every error of every
    path, parse failures included, passes exactly once)."""
    name = metrics.operation_names(operation_label(execution_context)) if errors else ""
    for error in errors:
        code = (error.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")
        metrics.GRAPHQL_ERRORS.labels(name, str(code)).inc()


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_REDACTED if _SECRET.search(str(k)) else _redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    fields = getattr(value, "__dict__", None)  # a Strawberry input object
    return _redact(dict(fields)) if isinstance(fields, dict) else type(value).__name__


def _drop_secrets(args: dict[str, Any], info: GraphQLResolveInfo) -> dict[str, Any]:
    redacted: dict[str, Any] = _redact(args)
    return redacted


class TracedOperations(OpenTelemetryExtension):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(arg_filter=_drop_secrets, **kwargs)
