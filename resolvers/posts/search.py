"""searchPosts: PostgreSQL full-text search over post text, newest first (docs/social.md).

The query is read by `websearch_to_tsquery('english', ...)`, as a search box is used:
words (stemmed: "puppies" finds "puppy"), "quoted phrases", `or`, and `-word` to exclude;
it never fails on odd input. It is matched against `posts.search`, a stored tsvector of the
text with a GIN index (`ix_posts_posts_search`). Results are the visible posts (not
deleted, no block between author and viewer), newest first, paged by post id like every
other post list.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select

from models.posts import Post
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.errors import BadInput
from resolvers.posts.records import PostRecord
from resolvers.posts.visibility import visible_posts
from resolvers.runtime import Resources

MAX_QUERY = 200
_ENGLISH: ColumnElement[Any] = literal_column("'english'::regconfig")


def check_query(query: str) -> str:
    q = " ".join(query.split())
    if not q:
        raise BadInput("give words to search for", field="query")
    if len(q) > MAX_QUERY:
        raise BadInput(f"a search is at most {MAX_QUERY} characters", field="query")
    return q


async def search_posts(
    res: Resources, query: str, request: PageRequest, viewer_id: int | None
) -> Page[PostRecord]:
    q = check_query(query)
    stmt = select(Post).where(
        Post.search.op("@@")(func.websearch_to_tsquery(_ENGLISH, q)), *visible_posts(viewer_id)
    )
    if request.after is not None:
        stmt = stmt.where(Post.id < request.after)
    stmt = stmt.order_by(Post.id.desc()).limit(request.first + 1)
    async with res.db.session() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return page_from_rows([(p.id, PostRecord.of(p)) for p in rows], request)
