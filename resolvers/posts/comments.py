"""Comments and their replies (one level deep): add, delete, and pages for many posts or
comments in one statement.

A reply answers a top-level comment; replying to a reply attaches the new comment to that
reply's top-level comment (as Instagram does), so threads never nest deeper. `comment_count`
of the post counts comments and replies; `reply_count` of a top-level comment counts its
replies; both move in the transaction that adds or removes the rows. Comments of accounts
hidden from the viewer by a block are left out, and nobody comments on a post (or replies to
a comment) of an account that blocks them, or that they block: to them it does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Select,
    String,
    TextClause,
    bindparam,
    delete,
    select,
    text,
    true,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from models.outbox import emit, producing
from models.posts import SCHEMA, Comment, Post
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.errors import BadInput, Forbidden, NotFound
from resolvers.posts.records import COMMENT_COLUMNS, CommentRecord
from resolvers.posts.visibility import hidden_sql, not_hidden, visible_posts
from resolvers.runtime import Resources


def _check_text(res: Resources, text: str) -> str:
    text = text.strip()
    limit = res.settings.post_max_text_length
    if not text:
        raise BadInput("a comment needs text", field="text")
    if len(text) > limit:
        raise BadInput(f"text is {len(text)} characters; the limit is {limit}", field="text")
    return text


# A top-level comment in ONE statement, atomic alone (run in autocommit by `Database.rows`):
# the post's `comment_count` bumped if the post is visible to the commenter
# (`visible_posts`), the comment inserted, and its `comment.created` event written with the
# request's trace (as `emit` writes it). Where a transaction of five statements (and a
# re-read of the new row) cost more CPU here and in PostgreSQL (bench/RESULTS.md, session 23).
_ADD_TOP_LEVEL = text(
    "WITH p AS (UPDATE posts.posts SET comment_count = comment_count + 1 "
    "WHERE id = :post_id AND deleted_at IS NULL "
    "AND (published_at IS NOT NULL OR author_id = :author_id) "
    f"AND author_id NOT IN ({hidden_sql('author_id')}) RETURNING author_id), "
    "c AS (INSERT INTO posts.comments (post_id, author_id, text) "
    f"SELECT :post_id, :author_id, :text FROM p RETURNING {COMMENT_COLUMNS}), "
    "ev AS (INSERT INTO posts.outbox (event_type, aggregate_id, payload, traceparent, "
    "request_id) SELECT 'comment.created', c.post_id, jsonb_build_object("
    "'comment_id', c.id, 'post_id', c.post_id, 'author_id', c.author_id, "
    "'post_author_id', p.author_id, 'parent_id', NULL, 'reply_to_author_id', NULL), "
    ":traceparent, :request_id FROM c CROSS JOIN p RETURNING id) "
    "SELECT c.* FROM c"
).bindparams(
    bindparam("post_id", type_=BigInteger),
    bindparam("author_id", type_=BigInteger),
    bindparam("text", type_=String),
    bindparam("traceparent", type_=String),
    bindparam("request_id", type_=String),
)
CREATED = "comment.created"


async def _add_top_level(res: Resources, author_id: int, post_id: int, text: str) -> CommentRecord:
    # the outbox row as `emit` writes it: under its producer span, with its trace fields
    with producing(SCHEMA, CREATED) as trace:
        rows: Sequence[Any] = await res.db.rows(
            _ADD_TOP_LEVEL,
            {"post_id": post_id, "author_id": author_id, "text": text, **trace},
        )
    if not rows:
        raise NotFound(f"post {post_id} does not exist", field="postId")
    return CommentRecord.from_row(rows[0])


async def add_comment(
    res: Resources, author_id: int, post_id: int, text: str, reply_to: int | None = None
) -> CommentRecord:
    text = _check_text(res, text)
    if reply_to is None:
        return await _add_top_level(res, author_id, post_id, text)
    return await _add_in_transaction(res, author_id, post_id, text, reply_to)


async def _add_in_transaction(
    res: Resources, author_id: int, post_id: int, text: str, reply_to: int | None
) -> CommentRecord:
    """A comment (a reply: its thread's `reply_count` too) in a transaction of several
    statements. A top-level one (`reply_to` None) as `_add_top_level` adds it (its tests
    compare the two)."""
    try:
        async with res.db.transaction() as session:
            bumped = (
                await session.execute(
                    update(Post)
                    .where(Post.id == post_id, *visible_posts(author_id))
                    .values(comment_count=Post.comment_count + 1)
                    .returning(Post.author_id)
                )
            ).first()
            if bumped is None:
                raise NotFound(f"post {post_id} does not exist", field="postId")
            parent_id, replied_author = None, None
            if reply_to is not None:
                parent = (
                    await session.execute(
                        select(Comment.id, Comment.post_id, Comment.parent_id, Comment.author_id)
                        .where(Comment.id == reply_to, *not_hidden(Comment.author_id, author_id))
                        .with_for_update()
                    )
                ).first()
                if parent is None:
                    raise NotFound(f"comment {reply_to} does not exist", field="replyTo")
                if parent.post_id != post_id:
                    raise BadInput(
                        f"comment {reply_to} is on another post; reply on post {parent.post_id}",
                        field="replyTo",
                    )
                parent_id = parent.parent_id or parent.id
                replied_author = parent.author_id
                await session.execute(
                    update(Comment)
                    .where(Comment.id == parent_id)
                    .values(reply_count=Comment.reply_count + 1)
                )
            comment = Comment(post_id=post_id, author_id=author_id, text=text, parent_id=parent_id)
            session.add(comment)
            await session.flush()
            await session.refresh(comment)
            await emit(
                session,
                SCHEMA,
                CREATED,
                {
                    "comment_id": comment.id,
                    "post_id": post_id,
                    "author_id": author_id,
                    "post_author_id": bumped.author_id,
                    "parent_id": parent_id,
                    "reply_to_author_id": replied_author,
                },
                aggregate_id=post_id,
            )
    except IntegrityError:  # the comment replied to was deleted meanwhile
        raise NotFound(f"comment {reply_to} does not exist", field="replyTo") from None
    return CommentRecord.of(comment)


async def delete_comment(res: Resources, viewer_id: int, comment_id: int) -> CommentRecord:
    """The comment's author or the post's author may delete it; its replies go with it.
    Emits `comment.deleted` with the ids of every comment removed."""
    async with res.db.transaction() as session:
        row = (
            await session.execute(
                select(Comment, Post.author_id)
                .join(Post, Post.id == Comment.post_id)
                .where(Comment.id == comment_id, Post.deleted_at.is_(None))
                .with_for_update(of=Comment)
            )
        ).first()
        if row is None:
            raise NotFound(f"comment {comment_id} does not exist", field="id")
        comment, post_author = row
        if viewer_id not in (comment.author_id, post_author):
            raise Forbidden(
                "only the comment's author or the post's author can delete it", field="id"
            )
        record = CommentRecord.of(comment)
        replies = list(
            (
                await session.execute(
                    delete(Comment).where(Comment.parent_id == comment_id).returning(Comment.id)
                )
            ).scalars()
        )
        await session.execute(delete(Comment).where(Comment.id == comment_id))
        await session.execute(
            update(Post)
            .where(Post.id == comment.post_id)
            .values(comment_count=Post.comment_count - 1 - len(replies))
        )
        if comment.parent_id is not None:
            await session.execute(
                update(Comment)
                .where(Comment.id == comment.parent_id)
                .values(reply_count=Comment.reply_count - 1)
            )
        await emit(
            session,
            SCHEMA,
            "comment.deleted",
            {"post_id": comment.post_id, "comment_ids": [comment_id, *replies]},
            aggregate_id=comment.post_id,
        )
    return record


def _grouped(
    recs: Iterable[CommentRecord], keys: list[int], key: str, request: PageRequest
) -> dict[int, Page[CommentRecord]]:
    grouped: dict[int, list[tuple[int, CommentRecord]]] = {k: [] for k in keys}
    for rec in recs:
        grouped[getattr(rec, key)].append((rec.id, rec))
    return {k: page_from_rows(v, request) for k, v in grouped.items()}


async def comment_pages(
    res: Resources, post_ids: list[int], request: PageRequest, viewer_id: int | None = None
) -> dict[int, Page[CommentRecord]]:
    """Top-level comments, newest first, one page per post, one statement (LATERAL over the
    post index)."""
    if not post_ids:
        return {}
    params = {"ids": list(post_ids), "viewer": viewer_id, "n": request.first + 1}
    if request.after is None:
        rows = await res.db.rows(_COMMENT_PAGES, params)
    else:
        rows = await res.db.rows(_COMMENT_PAGES_AFTER, {**params, "after": request.after})
    return _grouped(map(CommentRecord.from_row, rows), post_ids, "post_id", request)


def _comment_pages_sql(after: bool) -> TextClause:
    """Top-level comments, a page per post (LATERAL over the post index), as text built
    once (a NULL viewer: nobody hidden)."""
    return text(
        "SELECT c.* FROM unnest(:ids) AS p(pid) CROSS JOIN LATERAL ("
        f"SELECT {COMMENT_COLUMNS} FROM posts.comments WHERE post_id = p.pid AND parent_id IS NULL "
        f"AND author_id NOT IN ({hidden_sql('viewer')}) "
        + ("AND id < :after " if after else "")
        + "ORDER BY id DESC LIMIT :n) c ORDER BY c.post_id, c.id DESC"
    ).bindparams(
        bindparam("ids", type_=ARRAY(BigInteger)),
        bindparam("viewer", type_=BigInteger),
        *([bindparam("after", type_=BigInteger)] if after else []),
    )


_COMMENT_PAGES = _comment_pages_sql(after=False)
_COMMENT_PAGES_AFTER = _comment_pages_sql(after=True)


async def reply_pages(
    res: Resources, comment_ids: list[int], request: PageRequest, viewer_id: int | None = None
) -> dict[int, Page[CommentRecord]]:
    """Replies, oldest first (the conversation's order), one page per comment, one
    statement."""
    if not comment_ids:
        return {}
    parents = values(Column("cid", BigInteger), name="p").data([(c,) for c in comment_ids])
    inner = select(Comment).where(
        Comment.parent_id == parents.c.cid, *not_hidden(Comment.author_id, viewer_id)
    )
    if request.after is not None:
        inner = inner.where(Comment.id > request.after)
    lateral = inner.order_by(Comment.id).limit(request.first + 1).lateral("c")
    stmt = (
        select(lateral)
        .select_from(parents.join(lateral, true()))
        .order_by(lateral.c.parent_id, lateral.c.id)
    )
    async with res.db.session() as session:
        result = (await session.execute(stmt)).all()
    recs = (CommentRecord.of(c) for c in result)
    return _grouped(recs, comment_ids, "parent_id", request)


def _visible_comments(viewer_id: int | None) -> Select[Any]:
    return (
        select(Comment)
        .join(Post, Post.id == Comment.post_id)
        .where(*visible_posts(viewer_id), *not_hidden(Comment.author_id, viewer_id))
    )


async def comments_by_ids(
    res: Resources, ids: list[int], viewer_id: int | None = None
) -> dict[int, CommentRecord]:
    """The comments among `ids` the viewer may see (on a visible post, by a visible author)."""
    if not ids:
        return {}
    async with res.db.session() as session:
        rows = (
            (await session.execute(_visible_comments(viewer_id).where(Comment.id.in_(ids))))
            .scalars()
            .all()
        )
    return {c.id: CommentRecord.of(c) for c in rows}
