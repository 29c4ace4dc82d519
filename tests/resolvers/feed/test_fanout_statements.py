"""The fan-out's merged statements against the statements they replaced (session 23):
- a batch that records itself (`fanout_batch(record=True)`) leaves the same inbox rows and
  the same `feed.fanout` row, and returns the same figures, as the batch followed by the
  UPDATE that recorded it before;
- `fan_out_post` takes the fan-out's lease with the record it creates (no claim statement),
  so nobody else runs it meanwhile, and a redelivery still claims as before.
Generated cases (follower counts, batch sizes, cursors, inboxes that already hold the post),
real PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from sqlalchemy import text

from resolvers.feed.fanout import _start, fan_out_post, fanout_batch, run_fanout, stalled_fanouts
from resolvers.feed.follows import remove_followee
from resolvers.feed.vip import LOCK_PREFIX, reconcile_vip
from tests.resolvers.feed.world import World

# The record of a batch as run_fanout wrote it before it went into the batch's statement.
OLD_RECORD = text(
    "UPDATE feed.fanout SET follower_cursor = :after, "
    "rows_inserted = rows_inserted + :ins, updated_at = now(), "
    "state = CASE WHEN :done THEN 'done' ELSE state END, "
    "lease_until = CASE WHEN :done THEN NULL "
    "ELSE now() + make_interval(secs => :l) END "
    "WHERE post_id = :p"
)

FANOUT_ROW = (
    "SELECT follower_cursor, rows_inserted, state, lease_until IS NULL AS free, "
    "lease_until > now() + make_interval(secs => :l) - interval '30 seconds' AS leased "
    "FROM feed.fanout WHERE post_id = :p"
)


async def _record(world: World, post_id: int, author: int, cursor: int, leased: bool) -> None:
    await world.execute(
        "INSERT INTO feed.fanout (post_id, author_id, state, follower_cursor, lease_until) "
        "VALUES (:p, :a, 'running', :c, CASE WHEN :leased THEN now() END)",
        p=post_id,
        a=author,
        c=cursor,
        leased=leased,
    )


async def _inbox_of_post(world: World, post_id: int) -> list[Any]:
    rows = await world.rows(
        "SELECT viewer_id, author_id FROM feed.inbox WHERE post_id = :p ORDER BY viewer_id",
        p=post_id,
    )
    return [tuple(r) for r in rows]


async def test_a_batch_that_records_itself_equals_the_batch_then_its_update(world: World) -> None:
    rng = random.Random(23)
    lease = float(world.settings.feed_fanout_lease_seconds)
    for case in range(14):
        followers_n = rng.choice([0, 1, 2, 5, 9, 10, 11, 23])
        limit = rng.choice([1, 3, 10, 50])
        every = rng.choice([1, 4])
        settings = world.settings.model_copy(
            update={"feed_fanout_batch": limit, "feed_trim_every": every}
        )
        author, *followers = await world.users(1 + followers_n)
        await world.bulk_follow(followers, author)
        follows = [
            int(r[0])
            for r in await world.rows(
                "SELECT id FROM users.follows WHERE followee_id = :a ORDER BY id", a=author
            )
        ]
        # a cursor somewhere along the follower list (0: from the start)
        cursor = rng.choice([0, *follows[:-1]]) if follows else 0
        old_post, new_post = await world.post(author), await world.post(author)
        # some followers already hold the posts (a replayed batch inserts nothing for them)
        for viewer in rng.sample(followers, k=len(followers) // 3):
            for post in (old_post, new_post):
                await world.execute(
                    "INSERT INTO feed.inbox (viewer_id, post_id, author_id) VALUES (:v, :p, :a)",
                    v=viewer,
                    p=post,
                    a=author,
                )
        for post in (old_post, new_post):
            await _record(world, post, author, cursor, leased=rng.random() < 0.5)

        async with world.res.db.transaction() as session:
            last, n, inserted, sample_old = await fanout_batch(
                session, settings, old_post, author, cursor
            )
            old = (last, n, inserted)
            await session.execute(
                OLD_RECORD,
                {
                    "after": last if last is not None else cursor,
                    "ins": inserted,
                    "done": n < limit,
                    "l": lease,
                    "p": old_post,
                },
            )
        async with world.res.db.transaction() as session:
            last, n, inserted, sample_new = await fanout_batch(
                session, settings, new_post, author, cursor, record=True
            )
            new = (last, n, inserted)

        context = f"case {case}: {followers_n} followers, batch {limit}, cursor {cursor}"
        assert new == old, context
        # the sample depends on the post id (a hash of viewer and post)
        for post, sample in ((old_post, sample_old), (new_post, sample_new)):
            expected = await world.rows(
                "SELECT follower_id FROM (SELECT follower_id FROM users.follows "
                "WHERE followee_id = :a AND id > :c ORDER BY id LIMIT :lim) b "
                "WHERE (hashint8(follower_id # CAST(:p AS bigint)) & 2147483647) % :n = 0",
                p=post,
                a=author,
                n=every,
                c=cursor,
                lim=limit,
            )
            assert sorted(sample) == sorted(int(r[0]) for r in expected), context
        old_inbox = await _inbox_of_post(world, old_post)
        assert await _inbox_of_post(world, new_post) == old_inbox, context
        old_row = tuple(await world.rows(FANOUT_ROW, p=old_post, l=lease))
        new_row = tuple(await world.rows(FANOUT_ROW, p=new_post, l=lease))
        assert new_row == old_row, context


async def test_fan_out_post_takes_the_lease_with_the_record(world: World) -> None:
    author, *followers = await world.users(8)
    await world.bulk_follow(followers, author)
    lease = float(world.settings.feed_fanout_lease_seconds)
    post_id = await world.post(author)

    # the record is created with the lease taken: no stalled-fan-out sweep, nor a
    # redelivery's claim, takes a fan-out its creator is about to run
    assert await _start(world.res, post_id, author, claim=True) == ("running", True)
    row = (await world.rows(FANOUT_ROW, p=post_id, l=lease))[0]
    assert (row.state, row.follower_cursor, row.leased) == ("running", 0, True)
    assert post_id not in await stalled_fanouts(world.res)
    other = await run_fanout(world.res, post_id)  # claims: the lease is held
    assert (other.state, other.batches) == ("running", 0)
    assert await _start(world.res, post_id, author, claim=True) == ("running", False)

    done = await run_fanout(world.res, post_id, claimed=True)
    assert (done.state, done.rows_inserted) == ("done", 7)
    row = (await world.rows(FANOUT_ROW, p=post_id, l=lease))[0]
    assert (row.state, row.free, row.rows_inserted) == ("done", True, 7)
    delivered = sorted(v for v, _ in await _inbox_of_post(world, post_id))
    assert delivered == sorted([author, *followers])

    # a redelivery of a finished fan-out: nothing claimed, nothing delivered
    again = await fan_out_post(world.res, post_id, author)
    assert (again.state, again.rows_inserted) == ("done", 0)

    # a record left running by a dead worker (lease lapsed): a redelivery claims it and
    # finishes it; without `claim` the record is created without a lease, as before
    second = await world.post(author)
    assert await _start(world.res, second, author, claim=False) == ("running", False)
    assert second in await stalled_fanouts(world.res)
    settings = world.settings.model_copy(update={"feed_fanout_batch": 3})
    resumed = await fan_out_post(replace(world.res, settings=settings), second, author)
    assert (resumed.state, resumed.batches, resumed.rows_inserted) == ("done", 3, 7)


async def test_a_start_for_a_deleted_or_vip_post_claims_nothing(world: World) -> None:
    author, follower = await world.users(2)
    await world.bulk_follow([follower], author)
    post_id = await world.post(author)
    await world.execute(
        "INSERT INTO feed.fanout (post_id, author_id, state) VALUES (:p, :a, 'deleted')",
        p=post_id,
        a=author,
    )
    assert await _start(world.res, post_id, author, claim=True) == ("deleted", False)
    assert await world.inbox(author) == []
    vip_post = await world.post(author)
    await world.execute(
        "INSERT INTO feed.vip (author_id, state, follower_count) VALUES (:a, 'vip', 1)",
        a=author,
    )
    assert await _start(world.res, vip_post, author, claim=True) == ("vip", False)
    assert await world.scalar(
        "SELECT lease_until IS NULL FROM feed.fanout WHERE post_id = :p", p=vip_post
    )
    assert (
        await world.scalar("SELECT count(*) FROM feed.vip_post WHERE post_id = :p", p=vip_post) == 1
    )


async def test_an_unfollow_removes_the_followee_s_rows_and_vip_merge_only(world: World) -> None:
    viewer, author, other = await world.users(3)
    posts = [await world.post(author) for _ in range(3)]
    kept = await world.post(other)
    for post in [*posts, kept]:
        await world.execute(
            "INSERT INTO feed.inbox (viewer_id, post_id, author_id) "
            "SELECT :v, :p, author_id FROM posts.posts WHERE id = :p",
            v=viewer,
            p=post,
        )
    for vip in (author, other):
        await world.execute(
            "INSERT INTO feed.vip_follow (viewer_id, vip_id) VALUES (:v, :a)", v=viewer, a=vip
        )
    assert await remove_followee(world.res, viewer, author) == 3
    assert await world.inbox(viewer) == [kept]
    vips = await world.rows("SELECT vip_id FROM feed.vip_follow WHERE viewer_id = :v", v=viewer)
    assert [r[0] for r in vips] == [other]
    assert await remove_followee(world.res, viewer, author) == 0  # a redelivery


async def test_reconciling_an_author_far_from_the_threshold_takes_no_lock(world: World) -> None:
    """An author under the threshold who never was a VIP: "ordinary" without the Redis lock
    (returned even while another reconciler holds it); any other author still takes it."""
    author, follower = await world.users(2)
    await world.bulk_follow([follower], author)
    settings = world.settings.model_copy(update={"feed_vip_threshold": 2})
    res = replace(world.res, settings=settings)
    lock = world.res.redis.lock(LOCK_PREFIX + str(author), timeout=30)
    assert await lock.acquire()
    try:
        assert await reconcile_vip(res, author) == "ordinary"
        (second,) = await world.users(1)
        await world.bulk_follow([second], author)  # at the threshold now
        assert await reconcile_vip(res, author) == "busy"
    finally:
        await lock.release()
    assert await reconcile_vip(res, author) == "vip"
    lower = replace(world.res, settings=world.settings.model_copy(update={"feed_vip_threshold": 3}))
    # a VIP that fell under the threshold is demoted: the locked way, not the shortcut
    assert await lock.acquire()
    try:
        assert await reconcile_vip(lower, author) == "busy"
    finally:
        await lock.release()
    assert await reconcile_vip(lower, author) == "ordinary"
    assert await world.scalar("SELECT count(*) FROM feed.vip WHERE author_id = :a", a=author) == 0
