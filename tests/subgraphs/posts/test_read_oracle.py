"""Reads of posts answer what the rows say, over generated worlds (an oracle, not the
same code twice): each post's text, author, counts, whether the viewer likes it, and a
post's comment page, read through the subgraph (`_entities`, `post`, a like's payload),
against the same facts read straight from PostgreSQL and Redis.

The fast paths under test: records built from a row by position (`PostRecord.from_row`,
`CommentRecord.from_row`), `likeCount`/`viewerHasLiked` answered from what the post's own
statement read (`PostsLoaders._liked_read`, `_counts_read`) with the DataLoaders'
first-value-wins rule, and the like statement run through `Database.rows`.
"""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis

from resolvers.posts.likes import LIVE
from resolvers.posts.records import (
    COMMENT_COLUMNS,
    POST_COLUMNS,
    CommentRecord,
    PostRecord,
)
from tests.subgraphs.posts.conftest import PostsClient

NEW = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } } }"
WITH_MEDIA = """mutation($t: String!) { createPost(input: {text: $t, media: [
  {contentType: "image/png", byteSize: 100}]}) { post { id } } }"""
LIKE = """mutation($id: ID!) { likePost(postId: $id) { post { id likeCount viewerHasLiked }
  errors { code } } }"""
UNLIKE = """mutation($id: ID!) { unlikePost(postId: $id) { post { id likeCount viewerHasLiked }
  errors { code } } }"""
EDIT = (
    "mutation($id: ID!, $t: String!) { editPost(input: {id: $id, text: $t}) { errors { code } } }"
)
DELETE = "mutation($id: ID!) { deletePost(id: $id) { errors { code } } }"
COMMENT = """mutation($p: ID!, $t: String!, $r: ID) { addComment(input: {postId: $p, text: $t,
  replyTo: $r}) { comment { id } errors { code } } }"""
FIELDS = "id text createdAt edited likeCount viewerHasLiked commentCount author { id }"
ENTITIES = f"""query($r: [_Any!]!) {{ _entities(representations: $r) {{
  ... on Post {{ {FIELDS} }} }} }}"""
# a post read by another field of the same request, before or with the entities
BOTH = f"""query($r: [_Any!]!, $id: ID!) {{ post(id: $id) {{ {FIELDS} }}
  _entities(representations: $r) {{ ... on Post {{ {FIELDS} }} }}
  again: post(id: $id) {{ {FIELDS} }} }}"""
DETAIL = f"""query($id: ID!) {{ post(id: $id) {{ {FIELDS} comments(first: 3) {{
  edges {{ node {{ id text createdAt author {{ id }} replyCount }} }}
  pageInfo {{ hasNextPage }} }} }} }}"""


def test_columns_are_the_records_fields_in_order() -> None:
    assert [f.name for f in fields(PostRecord)] == POST_COLUMNS.split(", ")
    assert [f.name for f in fields(CommentRecord)] == COMMENT_COLUMNS.split(", ")


async def _world(api: PostsClient, rng: random.Random, redis: Redis) -> tuple[list[str], list[int]]:
    users = [400 + i for i in range(5)]
    ids: list[str] = []
    owner: dict[str, int] = {}
    for i in range(rng.randint(6, 12)):
        author = rng.choice(users)
        waiting = rng.random() < 0.2  # waiting for its media: its author's only
        made = await api.data(WITH_MEDIA if waiting else NEW, {"t": f"pup {i}"}, user=author)
        pid = made["createPost"]["post"]["id"]
        ids.append(pid)
        if not waiting:
            owner[pid] = author
    published = sorted(owner)
    for _ in range(rng.randint(5, 40)):
        pid, user = rng.choice(published), rng.choice(users)
        await api.data(rng.choice([LIKE, LIKE, UNLIKE]), {"id": pid}, user=user)
    for pid in rng.sample(published, rng.randint(0, 2)):
        await api.data(EDIT, {"id": pid, "t": "pup, edited"}, user=owner[pid])
    comments: list[tuple[str, str]] = []
    for _ in range(rng.randint(0, 10)):
        pid = rng.choice(published)
        on_post = [c for p, c in comments if p == pid]
        reply = rng.choice(on_post) if on_post and rng.random() < 0.3 else None
        text = f"c{rng.randrange(1000)}"
        made = await api.data(COMMENT, {"p": pid, "t": text, "r": reply}, user=rng.choice(users))
        comments.append((pid, made["addComment"]["comment"]["id"]))
    # some live counters gone (evicted, expired): the column is served for those
    for pid in rng.sample(published, rng.randint(0, len(published))):
        await redis.delete(LIVE + pid)
    if rng.random() < 0.5:
        gone = rng.choice(published)
        await api.data(DELETE, {"id": gone}, user=owner[gone])
    return ids, users


async def _truth(
    conn: asyncpg.Connection, redis: Redis, pid: int, viewer: int | None
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM posts.posts WHERE id = $1 AND deleted_at IS NULL "
        "AND (published_at IS NOT NULL OR author_id = $2)",
        pid,
        viewer,
    )
    if row is None:
        return None
    live = await redis.get(LIVE + str(pid))
    liked = viewer is not None and bool(
        await conn.fetchval(
            "SELECT count(*) FROM posts.likes WHERE post_id = $1 AND user_id = $2", pid, viewer
        )
    )
    return {
        "id": str(pid),
        "text": row["text"],
        "createdAt": row["created_at"],
        "edited": row["edited_at"] is not None,
        "likeCount": int(live) if live is not None else row["like_count"],
        "viewerHasLiked": liked,
        "commentCount": row["comment_count"],
        "author": {"id": str(row["author_id"])},
    }


def _answered(post: dict[str, Any] | None) -> dict[str, Any] | None:
    if post is None:
        return None
    return {**post, "createdAt": datetime.fromisoformat(post["createdAt"])}


async def test_post_reads_answer_what_the_rows_say(posts_api: PostsClient) -> None:
    dsn = posts_api.settings.database_url
    assert dsn
    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    assert posts_api.settings.redis_url
    redis = Redis.from_url(posts_api.settings.redis_url)
    checked = liked_seen = 0
    try:
        for seed in range(3):
            rng = random.Random(2300 + seed)
            if seed:
                await conn.execute("TRUNCATE posts.posts, posts.likes, posts.comments CASCADE")
            ids, users = await _world(posts_api, rng, redis)
            for _ in range(25):
                viewer = rng.choice([None, *users])
                picks = rng.choices([*ids, "999999"], k=rng.randint(1, 2 * len(ids)))
                reps = [{"__typename": "Post", "id": i} for i in picks]
                one = rng.choice(picks)
                both = rng.random() < 0.3
                query, variables = (
                    (BOTH, {"r": reps, "id": one}) if both else (ENTITIES, {"r": reps})
                )
                got = await posts_api.data(query, variables, user=viewer)
                want = [await _truth(conn, redis, int(i), viewer) for i in picks]
                assert [_answered(p) for p in got["_entities"]] == want, (picks, viewer)
                if both:
                    truth = await _truth(conn, redis, int(one), viewer)
                    assert _answered(got["post"]) == truth == _answered(got["again"])
                checked += sum(p is not None for p in want)
                liked_seen += sum(bool(p and p["viewerHasLiked"]) for p in want)

                pid = rng.choice(ids)
                detail = (await posts_api.data(DETAIL, {"id": pid}, user=viewer))["post"]
                truth = await _truth(conn, redis, int(pid), viewer)
                if truth is None:
                    assert detail is None
                    continue
                page = detail.pop("comments")
                assert _answered(detail) == truth
                rows = await conn.fetch(
                    "SELECT id, text, created_at, author_id, reply_count FROM posts.comments "
                    "WHERE post_id = $1 AND parent_id IS NULL ORDER BY id DESC LIMIT 4",
                    int(pid),
                )
                assert page["pageInfo"]["hasNextPage"] == (len(rows) > 3)
                assert [
                    {
                        "id": str(r["id"]),
                        "text": r["text"],
                        "createdAt": r["created_at"],
                        "author": {"id": str(r["author_id"])},
                        "replyCount": r["reply_count"],
                    }
                    for r in rows[:3]
                ] == [
                    {**e["node"], "createdAt": datetime.fromisoformat(e["node"]["createdAt"])}
                    for e in page["edges"]
                ]

                # a like or unlike answers the post as it is after it
                if viewer is not None and rng.random() < 0.5:
                    body = await posts_api.data(
                        rng.choice([LIKE, UNLIKE]), {"id": pid}, user=viewer
                    )
                    payload = body.get("likePost") or body.get("unlikePost")
                    after = await _truth(conn, redis, int(pid), viewer)
                    assert after is not None
                    want_post = {k: after[k] for k in ("id", "likeCount", "viewerHasLiked")}
                    assert payload == {"post": want_post, "errors": []}
    finally:
        await redis.aclose()
        await conn.close()
    assert checked > 100 and liked_seen > 10, (checked, liked_seen)
