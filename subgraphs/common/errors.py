"""Every GraphQL error leaves with `extensions.code`.

- documents that do not parse: GRAPHQL_PARSE_FAILED; that do not validate:
  GRAPHQL_VALIDATION_FAILED; variables of the wrong type: BAD_USER_INPUT. Classified by
  the phase that produced them (the ErrorCodes extension's hooks) and by what they are
  (GraphQLSyntaxError; errors located at a variable definition), never by message text.
- exceptions raised by resolvers that carry a `code` (resolvers.errors.ResolverError,
  puppies.errors.AuthError, puppies.pagination.PaginationError, ...) keep their message and
  code (and `field` when they name one).
- PostgreSQL or Redis unreachable (down, restarting): SERVICE_UNAVAILABLE, saying which
  and that nothing was changed (puppies/outages.py);
- anything else is an INTERNAL_SERVER_ERROR with the message "Internal server error": the
  exception and its traceback go to the log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError, VariableDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from puppies.outages import missing_service, unavailable_message

log = logging.getLogger("puppies.subgraphs")

KNOWN_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "NOT_FOUND",
        "CONFLICT",
        "RATE_LIMITED",
        "INTERNAL_SERVER_ERROR",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "BAD_REQUEST",
        "PERSISTED_QUERY_NOT_FOUND",
        "SERVICE_UNAVAILABLE",
    }
)
INTERNAL_MESSAGE = "Internal server error"


def code_of(exc: BaseException | None) -> str | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code in KNOWN_CODES else None


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, GraphQLError)
        and code_of(original) is None
        and missing_service(original) is None  # an outage: logged once by whoever sees it
    )


def _set_code(error: GraphQLError, code: str, **more: Any) -> None:
    error.extensions = {**(error.extensions or {}), "code": code, **more}


def _about_variables(error: GraphQLError) -> bool:
    """graphql-core's variable coercion errors point at the variable's definition."""
    return any(isinstance(node, VariableDefinitionNode) for node in error.nodes or ())


def classify(error: GraphQLError) -> None:
    """Give an error its code (in place) by what it is, never by its message text; mask
    unexpected ones."""
    if error.extensions and "code" in error.extensions:
        return
    if isinstance(error, GraphQLSyntaxError):
        _set_code(error, "GRAPHQL_PARSE_FAILED")
        return
    if _about_variables(error):
        _set_code(error, "BAD_USER_INPUT")  # variables that do not coerce to their types
        return
    original = error.original_error
    if isinstance(original, GraphQLError):
        # raised by a resolver or by graphql-core while completing a value
        _set_code(error, (original.extensions or {}).get("code", "INTERNAL_SERVER_ERROR"))
        return
    code = code_of(original)
    if code is not None:
        field = getattr(original, "field", None)
        if field:
            _set_code(error, code, field=field)
        else:
            _set_code(error, code)
        return
    if original is None:
        _set_code(error, "INTERNAL_SERVER_ERROR")  # graphql-core's own, e.g. an abstract type
        return
    missing = missing_service(original)
    if missing is not None:
        # PostgreSQL or Redis down or restarting: the client may retry, nothing was written
        # (a statement that fails leaves its transaction rolled back)
        error.message = unavailable_message(missing)
        _set_code(error, "SERVICE_UNAVAILABLE")
        return
    # an exception from our code or a library that is not a coded error (e.g. graphql-core's
    # TypeError for a null in a non-null field): a bug, logged, never shown
    error.message = INTERNAL_MESSAGE
    _set_code(error, "INTERNAL_SERVER_ERROR")


class ErrorCodes(SchemaExtension):
    """Tags errors by phase: parse, validation, execution."""

    def _errors(self) -> list[GraphQLError]:
        ctx: ExecutionContext = self.execution_context
        return list(ctx.pre_execution_errors or [])

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self._errors():
            if not (error.extensions and "code" in error.extensions):
                _set_code(error, "GRAPHQL_PARSE_FAILED")  # the only errors parsing makes

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self._errors():
            if not (error.extensions and "code" in error.extensions):
                _set_code(error, "GRAPHQL_VALIDATION_FAILED")

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or []:
            classify(error)


def log_errors(errors: list[GraphQLError]) -> None:
    """Log unexpected exceptions with their traceback; expected ones are not news."""
    for error in errors:
        if is_unexpected(error):
            original = error.original_error
            assert original is not None
            log.error(
                "unexpected error at %s: %r",
                ".".join(map(str, error.path or [])),
                original,
                exc_info=(type(original), original, original.__traceback__),
            )
        elif (missing := missing_service(error.original_error)) is not None:
            log.warning(
                "%s unavailable at %s: %r",
                missing,
                ".".join(map(str, error.path or [])),
                error.original_error,
            )


def request_error(message: str, code: str = "BAD_REQUEST") -> dict[str, Any]:
    """A GraphQL response body for a request that never reached execution."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}
