"""The embedded S3 server (SeaweedFS `weed mini`): real S3 semantics, durable on disk."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from puppies.embedded import EmbeddedS3, free_port, port_is_free
from puppies.embedded.s3 import INTERNAL_ROLES
from puppies.errors import PortInUseError
from puppies.s3 import create_s3_client, ensure_bucket
from puppies.settings import load_settings
from tests.support.tmp import private_tmp_dir

KEY, SECRET = "test-key", "test-secret-key"


@pytest.fixture
def s3_dir() -> Iterator[Path]:
    path = private_tmp_dir("s3")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def server(data_dir: Path, port: int, internal: list[int], secret: str = SECRET) -> EmbeddedS3:
    return EmbeddedS3(
        data_dir, port, access_key_id=KEY, secret_access_key=secret, internal_ports=internal
    )


def client(url: str, secret: str = SECRET):
    return create_s3_client(
        load_settings(s3_endpoint_url=url, s3_access_key_id=KEY, s3_secret_access_key=secret)
    )


def ports() -> tuple[int, list[int]]:
    return free_port(), [free_port() for _ in INTERNAL_ROLES]


def test_presigned_post_policy_is_enforced_by_the_server(s3_dir: Path) -> None:
    port, internal = ports()
    s3 = server(s3_dir, port, internal)
    url = s3.start()
    try:
        c = client(url)
        ensure_bucket(c, "media")
        post = c.generate_presigned_post(
            "media",
            "uploads/1",
            Fields={"Content-Type": "image/png"},
            Conditions=[["content-length-range", 5, 5], {"Content-Type": "image/png"}],
            ExpiresIn=60,
        )

        def send(body: bytes, content_type: str = "image/png") -> httpx.Response:
            fields = post["fields"] | {"Content-Type": content_type}
            return httpx.post(post["url"], data=fields, files={"file": ("f", body, content_type)})

        big = send(b"123456")
        assert big.status_code == 400 and "<Code>EntityTooLarge</Code>" in big.text
        small = send(b"1234")
        assert small.status_code == 400 and "<Code>EntityTooSmall</Code>" in small.text
        assert send(b"12345", "image/jpeg").status_code == 403
        with pytest.raises(ClientError):  # nothing was stored by the refused uploads
            c.head_object(Bucket="media", Key="uploads/1")
        assert send(b"12345").status_code == 204
        assert c.get_object(Bucket="media", Key="uploads/1")["Body"].read() == b"12345"
    finally:
        s3.stop()


def test_only_the_configured_credentials_are_accepted(s3_dir: Path) -> None:
    port, internal = ports()
    s3 = server(s3_dir, port, internal)
    url = s3.start()
    try:
        with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
            client(url, secret="wrong").list_buckets()
        anonymous = httpx.get(f"{url}/")
        assert anonymous.status_code == 403
    finally:
        s3.stop()
    # New credentials in the settings take effect at the next start, on the same data.
    s3 = server(s3_dir, port, internal, secret="rotated-secret")
    url = s3.start()
    try:
        assert client(url, secret="rotated-secret").list_buckets()["Buckets"] == []
        with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
            client(url).list_buckets()
    finally:
        s3.stop()


def test_objects_survive_a_sigkill_in_the_middle_of_an_upload(s3_dir: Path) -> None:
    """No replay, no recording: what was stored is on disk; a half upload is simply absent."""
    port, internal = ports()
    s3 = server(s3_dir, port, internal)
    url = s3.start()
    stored = {f"done/{i}": os.urandom(50_000 + i) for i in range(10)}
    outcome: list[object] = []
    try:
        c = client(url)
        ensure_bucket(c, "media")
        for key, body in stored.items():
            c.put_object(Bucket="media", Key=key, Body=body)
        signed = c.generate_presigned_url(
            "put_object", Params={"Bucket": "media", "Key": "uploads/half"}, ExpiresIn=60
        )
        started = threading.Event()

        def trickle() -> Iterator[bytes]:
            started.set()
            for _ in range(2000):
                time.sleep(0.01)
                yield b"x" * 10_000

        def upload() -> None:
            try:
                outcome.append(
                    httpx.put(
                        signed,
                        content=trickle(),
                        headers={"content-length": str(2000 * 10_000)},
                        timeout=60,
                    )
                )
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=upload)
        thread.start()
        assert started.wait(10)
        time.sleep(0.5)  # well into the body
        assert s3.proc is not None
        os.killpg(s3.proc.pid, signal.SIGKILL)
        s3.proc.wait(10)
        thread.join(30)
        assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome
    finally:
        s3.stop()
    s3 = server(s3_dir, port, internal)
    url = s3.start()  # starts fine on the data of a killed server
    try:
        c = client(url)
        for key, body in stored.items():
            assert c.get_object(Bucket="media", Key=key)["Body"].read() == body
        listed = c.list_objects_v2(Bucket="media", Prefix="uploads/").get("Contents", [])
        assert listed == []  # the interrupted upload left nothing behind
        c.put_object(Bucket="media", Key="after", Body=b"still writable")
        assert c.get_object(Bucket="media", Key="after")["Body"].read() == b"still writable"
    finally:
        s3.stop()
    for p in [port, *internal]:
        assert port_is_free(p), f"port {p} still bound after stop"


def test_a_busy_internal_port_is_named_before_anything_starts(s3_dir: Path) -> None:
    port, internal = ports()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", internal[INTERNAL_ROLES.index("filer")]))
        busy.listen()
        s3 = server(s3_dir, port, internal)
        with pytest.raises(PortInUseError, match=f"port {internal[4]} .*filer"):
            s3.start()
    assert s3.proc is None


def test_default_internal_ports_are_the_nine_above_the_s3_port(s3_dir: Path) -> None:
    s3 = EmbeddedS3(s3_dir, 19000, access_key_id=KEY, secret_access_key=SECRET)
    assert s3.ports == list(range(19000, 19010))
