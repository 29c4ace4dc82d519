"""The router's readiness follows its subgraphs: a frozen subgraph (SIGSTOP) makes
`/health?ready` answer 503 within the readiness interval while `/health` stays 200, and it
is ready again once the subgraph resumes (SIGCONT). Router metrics per subgraph, too.

Every process logs JSON here (production's format): every line of the router and of the four
subgraphs parses, carries the ids, and the router writes one access line per request."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx

from puppies.settings import Settings
from tests.support.processes import ProcessStack, router_yaml
from tests.support.telemetry import LOG_FIELDS, json_lines, metric
from tests.support.tmp import private_tmp_dir

READINESS = """
health_check:
  readiness:
    interval:
      sampling: 500ms
      unready: 2s
telemetry:
  exporters:
    logging:
      stdout:
        format: json
"""
JSON_LOGS = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}


async def _until(url: str, status: int, timeout: float = 60) -> None:
    """Return once `url` answers `status`; fail after `timeout` (generous: it takes a few
    seconds, and a loaded machine must not fail the test)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            try:
                if (await http.get(url)).status_code == status:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{url} never answered {status}"
            await asyncio.sleep(0.1)


async def test_a_frozen_subgraph_fails_readiness_and_recovers(
    clean: Settings, service_env: dict[str, str]
) -> None:
    with ProcessStack({**service_env, **JSON_LOGS}, private_tmp_dir("ready")) as stack:
        # a router whose supergraph has four subgraphs: ready only when all four answer
        users, posts, *_ = stack.start_subgraphs("users", "posts", "feed", "analytics")
        router = stack.start_router(config=router_yaml(stack.ports, READINESS)).url
        ready, live = router + "/health?ready", router + "/health"
        await _until(ready, 200)

        os.killpg(posts.proc.pid, signal.SIGSTOP)
        try:
            # within `unready` + `sampling` (+ the probe's own timeout)
            await _until(ready, 503)
            async with httpx.AsyncClient(timeout=5) as http:
                down = await http.get(ready)
                assert down.json() == {"status": "DOWN"}
                assert (await http.get(live)).json() == {"status": "UP"}
            assert metric(router, "router_subgraph_up", subgraph="posts") == 0
        finally:
            os.killpg(posts.proc.pid, signal.SIGCONT)
        await _until(ready, 200)
        # the router's own metrics of subgraph requests; an access line per request
        sent = {
            "ready-me": {"query": "query Me { me { id } }"},
            "ready-typo": {"query": "query Typo { mee { id } }"},
            "ready-unparsable": {"query": "query {"},
        }
        async with httpx.AsyncClient(timeout=30) as http:
            for rid, body in sent.items():
                r = await http.post(router + "/graphql", json=body, headers={"x-request-id": rid})
                assert r.headers["x-request-id"] == rid
            r = await http.get(
                router + "/graphql",
                params={"query": "{ __typename }"},
                headers={"apollo-require-preflight": "true"},
            )
            made = r.headers["x-request-id"]
        assert (
            metric(router, "router_subgraph_request_duration_seconds_count", subgraph="users") == 1
        )
        assert metric(router, "router_operation_duration_seconds_count", operation_name="Me") == 1
        assert metric(router, "router_cache_requests_total", cache="plan", outcome="miss") == 2
        assert users.proc.poll() is None

    for name in ("router", "users", "posts", "feed", "analytics"):
        lines = json_lines(stack.log_lines(name))
        assert lines, name
        for line in lines:
            assert line.keys() >= LOG_FIELDS, line
            assert line["process"] == name, line
    router_lines = json_lines(stack.log_lines("router"))
    # (on a loaded machine another subgraph's probe may time out too)
    assert any(
        "not ready: no answer from subgraph(s)" in x["message"] and "posts" in x["message"]
        for x in router_lines
    ), router_lines
    access = {x["request_id"]: x for x in router_lines if x["logger"] == "graph.access"}
    assert access.keys() == {*sent, made}  # readiness probes are not requests to log
    me, typo, unparsable = (access[rid] for rid in sent)
    assert (me["operation_name"], me["status"], me["subgraph_fetches"]) == ("Me", 200, 1)
    assert me["error_codes"] is None and me["operation_type"] == "query"
    assert typo["subgraph_fetches"] == 0 and typo["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert unparsable["error_codes"] == ["GRAPHQL_PARSE_FAILED"]
    assert access[made]["transport"] == "http" and access[made]["subgraph_fetches"] == 0
