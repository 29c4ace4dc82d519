"""`Post.likedBy`: who liked a post, newest like first, one statement for every post of a
level (a LATERAL join over `ix_posts_likes_post_id_id`, an index-only scan). Accounts
hidden from the viewer by a block are left out."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, select, true, values

from models.posts import Like
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.posts.visibility import not_hidden
from resolvers.runtime import Resources


async def liker_pages(
    res: Resources, post_ids: list[int], request: PageRequest, viewer_id: int | None
) -> dict[int, Page[int]]:
    """For each post, a page of the ids of the accounts that liked it."""
    if not post_ids:
        return {}
    posts = values(Column("pid", BigInteger), name="p").data([(p,) for p in post_ids])
    inner = select(Like.id, Like.post_id, Like.user_id).where(
        Like.post_id == posts.c.pid, *not_hidden(Like.user_id, viewer_id)
    )
    if request.after is not None:
        inner = inner.where(Like.id < request.after)
    lateral = inner.order_by(Like.id.desc()).limit(request.first + 1).lateral("l")
    stmt = (
        select(lateral.c.id, lateral.c.post_id, lateral.c.user_id)
        .select_from(posts.join(lateral, true()))
        .order_by(lateral.c.post_id, lateral.c.id.desc())
    )
    async with res.db.session() as session:
        rows = (await session.execute(stmt)).all()
    grouped: dict[int, list[tuple[int, int]]] = {p: [] for p in post_ids}
    for like_id, post_id, user_id in rows:
        grouped[post_id].append((like_id, user_id))
    return {p: page_from_rows(r, request) for p, r in grouped.items()}
