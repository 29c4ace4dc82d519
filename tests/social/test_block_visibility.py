"""What a block hides, and what a mute takes out of the home feed, through the router."""

from __future__ import annotations

import uuid

from tests.social.conftest import COMMENT, LIKE, SocialApi
from tests.support.polling import eventually

POST = "query($id: ID!) { post(id: $id) { id } }"
USER_POSTS = """query($id: ID!) { user(id: $id) { postCount
  posts(first: 10) { edges { node { id } } } } }"""
COMMENTS = """query($id: ID!) { post(id: $id) { comments(first: 10) { edges { node { id
  replies(first: 10) { edges { node { id } } } } } } } }"""
LIKED_BY = """query($id: ID!) { post(id: $id) { likedBy(first: 10) {
  edges { node { id } } } } }"""
SEARCH = "query($q: String!) { searchPosts(query: $q) { edges { node { id } } } }"
ALL_POSTS = "{ posts(first: 100) { edges { node { id } } } }"
MUTE = "mutation($id: ID!) { muteUser(userId: $id) { changed } }"
UNMUTE = "mutation($id: ID!) { unmuteUser(userId: $id) { changed } }"
UNBLOCK = "mutation($id: ID!) { unblockUser(userId: $id) { changed } }"


def _ids(body: dict, *path: str) -> list[str]:
    node = body
    for key in path:
        node = node[key]
    return [e["node"]["id"] for e in node["edges"]]


async def test_a_block_hides_content_both_ways(api: SocialApi):
    tag = "zq" + uuid.uuid4().hex[:8]
    alice, bob, carol = [await api.account(n) for n in ("alice", "bob", "carol")]
    alices = await api.new_post(alice, f"{tag} by alice")
    bobs = await api.new_post(bob, f"{tag} by bob")
    carols = await api.new_post(carol, f"{tag} by carol")
    # bob's comment and like on carol's post, alice's reply to bob's comment
    bob_comment = await api.comment(bob, carols, "bob was here")
    alice_reply = await api.comment(alice, carols, "hi bob", reply_to=bob_comment)
    alice_comment = await api.comment(alice, carols, "alice was here")
    await api.like(bob, carols)
    await api.like(alice, carols)

    await api.block(alice, bob)

    for viewer, other, others_post in ((bob, alice, alices), (alice, bob, bobs)):
        token = viewer.token
        assert (await api.data(POST, {"id": others_post}, token=token))["post"] is None
        user_posts = await api.data(USER_POSTS, {"id": other.id}, token=token)
        assert _ids(user_posts, "user", "posts") == []
        assert user_posts["user"]["postCount"] == 0
        assert others_post not in _ids(
            await api.data(SEARCH, {"q": tag}, token=token), "searchPosts"
        )
        assert others_post not in _ids(await api.data(ALL_POSTS, token=token), "posts")
        liked = _ids(await api.data(LIKED_BY, {"id": carols}, token=token), "post", "likedBy")
        assert other.id not in liked and viewer.id in liked
    # comments: each sees the third party's post without the other's comments
    seen_by_bob = await api.data(COMMENTS, {"id": carols}, token=bob.token)
    assert _ids(seen_by_bob, "post", "comments") == [bob_comment]
    assert seen_by_bob["post"]["comments"]["edges"][0]["node"]["replies"]["edges"] == []
    seen_by_alice = await api.data(COMMENTS, {"id": carols}, token=alice.token)
    assert _ids(seen_by_alice, "post", "comments") == [alice_comment]
    # carol and anonymous readers see everything
    for reader in (carol.token, None):
        everything = await api.data(COMMENTS, {"id": carols}, token=reader)
        assert _ids(everything, "post", "comments") == [alice_comment, bob_comment]
        reply_ids = _ids(everything["post"]["comments"]["edges"][1]["node"], "replies")
        assert reply_ids == [alice_reply]
        assert (await api.data(POST, {"id": alices}, token=reader))["post"] == {"id": alices}
        counted = await api.data(USER_POSTS, {"id": alice.id}, token=reader)
        assert counted["user"]["postCount"] == 1

    # neither can like, comment on or reply to the other's things
    for viewer, post_id in ((bob, alices), (alice, bobs)):
        like_body = await api.data(LIKE, {"id": post_id}, token=viewer.token)
        assert like_body["likePost"]["errors"][0]["code"] == "NOT_FOUND"
        commented = await api.data(COMMENT, {"p": post_id, "t": "hey"}, token=viewer.token)
        assert commented["addComment"]["errors"][0]["code"] == "NOT_FOUND"
    reply = await api.data(COMMENT, {"p": carols, "t": "hey", "r": alice_comment}, token=bob.token)
    assert reply["addComment"]["errors"][0] == {
        "code": "NOT_FOUND",
        "field": "replyTo",
        "message": f"comment {alice_comment} does not exist",
    }

    # lifted: everything is back
    await api.data(UNBLOCK, {"id": bob.id}, token=alice.token)
    assert (await api.data(POST, {"id": alices}, token=bob.token))["post"] == {"id": alices}
    await api.like(bob, alices)


async def test_feeds_lose_blocked_and_muted_authors_at_once(api: SocialApi):
    viewer, muted, blocker, friend = [
        await api.account(n) for n in ("viewer", "muted", "blocker", "friend")
    ]
    for author in (muted, blocker, friend):
        await api.follow(viewer, author)
    posts = {who.username: await api.new_post(who) for who in (muted, blocker, friend)}

    async def all_delivered() -> bool:
        return set(posts.values()) <= set(await api.feed(viewer))

    await eventually(all_delivered)

    await api.data(MUTE, {"id": muted.id}, token=viewer.token)
    await api.block(blocker, viewer)
    feed = await api.feed(viewer)
    assert posts[friend.username] in feed
    assert posts[muted.username] not in feed and posts[blocker.username] not in feed
    # the block also took the viewer out of the blocker's followers: no new deliveries
    newer = await api.new_post(blocker, "after the block")
    later = await api.new_post(friend, "after the block")
    await eventually(lambda: _has(api, viewer, later))
    assert newer not in await api.feed(viewer)
    # the mute kept the follow: unmuting brings the posts back at once
    await api.data(UNMUTE, {"id": muted.id}, token=viewer.token)
    assert posts[muted.username] in await api.feed(viewer)


async def _has(api: SocialApi, who, post_id: str) -> bool:
    return post_id in await api.feed(who)
