"""`puppies dev`: starts real services and every process, keeps them up, always stops cleanly."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from puppies.embedded import port_is_free
from puppies.supervisor import backoff
from tests.support.devstack import (
    REPO,
    DevStack,
    all_ports,
    dev_env,
    wait_no_leftovers,
)
from tests.support.tmp import private_tmp_dir

# How many SIGTERMs at different moments of start-up: a few in `make test`, 20 in
# `make test-deep` (PUPPIES_DEEP=1).
SIGTERM_ROUNDS = 20 if os.environ.get("PUPPIES_DEEP") else 3
# Where a SIGTERM lands, in turn: while the servers start, while migrating, while the
# processes start, once everything is up.
MOMENTS = ("starting services ...", "migrating ...", "  users ", "Ctrl-C stops everything")
STOPPED_WITHIN_SECONDS = 60  # a hang detector: a clean stop takes a few seconds


@pytest.fixture
def data_home() -> Iterator[Path]:
    path = private_tmp_dir("dev")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _round_trip_through_the_router(stack: DevStack) -> None:
    """What `make run` promises: sign up, log in, me, follow, followers, across subgraphs."""
    sign_up = """mutation($u: String!, $e: String!) {
        signUp(input: {username: $u, email: $e, password: "correct horse battery"})
        { session { accessToken user { id } } errors { code } } }"""
    sessions = {}
    for name in ("rex", "fido"):
        data = stack.gql(sign_up, {"u": name, "e": f"{name}@example.com"})["signUp"]
        assert data["errors"] == [], data
        sessions[name] = data["session"]
    login = stack.gql(
        """mutation { logIn(input: {login: "rex", password: "correct horse battery"})
        { session { accessToken } errors { code } } }"""
    )["logIn"]
    token = login["session"]["accessToken"]
    fido_id = sessions["fido"]["user"]["id"]
    follow = "mutation($id: ID!) { follow(userId: $id) { user { id } } }"
    stack.gql(follow, {"id": fido_id}, token)
    me = stack.gql(
        "{ me { username followingCount following(first: 5) { edges { node {"
        " username followerCount posts(first: 1) { edges { node { id } } } } } } } }",
        token=token,
    )["me"]
    assert me["username"] == "rex"
    assert me["followingCount"] == 1
    followed = me["following"]["edges"][0]["node"]
    assert followed["username"] == "fido" and followed["followerCount"] == 1
    assert followed["posts"]["edges"] == []  # resolved by the posts subgraph through the router


@pytest.mark.timeout(600)
def test_dev_starts_everything_restarts_what_crashes_and_sigterm_stops_it_all(
    data_home: Path,
) -> None:
    env, ports = dev_env(data_home / "data")
    stack = DevStack.start(env, ports)
    try:
        stack.wait_ready()
        for name in ("EMBEDDED_POSTGRES_PORT", "EMBEDDED_REDIS_PORT", "EMBEDDED_S3_PORT"):
            assert not port_is_free(ports[name]), f"{name} is not listening\n{stack.output}"
        children = stack.descendants()
        assert len(children) >= 8  # 3 servers, a watchdog, 4 subgraphs, worker, router
        assert f"graph served at http://127.0.0.1:{ports['ROUTER_PORT']}/graphql" in stack.output
        _round_trip_through_the_router(stack)
        _other_commands_find_the_running_stack(stack)
        _crashed_processes_come_back(stack)
        children = list({p.pid: p for p in [*children, *stack.descendants()]}.values())
    finally:
        code = stack.stop(STOPPED_WITHIN_SECONDS)
    assert code == 0, stack.output
    assert "stopped." in stack.output
    # Stopped: the record is gone, and seed says what to do instead of failing obscurely.
    assert not (data_home / "data" / "dev-stack.json").exists()
    after = _cli(stack.env, "seed", "--users", "3")
    assert after.returncode != 0 and "Traceback" not in after.stderr
    assert "no `puppies dev` is running on DATA_DIR=" in after.stderr, after.stderr
    assert "start `make run` in another terminal" in after.stderr
    # Nothing it started survives, and no port stays bound (the S3 server's nine included).
    assert not wait_no_leftovers(children, all_ports(ports), timeout=10)
    # Data survives a restart: the database cluster was initialised in DATA_DIR.
    assert (data_home / "data" / "postgres" / "pgdata" / "PG_VERSION").exists()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "puppies.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _other_commands_find_the_running_stack(stack: DevStack) -> None:
    """`puppies seed` / `migrate` / `compose` in another terminal, with only the same
    DATA_DIR and ports: they use the running stack, and seeding twice adds nothing."""
    env = stack.env  # no DATABASE_URL, REDIS_URL, S3_ENDPOINT_URL in it
    args = ["seed", "--users", "12", "--follows", "3", "--posts", "1", "--likes", "2"]
    first = _cli(env, *args)
    assert first.returncode == 0, first.stderr
    assert "using the running `puppies dev` (pid" in first.stdout, first.stdout
    assert "accounts pup0..pup11: 12 created, 0 already there" in first.stdout
    again = _cli(env, *args)
    assert again.returncode == 0, again.stderr
    assert "12 already there" in again.stdout and "nothing new" in again.stdout, again.stdout
    pup = stack.gql('{ userByUsername(username: "pup3") { username } }')
    assert pup == {"userByUsername": {"username": "pup3"}}
    migrated = _cli(env, "migrate")
    assert migrated.returncode == 0 and "database is up to date" in migrated.stdout
    # compose asks each subgraph on the port it runs on; the output is the checked-in file.
    composed = _cli(env, "compose", "--check")
    assert composed.returncode == 0, composed.stderr
    assert "supergraph.graphql is up to date" in composed.stdout


def test_dev_port_in_use_is_named_before_anything_starts(data_home: Path) -> None:
    env, ports = dev_env(data_home / "data")
    busy_port = ports["EMBEDDED_S3_PORT"] + 5  # one of the S3 server's internal ports
    with socket.socket() as s:
        s.bind(("127.0.0.1", busy_port))
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
    assert f"port {busy_port} (embedded s3)" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "starting services" not in result.stdout  # checked before anything started
    assert not (data_home / "data" / "postgres").exists()


def test_a_time_wait_connection_does_not_make_a_port_busy() -> None:
    """Ports are checked the way servers bind them (SO_REUSEADDR)."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server side closes first: its end lingers in TIME_WAIT
        client.close()
    assert port_is_free(port)


def _child(stack: DevStack, *words: str) -> psutil.Process:
    for p in stack.descendants():
        cmd = " ".join(p.cmdline())
        if all(w in cmd for w in words):
            return p
    raise AssertionError(f"no process with {words}: {stack.output}")


def _crashed_processes_come_back(stack: DevStack) -> None:
    """A process that dies is restarted with backoff, and the console says so."""
    ports = stack.ports
    posts = _child(stack, "puppies.cli", "serve", "posts")
    posts.kill()
    stack.wait_for("posts exited with code -9; restarting it in 1 s (restart 1 in a row)")
    stack.wait_for(f"posts is back on port {ports['POSTS_PORT']}", timeout=90)
    # The graph works again, posts included (the router reaches the new process).
    assert stack.gql('{ post(id: "1") { id } }') == {"post": None}
    again = _child(stack, "puppies.cli", "serve", "posts")
    assert again.pid != posts.pid
    again.kill()  # a second crash in a row waits longer
    stack.wait_for("posts exited with code -9; restarting it in 2 s (restart 2 in a row)")
    stack.wait_for(f"posts is back on port {ports['POSTS_PORT']}", timeout=90)
    # The worker has no port: it is restarted too.
    _child(stack, "puppies.cli", "worker").kill()
    stack.wait_for("worker exited with code -9; restarting it in 1 s")
    stack.wait_for("restarting worker ...")
    # An embedded server that dies is started again on its data.
    _child(stack, "redis-server").kill()
    stack.wait_for("embedded redis exited with code -9; restarting it")
    stack.wait_for("embedded redis is back at redis://127.0.0.1:", timeout=90)
    assert stack.gql('{ userByUsername(username: "rex") { username } }') == {
        "userByUsername": {"username": "rex"}
    }


def test_backoff_doubles_up_to_thirty_seconds() -> None:
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.timeout(60 + 120 * SIGTERM_ROUNDS)
def test_sigterm_to_the_process_group_always_stops_it(data_home: Path) -> None:
    """Like `make run` in a terminal: its process group gets SIGTERM at any moment of
    start-up or while running, and every time everything stops, leaving nothing behind."""
    env, ports = dev_env(data_home / "data")
    for i in range(SIGTERM_ROUNDS):
        moment = MOMENTS[i % len(MOMENTS)]
        stack = DevStack.start(env, ports)
        seen: list[psutil.Process] = []
        try:
            stack.wait_for(moment)
            seen = stack.descendants()
            stack.signal_group(signal.SIGTERM)
            code = stack.proc.wait(STOPPED_WITHIN_SECONDS)
        finally:
            if stack.proc.poll() is None:
                stack.kill_everything(known=seen)
        seen += [p for p in stack.descendants() if p not in seen]
        assert code == 0, f"round {i} ({moment!r}): exit {code}\n{stack.output}"
        left = wait_no_leftovers(seen, all_ports(ports), timeout=10)
        assert not left, f"round {i} ({moment!r}): {left}\n{stack.output}"
        assert re.search(r"^stopped\.$", stack.output, re.M), stack.output
