"""Creating, editing, deleting and reading posts.

Reads show only visible posts (resolvers/posts/visibility.py): not deleted, and not by an
account hidden from the viewer by a block. Deleting marks the post (`deleted_at`) and emits
`post.deleted`; workers do the rest (resolvers/posts/purge.py, the feed, analytics,
notifications)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    TextClause,
    bindparam,
    null,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import emit, producing
from models.posts import SCHEMA, Media, Post
from puppies.pagination import Page, PageRequest, page_from_rows
from resolvers.errors import BadInput, Forbidden, NotFound
from resolvers.posts.media import TYPE_NAMES, presign_upload, upload_key
from resolvers.posts.publication import PUBLISHED, count_post, emit_published
from resolvers.posts.records import POST_COLUMNS, CreatedPost, PostRecord
from resolvers.posts.visibility import hidden_sql, visible_posts
from resolvers.runtime import Resources


@dataclass(frozen=True)
class MediaSpec:
    content_type: str
    byte_size: int


def validate_text(res: Resources, text: str, *, has_media: bool) -> str:
    """The text to store (stripped); BadInput when it is empty without media or too long."""
    limit = res.settings.post_max_text_length
    text = text.strip()
    if not text and not has_media:
        raise BadInput("a post needs text or at least one media file", field="text")
    if len(text) > limit:
        raise BadInput(f"text is {len(text)} characters; the limit is {limit}", field="text")
    return text


def validate_new_post(res: Resources, text: str, media: list[MediaSpec]) -> str:
    """Raise BadInput naming the first violated limit; returns the text to store."""
    s = res.settings
    text = validate_text(res, text, has_media=bool(media))
    if len(media) > s.post_max_media:
        raise BadInput(
            f"a post has at most {s.post_max_media} media files (got {len(media)})", field="media"
        )
    allowed = [t.lower() for t in s.media_allowed_types]
    for i, m in enumerate(media):
        ctype = m.content_type.strip().lower()
        if ctype not in allowed:
            names = ", ".join(f"{TYPE_NAMES.get(t, t)} ({t})" for t in allowed)
            raise BadInput(
                f"media[{i}]: {m.content_type!r} is not accepted; use {names}",
                field=f"media.{i}.contentType",
            )
        if m.byte_size <= 0:
            raise BadInput(f"media[{i}]: byteSize must be positive", field=f"media.{i}.byteSize")
        if m.byte_size > s.media_max_bytes:
            raise BadInput(
                f"media[{i}]: {m.byte_size} bytes is over the limit of {s.media_max_bytes} bytes",
                field=f"media.{i}.byteSize",
            )
    return text


def iso_sql(column: str) -> str:
    """SQL: a timestamptz as Python's `datetime.isoformat()` writes the UTC datetime asyncpg
    reads (microseconds left out when there are none), for events built in a statement."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN date_trunc('second', {column}) = {column} "
        f'THEN to_char({utc}, \'YYYY-MM-DD"T"HH24\\:MI\\:SS"+00\\:00"\') '
        f'ELSE to_char({utc}, \'YYYY-MM-DD"T"HH24\\:MI\\:SS.US"+00\\:00"\') END'
    )


# A post without media in ONE statement, atomic alone (run in autocommit by `Database.rows`):
# the post (published as it is created), its author's published count, and its
# `post.published` event as `emit_published` writes it (with the request's trace). Where a
# transaction of five statements through the ORM (and a re-read of the new row) cost more
# CPU here and in PostgreSQL (bench/RESULTS.md, session 23).
_CREATE_PUBLISHED = text(
    "WITH p AS (INSERT INTO posts.posts (author_id, text) VALUES (:author_id, :text) "
    f"RETURNING {POST_COLUMNS}), "
    "n AS (INSERT INTO posts.post_counts AS pc (author_id, published, unpublished) "
    "SELECT author_id, 1, 0 FROM p ON CONFLICT (author_id) DO UPDATE "
    "SET published = pc.published + 1), "
    "ev AS (INSERT INTO posts.outbox (event_type, aggregate_id, payload, traceparent, "
    f"request_id) SELECT '{PUBLISHED}', p.id, jsonb_build_object('post_id', p.id, "
    f"'author_id', p.author_id, 'created_at', {iso_sql('p.created_at')}, "
    f"'published_at', {iso_sql('p.published_at')}), :traceparent, :request_id FROM p) "
    "SELECT p.* FROM p"
).bindparams(
    bindparam("author_id", type_=BigInteger),
    bindparam("text", type_=String),
    bindparam("traceparent", type_=String),
    bindparam("request_id", type_=String),
)


async def _create_published(res: Resources, author_id: int, text: str) -> PostRecord:
    # the outbox row as `emit` writes it: under its producer span, with its trace fields
    with producing(SCHEMA, PUBLISHED) as trace:
        rows: Sequence[Any] = await res.db.rows(
            _CREATE_PUBLISHED, {"author_id": author_id, "text": text, **trace}
        )
    return PostRecord.from_row(rows[0])


async def create_post(
    res: Resources, author_id: int, text: str, media: list[MediaSpec]
) -> CreatedPost:
    text = validate_new_post(res, text, media)
    if not media:
        return CreatedPost(post=await _create_published(res, author_id, text))
    return await _create_in_transaction(res, author_id, text, media)


async def _create_in_transaction(
    res: Resources, author_id: int, text: str, media: list[MediaSpec]
) -> CreatedPost:
    """A post (with its media rows: waiting for them) in a transaction of several
    statements. Without media as `_create_published` creates it (its tests compare the
    two)."""
    async with res.db.transaction() as session:
        # With media it waits for them (resolvers/posts/publication.py); without, it is live.
        post = Post(author_id=author_id, text=text)
        if media:
            # SQL NULL, not None: None would let the column's default (now()) apply
            post.published_at = null()
        session.add(post)
        await session.flush()
        rows: list[Media] = []
        for i, m in enumerate(media):
            row = Media(
                post_id=post.id,
                author_id=author_id,
                position=i,
                content_type=m.content_type.strip().lower(),
                byte_size=m.byte_size,
                object_key="",
            )
            session.add(row)
            rows.append(row)
        await session.flush()
        for row in rows:
            row.object_key = upload_key(row.id)
        await session.refresh(post)
        if post.published_at is None:
            await count_post(session, author_id, unpublished=1)
        else:
            await count_post(session, author_id, published=1)
            await emit_published(session, post)
    uploads = [presign_upload(res, row) for row in rows]
    return CreatedPost(post=PostRecord.of(post), uploads=uploads)


async def _own_post(session: AsyncSession, viewer_id: int, post_id: int) -> Post:
    """The viewer's own live post, locked; NotFound / Forbidden otherwise."""
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None or post.deleted_at is not None:
        raise NotFound(f"post {post_id} does not exist", field="id")
    if post.author_id != viewer_id:
        raise Forbidden("only the author can change or delete a post", field="id")
    return post


async def edit_post(res: Resources, viewer_id: int, post_id: int, text: str) -> PostRecord:
    """Replace the post's text (its author only); sets `edited_at`, emits `post.edited`."""
    async with res.db.transaction() as session:
        post = await _own_post(session, viewer_id, post_id)
        has_media = (
            await session.execute(select(Media.id).where(Media.post_id == post_id).limit(1))
        ).first() is not None
        new_text = validate_text(res, text, has_media=has_media)
        if new_text == post.text:
            return PostRecord.of(post)  # nothing to change: not marked edited
        post.text = new_text
        post.edited_at = datetime.now(UTC)
        await session.flush()
        await emit(
            session,
            SCHEMA,
            "post.edited",
            {"post_id": post_id, "author_id": viewer_id},
            aggregate_id=post_id,
        )
        return PostRecord.of(post)


async def delete_post(res: Resources, viewer_id: int, post_id: int) -> PostRecord:
    """Hide the post at once (its author only) and emit `post.deleted`: the purge job
    removes its likes, comments, media rows and files, the feed takes it out of every
    inbox, analytics and notifications forget it. Deleting it again is NOT_FOUND."""
    async with res.db.transaction() as session:
        post = await _own_post(session, viewer_id, post_id)
        post.deleted_at = datetime.now(UTC)
        record = PostRecord.of(post)
        keys = (
            await session.execute(
                select(Media.object_key, Media.stored_key, Media.thumbnails).where(
                    Media.post_id == post_id
                )
            )
        ).all()
        await session.flush()
        # the post leaves its author's count at once (the purge job deletes the row later)
        if post.published_at is None:
            await count_post(session, post.author_id, unpublished=-1)
        else:
            await count_post(session, post.author_id, published=-1)
        await emit(
            session,
            SCHEMA,
            "post.deleted",
            {
                "post_id": post_id,
                "author_id": post.author_id,
                "object_keys": [k for r in keys for k in media_keys(r)],
            },
            aggregate_id=post_id,
        )
    return record


def media_keys(row: Any) -> list[str]:
    """The S3 keys of one media row: (object_key, stored_key, thumbnails)."""
    object_key, stored, thumbs = row[0], row[1], row[2]
    out: list[str] = [object_key]
    if stored:
        out.append(stored)
    out.extend(str(t["key"]) for t in thumbs or [])
    return out


async def posts_by_ids(
    res: Resources, ids: list[int], viewer_id: int | None = None
) -> dict[int, PostRecord]:
    """The visible posts among `ids` (for `viewer_id`, when given): one statement."""
    return {pid: rec for pid, (rec, _) in (await posts_and_likes(res, ids, viewer_id)).items()}


async def posts_and_likes(
    res: Resources, ids: list[int], viewer_id: int | None
) -> dict[int, tuple[PostRecord, bool]]:
    """`posts_by_ids`, each with whether `viewer_id` likes it, in the same statement (the
    page's `viewerHasLiked` then costs no statement of its own)."""
    if not ids:
        return {}
    rows: Sequence[Any] = await res.db.rows(_POSTS_BY_IDS, {"ids": list(ids), "viewer": viewer_id})
    return {r[0]: (PostRecord.from_row(r), bool(r[8])) for r in rows}


# `visible_posts` as text (a NULL viewer: published posts only, nobody hidden, no likes),
# built once, with the viewer's like of each post (a primary-key probe).
_POSTS_BY_IDS = text(
    f"SELECT {POST_COLUMNS}, EXISTS (SELECT 1 FROM posts.likes l WHERE l.user_id = :viewer "
    "AND l.post_id = posts.posts.id) AS viewer_liked "
    "FROM posts.posts WHERE id = ANY(:ids) AND deleted_at IS NULL "
    "AND (published_at IS NOT NULL OR author_id = :viewer) "
    f"AND author_id NOT IN ({hidden_sql('viewer')})"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("viewer", type_=BigInteger))


async def post_authors(res: Resources, ids: Sequence[int]) -> dict[int, int]:
    """Who wrote each of these posts (post id -> author id); unknown and deleted ids are
    left out.

    For other domains, which may read posts only through this domain's functions."""
    if not ids:
        return {}
    async with res.db.read() as session:
        rows = await session.execute(
            select(Post.id, Post.author_id).where(Post.id.in_(list(ids)), Post.deleted_at.is_(None))
        )
    return {post_id: author_id for post_id, author_id in rows.all()}


_VISIBLE_IDS = text(
    "SELECT id FROM posts.posts WHERE id = ANY(:ids) AND deleted_at IS NULL "
    "AND (published_at IS NOT NULL OR author_id = :viewer)"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("viewer", type_=BigInteger))


async def visible_post_ids(res: Resources, ids: Sequence[int], viewer_id: int | None) -> set[int]:
    """Which of `ids` are posts `viewer_id` may see (published, or their own). For other
    domains checking references (analytics' events, once per batch): one statement, in
    autocommit on a plain connection, the ids as one array (one prepared statement
    whatever their number)."""
    if not ids:
        return set()
    async with res.db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = await auto.execute(_VISIBLE_IDS, {"ids": list(set(ids)), "viewer": viewer_id})
    return {int(r[0]) for r in rows}


async def get_post(res: Resources, post_id: int) -> PostRecord | None:
    return (await posts_by_ids(res, [post_id])).get(post_id)


async def posts_page(
    res: Resources,
    request: PageRequest,
    author_id: int | None = None,
    viewer_id: int | None = None,
) -> Page[PostRecord]:
    """Newest first; by one author (the `ix_posts_posts_author_id_id` range) or everyone;
    visible posts only."""
    stmt = select(Post).where(*visible_posts(viewer_id))
    if author_id is not None:
        stmt = stmt.where(Post.author_id == author_id)
    if request.after is not None:
        stmt = stmt.where(Post.id < request.after)
    stmt = stmt.order_by(Post.id.desc()).limit(request.first + 1)
    async with res.db.read() as session:
        rows = (await session.execute(stmt)).scalars().all()
    return page_from_rows([(p.id, PostRecord.of(p)) for p in rows], request)


async def posts_pages_by_author(
    res: Resources, author_ids: list[int], request: PageRequest, viewer_id: int | None = None
) -> dict[int, Page[PostRecord]]:
    """One page per author in one statement (a LATERAL join over the author index); an
    author hidden from the viewer has an empty page."""
    if not author_ids:
        return {}
    params = {"ids": list(author_ids), "viewer": viewer_id, "n": request.first + 1}
    if request.after is None:
        result = await res.db.rows(_AUTHOR_PAGES, params)
    else:
        result = await res.db.rows(_AUTHOR_PAGES_AFTER, {**params, "after": request.after})
    grouped: dict[int, list[tuple[int, PostRecord]]] = {a: [] for a in author_ids}
    for r in result:
        rec = PostRecord.from_row(r)
        grouped[rec.author_id].append((rec.id, rec))
    return {a: page_from_rows(rows, request) for a, rows in grouped.items()}


def _author_pages_sql(after: bool) -> TextClause:
    """`visible_posts`, a page per author (LATERAL over the author index), as text built
    once: a statement built per request (its VALUES list of ids) was compiled anew each
    time."""
    return text(
        f"SELECT p.* FROM unnest(:ids) AS a(aid) CROSS JOIN LATERAL (SELECT {POST_COLUMNS} "
        "FROM posts.posts WHERE author_id = a.aid AND deleted_at IS NULL "
        "AND (published_at IS NOT NULL OR author_id = :viewer) "
        f"AND author_id NOT IN ({hidden_sql('viewer')}) "
        + ("AND id < :after " if after else "")
        + "ORDER BY id DESC LIMIT :n) p ORDER BY p.author_id, p.id DESC"
    ).bindparams(
        bindparam("ids", type_=ARRAY(BigInteger)),
        bindparam("viewer", type_=BigInteger),
        *([bindparam("after", type_=BigInteger)] if after else []),
    )


_AUTHOR_PAGES = _author_pages_sql(after=False)
_AUTHOR_PAGES_AFTER = _author_pages_sql(after=True)
