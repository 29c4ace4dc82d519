"""A top-level comment in one statement (`comments._add_top_level`) against the transaction
of several statements every reply takes (`comments._add_in_transaction`), over generated
worlds: posts published, waiting for media (their author's only), deleted; blocks either
way between the commenter and the author. Both are run on the same post, one after the
other, and must agree on everything: refused (NOT_FOUND) or not, the comment returned (as
its row), the post's `comment_count` (each adds one), and the `comment.created` event
(payload, aggregate, trace columns)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import text

from resolvers.errors import NotFound
from resolvers.posts import comments
from resolvers.posts.posts import MediaSpec, create_post, delete_post
from resolvers.posts.records import CommentRecord
from resolvers.runtime import Resources

USERS = [700 + i for i in range(5)]


async def _rows(res: Resources, sql: str, **params: object) -> list[Any]:
    async with res.db.session() as s:
        return list((await s.execute(text(sql), params)).all())


async def _block(res: Resources, blocker: int, blocked: int) -> None:
    """A block row without the accounts' rows (the foreign keys' triggers off for it)."""
    async with res.db.transaction() as s:
        await s.execute(text("SET LOCAL session_replication_role = replica"))
        await s.execute(
            text(
                "INSERT INTO users.blocks (blocker_id, blocked_id) VALUES (:a, :b) "
                "ON CONFLICT DO NOTHING"
            ),
            {"a": blocker, "b": blocked},
        )


async def _add(res: Resources, one_statement: bool, user: int, post: int, body: str) -> Any:
    try:
        if one_statement:
            return await comments._add_top_level(res, user, post, body)
        return await comments._add_in_transaction(res, user, post, body, None)
    except NotFound as exc:
        return ("NOT_FOUND", exc.message, exc.field)


async def _event(res: Resources, comment_id: int) -> tuple[Any, ...]:
    [row] = await _rows(
        res,
        "SELECT event_type, aggregate_id, payload, traceparent, request_id FROM posts.outbox "
        "WHERE payload->>'comment_id' = :c",
        c=str(comment_id),
    )
    payload = dict(row.payload)
    payload.pop("comment_id")
    return (row.event_type, row.aggregate_id, payload, row.traceparent, row.request_id)


async def test_one_statement_comment_is_the_transactions_comment(res: Resources) -> None:
    added = refused = 0
    for seed in range(4):
        rng = random.Random(2323 + seed)
        posts: list[int] = []
        for _ in range(6):
            author = rng.choice(USERS)
            media = [MediaSpec("image/png", 10)] if rng.random() < 0.25 else []
            made = await create_post(res, author, f"post {rng.random()}", media)
            posts.append(made.post.id)
            if rng.random() < 0.15:
                await delete_post(res, author, made.post.id)
        for _ in range(rng.randint(0, 3)):
            a, b = rng.sample(USERS, 2)
            await _block(res, a, b)
        for _ in range(12):
            post, user = rng.choice(posts), rng.choice(USERS)
            body = f"hi {rng.randrange(1000)}"
            order = [True, False] if rng.random() < 0.5 else [False, True]
            answers = {}
            for one in order:
                [before] = await _rows(
                    res, "SELECT comment_count FROM posts.posts WHERE id = :p", p=post
                )
                answers[one] = await _add(res, one, user, post, body)
                [after] = await _rows(
                    res, "SELECT comment_count FROM posts.posts WHERE id = :p", p=post
                )
                got = answers[one]
                if isinstance(got, CommentRecord):
                    assert after[0] == before[0] + 1
                    [row] = await _rows(
                        res,
                        "SELECT id, post_id, author_id, text, created_at, parent_id, reply_count "
                        "FROM posts.comments WHERE id = :c",
                        c=got.id,
                    )
                    assert CommentRecord(*row) == got
                else:
                    assert after[0] == before[0]
            one, several = answers[True], answers[False]
            if isinstance(one, CommentRecord):
                assert isinstance(several, CommentRecord), (one, several)
                assert (one.post_id, one.author_id, one.text, one.parent_id, one.reply_count) == (
                    several.post_id,
                    several.author_id,
                    several.text,
                    several.parent_id,
                    several.reply_count,
                )
                assert await _event(res, one.id) == await _event(res, several.id)
                added += 1
            else:
                assert one == several == ("NOT_FOUND", f"post {post} does not exist", "postId")
                refused += 1
        await _rows(res, "SELECT 1")  # the next world adds to this one
    assert added > 15 and refused > 5, (added, refused)
