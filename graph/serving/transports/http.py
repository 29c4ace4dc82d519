"""GraphQL over HTTP (POST and GET), with server-sent events and multipart responses for
streams.

What is HTTP's own stays here: content negotiation, the body and its size, CSRF, CORS,
status codes. Everything about the operation happens in the pipeline. What a stream is
written as follows the Accept header:

- ``text/event-stream`` negotiated: server-sent events (graph/serving/transports/sse.py)
  for any operation (a subscription's events, a ``@defer`` response's parts in
  incrementalSpec=v0.2, or one result);
- ``multipart/mixed`` (graph/serving/transports/multipart.py): a subscription with
  ``subscriptionSpec="1.0"`` (Apollo's multipart subscription protocol), an operation with
  ``@defer``/``@stream`` with ``deferSpec=20220824`` or ``incrementalSpec=v0.2``;
- a client that accepts neither gets a ``@defer`` response whole, and is refused a
  subscription (SUBSCRIPTION_NEEDS_STREAM); a subscription also streams as server-sent
  events when ``text/event-stream`` is acceptable at all.
"""

from __future__ import annotations

import orjson

from graph.http import (
    APPLICATION_JSON,
    EVENT_STREAM,
    GRAPHQL_RESPONSE_JSON,
    INCREMENTAL_V02,
    MULTIPART_MIXED,
    GraphQLParams,
    HttpError,
    check_json_content_type,
    multipart_accept,
    negotiate,
    params_from_body,
    params_from_query_string,
    respond,
)
from graph.serving.ide import accepts_html
from graph.serving.pipeline import INCREMENTAL, SUBSCRIPTION, Pipeline, Response
from graph.serving.request import HTTP, SSE, RawHeaders, RouterRequest
from graph.serving.transports import PipelineSource, Receive, Scope, Send, peer
from graph.serving.transports.multipart import Incremental, Subscription, part, stream_parts
from graph.serving.transports.sse import stream_events

_ALLOW = [(b"allow", b"GET, POST, OPTIONS")]


class HttpTransport:
    """Serves the GraphQL path over HTTP."""

    def __init__(
        self,
        source: PipelineSource,
        sse_keepalive: float = 12.0,
        multipart_heartbeat: float = 5.0,
    ) -> None:
        self.source = source
        self.sse_keepalive = sse_keepalive  # seconds between keep-alive comments on a stream
        # seconds between heartbeats of a multipart subscription (subscription.heartbeat_interval)
        self.multipart_heartbeat = multipart_heartbeat

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one HTTP request at the GraphQL path; returns the status (for metrics)."""
        pipeline = self.source()  # one pipeline (and gateway) for the whole request
        method: str = scope["method"]
        accept = content_type = origin = content_length = None
        acrm = acrh = None
        raw_headers: RawHeaders = scope["headers"]
        for name, value in raw_headers:
            if name == b"accept":
                accept = value if accept is None else accept + b"," + value
            elif name == b"content-type":
                content_type = value
            elif name == b"origin":
                origin = value
            elif name == b"content-length":
                content_length = value
            elif name == b"access-control-request-method":
                acrm = value
            elif name == b"access-control-request-headers":
                acrh = value
        if pipeline.ide is not None and method in ("GET", "HEAD") and accepts_html(accept):
            return await pipeline.ide.serve_page(send, method)  # a browser: the IDE
        cors = pipeline.cors.response_headers(origin) if origin is not None else []
        if method == "OPTIONS":
            if origin is not None and acrm is not None:
                headers = pipeline.cors.preflight_headers(origin, acrh)
                return await respond(send, 200, b"", None, headers)
            return await respond(send, 204, b"", None, _ALLOW)
        media = APPLICATION_JSON
        sse = only_multipart = False
        multipart = multipart_accept(accept)
        try:
            media = negotiate(accept)
            if media is EVENT_STREAM:
                sse, media = True, GRAPHQL_RESPONSE_JSON  # errors before the stream are JSON
            elif media is MULTIPART_MIXED:
                only_multipart, media = True, GRAPHQL_RESPONSE_JSON
            if method == "POST":
                params = await self._read_post(
                    pipeline, receive, content_type, content_length, raw_headers
                )
            elif method == "GET":
                if not pipeline.csrf.is_preflighted(raw_headers):
                    raise HttpError(400, pipeline.csrf.message, "CSRF_PREVENTION")
                params = params_from_query_string(scope["query_string"])
            else:
                raise HttpError(
                    405,
                    f"Method {method} is not allowed; use POST (or GET for queries).",
                    "METHOD_NOT_ALLOWED",
                    _ALLOW,
                )
        except HttpError as error:
            refusal = pipeline.refuse(HTTP, raw_headers, error, method)
            return await self._write(send, refusal, media, cors, refusal.headers)
        # a subscription may come over GET: EventSource can only GET
        event_stream = accept is not None and b"text/event-stream" in accept
        stream_ok = sse or event_stream or multipart.subscription or multipart.plain
        request = RouterRequest(
            SSE if sse else HTTP,
            params,
            raw_headers,
            pipeline.gateway,
            method=method,
            client_ip=pipeline.client_address.of(peer(scope), raw_headers),
            stream_ok=stream_ok,
            incremental=INCREMENTAL_V02 if sse else multipart.incremental,
        )
        outcome = await pipeline.run(request)
        extra = cors + request.response_headers
        if isinstance(outcome, Response):
            # a request error (no data: parse, validation, limits, cost) is JSON with its
            # 400, as on SSE: a multipart client tells errors apart from results that way too
            if only_multipart and not outcome.refused and "data" in outcome.body:
                return await self._write_part(send, outcome, extra)
            return await self._write(send, outcome, media, extra, outcome.headers)
        multipart_subscription = multipart.subscription or multipart.plain
        if outcome.kind == INCREMENTAL and not sse:
            parts = Incremental(request.incremental)
            await stream_parts(send, receive, outcome.events, extra, parts, 3600.0)
        elif outcome.kind == SUBSCRIPTION and not sse and multipart_subscription:
            events = Subscription(plain=not multipart.subscription)
            heartbeat = self.multipart_heartbeat
            await stream_parts(send, receive, outcome.events, extra, events, heartbeat)
        else:
            await stream_events(send, receive, outcome.events, extra, self.sse_keepalive)
        return 200

    @staticmethod
    async def _write(
        send: Send, outcome: Response, media: bytes, extra: RawHeaders, own: RawHeaders
    ) -> int:
        status = outcome.status
        if status is None:
            # GraphQL-over-HTTP: a request error (no data) is 400 with the new media type
            status = 400 if "data" not in outcome.body and media is GRAPHQL_RESPONSE_JSON else 200
        return await respond(send, status, orjson.dumps(outcome.body), media, own + extra)

    @staticmethod
    async def _write_part(send: Send, outcome: Response, extra: RawHeaders) -> int:
        """One result for a client that accepts only multipart/mixed: one part."""
        framing = Incremental(None)
        body = framing.first() + part(orjson.dumps({**outcome.body, "hasNext": False}), last=True)
        return await respond(send, 200, body, framing.content_type, extra)

    @staticmethod
    async def _read_post(
        pipeline: Pipeline,
        receive: Receive,
        content_type: bytes | None,
        content_length: bytes | None,
        raw_headers: RawHeaders,
    ) -> GraphQLParams:
        if not pipeline.csrf.is_preflighted(raw_headers):
            raise HttpError(400, pipeline.csrf.message, "CSRF_PREVENTION")
        check_json_content_type(content_type)
        limit = pipeline.max_body
        if content_length is not None:
            try:
                declared = int(content_length)
            except ValueError:
                raise HttpError(400, "The Content-Length header is not a number.") from None
            if declared > limit:
                raise _too_big(limit)
        message = await receive()
        body: bytes = message.get("body", b"")
        if message.get("more_body", False):
            chunks = [body]
            size = len(body)
            while message.get("more_body", False):
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise HttpError(400, "The client went away before sending the whole body.")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _too_big(limit)
                chunks.append(chunk)
            body = b"".join(chunks)
        if len(body) > limit:
            raise _too_big(limit)
        return params_from_body(body)


def _too_big(limit: int) -> HttpError:
    return HttpError(
        413,
        f"The request body is larger than the router allows ({limit} bytes, "
        "limits.http_max_request_bytes).",
        "PAYLOAD_TOO_LARGE",
    )
