"""`puppies dev`: starts real services and every process, keeps them up, restarts what
crashes, always stops cleanly; `kill -9` of it in the middle of an upload, then `make run`
again: its watchdog stops every process it had started, and nothing that was stored is lost.

The tests that need a whole running `puppies dev` share one (`dev`, started once for this
module, each start is a database cluster, three servers and six processes); the one that
kills it runs last, and stops with SIGTERM the stack it starts again on the same data.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from puppies.embedded import port_is_free
from puppies.supervisor import backoff
from tests.subgraphs.posts.images import photo
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


@pytest.fixture(scope="module")
def dev() -> Iterator[DevStack]:
    """One `puppies dev` on its own DATA_DIR and free ports, ready, for this module's tests in
    their order (module docstring); whatever is left of it is stopped after them."""
    home = private_tmp_dir("dev")
    env, ports = dev_env(home / "data")
    stack = DevStack.start(env, ports)
    try:
        yield stack.wait_ready()
    finally:
        seen = stack.descendants()
        try:
            stack.stop(STOPPED_WITHIN_SECONDS)
        finally:
            stack.kill_everything(known=seen)  # a no-op when it stopped by itself
            shutil.rmtree(home, ignore_errors=True)


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
def test_dev_starts_everything_and_restarts_what_crashes(dev: DevStack) -> None:
    ports = dev.ports
    for name in ("EMBEDDED_POSTGRES_PORT", "EMBEDDED_REDIS_PORT", "EMBEDDED_S3_PORT"):
        assert not port_is_free(ports[name]), f"{name} is not listening\n{dev.output}"
    assert len(dev.descendants()) >= 8  # 3 servers, a watchdog, 4 subgraphs, worker, router
    assert f"graph served at http://127.0.0.1:{ports['ROUTER_PORT']}/graphql" in dev.output
    _round_trip_through_the_router(dev)
    _other_commands_find_the_running_stack(dev)
    _crashed_processes_come_back(dev)


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
    """The process whose command line has each word as a word (or a word's file name; a
    process that retitles itself, as redis-server does, has all its words in one
    argument): not as a substring, which the checkout's path can hold (a worktree named
    `worker3` made every process match "worker")."""
    for p in stack.descendants():
        tokens = [t for arg in p.cmdline() for t in arg.split()]
        names = {*tokens, *(os.path.basename(t) for t in tokens)}
        if all(w in names for w in words):
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


# -- kill -9 mid-upload, then `make run` again (last: it kills `dev`) ---------------------

SIGN_UP = """mutation { signUp(input: {username: "walker", email: "walker@example.com",
  password: "correct horse battery"}) { session { accessToken } errors { code message } } }"""
CREATE = """mutation($i: CreatePostInput!) { createPost(input: $i) {
  post { id } uploads { mediaId url fields { name value } } errors { code message } } }"""
COMPLETE = """mutation($id: ID!) { completeMediaUpload(mediaId: $id) {
  media { status } errors { code message } } }"""
MEDIA = "query($id: ID!) { post(id: $id) { media { status url failureReason } } }"


def create_post(stack: DevStack, token: str, body: bytes) -> tuple[str, dict]:
    media = [{"contentType": "image/jpeg", "byteSize": len(body)}]
    created = stack.gql(CREATE, {"i": {"text": "walkies", "media": media}}, token)["createPost"]
    assert created["errors"] == [], created
    return created["post"]["id"], created["uploads"][0]


def form(spec: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in spec["fields"]}


def wait_media(stack: DevStack, token: str, post_id: str, status: str) -> dict:
    deadline = time.monotonic() + 90
    while True:
        [m] = stack.gql(MEDIA, {"id": post_id}, token)["post"]["media"]
        if m["status"] == status or time.monotonic() > deadline:
            assert m["status"] == status, m
            return m
        time.sleep(0.3)


@pytest.mark.timeout(600)
def test_killing_the_stack_mid_upload_loses_nothing_and_it_starts_again(dev: DevStack) -> None:
    """Last in this module: it kills `dev` (and stops the stack it starts again)."""
    stack, env, ports = dev, dev.env, dev.ports
    data_home = Path(env["DATA_DIR"]).parent
    children: list[psutil.Process] = []
    try:
        session = stack.gql(SIGN_UP)["signUp"]
        assert session["errors"] == [], session
        token = session["session"]["accessToken"]
        # One photo fully uploaded and processed before the crash.
        first = photo(800, 600, "JPEG")
        done_id, done_spec = create_post(stack, token, first)
        r = httpx.post(
            done_spec["url"], data=form(done_spec), files={"file": ("a.jpg", first, "image/jpeg")}
        )
        assert r.status_code in (200, 204), r.text
        assert (
            stack.gql(COMPLETE, {"id": done_spec["mediaId"]}, token)["completeMediaUpload"][
                "errors"
            ]
            == []
        )
        wait_media(stack, token, done_id, "READY")
        # A second one whose bytes are still on the wire when everything dies.
        second = photo(1600, 1200, "JPEG")
        half_id, half_spec = create_post(stack, token, second)
        sending, killed = threading.Event(), threading.Event()
        outcome: list[object] = []

        def trickle() -> Iterator[bytes]:
            yield from (second[i : i + 4096] for i in range(0, 8192, 4096))
            sending.set()
            killed.wait(120)  # the rest comes only after the server died
            yield second[8192:]

        def upload() -> None:
            fields = form(half_spec)
            boundary = "puppies-test-boundary"
            head = "".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                for k, v in fields.items()
            )
            head += (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.jpg"'
                "\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            tail = f"\r\n--{boundary}--\r\n".encode()

            def body() -> Iterator[bytes]:
                yield head.encode()
                yield from trickle()
                yield tail

            try:
                outcome.append(
                    httpx.post(
                        half_spec["url"],
                        content=body(),
                        headers={
                            "content-type": f"multipart/form-data; boundary={boundary}",
                            "content-length": str(len(head.encode()) + len(second) + len(tail)),
                        },
                        timeout=150,
                    )
                )
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=upload, daemon=True)
        thread.start()
        assert sending.wait(30)
        time.sleep(0.5)
        children = stack.descendants()
        os.kill(stack.proc.pid, signal.SIGKILL)  # the supervisor alone: no chance to clean up
        stack.proc.wait(10)
        # Its watchdog stops every process group it had started: no process, no bound port.
        assert not wait_no_leftovers(children, all_ports(ports), timeout=60), stack.output
        stack.wait_for("puppies watchdog: the process that started them died", timeout=30)
    finally:
        stack.kill_everything(known=children)  # a no-op when the watchdog did its job
    assert len(children) >= 8
    killed.set()
    thread.join(30)
    assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome  # cut off mid-body

    again = DevStack.start(env, ports).wait_ready()  # starts fine on the killed stack's data
    try:
        first_media = wait_media(again, token, done_id, "READY")
        stored = httpx.get(first_media["url"], timeout=30)
        assert stored.status_code == 200 and stored.content[:3] == b"\xff\xd8\xff"
        # The interrupted upload stored nothing: uploading again (same presigned POST, it is
        # still valid) and completing it works as the first time.
        pending = wait_media(again, token, half_id, "PENDING_UPLOAD")
        assert pending["url"] is None
        r = httpx.post(
            half_spec["url"], data=form(half_spec), files={"file": ("b.jpg", second, "image/jpeg")}
        )
        assert r.status_code in (200, 204), r.text
        completed = again.gql(COMPLETE, {"id": half_spec["mediaId"]}, token)
        assert completed["completeMediaUpload"]["errors"] == []
        wait_media(again, token, half_id, "READY")
        survivors = again.descendants()
    finally:
        code = again.stop(STOPPED_WITHIN_SECONDS)
    # SIGTERM to the process group (Ctrl-C in the terminal) stops it all, cleanly.
    assert code == 0, again.output
    assert "stopped." in again.output
    # Stopped: the record is gone, and seed says what to do instead of failing obscurely.
    assert not (data_home / "data" / "dev-stack.json").exists()
    after = _cli(env, "seed", "--users", "3")
    assert after.returncode != 0 and "Traceback" not in after.stderr
    assert "no `puppies dev` is running on DATA_DIR=" in after.stderr, after.stderr
    assert "start `make run` in another terminal" in after.stderr
    # Nothing it started survives, and no port stays bound (the S3 server's nine included).
    assert not wait_no_leftovers(survivors, all_ports(ports), timeout=10)
    # Data survives a restart: the database cluster was initialised in DATA_DIR.
    assert (data_home / "data" / "postgres" / "pgdata" / "PG_VERSION").exists()
