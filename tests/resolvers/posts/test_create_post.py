"""A post without media in one statement (`posts._create_published`) against the
transaction of several statements a post with media takes (`posts._create_in_transaction`),
over generated authors and texts: the same record (as its row), the same counters, the same
`post.published` event, its timestamps written in SQL exactly as Python's `isoformat()`
writes them (`iso_sql`, checked alone over generated instants and session time zones)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from resolvers.posts import posts
from resolvers.posts.posts import iso_sql
from resolvers.posts.records import POST_COLUMNS, PostRecord
from resolvers.runtime import Resources


async def _rows(res: Resources, sql: str, **params: object) -> list[Any]:
    async with res.db.session() as s:
        return list((await s.execute(text(sql), params)).all())


async def test_iso_sql_writes_what_isoformat_writes(res: Resources) -> None:
    rng = random.Random(23)
    start = datetime(1990, 1, 1, tzinfo=UTC)
    instants = []
    for _ in range(400):
        t = start + timedelta(seconds=rng.randrange(60 * 365 * 86400))
        # a third on a whole second (isoformat leaves the microseconds out), some ending in 0
        micro = rng.choice([0, rng.randrange(1_000_000), rng.randrange(100_000) * 10])
        instants.append(t.replace(microsecond=micro))
    for zone in ("UTC", "Europe/Paris", "America/St_Johns", "Asia/Kolkata"):
        async with res.db.session() as s:
            await s.execute(text(f"SET TIME ZONE '{zone}'"))
            rows = (
                await s.execute(
                    text(f"SELECT t, {iso_sql('t')} FROM unnest(CAST(:ts AS timestamptz[])) t"),
                    {"ts": instants},
                )
            ).all()
        assert [r[1] for r in rows] == [r[0].astimezone(UTC).isoformat() for r in rows]
        assert [r[0] for r in rows] == instants
    assert sum(t.microsecond == 0 for t in instants) > 50


async def _event(res: Resources, post_id: int) -> tuple[Any, ...]:
    [row] = await _rows(
        res,
        "SELECT event_type, aggregate_id, payload, traceparent, request_id FROM posts.outbox "
        "WHERE aggregate_id = :p",
        p=post_id,
    )
    return (row.event_type, row.aggregate_id, dict(row.payload), row.traceparent, row.request_id)


async def _counts(res: Resources, author: int) -> tuple[int, int]:
    found = await _rows(
        res, "SELECT published, unpublished FROM posts.post_counts WHERE author_id = :a", a=author
    )
    return (found[0][0], found[0][1]) if found else (0, 0)


async def test_one_statement_post_is_the_transactions_post(res: Resources) -> None:
    rng = random.Random(2324)
    for _ in range(30):
        author = rng.choice([900, 901, 902, 903])
        body = " ".join(rng.choice(["pup", "dog", "ball", "park", "🐶"]) for _ in range(5))
        made: dict[bool, PostRecord] = {}
        for single in rng.sample([True, False], 2):
            before = await _counts(res, author)
            if single:
                made[single] = await posts._create_published(res, author, body)
            else:
                made[single] = (await posts._create_in_transaction(res, author, body, [])).post
            rec = made[single]
            assert await _counts(res, author) == (before[0] + 1, before[1])
            [row] = await _rows(
                res, f"SELECT {POST_COLUMNS} FROM posts.posts WHERE id = :p", p=rec.id
            )
            assert PostRecord(*row) == rec
            assert rec.published_at == rec.created_at
            event = await _event(res, rec.id)
            assert event[:3] == (
                "post.published",
                rec.id,
                {
                    "post_id": rec.id,
                    "author_id": author,
                    "created_at": rec.created_at.isoformat(),
                    "published_at": rec.created_at.isoformat(),
                },
            )
        one, several = made[True], made[False]
        assert (one.author_id, one.text, one.like_count, one.comment_count, one.edited_at) == (
            several.author_id,
            several.text,
            several.like_count,
            several.comment_count,
            several.edited_at,
        )
        assert (await _event(res, one.id))[3:] == (await _event(res, several.id))[3:]
