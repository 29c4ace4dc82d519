"""Media from presigned upload to READY/FAILED: a real S3 server (SeaweedFS), a real worker."""

from __future__ import annotations

import base64
import io
import json

import httpx
import pytest
from PIL import Image

from puppies.s3 import create_s3_client
from tests.subgraphs.posts.conftest import PostsClient
from tests.subgraphs.posts.images import photo, png_bomb
from tests.support.polling import eventually

CREATE = """
mutation($input: CreatePostInput!) {
  createPost(input: $input) {
    post { id text media { id status contentType } }
    uploads { mediaId method url expiresAt fields { name value } headers { name value } }
    errors { message code field }
  }
}"""
COMPLETE = """
mutation($id: ID!) { completeMediaUpload(mediaId: $id) {
  media { id status } errors { message code field } } }"""
POST_MEDIA = """
query($id: ID!) { post(id: $id) { media { id status contentType width height url byteSize
  failureReason thumbnails { width height url } } } }"""


async def create_with_files(
    api: PostsClient, files: list[tuple[str, bytes]], user: int = 1
) -> tuple[str, list[dict]]:
    data = await api.data(
        CREATE,
        {
            "input": {
                "text": "look",
                "media": [{"contentType": ct, "byteSize": len(body)} for ct, body in files],
            }
        },
        user=user,
    )
    payload = data["createPost"]
    assert payload["errors"] == []
    return payload["post"]["id"], payload["uploads"]


async def upload(
    http: httpx.AsyncClient, spec: dict, body: bytes, content_type: str
) -> httpx.Response:
    fields = {f["name"]: f["value"] for f in spec["fields"]}
    return await http.post(spec["url"], data=fields, files={"file": ("upload", body, content_type)})


async def wait_final(api: PostsClient, post_id: str) -> list[dict]:
    async def done() -> list[dict] | None:
        # as its author: a post is published only once all its media are READY
        media = (await api.data(POST_MEDIA, {"id": post_id}, user=1))["post"]["media"]
        return media if all(m["status"] in ("READY", "FAILED") for m in media) else None

    result: list[dict] = await eventually(done, timeout=60)
    return result


async def test_image_goes_from_upload_to_ready_with_two_thumbnails(posts_api, worker):
    jpeg = photo(1600, 1200, "JPEG", exif_gps=True)
    assert Image.open(io.BytesIO(jpeg)).getexif()  # the upload carries EXIF (GPS, camera)
    post_id, uploads = await create_with_files(posts_api, [("image/jpeg", jpeg)])
    spec = uploads[0]
    assert spec["method"] == "POST"
    r = await upload(posts_api.http, spec, jpeg, "image/jpeg")
    assert r.status_code in (200, 204), r.text
    done = await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    assert done["completeMediaUpload"]["media"]["status"] in ("PROCESSING", "READY")
    [m] = await wait_final(posts_api, post_id)
    assert m["status"] == "READY", m
    assert (m["width"], m["height"], m["contentType"]) == (1600, 1200, "image/jpeg")
    assert [(t["width"], t["height"]) for t in m["thumbnails"]] == [(320, 240), (1080, 810)]
    original = await posts_api.http.get(m["url"])
    assert original.status_code == 200
    cleaned = Image.open(io.BytesIO(original.content))
    assert cleaned.format == "JPEG" and cleaned.size == (1600, 1200)
    assert not cleaned.getexif(), "metadata must be stripped"
    assert m["byteSize"] == len(original.content)
    for t in m["thumbnails"]:
        got = await posts_api.http.get(t["url"])
        im = Image.open(io.BytesIO(got.content))
        assert (im.format, im.size) == ("WEBP", (t["width"], t["height"]))


@pytest.mark.parametrize(
    ("declared", "body", "reason"),
    [
        ("image/jpeg", photo(400, 300, "PNG"), "is a PNG image but was declared as JPEG"),
        ("image/png", photo(800, 600, "PNG")[:3000], "truncated or corrupt"),
        ("image/png", png_bomb(), "20000x20000 pixels"),
        ("image/gif", b"%PDF-1.7\n" + b"x" * 5000, "not an image we accept"),
    ],
    ids=["png-declared-jpeg", "truncated", "20000x20000", "not-an-image"],
)
async def test_bad_files_end_failed_with_a_reason(posts_api, worker, declared, body, reason):
    post_id, [spec] = await create_with_files(posts_api, [(declared, body)])
    r = await upload(posts_api.http, spec, body, declared)
    assert r.status_code in (200, 204)
    await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    [m] = await wait_final(posts_api, post_id)
    assert m["status"] == "FAILED"
    assert reason in m["failureReason"]
    assert m["url"] is None and m["thumbnails"] == []


async def test_presigned_post_is_bound_to_the_declared_type_and_size(posts_api):
    body = photo(64, 64, "PNG")
    _, [spec] = await create_with_files(posts_api, [("image/png", body)])
    fields = {f["name"]: f["value"] for f in spec["fields"]}
    assert fields["Content-Type"] == "image/png"
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", len(body), len(body)] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert fields["key"] == f"uploads/{spec['mediaId']}"


async def test_s3_itself_refuses_a_body_outside_the_presigned_policy(posts_api):
    body = photo(64, 64, "PNG")
    post_id, [spec] = await create_with_files(posts_api, [("image/png", body)])
    too_big = await upload(posts_api.http, spec, body + b"extra", "image/png")
    assert too_big.status_code == 400 and "<Code>EntityTooLarge</Code>" in too_big.text
    too_small = await upload(posts_api.http, spec, body[:-1], "image/png")
    assert too_small.status_code == 400 and "<Code>EntityTooSmall</Code>" in too_small.text
    fields = {f["name"]: f["value"] for f in spec["fields"]} | {"Content-Type": "image/jpeg"}
    other_type = await posts_api.http.post(
        spec["url"], data=fields, files={"file": ("upload", body, "image/jpeg")}
    )
    assert other_type.status_code == 403, other_type.text  # the policy binds Content-Type
    refused = await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    assert "nothing was uploaded" in refused["completeMediaUpload"]["errors"][0]["message"]
    [m] = (await posts_api.data(POST_MEDIA, {"id": post_id}, user=1))["post"]["media"]
    assert m["status"] == "PENDING_UPLOAD"
    ok = await upload(posts_api.http, spec, body, "image/png")
    assert ok.status_code in (200, 204), ok.text
    done = await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    assert done["completeMediaUpload"]["errors"] == []


async def test_completion_checks_what_was_uploaded(posts_api, settings):
    body = photo(64, 64, "PNG")
    post_id, [spec] = await create_with_files(posts_api, [("image/png", body)])
    early = await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    assert early["completeMediaUpload"]["errors"][0]["code"] == "BAD_USER_INPUT"
    assert "nothing was uploaded" in early["completeMediaUpload"]["errors"][0]["message"]
    # S3 enforces the policy on presigned uploads; the API checks again what is stored, for
    # an object written some other way (here: directly, with the service's own key).
    key = {f["name"]: f["value"] for f in spec["fields"]}["key"]
    s3 = create_s3_client(settings)
    s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=body + b"extra", ContentType="image/png")
    wrong = await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=1)
    assert "bytes but" in wrong["completeMediaUpload"]["errors"][0]["message"]
    other = await posts_api.data(COMPLETE, {"id": spec["mediaId"]}, user=2)
    assert other["completeMediaUpload"]["errors"][0]["code"] == "FORBIDDEN"
    missing = await posts_api.data(COMPLETE, {"id": "999999"}, user=1)
    assert missing["completeMediaUpload"]["errors"][0]["code"] == "NOT_FOUND"
    [m] = (await posts_api.data(POST_MEDIA, {"id": post_id}, user=1))["post"]["media"]
    assert m["status"] == "PENDING_UPLOAD"


@pytest.mark.parametrize(
    ("media", "field", "words"),
    [
        ([{"contentType": "image/tiff", "byteSize": 10}], "media.0.contentType", "not accepted"),
        (
            [{"contentType": "image/png", "byteSize": 11 * 1024 * 1024}],
            "media.0.byteSize",
            "over the limit",
        ),
        ([{"contentType": "image/png", "byteSize": 0}], "media.0.byteSize", "positive"),
        ([{"contentType": "image/png", "byteSize": 10}] * 5, "media", "at most 4"),
    ],
)
async def test_create_post_limits_are_payload_errors_and_create_nothing(
    posts_api, media, field, words
):
    data = await posts_api.data(CREATE, {"input": {"text": "x", "media": media}}, user=1)
    payload = data["createPost"]
    assert payload["post"] is None and payload["uploads"] == []
    [err] = payload["errors"]
    assert (err["code"], err["field"]) == ("BAD_USER_INPUT", field)
    assert words in err["message"]
    listing = await posts_api.data("{ posts(first: 5) { edges { node { id } } } }")
    assert listing["posts"]["edges"] == []
