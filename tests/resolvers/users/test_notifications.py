"""Notification producers called as the worker calls them: at least once, in any order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import text

from puppies.pagination import PageRequest
from puppies.settings import Settings
from resolvers.posts import comments, likes, posts
from resolvers.runtime import Resources
from resolvers.users import blocks, bulk, follows, notifications
from resolvers.users.passwords import hash_password_sync


@pytest.fixture
async def res(clean: Settings) -> AsyncIterator[Resources]:
    r = Resources.open(clean)
    try:
        yield r
    finally:
        await r.close()


async def _users(res: Resources, *names: str) -> list[int]:
    ids = await bulk.insert_users(
        res, [(n, f"{n}@example.com", n, "") for n in names], hash_password_sync("x" * 12)
    )
    return [ids[n] for n in names]


async def _rows(res: Resources, recipient: int) -> list[tuple[str, int]]:
    async with res.db.session() as s:
        rows = await s.execute(
            text(
                "SELECT kind, actor_id FROM users.notifications WHERE recipient_id = :r ORDER BY id"
            ),
            {"r": recipient},
        )
        return [(r[0], r[1]) for r in rows]


async def test_redelivered_and_reordered_events_converge(res: Resources):
    alice, bob = await _users(res, "alice", "bob")
    post = (await posts.create_post(res, alice, "hi", [])).post
    await likes.like_post(res, bob, post.id)
    pubsub = res.redis.pubsub()
    await pubsub.subscribe(notifications.CHANNEL)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation

    assert await notifications.on_liked(res, post.id, bob, alice) is True
    assert await notifications.on_liked(res, post.id, bob, alice) is False  # redelivered
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None
    published = orjson.loads(message["data"])
    assert (published["recipient_id"], published["kind"], published["actor_id"]) == (
        alice,
        "LIKE",
        bob,
    )
    assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
    await pubsub.aclose()

    # an unlike processed while the like stands again removes nothing
    assert await notifications.on_unliked(res, post.id, bob, alice) == 0
    await likes.unlike_post(res, bob, post.id)
    # a late `post.liked` for a like already undone makes nothing; the unlike removes it
    assert await notifications.on_unliked(res, post.id, bob, alice) == 1
    assert await notifications.on_liked(res, post.id, bob, alice) is False
    assert await _rows(res, alice) == []

    # follows: the same reconciliation with the follow graph
    assert await notifications.on_followed(res, bob, alice) is False  # never followed
    await follows.follow(res, bob, alice)
    assert await notifications.on_followed(res, bob, alice) is True
    assert await notifications.on_unfollowed(res, bob, alice) == 0  # still following
    assert await _rows(res, alice) == [("FOLLOW", bob)]


async def test_comments_replies_and_who_is_told(res: Resources):
    alice, bob, carol = await _users(res, "alice", "bob", "carol")
    post = (await posts.create_post(res, alice, "hi", [])).post
    top = await comments.add_comment(res, carol, post.id, "top")
    reply = await comments.add_comment(res, alice, post.id, "author answers", reply_to=top.id)
    # a reply by the post's author to carol: carol hears of it, the author is not told
    made = await notifications.on_comment(
        res,
        comment_id=reply.id,
        post_id=post.id,
        author=alice,
        post_author=alice,
        replied_author=carol,
    )
    assert made == 1 and await _rows(res, carol) == [("REPLY", alice)]
    # a reply to the post author's own comment: one REPLY, not a COMMENT too
    mine = await comments.add_comment(res, alice, post.id, "mine")
    theirs = await comments.add_comment(res, bob, post.id, "re", reply_to=mine.id)
    made = await notifications.on_comment(
        res,
        comment_id=theirs.id,
        post_id=post.id,
        author=bob,
        post_author=alice,
        replied_author=alice,
    )
    assert made == 1 and await _rows(res, alice) == [("REPLY", bob)]
    # a comment deleted before its job runs notifies nobody
    gone = await comments.add_comment(res, bob, post.id, "oops")
    await comments.delete_comment(res, bob, gone.id)
    made = await notifications.on_comment(
        res, comment_id=gone.id, post_id=post.id, author=bob, post_author=alice, replied_author=None
    )
    assert made == 0
    # blocked or muted actors notify nobody (a comment made before the block, notified after)
    again = await comments.add_comment(res, bob, post.id, "still here")
    await blocks.block(res, alice, bob)
    await blocks.mute(res, carol, alice)
    assert (
        await notifications.on_comment(
            res,
            comment_id=again.id,
            post_id=post.id,
            author=bob,
            post_author=alice,
            replied_author=None,
        )
        == 0
    )
    assert (
        await notifications.notify(
            res, recipient=carol, actor=alice, kind="LIKE", key="like:1:2", post_id=post.id
        )
        is None
    )


async def test_the_list_is_in_the_order_events_happened_not_jobs(res: Resources):
    """Jobs run in any order: a like that happened after a follow, but whose job ran
    first, is still listed above it, and each says when it happened."""
    alice, bob, carol = await _users(res, "alice", "bob", "carol")
    post = (await posts.create_post(res, alice, "hi", [])).post
    await follows.follow(res, carol, alice)
    await likes.like_post(res, bob, post.id)
    followed_at = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    liked_at = followed_at + timedelta(seconds=2)

    assert await notifications.on_liked(res, post.id, bob, alice, liked_at) is True
    assert await notifications.on_followed(res, carol, alice, followed_at) is True  # late job

    page = await notifications.notifications_page(res, alice, PageRequest(first=10, after=None))
    listed = [(n.kind, n.created_at) for n in page.items]
    assert listed == [("LIKE", liked_at), ("FOLLOW", followed_at)]
    # pages keep that order: the cursor is the id, which is ordered by the event's time
    first = await notifications.notifications_page(res, alice, PageRequest(first=1, after=None))
    (top,) = first.items
    rest = await notifications.notifications_page(res, alice, PageRequest(first=1, after=top.id))
    assert [n.kind for n in rest.items] == ["FOLLOW"]
    # marking up to the like marks the follow too: it happened before
    assert await notifications.mark_read(res, alice, ids=None, up_to=top.id) == 2
    # and an event without a time (an old job) is placed at the time its job runs
    await follows.follow(res, bob, alice)
    assert await notifications.on_followed(res, bob, alice) is True
    now_page = await notifications.notifications_page(res, alice, PageRequest(first=1, after=None))
    assert [(n.kind, n.actor_id) for n in now_page.items] == [("FOLLOW", bob)]


async def test_a_notification_for_an_account_gone_meanwhile_is_not_made(res: Resources):
    """The INSERT runs on asyncpg itself (`Database.rows`): PostgreSQL's foreign-key
    violation still arrives as SQLAlchemy's IntegrityError, and nothing is made."""
    (alice,) = await _users(res, "alice")
    made = await notifications.notify(
        res, recipient=alice, actor=alice + 10_000_000, kind="FOLLOW", key="follow:gone"
    )
    assert made is None
    assert await _rows(res, alice) == []
    made = await notifications.notify(
        res, recipient=alice + 10_000_000, actor=alice, kind="FOLLOW", key=f"follow:{alice}"
    )
    assert made is None
    ok = await notifications.notify(
        res, recipient=alice, actor=(await _users(res, "bob"))[0], kind="FOLLOW", key="follow:b"
    )
    assert ok is not None and await _rows(res, alice) == [("FOLLOW", ok.actor_id)]
