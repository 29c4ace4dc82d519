"""Notifications made by the worker from outbox events, read, marked and streamed through
the router."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.social.conftest import DENIED, SocialApi
from tests.subgraphs.posts.wsclient import GraphQLWebSocket
from tests.support.client import Account
from tests.support.polling import eventually

LIST = """query($first: Int, $after: String, $unread: Boolean) {
  notifications(first: $first, after: $after, unreadOnly: $unread) {
    unreadCount
    edges { node { id kind read actor { username } post { id text } comment { id text } } }
    pageInfo { hasNextPage endCursor } } }"""
MARK = """mutation($ids: [ID!], $upTo: ID) { markNotificationsRead(ids: $ids, upTo: $upTo) {
  marked unreadCount } }"""
SUBSCRIBE = """subscription { notificationAdded { id kind actor { username }
  post { id text } comment { id text } } }"""
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { changed } }"
UNLIKE = "mutation($id: ID!) { unlikePost(postId: $id) { errors { code } } }"
DELETE_POST = "mutation($id: ID!) { deletePost(id: $id) { errors { code } } }"
DELETE_COMMENT = "mutation($id: ID!) { deleteComment(id: $id) { errors { code } } }"
MUTE = "mutation($id: ID!) { muteUser(userId: $id) { changed } }"


async def _list(api: SocialApi, who: Account, **variables: Any) -> dict[str, Any]:
    body = await api.data(LIST, {"first": 50, **variables}, token=who.token)
    notifications: dict[str, Any] = body["notifications"]
    return notifications


def _summary(notifications: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["node"]["kind"], e["node"]["actor"]["username"]) for e in notifications["edges"]]


async def _has(api: SocialApi, who: Account, expected: list[tuple[str, str]]) -> bool:
    return _summary(await _list(api, who)) == expected


async def _has_set(api: SocialApi, who: Account, expected: set[tuple[str, str]]) -> bool:
    found = _summary(await _list(api, who))
    return len(found) == len(expected) and set(found) == expected


async def test_follows_likes_comments_and_replies_notify(api: SocialApi):
    alice, bob, carol = [await api.account(n) for n in ("alice", "bob", "carol")]
    post_id = await api.new_post(alice, "my dog")
    await api.new_post(alice, "unrelated")
    await api.follow(bob, alice)
    await api.like(bob, post_id)
    await api.like(alice, post_id)  # your own actions notify nobody
    top = await api.comment(carol, post_id, "cute")
    await api.comment(alice, post_id, "thanks", reply_to=top)  # carol hears of it
    await api.comment(bob, post_id, "indeed", reply_to=top)  # carol: REPLY, alice: COMMENT

    # Each event is its own job, and jobs run in any order: the list is newest notified
    # first, so the test compares what arrived, then reads the order from the list.
    expected_alice = {
        ("COMMENT", bob.username),
        ("COMMENT", carol.username),
        ("LIKE", bob.username),
        ("FOLLOW", bob.username),
    }
    await eventually(lambda: _has_set(api, alice, expected_alice))
    await eventually(
        lambda: _has_set(api, carol, {("REPLY", bob.username), ("REPLY", alice.username)})
    )
    seen = await _list(api, alice)
    assert seen["unreadCount"] == 4
    nodes = {(e["node"]["kind"], e["node"]["actor"]["username"]): e["node"] for e in seen["edges"]}
    like = nodes[("LIKE", bob.username)]
    assert like["post"] == {"id": post_id, "text": "my dog"} and like["comment"] is None
    assert nodes[("FOLLOW", bob.username)]["post"] is None  # a follow is about no post
    assert nodes[("COMMENT", carol.username)]["comment"]["text"] == "cute"
    assert (await _list(api, bob))["edges"] == []

    # marking read: up to a notification, one by id, then all
    order = _summary(seen)
    newest, second, third, oldest = (e["node"]["id"] for e in seen["edges"])
    marked = (await api.data(MARK, {"upTo": third}, token=alice.token))["markNotificationsRead"]
    assert marked == {"marked": 2, "unreadCount": 2}
    by_id = (await api.data(MARK, {"ids": [newest, oldest]}, token=alice.token))[
        "markNotificationsRead"
    ]
    assert by_id == {"marked": 1, "unreadCount": 1}
    unread = await _list(api, alice, unread=True)
    assert _summary(unread) == [order[1]]
    assert unread["edges"][0]["node"]["id"] == second
    everything = (await api.data(MARK, {}, token=alice.token))["markNotificationsRead"]
    assert everything == {"marked": 1, "unreadCount": 0}
    assert all(e["node"]["read"] for e in (await _list(api, alice))["edges"])
    # someone else's ids are not yours to mark
    carols = [e["node"]["id"] for e in (await _list(api, carol))["edges"]]
    other = (await api.data(MARK, {"ids": carols}, token=alice.token))["markNotificationsRead"]
    assert other["marked"] == 0 and (await _list(api, carol))["unreadCount"] == 2


async def test_undone_and_deleted_things_take_their_notifications_along(api: SocialApi):
    alice, bob, carol = [await api.account(n) for n in ("alice", "bob", "carol")]
    post_id = await api.new_post(alice, "soon gone")
    kept = await api.new_post(alice, "stays")
    await api.follow(bob, alice)
    await api.like(bob, post_id)
    await api.like(carol, kept)
    comment = await api.comment(carol, kept, "hello")
    await eventually(lambda: _count(api, alice, 4))

    await api.data(UNFOLLOW, {"id": alice.id}, token=bob.token)
    await api.data(UNLIKE, {"id": post_id}, token=bob.token)
    await api.data(DELETE_COMMENT, {"id": comment}, token=carol.token)
    await eventually(lambda: _has(api, alice, [("LIKE", carol.username)]))
    # like, unlike, like again: still one notification
    await api.like(carol, post_id)
    await api.data(UNLIKE, {"id": post_id}, token=carol.token)
    await api.like(carol, post_id)
    await eventually(lambda: _count(api, alice, 2))
    await api.data(DELETE_POST, {"id": post_id}, token=alice.token)
    await eventually(lambda: _has(api, alice, [("LIKE", carol.username)]))
    assert (await _list(api, alice))["edges"][0]["node"]["post"]["id"] == kept


async def _count(api: SocialApi, who: Account, n: int) -> bool:
    return len((await _list(api, who))["edges"]) == n


async def test_blocks_and_mutes_silence_notifications(api: SocialApi):
    alice, bob, carol = [await api.account(n) for n in ("alice", "bob", "carol")]
    post_id = await api.new_post(alice)
    await api.like(bob, post_id)
    await api.like(carol, post_id)
    await eventually(lambda: _count(api, alice, 2))
    await api.block(alice, bob)  # bob's notification leaves the list at once
    assert _summary(await _list(api, alice)) == [("LIKE", carol.username)]
    assert (await _list(api, alice))["unreadCount"] == 1
    await api.data(MUTE, {"id": carol.id}, token=alice.token)
    listed = await _list(api, alice)
    assert listed["edges"] == [] and listed["unreadCount"] == 0
    # nothing new from a muted account either: the comment notifies nobody, dave's does
    dave = await api.account("dave")
    await api.comment(carol, post_id, "muted words")
    await api.comment(dave, post_id, "hi")
    await eventually(lambda: _has(api, alice, [("COMMENT", dave.username)]))
    await api.data(
        "mutation($id: ID!) { unmuteUser(userId: $id) { changed } }",
        {"id": carol.id},
        token=alice.token,
    )
    assert _summary(await _list(api, alice)) == [
        ("COMMENT", dave.username),
        ("LIKE", carol.username),
    ]


async def test_bad_input(api: SocialApi):
    alice = await api.account("alice")
    for variables, field in (
        ({"ids": ["1"], "upTo": "2"}, "ids"),
        ({"ids": ["x1"]}, "ids.0"),
        ({"upTo": "-5"}, "upTo"),
        ({"ids": [str(i) for i in range(1, 102)]}, "ids"),
    ):
        error = await api.error(MARK, variables, token=alice.token)
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            field,
        ), error
    for query in (LIST, MARK):
        assert (await api.error(query, {}))["extensions"]["code"] == DENIED
    assert (await api.error(LIST, {"after": "nope"}, token=alice.token))["extensions"][
        "code"
    ] == "BAD_USER_INPUT"


async def test_notification_added_streams_through_the_router(api: SocialApi):
    alice, bob = await api.account("alice"), await api.account("bob")
    post_id = await api.new_post(alice, "live!")
    init = {"Authorization": f"Bearer {alice.token}"}
    async with GraphQLWebSocket(api.stack.router_url, init=init) as ws:
        await ws.subscribe(SUBSCRIBE, {})
        # the subscription reaches the users subgraph asynchronously: follow from fresh
        # accounts until one notification arrives, then everything after it is streamed
        warmups: set[str] = set()
        for _ in range(30):
            fan = await api.account("fan")
            warmups.add(fan.username)
            await api.follow(fan, alice)
            try:
                first = await asyncio.wait_for(ws.next_payload(), 5)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("no notification arrived")
        assert first["data"]["notificationAdded"]["kind"] == "FOLLOW"

        await api.like(bob, post_id)
        await api.comment(bob, post_id, "first!")
        got: list[dict[str, Any]] = []
        while len(got) < 2:
            payload = await asyncio.wait_for(ws.next_payload(), 60)
            event = payload["data"]["notificationAdded"]
            if event["actor"]["username"] not in warmups:
                got.append(event)
    like, comment = sorted(got, key=lambda e: e["kind"] != "LIKE")
    assert like["kind"] == "LIKE" and like["actor"] == {"username": bob.username}
    assert like["post"] == {"id": post_id, "text": "live!"}  # from the posts subgraph
    assert comment["kind"] == "COMMENT" and comment["comment"]["text"] == "first!"
    listed = await _list(api, alice)
    assert {e["node"]["id"] for e in listed["edges"]} >= {like["id"], comment["id"]}

    async with GraphQLWebSocket(api.stack.router_url) as anonymous:
        await anonymous.subscribe(SUBSCRIBE, {})
        refused = await asyncio.wait_for(anonymous.next_payload(), 30)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
