"""One operation executed without Strawberry's extension runner, when that changes nothing.

Strawberry's `Schema.execute` runs every request through its extension machinery: it makes
each of the schema's extensions anew, builds a context manager per lifecycle step
(operation, parsing, validation, execution) over all of them, looks the parsed document and
the validation result up in ParserCache's and ValidationCache's LRU caches, and converts
the result. For a subgraph's small operations that was ~0.1 ms of CPU a request, as much
as graphql-core spent executing `me` (bench/RESULTS.md, session 21).

`LeanExecution` does the same work directly when the schema's extensions are ones whose
effect it reproduces:

- ParserCache and ValidationCache: a document that parses and validates is kept with its
  operation type, by (query text, operation name), for OPERATION_CACHE_SIZE texts;
- ErrorCodes and OperationMetrics: each execution error is classified after the schema's
  `process_errors` (as ErrorCodes' `on_execute` does); the operation's duration is observed
  (`observe_operation`, what OperationMetrics records);
- an extension with only `get_results` (ResponseHints, the feed's DegradedFlag): made per
  operation and asked for its results, as Strawberry does.

Anything else goes to Strawberry's `execute` untouched: another extension (tracing's, the
analytics schema's RawArguments), schema directives, incremental execution, a text that
does not parse or validate, an operation name the document does not have, an operation type
the caller does not allow, no query. Those answers (their errors, codes, status) are
Strawberry's, and so are the first request of a text that fails. The execution itself is
graphql-core's `execute` with the arguments Strawberry passes (its execution context
class, its `is_awaitable`); no resolver middleware, since no handled extension has a
`resolve` hook. tests/subgraphs/common/test_execution.py runs every kind of operation both
ways and compares the results, extensions and error codes.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, execute, parse, specified_rules
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.extensions.base_extension import HOOK_METHODS
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.schema import _coerce_error, validate_document
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_operation_type

from subgraphs.common.errors import ErrorCodes, classify
from subgraphs.common.telemetry import OperationMetrics, observe_operation

if TYPE_CHECKING:
    from graphql import DocumentNode

    from subgraphs.common.app import SubgraphSchema

ExtensionFactory = Callable[[], SchemaExtension]
_HANDLED = (ErrorCodes, OperationMetrics, ParserCache, ValidationCache)
_RULES = tuple(specified_rules)


def _results_only(extension: SchemaExtension) -> bool:
    """Whether the extension does nothing but add response extensions."""
    cls = type(extension)
    return not cls._implements_resolve() and all(
        getattr(cls, hook) is getattr(SchemaExtension, hook) for hook in HOOK_METHODS
    )


class LeanExecution:
    """`execute` for one schema with one set of extensions (see the module docstring);
    `for_schema` says None when that set has an extension it does not reproduce."""

    def __init__(
        self, schema: SubgraphSchema, results_only: Sequence[ExtensionFactory], size: int
    ) -> None:
        self.schema = schema
        self.results_only = tuple(results_only)
        self.size = size
        # (query, operation name) -> (document, operation type), for texts that validated
        self.prepared: dict[tuple[str, str | None], tuple[DocumentNode, OperationType]] = {}
        self.class_kwargs = execution_context_class_kwargs(schema.execution_context_class)

    @classmethod
    def for_schema(cls, schema: SubgraphSchema, size: int) -> LeanExecution | None:
        if schema.directives or schema.config.enable_experimental_incremental_execution:
            return None
        results_only: list[ExtensionFactory] = []
        handled: set[type] = set()
        for factory in schema.extensions:
            extension = factory if isinstance(factory, SchemaExtension) else factory()
            if type(extension) in _HANDLED:
                handled.add(type(extension))
            elif _results_only(extension) and not isinstance(factory, SchemaExtension):
                results_only.append(factory)
            else:
                return None
        if handled != set(_HANDLED):  # without the caches, Strawberry parses every time
            return None
        return cls(schema, results_only, size)

    def prepare(
        self, query: str, operation_name: str | None
    ) -> tuple[DocumentNode, OperationType] | None:
        key = (query, operation_name)
        found = self.prepared.get(key)
        if found is not None:
            return found
        try:
            document = parse(query)
        except GraphQLError:
            return None
        if validate_document(self.schema._schema, document, _RULES):
            return None
        try:
            operation_type = get_operation_type(document, operation_name)
        except RuntimeError:
            return None
        if len(self.prepared) >= self.size:
            self.prepared.clear()
        self.prepared[key] = (document, operation_type)
        return document, operation_type

    async def execute(
        self,
        document: DocumentNode,
        query: str,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_name: str | None,
        allowed: Iterable[OperationType],
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        schema = self.schema
        context = ExecutionContext(
            query=query,
            schema=schema,
            allowed_operations=allowed,
            context=context_value,
            root_value=root_value,
            variables=variable_values,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )
        context.graphql_document = document
        started = time.perf_counter()
        try:
            result: ExecutionResult
            try:
                executed = execute(
                    schema._schema,
                    document,
                    root_value=root_value,
                    variable_values=variable_values,
                    operation_name=context.operation_name,
                    context_value=context_value,
                    is_awaitable=optimized_is_awaitable,
                    **self.class_kwargs,
                    **schema._get_custom_context_kwargs(operation_extensions),
                )
                if inspect.isawaitable(executed):
                    executed = await executed
                context.result = executed
                errors = executed.errors
                if errors:
                    context.pre_execution_errors = errors
                    schema._process_errors(errors, context)
                    for error in errors:  # ErrorCodes.on_execute
                        classify(error)
                result = ExecutionResult(data=executed.data, errors=errors)
            except Exception as exc:  # as Strawberry's execute answers one
                error = _coerce_error(exc)
                context.pre_execution_errors = [error]
                schema._process_errors([error], context)
                result = PreExecutionError(data=None, errors=[error])
            extensions: dict[str, Any] = {}
            for factory in self.results_only:
                extension = factory()
                extension.execution_context = context
                found = extension.get_results()
                extensions.update(await found if inspect.isawaitable(found) else found)
            extensions.update(context.extensions_results)
            result.extensions = extensions
            context.result = result  # as Strawberry sets it
            return result
        finally:
            observe_operation(context, time.perf_counter() - started)
