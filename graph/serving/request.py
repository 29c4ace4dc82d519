"""The transport-independent request: what every stage of the pipeline reads and writes.

A transport adapter (graph/serving/transports/) turns what arrived (an HTTP POST or GET, an
SSE request, a WebSocket ``subscribe``) into one :class:`RouterRequest` and hands it to
:meth:`graph.serving.pipeline.Pipeline.run`. Stages fill in what they own: the principal
(authentication), the operation text (persisted queries), the prepared operation (parse and
validate), response headers (rate limits), response extensions, and their own per-request
data in ``context``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graph.execution.gateway import Gateway, PreparedOperation
    from graph.http import GraphQLParams

RawHeaders = list[tuple[bytes, bytes]]
HeadersFor = Callable[[str], Mapping[str, str]]

# Transports (RouterRequest.transport)
HTTP = "http"
SSE = "sse"
WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as authentication found it (one object for every transport).

    - ``kind``: ``"anonymous"``, ``"user"`` (a JWT) or ``"api_key"``.
    - ``id``: the credential's identity: the JWT's ``sub``, or the API key's id.
    - ``user_id``: the user the credential acts for (a key's owner), when there is one.
    - ``tier``: the rate-limit tier (``free``, ``pro``, ``enterprise``; None for users and
      anonymous callers, who get the tier configured for them).
    - ``scopes``: what the credential may do (``@requiresScopes``): an API key's scopes, a
      JWT's ``scope`` claim.
    - ``client_name``: the client the credential belongs to (its persisted-query safelist).
    - ``session_id``: the session a JWT belongs to (its ``sid`` claim), when it names one.
    - ``claims``: the verified JWT claims (``@policy`` rules may read them).
    """

    kind: str = "anonymous"
    id: str | None = None
    user_id: str | None = None
    tier: str | None = None
    scopes: frozenset[str] = frozenset()
    client_name: str | None = None
    session_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"


ANONYMOUS = Principal()


class RouterRequest:
    """One GraphQL request in the pipeline, whatever transport brought it."""

    __slots__ = (
        "client_ip",
        "context",
        "extensions",
        "gateway",
        "headers",
        "headers_for",
        "incremental",
        "method",
        "params",
        "prepared",
        "principal",
        "query",
        "response_headers",
        "started",
        "stream_ok",
        "transport",
    )

    def __init__(
        self,
        transport: str,
        params: GraphQLParams,
        headers: RawHeaders,
        gateway: Gateway,
        *,
        method: str = "POST",
        client_ip: str | None = None,
        stream_ok: bool = False,
        principal: Principal | None = None,
        incremental: str | None = None,
    ) -> None:
        self.transport = transport  # HTTP, SSE or WEBSOCKET
        self.method = method  # "POST", "GET", or "WS"
        self.params = params
        self.headers = headers  # lower-case names, as they arrived (WebSocket: + init payload)
        self.gateway = gateway  # one gateway for the whole request (hot reload swaps it)
        self.client_ip = client_ip
        self.stream_ok = stream_ok  # the transport can stream a subscription
        # The format in which the client takes @defer/@stream parts ("20220824", "v0.2"),
        # None: it gets one whole response.
        self.incremental = incremental
        # Filled in by stages:
        self.principal: Principal = principal or ANONYMOUS  # authentication
        self.query: str | None = None  # persisted queries / APQ; else params.query
        self.prepared: PreparedOperation | None = None  # parse + validate (+ restrict)
        self.headers_for: HeadersFor | None = None  # headers for each subgraph request
        self.response_headers: RawHeaders = []  # added to the response (HTTP, SSE)
        self.extensions: dict[str, Any] = {}  # merged into the response's extensions
        self.context: dict[str, Any] = {}  # each stage's own per-request data, by stage name
        self.started = time.perf_counter()

    @property
    def operation_name(self) -> str | None:
        return self.params.operation_name

    @property
    def variables(self) -> dict[str, Any] | None:
        return self.params.variables

    def header(self, name: bytes) -> bytes | None:
        """The value of request header ``name`` (lower-case); several are joined by ', '."""
        found: bytes | None = None
        for key, value in self.headers:
            if key == name:
                found = value if found is None else found + b", " + value
        return found
