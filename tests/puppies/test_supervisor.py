"""`puppies dev`: starts real services and every built process, stops all of it on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from puppies.embedded import free_port_block, port_is_free
from tests.support.tmp import private_tmp_dir

REPO = Path(__file__).resolve().parents[2]
PORT_SETTINGS = (
    "ROUTER_PORT",
    "USERS_PORT",
    "POSTS_PORT",
    "FEED_PORT",
    "ANALYTICS_PORT",
    "EMBEDDED_POSTGRES_PORT",
    "EMBEDDED_REDIS_PORT",
    "EMBEDDED_S3_PORT",
)


@pytest.fixture
def data_home() -> Iterator[Path]:
    path = private_tmp_dir("dev")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _dev_env(tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    # One block of free ports: EMBEDDED_S3_PORT, last, is followed by its nine internal ones.
    base = free_port_block(len(PORT_SETTINGS) + 9)
    ports = {name: base + i for i, name in enumerate(PORT_SETTINGS)}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL"}
    }
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1",
            "JWKS_URL": f"http://127.0.0.1:{ports['USERS_PORT']}/.well-known/jwks.json",
        }
    )
    return env, ports


def _gql(url: str, query: str, variables: dict | None = None, token: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        url, json={"query": query, "variables": variables or {}}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _round_trip_through_the_router(url: str) -> None:
    """What `make run` promises: sign up, log in, me, follow, followers, across subgraphs."""
    sign_up = """mutation($u: String!) {
        signUp(input: {username: $u, email: "$u@example.com", password: "correct horse battery"})
        { session { accessToken user { id } } errors { code } } }"""
    sessions = {}
    for name in ("rex", "fido"):
        data = _gql(url, sign_up.replace("$u@", f"{name}@"), {"u": name})["signUp"]
        assert data["errors"] == [], data
        sessions[name] = data["session"]
    login = _gql(
        url,
        """mutation { logIn(input: {login: "rex", password: "correct horse battery"})
        { session { accessToken } errors { code } } }""",
    )["logIn"]
    token = login["session"]["accessToken"]
    fido_id = sessions["fido"]["user"]["id"]
    _gql(url, "mutation($id: ID!) { follow(userId: $id) { user { id } } }", {"id": fido_id}, token)
    me = _gql(
        url,
        "{ me { username followingCount following(first: 5) { edges { node {"
        " username followerCount posts(first: 1) { edges { node { id } } } } } } } }",
        token=token,
    )["me"]
    assert me["username"] == "rex"
    assert me["followingCount"] == 1
    followed = me["following"]["edges"][0]["node"]
    assert followed["username"] == "fido" and followed["followerCount"] == 1
    assert followed["posts"]["edges"] == []  # resolved by the posts subgraph through the router


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.timeout(240)
def test_dev_starts_everything_and_sigterm_stops_it_all(data_home: Path) -> None:
    tmp_path = data_home
    env, ports = _dev_env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "puppies.cli", "dev"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        assert "Ctrl-C stops everything" in output, output
        # The embedded servers are real and listening.
        for name in ("EMBEDDED_POSTGRES_PORT", "EMBEDDED_REDIS_PORT", "EMBEDDED_S3_PORT"):
            assert not port_is_free(ports[name]), f"{name} is not listening\n{output}"
        children = _descendants(proc.pid)
        assert children
        router = f"http://127.0.0.1:{ports['ROUTER_PORT']}"
        assert f"graph served at {router}/graphql" in output, output
        _round_trip_through_the_router(router + "/graphql")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    # Nothing it started survives, and no port stays bound.
    time.sleep(0.5)
    survivors = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not survivors, survivors
    for name, port in ports.items():
        assert port_is_free(port), f"{name} ({port}) still bound"
    # Data survives a restart: the database cluster was initialised in DATA_DIR.
    assert (tmp_path / "data" / "postgres" / "pgdata" / "PG_VERSION").exists()


def test_dev_port_in_use_is_named(data_home: Path) -> None:
    env, ports = _dev_env(data_home)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", ports["EMBEDDED_REDIS_PORT"]))
        s.listen()
        result = subprocess.run(
            [sys.executable, "-m", "puppies.cli", "dev"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert f"port {ports['EMBEDDED_REDIS_PORT']}" in result.stderr
    assert "Traceback" not in result.stderr
    # What had started before the clash was stopped again.
    assert port_is_free(ports["EMBEDDED_POSTGRES_PORT"])
