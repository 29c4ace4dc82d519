"""Logs, request ids, metrics and health of real subgraph and worker processes.

One request id from the client's `x-request-id` to the log line of the worker job its
outbox event became; every line of every process parses as JSON in production format;
RED metrics per operation, exact across the processes of `--workers 2`; readiness that
fails when Redis does not answer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from puppies.embedded import free_port
from puppies.settings import Settings
from tests.subgraphs.users.conftest import PASSWORD, SIGN_UP
from tests.support.processes import ProcessStack
from tests.support.telemetry import LOG_FIELDS, json_lines, metric
from tests.support.tmp import private_tmp_dir

NEW_POST = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"
JSON_LOGS = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}


async def _sign_up(http: httpx.AsyncClient, users: str, name: str) -> str:
    r = await http.post(
        users + "/graphql",
        json={
            "query": SIGN_UP,
            "variables": {"u": name, "e": f"{name}@example.com", "p": PASSWORD},
        },
    )
    token: str = r.json()["data"]["signUp"]["session"]["accessToken"]
    return token


async def test_request_id_reaches_the_worker_job_and_every_line_is_json(
    clean: Settings, service_env: dict[str, str]
) -> None:
    directory = private_tmp_dir("obs")
    with ProcessStack({**service_env, **JSON_LOGS}, directory) as stack:
        worker = stack.start_worker(wait=False)
        users, posts = (process.url for process in stack.start_subgraphs("users", "posts"))
        stack.wait_ready(worker)
        async with httpx.AsyncClient(timeout=30) as http:
            token = await _sign_up(http, users, "walker")
            r = await http.post(
                posts + "/graphql",
                json={"query": NEW_POST, "variables": {"t": "a walk"}},
                headers={"authorization": f"Bearer {token}", "x-request-id": "client-req-1"},
            )
            assert r.json()["data"]["createPost"]["errors"] == []
            assert r.headers["x-request-id"] == "client-req-1"
            made = await http.post(posts + "/graphql", json={"query": "{ __typename }"})
            assert len(made.headers["x-request-id"]) == 32  # none given: one is made
            bad = await http.post(
                posts + "/graphql",
                json={"query": "{ __typename }"},
                headers={"x-request-id": "two words"},
            )
            assert bad.headers["x-request-id"] != "two words"

            deadline = time.monotonic() + 30
            while True:
                worker_lines = json_lines(stack.log_lines("worker"))
                fan_out = [x for x in worker_lines if x["message"].startswith("fan-out of post")]
                if fan_out:
                    break
                assert time.monotonic() < deadline, worker_lines[-5:]
                await asyncio.sleep(0.2)
            assert fan_out[0]["request_id"] == "client-req-1"
            assert fan_out[0]["process"] == "worker" and fan_out[0]["level"] == "INFO"
            # the worker's per-job lines are DEBUG, so not written at INFO
            assert not any("→" in x["message"] or "←" in x["message"] for x in worker_lines)

            assert (
                metric(worker.url, "puppies_worker_job_duration_seconds_count", job="feed.fan_out")
                >= 1
            )
            assert metric(worker.url, "puppies_outbox_lag_seconds", schema="posts") >= 0
            text = (await http.get(worker.url + "/metrics")).text
            assert "puppies_worker_queue_depth" in text and "puppies_outbox_pending_events" in text
            health = await http.get(worker.url + "/health?ready")
            assert (health.status_code, health.json()) == (200, {"status": "UP"})
    for name in ("users", "posts", "worker"):
        lines = json_lines(stack.log_lines(name))
        assert lines, name
        for line in lines:
            assert line.keys() >= LOG_FIELDS, line
            assert line["process"] == name


async def test_red_metrics_per_operation_and_error_code(
    clean: Settings, service_env: dict[str, str]
) -> None:
    with ProcessStack(service_env, private_tmp_dir("obs")) as stack:
        users = stack.start_subgraph("users").url
        async with httpx.AsyncClient(timeout=30) as http:
            for _ in range(3):
                await http.post(users + "/graphql", json={"query": "query Who { __typename }"})
            await http.post(users + "/graphql", json={"query": "{ nope }"})
            await http.post(users + "/graphql", json={"query": "{ broken"})
        count = "puppies_graphql_operation_duration_seconds_count"
        assert metric(users, count, operation_name="Who", operation_type="query") == 3
        assert metric(users, "puppies_graphql_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
        assert metric(users, "puppies_graphql_errors_total", code="GRAPHQL_PARSE_FAILED") == 1
        # application/json answers 200 even to a request error
        assert metric(users, "puppies_http_requests_total", path="/graphql", status="200") == 5
        assert metric(users, "puppies_http_request_duration_seconds_count", path="/graphql") == 5


def _metrics_dirs(data_dir: Path) -> list[Path]:
    return list(data_dir.glob("puppies-metrics-*"))


def _files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


async def test_metrics_add_up_over_the_processes_of_one_server(
    clean: Settings, service_env: dict[str, str]
) -> None:
    data_dir = Path(service_env["DATA_DIR"])
    with ProcessStack(service_env, private_tmp_dir("obs")) as stack:
        users = stack.start_subgraph("users", workers=2).url

        async def one() -> None:
            # a connection per request, so the kernel spreads them over both processes
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(users + "/graphql", json={"query": "query Q { __typename }"})
                assert r.status_code == 200

        # until both processes have served (each keeps its own file in the shared
        # directory): on a loaded machine the kernel may hand a few rounds to one of them
        (shared,) = _metrics_dirs(data_dir)
        sent = 0
        while sent < 400 and (sent < 40 or len(_files(shared, "histogram_*.db")) < 2):
            await asyncio.gather(*(one() for _ in range(10)))
            sent += 10
        assert len(_files(shared, "histogram_*.db")) == 2
        count = "puppies_graphql_operation_duration_seconds_count"
        assert metric(users, count, operation_name="Q") == sent
        assert metric(users, "puppies_http_requests_total", path="/graphql") == sent
    assert not _metrics_dirs(data_dir)  # removed at exit


async def test_readiness_fails_while_redis_does_not_answer(
    clean: Settings, service_env: dict[str, str]
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with ProcessStack(service_env, private_tmp_dir("obs")) as stack:
        users = stack.start_subgraph("users", extra_env={"REDIS_URL": dead}).url
        async with httpx.AsyncClient(timeout=30) as http:
            live = await http.get(users + "/health")
            assert (live.status_code, live.json()) == (200, {"status": "UP"})
            assert (await http.get(users + "/health?live")).status_code == 200
            ready = await http.get(users + "/health?ready")
            assert (ready.status_code, ready.json()) == (503, {"status": "DOWN"})
        assert any("not ready: redis" in line for line in stack.log_lines("users"))


@pytest.mark.parametrize("value", ["verbose", "yaml"])
async def test_bad_log_settings_stop_start_up_with_a_message(
    service_env: dict[str, str], value: str
) -> None:
    import subprocess
    import sys

    key = "LOG_LEVEL" if value == "verbose" else "LOG_FORMAT"
    out = subprocess.run(  # noqa: ASYNC221 (the test waits for nothing else)
        [sys.executable, "-m", "puppies.cli", "serve", "users", "--port", str(free_port())],
        env={**service_env, key: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert key in out.stderr and "invalid settings" in out.stderr
