"""A subgraph that dies or hangs, through real router and subgraph processes: the router
answers the other subgraphs' fields (partial data, the error at the missing path), its
circuit breaker for that subgraph opens and fails fast (no connection, no timeout to wait
for) while the subgraph is down, and closes through a half-open probe once it is back. The
state and every transition are metrics. (The state machine itself: tests/graph/execution/
test_breaker.py; the same faults under load: `python -m bench.faults`.)"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import httpx

from puppies.settings import Settings
from tests.support.processes import ProcessStack, router_yaml
from tests.support.telemetry import metric
from tests.support.tmp import private_tmp_dir

BREAKER = """
traffic_shaping:
  all:
    circuit_breaker:
      volume_threshold: 4
      error_threshold: 0.5
      reset_timeout: 5s
  subgraphs:
    analytics:
      timeout: 3s
"""
# users answers oidcProviders, analytics trendingPosts: one request, two subgraphs
BOTH = "{ oidcProviders { name } trendingPosts { id } }"
HTTP_ERROR, TIMEOUT = "SUBREQUEST_HTTP_ERROR", "SUBREQUEST_TIMEOUT"
REJECTED = "SUBGRAPH_CIRCUIT_BREAKER_REJECTED"


async def _ask(http: httpx.AsyncClient, router: str, query: str = BOTH) -> dict[str, Any]:
    r = await http.post(router + "/graphql", json={"query": query})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _trending_code(body: dict[str, Any]) -> str | None:
    """The code of trendingPosts' error, checking the rest of the answer stood."""
    data = body["data"]
    assert isinstance(data["oidcProviders"], list), body  # users' field answered
    errors = body.get("errors") or []
    if not errors:
        assert isinstance(data["trendingPosts"], list), body
        return None
    [error] = errors  # one error, at the missing field, with the subgraph named
    assert data["trendingPosts"] is None and error["path"] == ["trendingPosts"], body
    assert error["extensions"]["serviceName"] == "analytics", body
    code: str = error["extensions"]["code"]
    return code


async def _until_closed(http: httpx.AsyncClient, router: str) -> list[str | None]:
    """Ask until trendingPosts answers again (the breaker probed and closed)."""
    codes: list[str | None] = []
    for _ in range(600):
        codes.append(_trending_code(await _ask(http, router)))
        if codes[-1] is None:
            return codes
        await asyncio.sleep(0.1)
    raise AssertionError(f"the breaker never closed: {codes[-20:]}")


async def test_a_dead_or_frozen_subgraph_opens_its_breaker_and_the_rest_answers(
    clean: Settings, service_env: dict[str, str]
) -> None:
    with ProcessStack(service_env, private_tmp_dir("breaker")) as stack:
        _, analytics = stack.start_subgraphs("users", "analytics")
        router = stack.start_router(config=router_yaml(stack.ports, BREAKER)).url
        state = lambda: metric(router, "router_subgraph_circuit_state", subgraph="analytics")  # noqa: E731
        async with httpx.AsyncClient(timeout=60) as http:
            assert _trending_code(await _ask(http, router)) is None
            assert state() == 0

            # killed: refused connections until 2 of the last 4 failed, then fail fast
            os.killpg(analytics.proc.pid, signal.SIGKILL)
            analytics.proc.wait(10)
            codes = [_trending_code(await _ask(http, router)) for _ in range(8)]
            # refused connections first (the window holds one success from before), then the
            # breaker rejects without trying (or a probe fails, if this machine stalled 5 s)
            assert codes[:2] == [HTTP_ERROR] * 2 and REJECTED in codes, codes
            assert set(codes) == {HTTP_ERROR, REJECTED}, codes
            assert state() == 2
            assert metric(router, "router_subgraph_circuit_rejections_total") >= 1
            # a request of users alone never notices
            alone = await _ask(http, router, "{ oidcProviders { name } }")
            assert "errors" not in alone and isinstance(alone["data"]["oidcProviders"], list)

            # back on its port: after reset_timeout a probe goes through and closes it
            analytics = stack.start_subgraph("analytics")
            await _until_closed(http, router)
            assert state() == 0
            for to in ("open", "half_open", "closed"):
                moved = metric(
                    router,
                    "router_subgraph_circuit_transitions_total",
                    subgraph="analytics",
                    state=to,
                )
                assert moved >= 1, to

            # frozen (SIGSTOP): each fetch ends at the subgraph's 3 s timeout, with partial
            # data, until the breaker opens and the router stops waiting at all
            os.killpg(analytics.proc.pid, signal.SIGSTOP)
            try:
                # four different requests (identical ones would share one subgraph fetch)
                asks = (
                    _ask(http, router, BOTH.replace("trendingPosts", f"trendingPosts(limit: {n})"))
                    for n in range(1, 5)
                )
                hung = await asyncio.gather(*asks)
                assert [_trending_code(b) for b in hung] == [TIMEOUT] * 4, hung
                alone = await _ask(http, router, "{ oidcProviders { name } }")
                assert "errors" not in alone, alone
                assert _trending_code(await _ask(http, router)) == REJECTED
                assert state() == 2
            finally:
                os.killpg(analytics.proc.pid, signal.SIGCONT)
            await _until_closed(http, router)
            assert state() == 0
        assert any(
            "circuit breaker for subgraph 'analytics' opened" in line
            for line in stack.log_lines("router")
        )
