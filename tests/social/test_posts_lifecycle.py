"""Editing and deleting posts through the router; the clean-up after a deletion done by the
real worker (likes, comments, media rows and files, feeds)."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from models.db import Database
from puppies.s3 import create_s3_client
from puppies.settings import Settings
from tests.social.conftest import DENIED, SocialApi
from tests.subgraphs.posts.images import photo
from tests.support.client import CREATE_POST, Account
from tests.support.polling import eventually

EDIT = """mutation($id: ID!, $t: String!) { editPost(input: {id: $id, text: $t}) {
  post { id text edited editedAt } errors { code field message } } }"""
DELETE = """mutation($id: ID!) { deletePost(id: $id) {
  deletedPostId errors { code field message } } }"""
POST = "query($id: ID!) { post(id: $id) { id text edited editedAt likeCount commentCount } }"
COMPLETE = """mutation($id: ID!) { completeMediaUpload(mediaId: $id) {
  media { id status } errors { code message } } }"""
MEDIA = "query($id: ID!) { post(id: $id) { media { status } } }"
USER_POSTS = """query($id: ID!) { user(id: $id) { postCount
  posts(first: 10) { edges { node { id } } } } }"""


async def test_edit_marks_the_post_edited(api: SocialApi):
    alice, bob = await api.account("alice"), await api.account("bob")
    post_id = await api.new_post(alice, "frist post")
    fresh = (await api.data(POST, {"id": post_id}))["post"]
    assert (fresh["edited"], fresh["editedAt"]) == (False, None)

    edited = (await api.data(EDIT, {"id": post_id, "t": "  first post  "}, token=alice.token))[
        "editPost"
    ]
    assert edited["errors"] == []
    assert edited["post"]["text"] == "first post" and edited["post"]["edited"] is True
    assert edited["post"]["editedAt"] is not None
    assert (await api.data(POST, {"id": post_id}))["post"] == {
        "id": post_id,
        "text": "first post",
        "edited": True,
        "editedAt": edited["post"]["editedAt"],
        "likeCount": 0,
        "commentCount": 0,
    }
    # the same text again changes nothing, not even the time
    same = (await api.data(EDIT, {"id": post_id, "t": "first post"}, token=alice.token))["editPost"]
    assert same["post"]["editedAt"] == edited["post"]["editedAt"]

    # bad paths change nothing
    theirs = (await api.data(EDIT, {"id": post_id, "t": "mine now"}, token=bob.token))["editPost"]
    assert theirs["post"] is None
    assert (theirs["errors"][0]["code"], theirs["errors"][0]["field"]) == ("FORBIDDEN", "id")
    for bad, field in (("   ", "text"), ("x" * 2001, "text")):
        body = (await api.data(EDIT, {"id": post_id, "t": bad}, token=alice.token))["editPost"]
        assert (body["errors"][0]["code"], body["errors"][0]["field"]) == (
            "BAD_USER_INPUT",
            field,
        )
    missing = (await api.data(EDIT, {"id": "999999999", "t": "x"}, token=alice.token))["editPost"]
    assert missing["errors"][0]["code"] == "NOT_FOUND"
    malformed = (await api.data(EDIT, {"id": "abc", "t": "x"}, token=alice.token))["editPost"]
    assert malformed["errors"][0]["code"] == "BAD_USER_INPUT"
    anonymous = await api.error(EDIT, {"id": post_id, "t": "x"})
    assert anonymous["extensions"]["code"] == DENIED
    assert (await api.data(POST, {"id": post_id}))["post"]["text"] == "first post"


async def _rows(db: Database, post_id: str) -> dict[str, int]:
    async with db.session() as s:
        row = (
            await s.execute(
                text(
                    "SELECT (SELECT count(*) FROM posts.posts WHERE id = :p) AS posts, "
                    "(SELECT count(*) FROM posts.likes WHERE post_id = :p) AS likes, "
                    "(SELECT count(*) FROM posts.comments WHERE post_id = :p) AS comments, "
                    "(SELECT count(*) FROM posts.media WHERE post_id = :p) AS media, "
                    "(SELECT count(*) FROM feed.inbox WHERE post_id = :p) AS inbox"
                ),
                {"p": int(post_id)},
            )
        ).one()
    return dict(row._mapping)


def _objects(settings: Settings, prefix: str) -> list[str]:
    s3 = create_s3_client(settings)
    listed = s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


async def _post_with_photo(api: SocialApi, who: Account) -> tuple[str, str]:
    image = photo(400, 300, "PNG")
    body = await api.data(
        CREATE_POST,
        {
            "input": {
                "text": "look at this pup",
                "media": [{"contentType": "image/png", "byteSize": len(image)}],
            }
        },
        token=who.token,
    )
    payload = body["createPost"]
    assert payload["errors"] == [], payload
    (upload,) = payload["uploads"]
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(
            upload["url"],
            data={f["name"]: f["value"] for f in upload["fields"]},
            files={"file": ("pup.png", image, "image/png")},
        )
    assert r.status_code in (200, 201, 204), r.text
    await api.data(COMPLETE, {"id": upload["mediaId"]}, token=who.token)
    post_id = payload["post"]["id"]

    async def ready() -> bool:
        media = (await api.data(MEDIA, {"id": post_id}, token=who.token))["post"]["media"]
        return media == [{"status": "READY"}]

    await eventually(ready)
    return post_id, upload["mediaId"]


async def test_delete_removes_the_post_everywhere(api: SocialApi, db: Database, settings: Settings):
    alice, bob, carol = [await api.account(n) for n in ("alice", "bob", "carol")]
    await api.follow(bob, alice)
    post_id, media_id = await _post_with_photo(api, alice)
    kept = await api.new_post(alice, "this one stays")
    await api.like(bob, post_id)
    await api.like(carol, post_id)
    top = await api.comment(carol, post_id, "so cute")
    await api.comment(bob, post_id, "agreed", reply_to=top)
    await eventually(lambda: _in_feed(api, bob, post_id))
    assert _objects(settings, f"media/{media_id}"), "the processed files exist"
    assert (await api.data(USER_POSTS, {"id": alice.id}))["user"]["postCount"] == 2

    other = (await api.data(DELETE, {"id": post_id}, token=bob.token))["deletePost"]
    assert (other["deletedPostId"], other["errors"][0]["code"]) == (None, "FORBIDDEN")
    done = (await api.data(DELETE, {"id": post_id}, token=alice.token))["deletePost"]
    assert done == {"deletedPostId": post_id, "errors": []}

    # gone at once, for everyone, from every list
    assert (await api.data(POST, {"id": post_id}, token=bob.token))["post"] is None
    assert post_id not in await api.feed(bob)
    assert post_id not in await api.feed(alice)
    profile = (await api.data(USER_POSTS, {"id": alice.id}))["user"]
    assert [e["node"]["id"] for e in profile["posts"]["edges"]] == [kept]
    assert profile["postCount"] == 1
    again = (await api.data(DELETE, {"id": post_id}, token=alice.token))["deletePost"]
    assert again["errors"][0]["code"] == "NOT_FOUND"
    for late in (
        "mutation($id: ID!) { likePost(postId: $id) { errors { code } } }",
        'mutation($id: ID!) { addComment(input: {postId: $id, text: "hi"}) { errors { code } } }',
        'mutation($id: ID!) { editPost(input: {id: $id, text: "hi"}) { errors { code } } }',
    ):
        body = await api.data(late, {"id": post_id}, token=bob.token)
        assert next(iter(body.values()))["errors"][0]["code"] == "NOT_FOUND", late

    # the worker cleans up behind it: rows, inbox entries, files
    async def purged() -> bool:
        return await _rows(db, post_id) == {
            "posts": 0,
            "likes": 0,
            "comments": 0,
            "media": 0,
            "inbox": 0,
        }

    await eventually(purged)
    assert _objects(settings, f"media/{media_id}") == []
    assert _objects(settings, f"uploads/{media_id}") == []
    assert (await api.data(POST, {"id": kept}))["post"]["id"] == kept


async def _in_feed(api: SocialApi, who: Account, post_id: str) -> bool:
    return post_id in await api.feed(who)
