"""Which posts, comments and likers a viewer may see (docs/social.md).

- A deleted post (`deleted_at` set) is gone for everyone, at once, while the
  `posts.purge_post` job cleans up behind it.
- A post not yet published (its media are not all READY; resolvers/posts/publication.py)
  is its author's only.
- A block hides two accounts from each other both ways: a viewer sees no post, comment or
  like of an account it blocks or that blocks it. The users domain says who that is
  (`resolvers.users.graph_queries.hidden_user_ids`); the condition is composed into each
  read's own statement, so a filtered list is still one statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from models.posts import Post
from resolvers.posts.publication import visible_clause
from resolvers.users.graph_queries import hidden_user_ids, hidden_user_ids_sql


def not_hidden(column: Any, viewer_id: int | None) -> list[ColumnElement[bool]]:
    """`column` (a user id) is not hidden from the viewer; nothing for anonymous viewers."""
    if viewer_id is None:
        return []
    return [column.not_in(hidden_user_ids(viewer_id))]


def visible_posts(viewer_id: int | None) -> list[ColumnElement[bool]]:
    """Conditions on `Post`: not deleted, published (or the viewer's own), and not by an
    account hidden from the viewer."""
    return [
        Post.deleted_at.is_(None),
        visible_clause(viewer_id),
        *not_hidden(Post.author_id, viewer_id),
    ]


def hidden_sql(viewer_param: str) -> str:
    """For statements written as text: the ids hidden from the viewer bound as
    `viewer_param` (use as `author_id NOT IN (...)`)."""
    return hidden_user_ids_sql(viewer_param)
