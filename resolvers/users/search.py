"""searchUsers: accounts by username prefix or display-name word prefix (docs/social.md).

"ali" finds `alice`, `alibaba` (username prefix, btree on `lower(username)
text_pattern_ops`) and "Bob Alison" (a display-name word starting with "ali", GIN on
`to_tsvector('simple', display_name)` with a prefix tsquery). Ranked: the exact username
first, then username prefixes, then display-name matches; within each, most followers
first, then newest account. The cursor is the keyset (rank, followers, id) of the last
row, so pages never repeat a row while counts stand still. Accounts that block the viewer
are left out (the viewer's own blocks stay findable, so they can be lifted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, or_, select, tuple_
from sqlalchemy.orm import aliased

from models.users import Block, User
from puppies.pagination import KeysetRequest, Page, page_from_rows
from resolvers.errors import BadInput
from resolvers.runtime import Resources

MAX_QUERY = 100
MAX_WORDS = 8
_WORD = re.compile(r"\w+")
_SIMPLE: ColumnElement[Any] = literal_column("'simple'::regconfig")


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_query(query: str) -> tuple[str, list[str]]:
    """(the lowercased query for username matching, the display-name words)."""
    q = query.strip().lstrip("@").strip().lower()
    if not q:
        raise BadInput("give at least one character to search for", field="query")
    if len(q) > MAX_QUERY:
        raise BadInput(f"a search is at most {MAX_QUERY} characters", field="query")
    return q, _WORD.findall(q)[:MAX_WORDS]


def _tsquery(words: Sequence[str]) -> str:
    # each word is \w+ only, so quoting it is safe; ':*' makes it a prefix
    return " & ".join(f"'{w}':*" for w in words)


async def search_users(
    res: Resources, query: str, request: KeysetRequest, viewer_id: int | None
) -> Page[User]:
    q, words = parse_query(query)
    lowered = func.lower(User.username)
    prefix = _escape_like(q) + "%"
    username_match = lowered.like(prefix, escape="\\")
    match: ColumnElement[bool] = username_match
    if words:
        match = or_(
            username_match,
            func.to_tsvector(_SIMPLE, User.display_name).op("@@")(
                func.to_tsquery(_SIMPLE, _tsquery(words))
            ),
        )
    tier = case((lowered == q, 0), (username_match, 1), else_=2).label("tier")
    inner = select(User, tier).where(match)
    if viewer_id is not None:
        inner = inner.where(
            User.id.not_in(select(Block.blocker_id).where(Block.blocked_id == viewer_id))
        )
    sub = inner.subquery("s")
    user = aliased(User, sub)
    stmt = select(user, sub.c.tier)
    if request.after is not None:
        t, followers, last = request.after
        stmt = stmt.where(
            tuple_(sub.c.tier, -sub.c.follower_count, -sub.c.id) > tuple_(t, -followers, -last)
        )
    stmt = stmt.order_by(sub.c.tier, sub.c.follower_count.desc(), sub.c.id.desc()).limit(
        request.first + 1
    )
    async with res.db.session() as session:
        rows = (await session.execute(stmt)).all()
    return page_from_rows(
        [((int(t), u.follower_count, u.id), u) for u, t in rows],
        request,
    )
