"""The media storage (S3) down, end to end: the posts subgraph over HTTP and a real worker
process, each reaching the real S3 server (SeaweedFS) through a gate this test opens and
closes (bench.faults' `s3-down` stops the server itself, under load).

What a client must see: the upload path fails with SERVICE_UNAVAILABLE naming the media
storage and changes nothing; what does not touch media goes on; an image whose processing
met the outage is processed once S3 is back (the job retries, it does not wait for the
sweep's re-queue 10 minutes later).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys
from puppies.embedded import free_port
from puppies.settings import Settings
from resolvers.runtime import Resources
from subgraphs.posts.app import create_app
from tests.subgraphs.posts.conftest import PostsClient
from tests.subgraphs.posts.images import photo
from tests.subgraphs.posts.test_media import COMPLETE, CREATE, POST_MEDIA, upload, wait_final
from tests.support.polling import eventually
from tests.support.servers import run_cli, serve_asgi

LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code } } }"


class S3Gate:
    """A TCP gate in front of the S3 server: `up` forwards every byte both ways; `down`
    drops each connection as soon as it is accepted (S3 dying under its clients); attempts
    made while down are counted."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.is_up = True
        self.refused = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> S3Gate:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", free_port())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.is_up:
            self.refused += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.tasks.discard(task)
            writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()


@pytest.fixture
async def gate(clean: Settings) -> AsyncIterator[S3Gate]:
    assert clean.s3_endpoint_url
    async with S3Gate(clean.s3_endpoint_url) as g:
        yield g


@pytest.fixture
async def gated_api(clean: Settings, gate: S3Gate) -> AsyncIterator[PostsClient]:
    """The posts subgraph reaching S3 through `gate` (its presigned URLs point there too)."""
    import httpx

    settings = clean.model_copy(update={"s3_endpoint_url": gate.url})
    ring = KeyRing(settings.keys_dir).load()
    app = create_app(settings, key_source=lambda resources: LocalKeys(ring))
    async with serve_asgi(app) as url, httpx.AsyncClient(timeout=60) as http:
        yield PostsClient(url=url, http=http, keyring=ring, settings=settings, app=app)


@pytest.fixture
async def worker_gate(clean: Settings) -> AsyncIterator[S3Gate]:
    assert clean.s3_endpoint_url
    async with S3Gate(clean.s3_endpoint_url) as g:
        yield g


@pytest.fixture
def gated_worker(
    worker_env: dict[str, str], worker_gate: S3Gate
) -> Iterator[subprocess.Popen[bytes]]:
    with run_cli(["worker"], {**worker_env, "S3_ENDPOINT_URL": worker_gate.url}) as proc:
        yield proc


async def _media_status(settings: Settings, media_id: str) -> str:
    res = Resources.open(settings)
    try:
        async with res.db.session() as s:
            status: str = (
                await s.execute(
                    text("SELECT status FROM posts.media WHERE id = :i"), {"i": int(media_id)}
                )
            ).scalar_one()
            return status
    finally:
        await res.close()


async def test_upload_path_fails_clearly_while_s3_is_down_and_nothing_else_does(
    gated_api: PostsClient, gate: S3Gate
):
    api = gated_api
    jpeg = photo(320, 240, "JPEG")
    gate.is_up = False
    # createPost signs its upload URL locally: it answers while S3 is down
    post_id, [spec] = await _create(api, jpeg)
    # the upload itself fails at S3 (the client retries it later: the URL stays valid)
    with pytest.raises(Exception):  # noqa: B017 - any transport error: the server is gone
        await upload(api.http, spec, jpeg, "image/jpeg")
    # completing must reach S3: a coded outage, nothing changed
    body = await api.gql(COMPLETE, {"id": spec["mediaId"]}, user=1)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"].startswith("The S3 media storage is unavailable")
    assert error["path"] == ["completeMediaUpload"]
    assert await _media_status(api.settings, spec["mediaId"]) == "PENDING_UPLOAD"
    assert gate.refused > 0
    # what does not touch media works: a text post, a like
    text_post = await api.data(CREATE, {"input": {"text": "words only", "media": []}}, user=2)
    assert text_post["createPost"]["errors"] == []
    liked = await api.data(LIKE, {"id": text_post["createPost"]["post"]["id"]}, user=1)
    assert liked["likePost"]["errors"] == []
    # S3 back: the same URL takes the upload, the completion goes through
    gate.is_up = True
    r = await upload(api.http, spec, jpeg, "image/jpeg")
    assert r.status_code in (200, 204), r.text
    done = await api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    assert done["completeMediaUpload"]["errors"] == []
    assert done["completeMediaUpload"]["media"]["status"] == "PROCESSING"
    assert [m["status"] for m in await _post_media(api, post_id)] == ["PROCESSING"]


async def test_processing_that_meets_the_outage_retries_once_s3_is_back(
    posts_api: PostsClient, worker_gate: S3Gate, gated_worker: subprocess.Popen[bytes]
):
    """The subgraph reaches S3 (upload and completion succeed); the worker's S3 goes down
    before it processes the image: its job retries after a delay, and succeeds once S3 is
    back, long before the sweep's 10-minute re-queue."""
    jpeg = photo(640, 480, "JPEG")
    post_id, [spec] = await _create(posts_api, jpeg)
    r = await upload(posts_api.http, spec, jpeg, "image/jpeg")
    assert r.status_code in (200, 204), r.text
    worker_gate.is_up = False
    done = await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    assert done["completeMediaUpload"]["media"]["status"] == "PROCESSING"

    async def tried() -> bool:
        # botocore makes 3 attempts (puppies/s3.py): the job's first try has failed
        return worker_gate.refused >= 3

    await eventually(tried, timeout=60)
    await asyncio.sleep(0.5)
    assert await _media_status(posts_api.settings, spec["mediaId"]) == "PROCESSING"
    worker_gate.is_up = True
    [m] = await wait_final(posts_api, post_id)
    assert m["status"] == "READY", m
    assert (m["width"], m["height"]) == (640, 480)


async def _post_media(api: PostsClient, post_id: str) -> list[dict]:
    data = await api.data(POST_MEDIA, {"id": post_id}, user=1)
    media: list[dict] = data["post"]["media"]
    return media


async def _create(api: PostsClient, jpeg: bytes) -> tuple[str, list[dict]]:
    data = await api.data(
        CREATE,
        {
            "input": {
                "text": "look",
                "media": [{"contentType": "image/jpeg", "byteSize": len(jpeg)}],
            }
        },
        user=1,
    )
    payload = data["createPost"]
    assert payload["errors"] == [], payload
    return payload["post"]["id"], payload["uploads"]
