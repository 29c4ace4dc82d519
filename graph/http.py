"""GraphQL over HTTP: content negotiation and request parameters.

Follows the GraphQL-over-HTTP spec: the response media type is chosen from ``Accept``
(``application/graphql-response+json`` when the client asks for it, ``application/json``
for ``*/*``, ``application/json`` or no ``Accept``), and a request that is not a
well-formed GraphQL-over-HTTP request is answered 400 (413 when too big, 415 for a body
that is not JSON) with a GraphQL error whose ``extensions.code`` says what went wrong.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from graph.errors import GraphError

GRAPHQL_RESPONSE_JSON = b"application/graphql-response+json; charset=utf-8"
APPLICATION_JSON = b"application/json; charset=utf-8"
EVENT_STREAM = b"text/event-stream; charset=utf-8"
MULTIPART_MIXED = b"multipart/mixed"  # negotiated only when no JSON type is acceptable

# The incremental delivery formats (graph/execution/incremental.py) and the multipart
# subscription protocols a client can ask for in Accept.
DEFER_SPEC_20220824 = "20220824"
INCREMENTAL_V02 = "v0.2"

RawHeaders = list[tuple[bytes, bytes]]
# On every response the router sends: browsers must not guess another type than the one
# given (a JSON error rendered as HTML, say).
NOSNIFF = (b"x-content-type-options", b"nosniff")
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_ACCEPT_CACHE: dict[bytes, bytes | None] = {}
_ACCEPT_CACHE_MAX = 256


class HttpError(GraphError):
    """A request the router refuses before (or instead of) executing it.

    ``status`` is the HTTP status it is answered with; the WebSocket transport answers it
    with an ``error`` message (or, for 401, closes the socket with 4403). ``extensions``
    are added to the GraphQL error's ``extensions`` next to ``code``.
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: str = "BAD_REQUEST",
        headers: list[tuple[bytes, bytes]] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or []
        self.extensions = extensions

    def error(self) -> dict[str, Any]:
        """The GraphQL error for this refusal."""
        extensions: dict[str, Any] = {"code": self.code}
        if self.extensions:
            extensions.update(self.extensions)
        return {"message": self.message, "extensions": extensions}

    def body(self) -> bytes:
        return orjson.dumps({"errors": [self.error()]})


@dataclass(slots=True)
class GraphQLParams:
    """The request parameters of one GraphQL-over-HTTP request."""

    query: str | None  # None only with extensions.persistedQuery (APQ resolves it)
    operation_name: str | None
    variables: dict[str, Any] | None
    extensions: dict[str, Any] | None


def _parse_accept(accept: bytes) -> bytes | None:
    """Pick the response media type for an ``Accept`` header; None when none fits."""
    best: tuple[float, int, bytes] | None = None
    for index, item in enumerate(accept.decode("latin-1").split(",")):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        q = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
            elif key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
                "utf-8",
                "utf8",
            ):
                q = 0.0  # we only answer in UTF-8
        if q <= 0:
            continue
        if media == "application/graphql-response+json":
            chosen, rank = GRAPHQL_RESPONSE_JSON, 0
        elif media in ("application/json", "application/*", "*/*"):
            chosen, rank = APPLICATION_JSON, 1
        elif media == "text/event-stream":
            chosen, rank = EVENT_STREAM, 2
        elif media == "multipart/mixed":
            chosen, rank = MULTIPART_MIXED, 3
        else:
            continue
        candidate = (-q, rank * 1000 + index, chosen)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else None


def negotiate(accept: bytes | None) -> bytes:
    """The response content type for ``Accept``; raise 406 when nothing we speak fits."""
    if not accept:
        return APPLICATION_JSON
    try:
        chosen = _ACCEPT_CACHE[accept]
    except KeyError:
        chosen = _parse_accept(accept)
        if len(_ACCEPT_CACHE) >= _ACCEPT_CACHE_MAX:
            _ACCEPT_CACHE.clear()
        _ACCEPT_CACHE[accept] = chosen
    if chosen is None:
        raise HttpError(
            406,
            "The Accept header allows no media type this router answers with; accept "
            "application/graphql-response+json, application/json, text/event-stream or "
            "multipart/mixed.",
            "NOT_ACCEPTABLE",
        )
    return chosen


@dataclass(frozen=True, slots=True)
class MultipartAccept:
    """What `multipart/mixed` responses a client accepts (its Accept header):

    - ``incremental``: the format of @defer/@stream parts, ``DEFER_SPEC_20220824``
      (``deferSpec=20220824``, Apollo Client) or ``INCREMENTAL_V02`` (``incrementalSpec=v0.2``
      or a plain ``multipart/mixed``);
    - ``subscription``: Apollo's multipart subscription protocol (``subscriptionSpec=1.0``);
    - ``plain``: a ``multipart/mixed`` without a spec (a subscription's events then go out as
      the incremental delivery RFC's parts)."""

    incremental: str | None
    subscription: bool
    plain: bool


_NO_MULTIPART = MultipartAccept(None, False, False)
_MULTIPART_CACHE: dict[bytes, MultipartAccept] = {}


def multipart_accept(accept: bytes | None) -> MultipartAccept:
    """The multipart responses ``accept`` allows (none: every field is None/False)."""
    if not accept or b"multipart/" not in accept.lower():
        return _NO_MULTIPART
    found = _MULTIPART_CACHE.get(accept)
    if found is None:
        found = _parse_multipart(accept)
        if len(_MULTIPART_CACHE) >= _ACCEPT_CACHE_MAX:
            _MULTIPART_CACHE.clear()
        _MULTIPART_CACHE[accept] = found
    return found


def _parse_multipart(accept: bytes) -> MultipartAccept:
    defer20220824 = v02 = subscription = plain = False
    for item in accept.decode("latin-1").split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0].lower() != "multipart/mixed":
            continue
        params: dict[str, str] = {}
        for param in parts[1:]:
            key, _, value = param.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            if float(params.get("q", "1")) <= 0:
                continue
        except ValueError:
            continue
        spec = False
        if params.get("deferspec") == DEFER_SPEC_20220824:
            defer20220824 = spec = True
        if params.get("incrementalspec") == INCREMENTAL_V02:
            v02 = spec = True
        if params.get("subscriptionspec", "").startswith("1"):
            subscription = spec = True
        if not spec:
            plain = True
    incremental = (
        INCREMENTAL_V02
        if v02 or (plain and not defer20220824)
        else DEFER_SPEC_20220824
        if defer20220824
        else None
    )
    return MultipartAccept(incremental, subscription, plain)


def check_json_content_type(content_type: bytes | None) -> None:
    """A POST body must be ``application/json`` (UTF-8): raise 415 otherwise."""
    if content_type in _JSON_CONTENT_TYPES:
        return
    _check_json_content_type(content_type)
    if content_type is not None and len(_JSON_CONTENT_TYPES) < 64:
        _JSON_CONTENT_TYPES.add(content_type)


_JSON_CONTENT_TYPES: set[bytes | None] = {b"application/json"}


def _check_json_content_type(content_type: bytes | None) -> None:
    if content_type is None:
        raise HttpError(
            415,
            "A POST request needs a Content-Type header; send the body as application/json.",
            "UNSUPPORTED_MEDIA_TYPE",
        )
    text = content_type.decode("latin-1")
    essence, _, params = text.partition(";")
    essence = essence.strip().lower()
    if essence not in ("application/json", "application/graphql-response+json"):
        raise HttpError(
            415,
            f"Content-Type {essence or text!r} is not supported; send the body as "
            "application/json.",
            "UNSUPPORTED_MEDIA_TYPE",
        )
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise HttpError(
                415,
                f"charset {value.strip()!r} is not supported; send the body as UTF-8.",
                "UNSUPPORTED_MEDIA_TYPE",
            )


def params_from_mapping(data: dict[str, Any]) -> GraphQLParams:
    query = data.get("query")
    operation_name = data.get("operationName")
    variables = data.get("variables")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise HttpError(
            400,
            f"The 'extensions' parameter must be an object or null, got {_json_type(extensions)}.",
        )
    if query is None:
        if extensions is None or "persistedQuery" not in extensions:
            raise HttpError(
                400, "The request has no 'query' parameter: send the operation text in 'query'."
            )
    elif not isinstance(query, str):
        raise HttpError(400, f"The 'query' parameter must be a string, got {_json_type(query)}.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise HttpError(
            400,
            f"The 'operationName' parameter must be a string or null, got "
            f"{_json_type(operation_name)}.",
        )
    if variables is not None and not isinstance(variables, dict):
        raise HttpError(
            400,
            f"The 'variables' parameter must be an object or null, got {_json_type(variables)}.",
        )
    return GraphQLParams(query, operation_name, variables, extensions)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def params_from_body(body: bytes) -> GraphQLParams:
    """Request parameters from a POST body (a JSON object)."""
    if not body.strip():
        raise HttpError(400, "The request body is empty; send a JSON object with a 'query' string.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, f"The request body is not valid JSON: {exc}.") from None
    if isinstance(data, list):
        raise HttpError(
            400,
            "Batched requests (a JSON array) are not supported; send one JSON object per request.",
            "BATCHING_NOT_SUPPORTED",
        )
    if not isinstance(data, dict):
        raise HttpError(
            400,
            f"The request body must be a JSON object with a 'query' string, got "
            f"{_json_type(data)}.",
        )
    return params_from_mapping(data)


def params_from_query_string(query_string: bytes) -> GraphQLParams:
    """Request parameters from a GET URL (``variables``/``extensions`` are JSON text)."""
    try:
        pairs = parse_qsl(
            query_string.decode("utf-8"), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        raise HttpError(400, "The query string is not valid UTF-8.") from None
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise HttpError(400, f"The URL gives the {key!r} parameter more than once.")
        data[key] = value
    for key in ("variables", "extensions"):
        raw = data.get(key)
        if raw is None:
            continue
        if raw == "":
            data[key] = None
            continue
        try:
            data[key] = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise HttpError(400, f"The {key!r} URL parameter is not valid JSON: {exc}.") from None
    if data.get("operationName") == "":
        data["operationName"] = None
    return params_from_mapping(data)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes | None,
    extra: RawHeaders | None = None,
) -> int:
    """Send a whole response; returns the status (for metrics)."""
    headers: RawHeaders = [(b"content-length", str(len(body)).encode()), NOSNIFF]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    if extra:
        # callers that also serve raw responses (files, the IDE) pass NOSNIFF themselves
        headers.extend(h for h in extra if h != NOSNIFF)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status
