"""Comment replies (one level deep) and `Post.likedBy`, through the router."""

from __future__ import annotations

from tests.social.conftest import COMMENT, SocialApi

THREAD = """query($id: ID!) { post(id: $id) { commentCount
  comments(first: 10) { edges { node { id text replyCount parent { id }
    author { username }
    replies(first: 10) { edges { node { id text parent { id } replyCount
      replies { edges { node { id } } } } } } } } } } }"""
REPLIES_PAGE = """query($id: ID!, $after: String) { post(id: $id) { comments(first: 1) {
  edges { node { replies(first: 2, after: $after) {
    edges { node { id } } pageInfo { hasNextPage endCursor } } } } } } }"""
DELETE_COMMENT = (
    "mutation($id: ID!) { deleteComment(id: $id) { deletedCommentId errors { code } } }"
)
LIKED_BY = """query($id: ID!, $first: Int, $after: String) { post(id: $id) {
  likeCount likedBy(first: $first, after: $after) {
    edges { node { id username } } pageInfo { hasNextPage endCursor } } } }"""


async def test_replies_are_one_level_deep(api: SocialApi):
    alice, bob, carol = [await api.account(n) for n in ("alice", "bob", "carol")]
    post_id = await api.new_post(alice, "what do you feed your dog?")
    top = await api.comment(bob, post_id, "kibble")
    first = await api.comment(carol, post_id, "same", reply_to=top)
    # a reply to a reply joins the top-level comment's thread
    second = await api.comment(alice, post_id, "good choice", reply_to=first)
    other_top = await api.comment(carol, post_id, "raw food")

    post = (await api.data(THREAD, {"id": post_id}))["post"]
    assert post["commentCount"] == 4  # comments and replies
    nodes = [e["node"] for e in post["comments"]["edges"]]
    assert [n["id"] for n in nodes] == [other_top, top]  # top-level only, newest first
    thread = nodes[1]
    assert (thread["replyCount"], thread["parent"], thread["author"]["username"]) == (
        2,
        None,
        bob.username,
    )
    replies = [e["node"] for e in thread["replies"]["edges"]]
    assert [r["id"] for r in replies] == [first, second]  # oldest first
    assert all(r["parent"] == {"id": top} and r["replyCount"] == 0 for r in replies)
    assert all(r["replies"]["edges"] == [] for r in replies)

    # replies page like every list
    page = (await api.data(REPLIES_PAGE, {"id": post_id}))["post"]["comments"]["edges"][0]
    assert page["node"]["replies"]["edges"] == []  # the newest top-level one has none
    # deleting a top-level comment takes its replies along, and the counts follow
    deleted = (await api.data(DELETE_COMMENT, {"id": top}, token=bob.token))["deleteComment"]
    assert deleted == {"deletedCommentId": top, "errors": []}
    post = (await api.data(THREAD, {"id": post_id}))["post"]
    assert post["commentCount"] == 1
    assert [e["node"]["id"] for e in post["comments"]["edges"]] == [other_top]
    # deleting a reply moves its thread's count
    reply = await api.comment(bob, post_id, "really?", reply_to=other_top)
    await api.data(DELETE_COMMENT, {"id": reply}, token=bob.token)
    post = (await api.data(THREAD, {"id": post_id}))["post"]
    assert post["commentCount"] == 1
    assert post["comments"]["edges"][0]["node"]["replyCount"] == 0


async def test_reply_bad_paths(api: SocialApi):
    alice, bob = await api.account("alice"), await api.account("bob")
    post_id = await api.new_post(alice)
    elsewhere = await api.new_post(alice)
    top = await api.comment(bob, elsewhere, "over here")
    for reply_to, code, field in (
        (top, "BAD_USER_INPUT", "replyTo"),  # a comment of another post
        ("999999999", "NOT_FOUND", "replyTo"),
        ("-1", "BAD_USER_INPUT", "replyTo"),
    ):
        body = await api.data(COMMENT, {"p": post_id, "t": "hi", "r": reply_to}, token=bob.token)
        error = body["addComment"]["errors"][0]
        assert (error["code"], error["field"]) == (code, field), body
    counts = (await api.data(THREAD, {"id": post_id}))["post"]
    assert counts["commentCount"] == 0 and counts["comments"]["edges"] == []


async def test_liked_by_newest_like_first(api: SocialApi):
    alice = await api.account("alice")
    fans = [await api.account("fan") for _ in range(3)]
    post_id = await api.new_post(alice)
    for fan in fans:
        await api.like(fan, post_id)
    await api.like(fans[0], post_id)  # liking again changes nothing

    first = (await api.data(LIKED_BY, {"id": post_id, "first": 2}))["post"]
    assert first["likeCount"] == 3
    assert [e["node"]["username"] for e in first["likedBy"]["edges"]] == [
        fans[2].username,
        fans[1].username,
    ]
    assert first["likedBy"]["pageInfo"]["hasNextPage"] is True
    rest = (
        await api.data(
            LIKED_BY,
            {"id": post_id, "first": 2, "after": first["likedBy"]["pageInfo"]["endCursor"]},
        )
    )["post"]["likedBy"]
    assert [e["node"]["id"] for e in rest["edges"]] == [fans[0].id]
    assert rest["pageInfo"]["hasNextPage"] is False

    await api.data(
        "mutation($id: ID!) { unlikePost(postId: $id) { errors { code } } }",
        {"id": post_id},
        token=fans[1].token,
    )
    after = (await api.data(LIKED_BY, {"id": post_id, "first": 10}))["post"]["likedBy"]
    assert [e["node"]["id"] for e in after["edges"]] == [fans[2].id, fans[0].id]

    for variables in ({"id": post_id, "first": 1000}, {"id": post_id, "after": "nope"}):
        error = await api.error(LIKED_BY, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
