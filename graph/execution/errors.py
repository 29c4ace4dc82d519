"""The router's execution errors (one hierarchy: GatewayError)."""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error the gateway raises."""


class RequestError(GatewayError):
    """The request cannot be executed at all: the response has `errors` and no `data`.

    `code` is the `extensions.code` of the errors: GRAPHQL_PARSE_FAILED,
    GRAPHQL_VALIDATION_FAILED, BAD_REQUEST, BAD_USER_INPUT or QUERY_PLANNING_FAILED.
    """

    def __init__(self, errors: list[dict[str, Any]], code: str) -> None:
        super().__init__(errors[0]["message"] if errors else code)
        self.errors = errors
        self.code = code

    def to_response(self) -> dict[str, Any]:
        return {"errors": self.errors}


class SubgraphFetchError(GatewayError):
    """A subgraph could not be reached, timed out or did not answer with GraphQL."""

    def __init__(self, subgraph: str, message: str, code: str) -> None:
        super().__init__(message)
        self.subgraph = subgraph
        self.message = message
        self.code = code
