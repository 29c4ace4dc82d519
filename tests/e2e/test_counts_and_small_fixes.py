"""Issue 9, bug 7: totalCount of a user's posts and of comments, a profile's post count,
thumbnails only narrower than the image, and unfollowing yourself says so."""

from __future__ import annotations

from typing import Any

from tests.subgraphs.posts.images import photo
from tests.support.client import Api
from tests.support.polling import eventually

COMMENT = """mutation($id: ID!, $t: String!) { addComment(input: {postId: $id, text: $t}) {
  comment { id } errors { code } } }"""
COMMENTS = """query($id: ID!) { post(id: $id) { commentCount
  comments(first: 2) { totalCount edges { node { text } } } } }"""
PROFILE = """query($u: String!) { userByUsername(username: $u) { username postCount
  posts(first: 1) { totalCount edges { node { id } } pageInfo { hasNextPage } } } }"""
THUMBS = """query($id: ID!) { post(id: $id) { media { status width height
  thumbnails { width height url } } } }"""


async def test_total_counts_and_the_profile_post_count(api: Api) -> None:
    rex = await api.account("rex")
    ids = [(await api.create_post(rex, f"post {i}"))[0] for i in range(3)]
    for text in ("one", "two", "three"):
        await api.data(COMMENT, {"id": ids[0], "t": text}, token=rex.token)
    body = await api.data(COMMENTS, {"id": ids[0]})
    assert body["post"]["commentCount"] == 3
    assert body["post"]["comments"]["totalCount"] == 3
    assert len(body["post"]["comments"]["edges"]) == 2
    profile = (await api.data(PROFILE, {"u": rex.username}))["userByUsername"]
    assert profile["postCount"] == 3
    assert profile["posts"]["totalCount"] == 3
    assert profile["posts"]["pageInfo"]["hasNextPage"] is True
    deleted = await api.data(
        "mutation($id: ID!) { deletePost(id: $id) { deletedPostId errors { code } } }",
        {"id": ids[1]},
        token=rex.token,
    )
    assert deleted["deletePost"]["errors"] == []
    profile = (await api.data(PROFILE, {"u": rex.username}))["userByUsername"]
    assert (profile["postCount"], profile["posts"]["totalCount"]) == (2, 2)


async def _processed(api: Api, width: int, height: int) -> dict[str, Any]:
    rex = await api.account("rex")
    png = photo(width, height, "PNG")
    post_id, [upload] = await api.create_post(rex, "pic", [("image/png", png)])
    await api.upload(upload, png, "image/png")
    await api.complete(rex, upload["mediaId"])

    async def ready() -> dict[str, Any] | None:
        media = (await api.data(THUMBS, {"id": post_id}, token=rex.token))["post"]["media"][0]
        return media if media["status"] in ("READY", "FAILED") else None

    media: dict[str, Any] = await eventually(ready)
    assert media["status"] == "READY", media
    return media


async def test_thumbnails_only_for_widths_smaller_than_the_image(api: Api) -> None:
    small = await _processed(api, 64, 48)
    assert (small["width"], small["height"], small["thumbnails"]) == (64, 48, [])
    medium = await _processed(api, 500, 400)
    assert [(t["width"], t["height"]) for t in medium["thumbnails"]] == [(320, 256)]


async def test_unfollowing_yourself_says_unfollow(api: Api) -> None:
    rex = await api.account("rex")
    for verb in ("follow", "unfollow"):
        body = await api.gql(
            f"mutation($id: ID!) {{ {verb}(userId: $id) {{ changed }} }}",
            {"id": rex.id},
            token=rex.token,
        )
        [error] = body["errors"]
        assert error["message"] == f"you cannot {verb} yourself", error
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert body["data"] == {verb: None}
