"""Issue 9, bug 2: a post with media is published when all its media are READY. Until
then it is invisible to everyone but its author (feeds, the author's list, `post`, likes,
comments, live events); its fan-out and other events happen at publication. Failed media
keep it hidden and are explained to the author only."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.subgraphs.posts.images import photo
from tests.subgraphs.posts.wsclient import GraphQLWebSocket
from tests.support.client import Account, Api
from tests.support.polling import eventually

POST = """query($id: ID!) { post(id: $id) { id text
  media { status failureReason url } } }"""
USER_POSTS = """query($id: ID!) { user(id: $id) { postCount
  posts(first: 20) { totalCount edges { node { id } } } } }"""
FEED = "{ feed(first: 50) { edges { node { id } } } }"
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { changed } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { post { id } errors { code field } } }"
COMMENT = """mutation($id: ID!) { addComment(input: {postId: $id, text: "nice"}) {
  comment { id } errors { code field } } }"""
SUB = "subscription($id: ID!) { postLikeChanged(postId: $id) { likeCount } }"


async def _feed(api: Api, who: Account) -> list[str]:
    body = await api.data(FEED, token=who.token)
    return [e["node"]["id"] for e in body["feed"]["edges"] if e["node"]]


async def _listing(api: Api, author: Account, viewer: Account) -> dict[str, Any]:
    body = await api.data(USER_POSTS, {"id": author.id}, token=viewer.token)
    user = body["user"]
    return {
        "count": user["postCount"],
        "total": user["posts"]["totalCount"],
        "ids": [e["node"]["id"] for e in user["posts"]["edges"]],
    }


async def _pair(api: Api) -> tuple[Account, Account]:
    author, fan = await api.account("author"), await api.account("fan")
    await api.data(FOLLOW, {"id": author.id}, token=fan.token)
    return author, fan


async def _hidden_from(api: Api, post_id: str, author: Account, fan: Account) -> None:
    assert (await api.data(POST, {"id": post_id}, token=fan.token))["post"] is None
    assert (await api.data(POST, {"id": post_id}))["post"] is None  # anonymous
    assert post_id not in (await _listing(api, author, fan))["ids"]
    liked = await api.data(LIKE, {"id": post_id}, token=fan.token)
    assert liked["likePost"]["errors"] == [{"code": "NOT_FOUND", "field": "postId"}]
    commented = await api.data(COMMENT, {"id": post_id}, token=fan.token)
    assert commented["addComment"]["errors"] == [{"code": "NOT_FOUND", "field": "postId"}]
    async with GraphQLWebSocket(
        api.stack.router_url, init={"Authorization": f"Bearer {fan.token}"}
    ) as ws:
        await ws.subscribe(SUB, {"id": post_id})
        got = await asyncio.wait_for(ws.next_payload(), 30)
    assert got["errors"][0]["extensions"]["code"] == "NOT_FOUND", got


async def test_a_post_is_published_when_its_media_are_ready(api: Api) -> None:
    author, fan = await _pair(api)
    jpeg = photo(640, 480)
    post_id, [upload] = await api.create_post(author, "walkies", [("image/jpeg", jpeg)])

    # The author sees it, waiting for its file; nobody else does.
    mine = await api.data(POST, {"id": post_id}, token=author.token)
    assert [m["status"] for m in mine["post"]["media"]] == ["PENDING_UPLOAD"]
    assert await _listing(api, author, author) == {"count": 1, "total": 1, "ids": [post_id]}
    await _hidden_from(api, post_id, author, fan)
    assert await _listing(api, author, fan) == {"count": 0, "total": 0, "ids": []}

    # Its fan-out waits for publication: a later text post reaches the fan, it does not.
    later, _ = await api.create_post(author, "text only")
    await eventually(lambda: _has(api, fan, later))
    assert post_id not in await _feed(api, fan)

    await api.upload(upload, jpeg, "image/jpeg")
    await api.complete(author, upload["mediaId"])
    await eventually(lambda: _has(api, fan, post_id))
    seen = await api.data(POST, {"id": post_id}, token=fan.token)
    assert seen["post"]["text"] == "walkies"
    assert [m["status"] for m in seen["post"]["media"]] == ["READY"]
    assert (await _listing(api, author, fan))["ids"] == [later, post_id]
    liked = await api.data(LIKE, {"id": post_id}, token=fan.token)
    assert liked["likePost"]["errors"] == []


async def _has(api: Api, who: Account, post_id: str) -> bool:
    return post_id in await _feed(api, who)


async def test_failed_media_keep_the_post_hidden_and_tell_only_its_author(api: Api) -> None:
    author, fan = await _pair(api)
    bogus = b"this is not a picture, just text pretending to be one" * 20
    post_id, [upload] = await api.create_post(author, "oops", [("image/png", bogus)])
    await api.upload(upload, bogus, "image/png")
    await api.complete(author, upload["mediaId"])

    async def failed() -> dict[str, Any] | None:
        body = await api.data(POST, {"id": post_id}, token=author.token)
        media = body["post"]["media"][0]
        return media if media["status"] == "FAILED" else None

    media = await eventually(failed)
    assert "not an image we accept" in media["failureReason"] and media["url"] is None
    await _hidden_from(api, post_id, author, fan)
    later, _ = await api.create_post(author, "after the failure")
    await eventually(lambda: _has(api, fan, later))
    assert post_id not in await _feed(api, fan)
    assert await _listing(api, author, fan) == {"count": 1, "total": 1, "ids": [later]}
    assert (await _listing(api, author, author))["count"] == 2


async def test_a_text_post_is_published_at_once(api: Api) -> None:
    author, fan = await _pair(api)
    post_id, uploads = await api.create_post(author, "hello")
    assert uploads == []
    assert (await api.data(POST, {"id": post_id}, token=fan.token))["post"]["text"] == "hello"
    await eventually(lambda: _has(api, fan, post_id))
