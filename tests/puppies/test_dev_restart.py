"""`kill -9` of `puppies dev` in the middle of an upload, then `make run` again: its watchdog
stops every process it had started, and nothing that was stored is lost."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.subgraphs.posts.images import photo
from tests.support.devstack import DevStack, all_ports, dev_env, wait_no_leftovers
from tests.support.tmp import private_tmp_dir

SIGN_UP = """mutation { signUp(input: {username: "rex", email: "rex@example.com",
  password: "correct horse battery"}) { session { accessToken } errors { code message } } }"""
CREATE = """mutation($i: CreatePostInput!) { createPost(input: $i) {
  post { id } uploads { mediaId url fields { name value } } errors { code message } } }"""
COMPLETE = """mutation($id: ID!) { completeMediaUpload(mediaId: $id) {
  media { status } errors { code message } } }"""
MEDIA = "query($id: ID!) { post(id: $id) { media { status url failureReason } } }"


@pytest.fixture
def data_home() -> Iterator[Path]:
    path = private_tmp_dir("dev-restart")
    yield path
    shutil.rmtree(path, ignore_errors=True)


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
def test_killing_the_stack_mid_upload_loses_nothing_and_it_starts_again(data_home: Path) -> None:
    env, ports = dev_env(data_home / "data")
    stack = DevStack.start(env, ports).wait_ready()
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
    finally:
        assert again.stop() == 0, again.output
