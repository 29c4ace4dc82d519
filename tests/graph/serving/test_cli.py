"""`puppies serve router` as a real process: serving, /health on its own port or on
health_check.listen, clean shutdown on SIGTERM. Tests that only read what a router serves
share one process per configuration (the module fixtures); each start is seconds of a
loaded machine."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

PUPPIES = str(Path(sys.executable).parent / "puppies")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120  # returns as soon as it answers; loaded machines are slow
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"router exited: {process.communicate()[1]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"router did not answer at {url}")


def serve(tmp_path: Path, supergraph_sdl: str, config: str) -> subprocess.Popen[str]:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    router_yaml = tmp_path / "router.yaml"
    router_yaml.write_text(config)
    return subprocess.Popen(
        [PUPPIES, "serve", "router", "--supergraph", str(supergraph), "--config", str(router_yaml)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> bool:
    """SIGTERM; True when the router shut down by itself (uvicorn re-raises the signal
    after a graceful shutdown, so the status is -SIGTERM or 0)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture(scope="module")
def own_port(tmp_path_factory: pytest.TempPathFactory, supergraph_sdl: str) -> Iterator[str]:
    """One router process (its base URL) for the tests of what its own port serves: GraphQL,
    /health there too (health_check.listen equal to its own listen is its own port), and the
    WebSocket message limit (a limit no other request here comes near). Stopped by SIGTERM,
    cleanly, after the module's tests."""
    port = free_port()
    config = (
        f"supergraph:\n  listen: 127.0.0.1:{port}\n"
        f"health_check:\n  listen: 127.0.0.1:{port}\n"
        "limits:\n  http_max_request_bytes: 1000\n"
    )
    process = serve(tmp_path_factory.mktemp("own-port"), supergraph_sdl, config)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        assert stop(process)


@pytest.fixture(scope="module")
def listeners(
    tmp_path_factory: pytest.TempPathFactory, supergraph_sdl: str
) -> Iterator[tuple[str, str, str]]:
    """One router process with /health (at /ready) and /metrics each on a listener of its
    own: the base URLs (own port, health, metrics)."""
    port, health_port, metrics_port = free_port(), free_port(), free_port()
    config = (
        f"supergraph:\n  listen: 127.0.0.1:{port}\n"
        f"health_check:\n  listen: 127.0.0.1:{health_port}\n  path: /ready\n"
        "telemetry:\n  exporters:\n    metrics:\n      prometheus:\n"
        f"        listen: 127.0.0.1:{metrics_port}\n"
    )
    process = serve(tmp_path_factory.mktemp("listeners"), supergraph_sdl, config)
    try:
        wait_for(f"http://127.0.0.1:{health_port}/ready", process)
        base, health, metrics = (f"http://127.0.0.1:{p}" for p in (port, health_port, metrics_port))
        yield base, health, metrics
    finally:
        assert stop(process)


def test_serves_graphql_and_health_on_its_own_port(own_port: str) -> None:
    """health_check.listen equal to the router's own listen is its own port, not a second
    listener on the same address."""
    health = httpx.get(f"{own_port}/health")
    assert health.status_code == 200
    answer = httpx.post(f"{own_port}/graphql", json={"query": "{ me { name } }"})
    assert answer.json() == {"data": {"me": {"name": "Ada"}}}


def test_health_check_listen_moves_health_to_its_own_listener(
    listeners: tuple[str, str, str],
) -> None:
    base, health, _ = listeners
    assert httpx.get(f"{health}/ready").status_code == 200
    assert httpx.get(f"{health}/ready").json() == {"status": "UP"}
    assert httpx.get(f"{base}/ready").status_code == 404
    assert httpx.get(f"{base}/health").status_code == 404
    # GraphQL is not served on the health listener
    assert httpx.post(f"{health}/graphql", json={"query": "{ __typename }"}).status_code == 404
    assert httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}).json() == {
        "data": {"__typename": "Query"}
    }


def test_port_in_use_is_a_clear_error(tmp_path: Path, supergraph_sdl: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = serve(tmp_path, supergraph_sdl, f"supergraph:\n  listen: 127.0.0.1:{port}\n")
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "Traceback" not in stderr


def test_plan_prints_the_query_plan(tmp_path: Path, supergraph_sdl: str) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    operation = tmp_path / "op.graphql"
    operation.write_text("query A { me { name reviews { body } } } query B { users { id } }")
    result = subprocess.run(
        [PUPPIES, "plan", str(operation), "--supergraph", str(supergraph), "--operation-name", "A"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("QueryPlan {")
    assert 'Fetch(service: "accounts")' in result.stdout
    assert 'Flatten(path: "me")' in result.stdout
    operation.write_text("{ nope }")
    bad = subprocess.run(
        [PUPPIES, "plan", str(operation), "--supergraph", str(supergraph)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "GRAPHQL_VALIDATION_FAILED" in bad.stderr
    assert "Cannot query field 'nope'" in bad.stderr


def test_plan_prints_deferred_groups(tmp_path: Path, supergraph_sdl: str) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    operation = tmp_path / "op.graphql"
    operation.write_text('{ me { name ... @defer(label: "slow") { reviews { body } } } }')
    result = subprocess.run(
        [PUPPIES, "plan", str(operation), "--supergraph", str(supergraph)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["QueryPlan {", "  Defer {", "    Primary {"]
    assert '      Deferred(id: 0, path: "me", label: "slow") {' in lines
    deferred = "\n".join(lines[lines.index('      Deferred(id: 0, path: "me", label: "slow") {') :])
    assert 'Fetch(service: "reviews")' in deferred


def test_workers_share_the_port(tmp_path: Path, supergraph_sdl: str) -> None:
    port = free_port()
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(supergraph_sdl)
    process = subprocess.Popen(
        [
            PUPPIES,
            "serve",
            "router",
            "--supergraph",
            str(supergraph),
            "--listen",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(20):
                answer = http.post("/graphql", json={"query": "{ me { name } }"})
                assert answer.json() == {"data": {"me": {"name": "Ada"}}}
    finally:
        assert stop(process)


def test_health_and_metrics_each_on_their_own_listener(listeners: tuple[str, str, str]) -> None:
    base, health, metrics = listeners
    assert httpx.get(f"{health}/metrics").status_code == 404
    assert "router_http_requests_total" in httpx.get(f"{metrics}/metrics").text
    assert httpx.get(f"{metrics}/ready").status_code == 404
    assert httpx.get(f"{metrics}/health").status_code == 404
    assert httpx.get(f"{base}/metrics").status_code == 404


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_hot_reload_of_router_yaml_and_supergraph(tmp_path: Path, supergraph_sdl: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = f"supergraph:\n  listen: 127.0.0.1:{port}\n  introspection: true\n"
    supergraph, router_yaml = tmp_path / "supergraph.graphql", tmp_path / "router.yaml"
    supergraph.write_text(supergraph_sdl)
    router_yaml.write_text(config)
    process = subprocess.Popen(
        [
            PUPPIES,
            "serve",
            "router",
            "--supergraph",
            str(supergraph),
            "--config",
            str(router_yaml),
            "--hot-reload",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    schema_query = {"query": "{ __schema { queryType { name } } }"}

    def code(body: dict[str, str]) -> str | None:
        answer = httpx.post(f"{base}/graphql", json=body).json()
        return answer["errors"][0]["extensions"]["code"] if "errors" in answer else None

    try:
        wait_for(f"{base}/health", process)
        assert code(schema_query) is None
        # router.yaml changes: introspection off
        router_yaml.write_text(config.replace("introspection: true", "introspection: false"))
        assert wait_until(lambda: code(schema_query) == "INTROSPECTION_DISABLED")
        # a broken router.yaml is refused; the router keeps serving the last good one
        router_yaml.write_text(config + "limits:\n  max_dpth: 1\n")
        time.sleep(2.5)
        assert code(schema_query) == "INTROSPECTION_DISABLED"
        assert code({"query": "{ me { name } }"}) is None
        # the supergraph changes: Query.headers is gone
        router_yaml.write_text(config)
        supergraph.write_text(
            supergraph_sdl.replace("  headers: String! @join__field(graph: ACCOUNTS)\n", "")
        )
        assert wait_until(lambda: code({"query": "{ headers }"}) == "GRAPHQL_VALIDATION_FAILED")
        assert code(schema_query) is None
        assert code({"query": "{ me { name } }"}) is None
    finally:
        assert stop(process)
    _, stderr = process.communicate()
    assert "hot reload failed, still serving the previous version" in stderr
    assert "limits.max_dpth" in stderr


async def test_websocket_messages_obey_http_max_request_bytes(own_port: str) -> None:
    async with connect(
        own_port.replace("http://", "ws://") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv()) == {"type": "connection_ack"}
        big = {"query": "{ me { name } }", "variables": {"pad": "x" * 5000}}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": big}))
        with pytest.raises(ConnectionClosed) as caught:
            await asyncio.wait_for(ws.recv(), timeout=10)
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1009  # message too big


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_one_access_line_per_request_with_its_fields(
    tmp_path: Path, supergraph_sdl: str, fmt: str
) -> None:
    """The access lines (written off the request path, in batches) are all there after a
    SIGTERM, with the fields docs/operations.md lists, in both formats."""
    port = free_port()
    config = (
        f"supergraph:\n  listen: 127.0.0.1:{port}\n"
        f"telemetry:\n  exporters:\n    logging:\n      stdout:\n        format: {fmt}\n"
    )
    process = serve(tmp_path, supergraph_sdl, config)
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        ok = httpx.post(
            url,
            json={"query": "query Me { me { name } }"},
            headers={"x-request-id": "access-ok", "apollographql-client-name": "web"},
        )
        assert ok.headers["x-request-id"] == "access-ok"
        bad = httpx.post(url, json={"query": "{ nope }"}, headers={"x-request-id": "access-bad"})
        assert bad.status_code == 200 and bad.json()["errors"]
        made = httpx.post(url, json={"query": "{ me { name } }"}).headers["x-request-id"]
        assert len(made) == 32 and made not in ("access-ok", "access-bad")
    finally:
        assert stop(process)
    _, stderr = process.communicate()
    if fmt == "json":
        lines = [json.loads(x) for x in stderr.splitlines() if x.startswith("{")]
        access = {x["request_id"]: x for x in lines if x["logger"] == "graph.access"}
        assert access.keys() == {"access-ok", "access-bad", made}
        first = access["access-ok"]
        assert first["message"].startswith("http Me web 200 ")
        assert (first["operation_name"], first["operation_type"], first["client_name"]) == (
            "Me",
            "query",
            "web",
        )
        assert (first["status"], first["subgraph_fetches"], first["error_codes"]) == (200, 1, None)
        assert first["transport"] == "http" and first["duration_ms"] > 0
        assert first["process"] == "router" and first["level"] == "INFO"
        assert access["access-bad"]["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
        assert access["access-bad"]["subgraph_fetches"] == 0
        assert access[made]["operation_name"] is None
    else:
        text = [x for x in stderr.splitlines() if " graph.access: " in x]
        assert len(text) == 3, stderr
        first, second, third = text
        assert " INFO    router[" in first and " graph.access: http Me web 200 " in first
        assert (
            "[transport=http operation_name=Me operation_type=query client_name=web "
            "status=200 duration_ms="
        ) in first
        assert first.endswith(" subgraph_fetches=1 error_codes=None request_id=access-ok]")
        assert "error_codes=['GRAPHQL_VALIDATION_FAILED'] request_id=access-bad]" in second
        assert " graph.access: http - - 200 " in third and f"request_id={made}]" in third
