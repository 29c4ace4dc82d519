"""One trace from a client request through the router, a subgraph, its SQL and the worker
job its outbox event became, exported over OTLP/HTTP to a receiver the test runs; and one
request id from the client to the worker's log line, with an access log line at the router.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from puppies.settings import Settings
from tests.subgraphs.users.conftest import PASSWORD, SIGN_UP
from tests.support.otlp import OtlpReceiver, Span
from tests.support.processes import ProcessStack, router_yaml
from tests.support.telemetry import LOG_FIELDS, json_lines
from tests.support.tmp import private_tmp_dir

NEW_POST = (
    "mutation NewPost($t: String!) "
    "{ createPost(input: {text: $t}) { post { id } errors { code } } }"
)
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
UNSAMPLED_TRACE = "5bf7651916cd43dd8448eb211c80319d"


def _tracing_env(otlp: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "LOG_FORMAT": "json",
    }


def _router_config(stack: ProcessStack, otlp: OtlpReceiver) -> str:
    return router_yaml(
        stack.ports,
        f"""
telemetry:
  exporters:
    logging:
      stdout:
        format: json
    tracing:
      common:
        service_name: puppies-router
        sampler: always_on
      otlp:
        enabled: true
        endpoint: {otlp.endpoint}
""",
    )


async def _wait_for(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.2)


def _parent(spans: list[Span], span: Span) -> Span:
    (parent,) = [s for s in spans if s.span_id == span.parent_id]
    return parent


def _ancestors(spans: list[Span], span: Span) -> list[Span]:
    chain = []
    while span.parent_id is not None and any(s.span_id == span.parent_id for s in spans):
        span = _parent(spans, span)
        chain.append(span)
    return chain


async def test_one_trace_from_client_to_worker_job(clean: Settings, service_env: dict[str, str]):
    with (
        OtlpReceiver() as otlp,
        ProcessStack({**service_env, **_tracing_env(otlp)}, private_tmp_dir("trace")) as stack,
    ):
        worker = stack.start_worker(wait=False)
        stack.start_subgraphs("users", "posts")
        stack.wait_ready(worker)
        router = stack.start_router(config=_router_config(stack, otlp)).url
        async with httpx.AsyncClient(timeout=30) as http:
            signed = await http.post(
                router + "/graphql",
                json={
                    "query": SIGN_UP,
                    "variables": {"u": "walker", "e": "w@example.com", "p": PASSWORD},
                },
            )
            token = signed.json()["data"]["signUp"]["session"]["accessToken"]
            answer = await http.post(
                router + "/graphql",
                json={"query": NEW_POST, "variables": {"t": "a walk"}, "operationName": "NewPost"},
                headers={
                    "authorization": f"Bearer {token}",
                    "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                    "x-request-id": "trace-test-1",
                },
            )
            assert answer.json()["data"]["createPost"]["errors"] == []
            assert answer.headers["x-request-id"] == "trace-test-1"
            # a client's unsampled decision holds everywhere: no span of the router, the
            # subgraph or the job, and no fresh trace started downstream
            unsampled = await http.post(
                router + "/graphql",
                json={"query": NEW_POST, "variables": {"t": "unseen"}, "operationName": "NewPost"},
                headers={
                    "authorization": f"Bearer {token}",
                    "traceparent": f"00-{UNSAMPLED_TRACE}-{CLIENT_SPAN}-00",
                    "x-request-id": "trace-test-2",
                },
            )
            assert unsampled.json()["data"]["createPost"]["errors"] == []

        def job_span() -> Span | None:
            return next(
                (
                    s
                    for s in otlp.snapshot()
                    if s.trace_id == CLIENT_TRACE and s.name == "job feed.fan_out"
                ),
                None,
            )

        job = await _wait_for(job_span)
        await asyncio.sleep(1.0)  # the last batches of every process
        spans = [s for s in otlp.snapshot() if s.trace_id == CLIENT_TRACE]
        services = {s.service for s in spans}
        assert {"puppies-router", "puppies-posts", "puppies-worker"} <= services

        # router: its span continues the client's; each fetch is a child of it
        (root,) = [s for s in spans if s.service == "puppies-router" and s.name == "router"]
        assert root.kind == "SERVER" and root.parent_id == CLIENT_SPAN
        assert root.attributes["graphql.operation.name"] == "NewPost"
        (fetch,) = [s for s in spans if s.service == "puppies-router" and s.name == "subgraph"]
        assert fetch.kind == "CLIENT" and fetch.attributes["subgraph.name"] == "posts"
        assert root in _ancestors(spans, fetch)
        # posts: the request span is the router's fetch's child; SQL and the outbox below it
        posts = [s for s in spans if s.service == "puppies-posts"]
        (server,) = [s for s in posts if s.parent_id == fetch.span_id]
        assert server.kind == "SERVER"
        sql = [
            s
            for s in posts
            if s.attributes.get("db.system") == "postgresql"
            or s.attributes.get("db.system.name") == "postgresql"
        ]
        assert sql and all(server in _ancestors(spans, s) for s in sql)
        assert any(
            "INSERT" in s.name or "INSERT" in str(s.attributes.get("db.statement", "")) for s in sql
        )
        (emit,) = [s for s in posts if s.name == "outbox post.published"]
        assert emit.kind == "PRODUCER" and server in _ancestors(spans, emit)
        # worker: the job is the outbox event's child, its SQL the job's
        assert job.service == "puppies-worker" and job.kind == "CONSUMER"
        assert job.parent_id == emit.span_id
        worker_sql = [
            s
            for s in spans
            if s.service == "puppies-worker" and s.name != job.name and job in _ancestors(spans, s)
        ]
        assert worker_sql, "the job's SQL is in the trace"
        # every span of the trace hangs off the client's span
        for s in spans:
            assert s.parent_id == CLIENT_SPAN or root in _ancestors(spans, s) or s is root, s
        everything = otlp.snapshot()
        assert not [s for s in everything if s.trace_id == UNSAMPLED_TRACE]
        fetches = [s for s in everything if s.name == "subgraph" and s.service == "puppies-router"]
        assert [s.attributes["subgraph.name"] for s in fetches].count("posts") == 1
        posted = [
            s
            for s in everything
            if s.service == "puppies-posts"
            and s.kind == "SERVER"
            and s.attributes.get("http.request.method") == "POST"
        ]
        fanned = [s for s in everything if s.name == "job feed.fan_out"]
        assert posted and all(s.trace_id == CLIENT_TRACE for s in posted + fanned)

    # one request id from the client to the worker, and an access log line at the router
    access = [
        line
        for line in json_lines(stack.log_lines("router"))
        if line["logger"] == "graph.access" and line.get("operation_name") == "NewPost"
    ]
    line, unsampled_line = access
    assert unsampled_line["request_id"] == "trace-test-2"
    assert unsampled_line["trace_id"] == UNSAMPLED_TRACE
    assert line.keys() >= LOG_FIELDS
    assert line["request_id"] == "trace-test-1" and line["trace_id"] == CLIENT_TRACE
    assert line["status"] == 200 and line["subgraph_fetches"] == 1
    assert line["operation_type"] == "mutation"
    worker_lines = json_lines(stack.log_lines("worker"))
    # (two posts were made: their fan-outs may run in either order)
    fan_out = [
        x
        for x in worker_lines
        if x["message"].startswith("fan-out of post") and x["request_id"] == "trace-test-1"
    ]
    assert fan_out and fan_out[0]["trace_id"] == CLIENT_TRACE
