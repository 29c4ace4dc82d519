"""Rate limits and quotas, end to end: router processes sharing the test session's Redis,
the real users (and posts) subgraphs, real API keys and access tokens.

Exactness: a `free` key gets exactly its 60 successes however its requests are spread over
two router processes. A limit is a GCRA bucket (burst = the limit, refilled at the limit per
window: graph/rate_limits/limiter.py), so the tests that count admissions use an hour's
window: nothing refills while they run, however slow the machine. The same limit over
every transport: tests/graph/edge/test_transports.py; the limiter itself:
tests/graph/edge/test_limiter.py."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from puppies.embedded import free_port
from puppies.embedded.redis import EmbeddedRedis
from tests.graph.edge.conftest import EdgeFactory
from tests.graph.edge.stack import ME, Edge, Router, post, router_config, until
from tests.support.tmp import private_tmp_dir

NEW_POST = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
LOG_IN = """mutation($l: String!, $p: String!) {
  logIn(input: {login: $l, password: $p}) { session { accessToken } errors { code message } } }"""


def limited(edge: Edge, **rate_limits: Any) -> dict[str, Any]:
    config = router_config(edge.users_url, str(edge.settings.redis_url))
    config["rate_limits"] = {
        "enabled": True,
        "redis": {"urls": [str(edge.settings.redis_url)]},
        **rate_limits,
    }
    return config


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The RATE_LIMITED error of a 429 (after checking the status and headers)."""
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert "ratelimit" in response.headers and "ratelimit-policy" in response.headers
    body = response.json()
    assert "data" not in body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    return error


async def metric(router: Router, name: str) -> float:
    async with httpx.AsyncClient(timeout=30) as http:
        text = (await http.get(router.url + "/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def remaining(response: httpx.Response, policy: str) -> int:
    found = re.search(rf'"{re.escape(policy)}";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert found, response.headers.get("ratelimit")
    return int(found.group(1))


async def test_a_free_key_gets_exactly_60_across_two_router_processes(edge: Edge) -> None:
    # the default tiers (free: 60 and 1,000 per day), counted per hour instead of per minute
    # so that no request is refilled while the 75 are sent
    config = limited(edge, window="1h")
    one, two = edge.start_router(config), edge.start_router(config)
    _, token = await edge.sign_up("free_partner")
    _, key = await edge.api_key(one, token)
    gate = asyncio.Semaphore(8)

    async def call(i: int) -> httpx.Response:
        async with gate:
            return await post((one, two)[i % 2], ME, headers={"x-api-key": key})

    answers = await asyncio.gather(*(call(i) for i in range(75)))
    ok = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert (len(ok), len(refused)) == (60, 15)
    # every admitted request saw its own place in the window: 59 left, 58, ... 0
    assert sorted(remaining(a, "free") for a in ok) == list(range(60))
    assert ok[0].headers["ratelimit-policy"] == '"free";q=60;w=3600, "free-daily";q=1000;w=86400'
    for answer in refused:
        error = refusal(answer)
        assert error["extensions"]["policy"] == "free"
        assert 1 <= error["extensions"]["retryAfter"] <= 60  # one request per hour / 60
        assert int(answer.headers["retry-after"]) == error["extensions"]["retryAfter"]
        assert remaining(answer, "free") == 0
    # refused requests are not counted against the day: 60 used of 1,000
    assert min(remaining(a, "free-daily") for a in ok) == 940


async def test_a_daily_quota_answers_with_its_reset_time(edge: Edge) -> None:
    router = edge.start_router(limited(edge, tiers={"free": {"limit": 100, "daily_quota": 3}}))
    _, token = await edge.sign_up("quota_partner")
    _, key = await edge.api_key(router, token)
    answers = [await post(router, ME, headers={"x-api-key": key}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    error = refusal(answers[-1])
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    reset = (midnight + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert error["extensions"]["policy"] == "free-daily"
    assert error["extensions"]["resetAt"] == reset
    assert reset in error["message"]
    seconds_left = (midnight + timedelta(days=1) - datetime.now(UTC)).total_seconds()
    assert abs(int(answers[-1].headers["retry-after"]) - seconds_left) < 120


async def test_anonymous_callers_are_limited_per_address(edge: Edge) -> None:
    router = edge.start_router(limited(edge, window="1h", anonymous={"limit": 3}))
    _, token = await edge.sign_up("signed_in")
    answers = [await post(router, ME) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert refusal(answers[-1])["extensions"]["policy"] == "anonymous"
    # a signed-in user has a budget of their own
    signed = await post(router, ME, headers={"authorization": f"Bearer {token}"})
    assert signed.status_code == 200 and remaining(signed, "user") == 999


async def test_create_post_is_limited_to_10_a_minute_per_user(edge_stack: EdgeFactory) -> None:
    async with edge_stack(posts=True) as edge:
        config = limited(edge, root_fields={"Mutation.createPost": {"limit": 10, "window": "1h"}})
        router = edge.start_router(config)
        _, token = await edge.sign_up("poster")
        _, key = await edge.api_key(router, token, ["read:profile", "write:posts"])
        as_user = {"authorization": f"Bearer {token}"}
        answers = [
            await post(router, NEW_POST, {"t": f"post {i}"}, headers=as_user) for i in range(10)
        ]
        assert all(a.status_code == 200 for a in answers), answers[-1].text
        assert remaining(answers[-1], "createPost") == 0
        over = await post(router, NEW_POST, {"t": "one too many"}, headers=as_user)
        error = refusal(over)
        assert error["extensions"]["policy"] == "createPost"
        assert "createPost" in error["message"]
        # the limit is the user's: their API key shares it
        by_key = await post(router, NEW_POST, {"t": "by key"}, headers={"x-api-key": key})
        assert refusal(by_key)["extensions"]["policy"] == "createPost"
        # other operations are not affected
        assert (await post(router, ME, headers=as_user)).status_code == 200


async def test_a_root_field_with_its_own_budget_does_not_use_the_callers(edge: Edge) -> None:
    config = limited(
        edge,
        window="1h",
        tiers={"free": {"limit": 2}},
        root_fields={"Query.me": {"limit": 50, "own_budget": True}},
    )
    router = edge.start_router(config)
    _, token = await edge.sign_up("own_budget")
    _, key = await edge.api_key(router, token)
    headers = {"x-api-key": key}
    for _ in range(5):
        answer = await post(router, ME, headers=headers)
        assert answer.status_code == 200
        assert '"free"' not in answer.headers["ratelimit-policy"]
    other = '{ me { id } user(id: "1") { id } }'  # me and another root field: general budget
    assert [(await post(router, other, headers=headers)).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


async def test_redis_down_falls_back_to_local_limits_or_fails_open_or_closed(edge: Edge) -> None:
    dead = {"urls": ["redis://127.0.0.1:1/0"], "timeout": "200ms"}
    local_router = edge.start_router(limited(edge, redis=dead, window="1h", anonymous={"limit": 2}))
    open_router = edge.start_router(
        limited(edge, redis=dead, local_fallback={"enabled": False}, anonymous={"limit": 2})
    )
    closed_router = edge.start_router(limited(edge, redis=dead, fail_open=False))
    # the default: the same limits, per process
    local = [await post(local_router, ME) for _ in range(3)]
    assert [a.status_code for a in local] == [200, 200, 429]
    assert remaining(local[0], "anonymous") == 1
    assert refusal(local[2])["extensions"]["policy"] == "anonymous"
    assert await metric(local_router, "router_rate_limit_failures_total") == 3
    assert await metric(local_router, "router_rate_limit_local_decisions_total") == 3
    # fail_open without the local fallback: everything is admitted, without headers
    for _ in range(3):
        answer = await post(open_router, ME)
        assert answer.status_code == 200
        assert "ratelimit" not in answer.headers
    assert await metric(open_router, "router_rate_limit_failures_total") == 3
    assert await metric(open_router, "router_rate_limit_local_decisions_total") == 0
    closed = await post(closed_router, ME)
    assert closed.status_code == 503
    assert closed.json()["errors"][0]["extensions"]["code"] == "RATE_LIMIT_UNAVAILABLE"
    assert closed.headers["retry-after"] == "1"


async def test_a_paused_redis_falls_back_to_local_limits_and_back(edge: Edge) -> None:
    """A redis-server of the test's own, stopped with SIGSTOP: the router's checks time out
    (100 ms), the process limits on its own (a fresh local bucket) without asking Redis for
    `retry_interval`, and goes back to Redis once it answers again."""
    server = EmbeddedRedis(private_tmp_dir("paused-redis"), free_port(), persist=False)
    server.start()
    assert server.proc is not None
    pid = server.proc.pid
    try:
        config = limited(edge, window="1h", anonymous={"limit": 3})
        config["rate_limits"]["redis"] = {"urls": [server.url], "timeout": "100ms"}
        config["rate_limits"]["local_fallback"] = {"retry_interval": "1s"}
        router = edge.start_router(config)
        first = await post(router, ME)
        assert first.status_code == 200 and remaining(first, "anonymous") == 2  # Redis
        os.kill(pid, signal.SIGSTOP)
        paused = [await post(router, ME) for _ in range(4)]
        assert [a.status_code for a in paused] == [200, 200, 200, 429]
        assert [remaining(a, "anonymous") for a in paused[:3]] == [2, 1, 0]
        assert await metric(router, "router_rate_limit_local_decisions_total") == 4
        os.kill(pid, signal.SIGCONT)

        async def redis_decides() -> bool:
            before = await metric(router, "router_rate_limit_local_decisions_total")
            await post(router, ME)
            return await metric(router, "router_rate_limit_local_decisions_total") == before

        await until(redis_decides, timeout=60, interval=0.2)
    finally:
        os.kill(pid, signal.SIGCONT)
        server.stop()


async def test_the_login_throttle_sets_retry_after(edge: Edge) -> None:
    router = edge.start_router(router_config(edge.users_url, str(edge.settings.redis_url)))
    await edge.sign_up("throttled")
    answers = []
    for _ in range(edge.settings.login_max_failures_per_account + 1):
        answers.append(await post(router, LOG_IN, {"l": "throttled", "p": "wrong password"}))
    codes = [a.json()["data"]["logIn"]["errors"][0]["code"] for a in answers]
    assert codes[-1] == "RATE_LIMITED" and codes[0] == "INVALID_CREDENTIALS"
    assert "retry-after" not in answers[0].headers
    throttled = answers[-1]
    assert throttled.status_code == 200  # a payload error: the operation itself succeeded
    wait = int(throttled.headers["retry-after"])
    assert 1 <= wait <= edge.settings.login_failure_window_seconds
    assert f"{wait} seconds" in throttled.json()["data"]["logIn"]["errors"][0]["message"]
