"""Comments: add, delete, and a page of comments for many posts in one statement."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, delete, select, true, update, values

from models.outbox import emit
from models.posts import SCHEMA, Comment, Post
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.errors import BadInput, Forbidden, NotFound
from resolvers.posts.publication import visible_clause
from resolvers.posts.records import CommentRecord
from resolvers.runtime import Resources


async def add_comment(res: Resources, author_id: int, post_id: int, text: str) -> CommentRecord:
    text = text.strip()
    limit = res.settings.post_max_text_length
    if not text:
        raise BadInput("a comment needs text", field="text")
    if len(text) > limit:
        raise BadInput(f"text is {len(text)} characters; the limit is {limit}", field="text")
    async with res.db.transaction() as session:
        bumped = (
            await session.execute(
                update(Post)
                .where(Post.id == post_id, visible_clause(author_id))
                .values(comment_count=Post.comment_count + 1)
                .returning(Post.id)
            )
        ).first()
        if bumped is None:
            raise NotFound(f"post {post_id} does not exist", field="postId")
        comment = Comment(post_id=post_id, author_id=author_id, text=text)
        session.add(comment)
        await session.flush()
        await session.refresh(comment)
        await emit(
            session,
            SCHEMA,
            "comment.created",
            {"comment_id": comment.id, "post_id": post_id, "author_id": author_id},
            aggregate_id=post_id,
        )
    return CommentRecord.of(comment)


async def delete_comment(res: Resources, viewer_id: int, comment_id: int) -> CommentRecord:
    """The comment's author or the post's author may delete it."""
    async with res.db.transaction() as session:
        row = (
            await session.execute(
                select(Comment, Post.author_id)
                .join(Post, Post.id == Comment.post_id)
                .where(Comment.id == comment_id)
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
        await session.execute(delete(Comment).where(Comment.id == comment_id))
        await session.execute(
            update(Post)
            .where(Post.id == comment.post_id)
            .values(comment_count=Post.comment_count - 1)
        )
    return record


async def comment_pages(
    res: Resources, post_ids: list[int], request: PageRequest
) -> dict[int, Page[CommentRecord]]:
    """Newest first, one page per post, one statement (LATERAL over the post index)."""
    if not post_ids:
        return {}
    posts = values(Column("pid", BigInteger), name="p").data([(p,) for p in post_ids])
    inner = select(Comment).where(Comment.post_id == posts.c.pid)
    if request.after is not None:
        inner = inner.where(Comment.id < request.after)
    lateral = inner.order_by(Comment.id.desc()).limit(request.first + 1).lateral("c")
    stmt = (
        select(lateral)
        .select_from(posts.join(lateral, true()))
        .order_by(lateral.c.post_id, lateral.c.id.desc())
    )
    async with res.db.read() as session:
        result = (await session.execute(stmt)).all()
    grouped: dict[int, list[tuple[int, CommentRecord]]] = {p: [] for p in post_ids}
    for r in result:
        m = r._mapping
        rec = CommentRecord(
            id=m["id"],
            post_id=m["post_id"],
            author_id=m["author_id"],
            text=m["text"],
            created_at=m["created_at"],
        )
        grouped[rec.post_id].append((rec.id, rec))
    return {p: page_from_rows(rows, request) for p, rows in grouped.items()}
