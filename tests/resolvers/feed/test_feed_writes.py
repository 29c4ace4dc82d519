"""Feed writes against real PostgreSQL: fan-out, follows, deletion, VIP crossing, trim."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

from sqlalchemy import text

from puppies.pagination import PageRequest
from resolvers.feed.fanout import delete_post, fan_out_post, run_fanout, start_fanout
from resolvers.feed.follows import sync_follow, sync_unfollow
from resolvers.feed.locks import author_exclusive
from resolvers.feed.read import read_feed
from resolvers.feed.vip import reconcile_vip, vip_state
from tests.resolvers.feed.world import World
from tests.support.polling import eventually


async def feed_ids(w: World, viewer: int, first: int = 100) -> list[int]:
    page = await read_feed(w.res, viewer, PageRequest(first, None))
    return [i.post_id for i in page.items]


async def publish(w: World, author: int) -> int:
    post_id = await w.post(author)
    await fan_out_post(w.res, post_id, author)
    return post_id


async def test_fan_out_reaches_every_follower_in_batches_and_twice_is_once(world: World) -> None:
    author, *followers = await world.users(26)
    await world.bulk_follow(followers, author)
    settings = world.settings.model_copy(update={"feed_fanout_batch": 10})
    post_id = await world.post(author)
    first = await fan_out_post(replace(world.res, settings=settings), post_id, author)
    assert (first.state, first.batches, first.rows_inserted) == ("done", 3, 25)
    count = "SELECT count(*) FROM feed.inbox WHERE post_id = :p"
    assert await world.scalar(count, p=post_id) == 26  # followers + the author
    # The same job again (an at-least-once redelivery) adds nothing.
    again = await fan_out_post(replace(world.res, settings=settings), post_id, author)
    assert again.state == "done" and again.rows_inserted == 0
    # Even if its progress were lost, replaying every batch inserts no duplicate.
    await world.execute(
        "UPDATE feed.fanout SET state = 'running', follower_cursor = 0 WHERE post_id = :p",
        p=post_id,
    )
    replay = await run_fanout(replace(world.res, settings=settings), post_id)
    assert (replay.state, replay.batches, replay.rows_inserted) == ("done", 3, 0)
    assert await world.scalar(count, p=post_id) == 26


async def test_follow_backfills_newest_posts_and_unfollow_removes_them(world: World) -> None:
    viewer, author, other = await world.users(3)
    settings = world.settings.model_copy(update={"feed_follow_backfill": 3})
    posts = [await publish(world, author) for _ in range(5)]
    mine = await publish(world, other)
    await world.follow(viewer, other)
    await sync_follow(replace(world.res, settings=settings), viewer, other)
    await world.follow(viewer, author)
    assert await sync_follow(replace(world.res, settings=settings), viewer, author) == "backfilled"
    assert await feed_ids(world, viewer) == sorted([*posts[-3:], mine], reverse=True)
    # Replayed follow event: nothing doubles.
    await sync_follow(replace(world.res, settings=settings), viewer, author)
    assert Counter(await world.inbox(viewer)).most_common(1)[0][1] == 1
    await world.unfollow(viewer, author)
    assert await sync_unfollow(replace(world.res, settings=settings), viewer, author) == "removed"
    assert await feed_ids(world, viewer) == [mine]


async def test_late_follow_event_after_unfollow_does_not_backfill(world: World) -> None:
    viewer, author = await world.users(2)
    await publish(world, author)
    await world.follow(viewer, author)
    await world.unfollow(viewer, author)
    # user.followed delivered after the unfollow happened: reconciles to "not following".
    assert await sync_follow(world.res, viewer, author) == "removed"
    assert await world.inbox(viewer) == []


async def test_deleted_post_leaves_every_feed_and_stays_gone(world: World) -> None:
    author, a, b = await world.users(3)
    await world.bulk_follow([a, b], author)
    keep, gone = await publish(world, author), await publish(world, author)
    await world.delete(author, gone)
    removed = await delete_post(world.res, gone, author)
    assert removed == 3
    for viewer in (author, a, b):
        assert await feed_ids(world, viewer) == [keep]
    # A retried post.created for the deleted post does not bring it back.
    assert await start_fanout(world.res, gone, author) == "deleted"
    assert (await fan_out_post(world.res, gone, author)).state == "deleted"
    assert await world.scalar("SELECT count(*) FROM feed.inbox WHERE post_id = :p", p=gone) == 0


async def test_deleting_a_vip_post(world: World) -> None:
    star, *fans = await world.users(4)
    await world.bulk_follow(fans, star)
    await reconcile_vip(world.res, star)
    for fan in fans:
        await sync_follow(world.res, fan, star)
    keep, gone = await publish(world, star), await publish(world, star)
    assert await feed_ids(world, fans[0]) == [gone, keep]
    await world.delete(star, gone)
    await delete_post(world.res, gone, star)
    assert await feed_ids(world, fans[0]) == [keep]


async def test_threshold_crossing_both_ways_without_gaps_or_duplicates(world: World) -> None:
    s = world.settings  # VIP at 3 followers
    author, f1, f2, f3 = await world.users(4)

    async def follow(f: int) -> None:
        await world.follow(f, author)
        await sync_follow(replace(world.res, settings=s), f, author)
        await reconcile_vip(replace(world.res, settings=s), author)

    async def unfollow(f: int) -> None:
        await world.unfollow(f, author)
        await sync_unfollow(replace(world.res, settings=s), f, author)
        await reconcile_vip(replace(world.res, settings=s), author)

    await follow(f1)
    await follow(f2)
    before = [await publish(world, author) for _ in range(2)]
    assert await vip_state(world.res, author) is None
    await follow(f3)  # 3 followers: a VIP now
    assert await vip_state(world.res, author) == "vip"
    during = [await publish(world, author) for _ in range(2)]
    assert (
        await world.scalar("SELECT state FROM feed.fanout WHERE post_id = :p", p=during[0]) == "vip"
    )
    expected = sorted(before + during, reverse=True)
    for f in (f1, f2, f3):  # f3 got `before` by the follow backfill
        assert await feed_ids(world, f) == expected, f
    await unfollow(f3)  # back to 2: fanned out again
    assert await vip_state(world.res, author) is None
    after = [await publish(world, author)]
    assert await world.scalar("SELECT count(*) FROM feed.vip_post") == 0
    assert await world.scalar("SELECT count(*) FROM feed.vip_follow") == 0
    everything = sorted(before + during + after, reverse=True)
    for f in (f1, f2):
        assert await feed_ids(world, f) == everything
        assert len(await world.inbox(f)) == len(everything)  # all in the inbox again
    assert await feed_ids(world, f3) == []


async def test_inbox_is_trimmed_to_the_cap(world: World) -> None:
    viewer, author = await world.users(2)
    await world.follow(viewer, author)
    settings = world.settings.model_copy(update={"feed_inbox_cap": 4, "feed_trim_every": 1})
    posts = []
    for _ in range(7):
        post_id = await world.post(author)
        await fan_out_post(replace(world.res, settings=settings), post_id, author)
        posts.append(post_id)
    assert await world.inbox(viewer) == sorted(posts, reverse=True)[:4]
    assert await world.inbox(author) == sorted(posts, reverse=True)[:4]


async def test_vip_posts_are_capped_too(world: World) -> None:
    star, *fans = await world.users(4)
    await world.bulk_follow(fans, star)
    await reconcile_vip(world.res, star)
    settings = world.settings.model_copy(update={"feed_inbox_cap": 3})
    posts = []
    for _ in range(5):
        post_id = await world.post(star)
        await fan_out_post(replace(world.res, settings=settings), post_id, star)
        posts.append(post_id)
    kept = [
        r[0]
        for r in await world.rows(
            "SELECT post_id FROM feed.vip_post WHERE author_id = :a ORDER BY post_id DESC", a=star
        )
    ]
    assert kept == sorted(posts, reverse=True)[:3]
    assert await feed_ids(world, fans[0]) == kept


async def test_old_fan_out_records_are_purged_but_running_ones_kept(world: World) -> None:
    from resolvers.feed.fanout import purge_finished

    (author,) = await world.users(1)
    done, running = await publish(world, author), await world.post(author)
    await world.execute(
        "INSERT INTO feed.fanout (post_id, author_id, state) VALUES (:p, :a, 'running')",
        p=running,
        a=author,
    )
    await world.execute("UPDATE feed.fanout SET updated_at = now() - interval '8 days'")
    assert await purge_finished(world.res) == 1
    left = [r[0] for r in await world.rows("SELECT post_id FROM feed.fanout")]
    assert left == [running] and done not in left


async def test_a_fan_out_samples_one_inbox_in_n_for_trimming(world: World) -> None:
    """`feed_trim_every` > 1: a batch names for trimming exactly the followers the hash
    picks (the post id and the rate are bound parameters: one compiled statement)."""
    from resolvers.feed.fanout import fanout_batch

    author, *followers = await world.users(60)
    await world.bulk_follow(followers, author)
    settings = world.settings.model_copy(update={"feed_trim_every": 4})
    for _ in range(2):
        post_id = await world.post(author)
        expected = {
            r[0]
            for r in await world.rows(
                "SELECT follower_id FROM users.follows WHERE followee_id = :a "
                "AND (hashint8(follower_id # CAST(:p AS bigint)) & 2147483647) % 4 = 0",
                a=author,
                p=post_id,
            )
        }
        assert 0 < len(expected) < len(followers)  # a sample, not all or none
        async with world.res.db.transaction() as session:
            _, n, inserted, sample = await fanout_batch(session, settings, post_id, author, 0)
        assert (n, inserted) == (59, 59)
        assert set(sample) == expected


async def _sampled(world: World, viewer: int, post: int, every: int) -> bool:
    return bool(
        await world.scalar(
            "SELECT (hashint8(CAST(:v AS bigint) # CAST(:p AS bigint)) & 2147483647) % :n = 0",
            v=viewer,
            p=post,
            n=every,
        )
    )


async def test_the_author_s_own_inbox_is_trimmed_on_the_same_sample(world: World) -> None:
    """Not on every post: only when (author, post) is in the 1-in-N sample, like a
    follower's inbox in a fan-out; the inbox then goes back to the cap."""
    (author,) = await world.users(1)
    settings = world.settings.model_copy(update={"feed_inbox_cap": 2, "feed_trim_every": 3})
    res = replace(world.res, settings=settings)
    expected: list[int] = []
    seen: Counter[bool] = Counter()
    while min(seen[True], seen[False]) < 3:  # until both cases were seen a few times
        assert seen.total() < 100
        post_id = await world.post(author)
        assert await start_fanout(res, post_id, author) == "running"
        expected.insert(0, post_id)
        sampled = await _sampled(world, author, post_id, 3)
        seen[sampled] += 1
        if sampled:
            expected = expected[:2]
        assert await world.inbox(author) == expected


async def test_a_follow_s_backfill_trims_when_a_copied_post_is_sampled(world: World) -> None:
    (viewer,) = await world.users(1)
    settings = world.settings.model_copy(
        update={"feed_inbox_cap": 3, "feed_trim_every": 4, "feed_follow_backfill": 2}
    )
    res = replace(world.res, settings=settings)
    expected: list[int] = []
    seen: Counter[bool] = Counter()
    while min(seen[True], seen[False]) < 2:  # until both cases were seen
        assert seen.total() < 60
        (author,) = await world.users(1)
        posts = [await world.post(author) for _ in range(2)]
        await world.follow(viewer, author)
        assert await sync_follow(res, viewer, author) == "backfilled"
        expected = sorted(expected + posts, reverse=True)
        sampled = any([await _sampled(world, viewer, p, 4) for p in posts])
        seen[sampled] += 1
        if sampled:
            expected = expected[:3]
        assert await world.inbox(viewer) == expected
        # the same follow again copies nothing, so trims nothing
        assert await sync_follow(res, viewer, author) == "backfilled"
        assert await world.inbox(viewer) == expected


async def test_a_fan_out_batch_takes_the_author_s_lock_before_its_row(world: World) -> None:
    """Post deletion locks the author (exclusive), then the post's fan-out row; a fan-out
    batch must lock them in the same order, or each waits for the other: a deadlock that
    PostgreSQL ends by aborting one of them (a deletion or a delivery failing)."""
    author, follower = await world.users(2)
    await world.bulk_follow([follower], author)
    post_id = await world.post(author)
    assert await start_fanout(world.res, post_id, author) == "running"
    waiting = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND objid = ((hashint8(CAST(:a AS bigint))::bigint) & 4294967295)::oid"
    )
    async with world.db.transaction() as deleter:  # delete_post, up to its row lock
        await author_exclusive(deleter, author)
        batch = asyncio.create_task(run_fanout(world.res, post_id))
        await eventually(lambda: world.scalar(waiting, a=author))  # the batch waits
        # ... and holds no lock on the row: the deletion takes it at once
        await deleter.execute(
            text("SELECT 1 FROM feed.fanout WHERE post_id = :p FOR UPDATE NOWAIT"), {"p": post_id}
        )
        await deleter.execute(
            text("UPDATE feed.fanout SET state = 'deleted' WHERE post_id = :p"), {"p": post_id}
        )
    assert (await batch).state == "deleted"  # it saw the deletion, and delivered nothing
    assert await world.inbox(follower) == []
