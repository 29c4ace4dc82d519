"""Likes, comments and listings through the posts subgraph over real HTTP."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from models.db import Database
from models.sqlcount import count_statements
from resolvers.posts import likes
from resolvers.runtime import Resources
from tests.subgraphs.posts.conftest import PostsClient
from tests.support.polling import eventually

NEW = """mutation($t: String!) { createPost(input: {text: $t}) { post { id } errors { code } } }"""
LIKE = """mutation($id: ID!) { likePost(postId: $id) {
  post { id likeCount viewerHasLiked } errors { message code field } } }"""
UNLIKE = """mutation($id: ID!) { unlikePost(postId: $id) {
  post { id likeCount viewerHasLiked } errors { message code field } } }"""
POST = "query($id: ID!) { post(id: $id) { id likeCount viewerHasLiked commentCount } }"


async def new_post(api: PostsClient, user: int = 1, t: str = "hi") -> str:
    pid: str = (await api.data(NEW, {"t": t}, user=user))["createPost"]["post"]["id"]
    return pid


async def _column(settings, post_id: str) -> tuple[int, int]:
    db = Database(settings)
    try:
        async with db.session() as s:
            col = (
                await s.execute(
                    text("SELECT like_count FROM posts.posts WHERE id = :i"), {"i": int(post_id)}
                )
            ).scalar_one()
            rows = (
                await s.execute(
                    text("SELECT count(*) FROM posts.likes WHERE post_id = :i"), {"i": int(post_id)}
                )
            ).scalar_one()
        return col, rows
    finally:
        await db.dispose()


async def test_double_like_and_double_unlike(posts_api):
    pid = await new_post(posts_api)
    a = (await posts_api.data(LIKE, {"id": pid}, user=5))["likePost"]
    b = (await posts_api.data(LIKE, {"id": pid}, user=5))["likePost"]
    assert a == b == {"post": {"id": pid, "likeCount": 1, "viewerHasLiked": True}, "errors": []}
    c = (await posts_api.data(UNLIKE, {"id": pid}, user=5))["unlikePost"]
    d = (await posts_api.data(UNLIKE, {"id": pid}, user=5))["unlikePost"]
    never = (await posts_api.data(UNLIKE, {"id": pid}, user=6))["unlikePost"]
    assert c == d == {"post": {"id": pid, "likeCount": 0, "viewerHasLiked": False}, "errors": []}
    assert never["post"]["likeCount"] == 0 and never["errors"] == []
    assert await _column(posts_api.settings, pid) == (0, 0)


async def test_like_bad_paths_change_nothing(posts_api):
    pid = await new_post(posts_api)
    anon = await posts_api.gql(LIKE, {"id": pid})
    assert anon["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    missing = (await posts_api.data(LIKE, {"id": "424242"}, user=5))["likePost"]
    assert missing["post"] is None
    assert (missing["errors"][0]["code"], missing["errors"][0]["field"]) == ("NOT_FOUND", "postId")
    bad = (await posts_api.data(LIKE, {"id": "not-a-number"}, user=5))["likePost"]
    assert bad["errors"][0]["code"] == "BAD_USER_INPUT"
    assert await _column(posts_api.settings, pid) == (0, 0)


async def test_200_concurrent_likes_give_200_after_the_flush(posts_api, worker):
    pid = await new_post(posts_api)
    results = await asyncio.gather(
        *(posts_api.data(LIKE, {"id": pid}, user=u) for u in range(1000, 1200))
    )
    assert all(r["likePost"]["errors"] == [] for r in results)

    async def flushed() -> bool:
        return await _column(posts_api.settings, pid) == (200, 200)

    await eventually(flushed, timeout=30)
    got = (await posts_api.data(POST, {"id": pid}, user=1000))["post"]
    assert (got["likeCount"], got["viewerHasLiked"]) == (200, True)


async def test_comments_add_list_delete(posts_api):
    pid = await new_post(posts_api, user=1)
    add = """mutation($p: ID!, $t: String!) { addComment(input: {postId: $p, text: $t}) {
      comment { id text author { id } } errors { code field message } } }"""
    ids = []
    for i in range(3):
        r = (await posts_api.data(add, {"p": pid, "t": f"c{i}"}, user=2))["addComment"]
        ids.append(r["comment"]["id"])
    empty = (await posts_api.data(add, {"p": pid, "t": "   "}, user=2))["addComment"]
    assert (empty["comment"], empty["errors"][0]["field"]) == (None, "text")
    q = """query($id: ID!, $after: String) { post(id: $id) { commentCount
      comments(first: 2, after: $after) { edges { node { text } }
      pageInfo { hasNextPage endCursor } } } }"""
    page1 = (await posts_api.data(q, {"id": pid}))["post"]
    assert page1["commentCount"] == 3
    assert [e["node"]["text"] for e in page1["comments"]["edges"]] == ["c2", "c1"]
    page2 = await posts_api.data(
        q, {"id": pid, "after": page1["comments"]["pageInfo"]["endCursor"]}
    )
    assert [e["node"]["text"] for e in page2["post"]["comments"]["edges"]] == ["c0"]
    dele = """mutation($id: ID!) { deleteComment(id: $id) { deletedCommentId errors { code } } }"""
    stranger = (await posts_api.data(dele, {"id": ids[0]}, user=3))["deleteComment"]
    assert stranger["errors"][0]["code"] == "FORBIDDEN"
    by_post_author = (await posts_api.data(dele, {"id": ids[0]}, user=1))["deleteComment"]
    assert by_post_author == {"deletedCommentId": ids[0], "errors": []}
    assert (await posts_api.data(POST, {"id": pid}))["post"]["commentCount"] == 2


async def test_delete_post_author_only(posts_api):
    pid = await new_post(posts_api, user=1)
    dele = """mutation($id: ID!) { deletePost(id: $id) { deletedPostId errors { code } } }"""
    assert (await posts_api.data(dele, {"id": pid}, user=2))["deletePost"]["errors"][0][
        "code"
    ] == "FORBIDDEN"
    assert (await posts_api.data(POST, {"id": pid}))["post"] is not None
    assert (await posts_api.data(dele, {"id": pid}, user=1))["deletePost"] == {
        "deletedPostId": pid,
        "errors": [],
    }
    assert (await posts_api.data(POST, {"id": pid}))["post"] is None
    again = (await posts_api.data(dele, {"id": pid}, user=1))["deletePost"]
    assert again["errors"][0]["code"] == "NOT_FOUND"


async def test_text_limit(posts_api):
    r = await posts_api.data(NEW, {"t": "x" * 2001}, user=1)
    assert r["createPost"] == {"post": None, "errors": [{"code": "BAD_USER_INPUT"}]}


LISTING = """
query($first: Int!) { posts(first: $first) { edges { node {
  id text createdAt author { id } likeCount viewerHasLiked commentCount
  media { id status contentType width height url failureReason
          thumbnails { width height url } }
  comments(first: 2) { edges { node { id text author { id } } } }
} } } }"""

ENTITIES = """
query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on User { id posts(first: 20) { edges { node { id likeCount viewerHasLiked
                                                     media { id } } } } }
  ... on Post { id text likeCount } } }"""


async def _published(res: Resources, post_id: int) -> None:
    """As if its media had been processed (the worker is not running here)."""
    async with res.db.transaction() as session:
        await session.execute(
            text(
                "WITH p AS (UPDATE posts.posts SET published_at = now() WHERE id = :p "
                "RETURNING author_id) UPDATE posts.post_counts c SET published = published + 1, "
                "unpublished = unpublished - 1 FROM p WHERE c.author_id = p.author_id"
            ),
            {"p": post_id},
        )


async def _seed_listing(settings, n: int) -> list[int]:
    from resolvers.posts import comments, posts
    from resolvers.posts.posts import MediaSpec

    res = Resources.open(settings)
    ids = []
    try:
        for i in range(n):
            created = await posts.create_post(
                res,
                1 + i % 3,
                f"post {i}",
                [MediaSpec("image/png", 100), MediaSpec("image/jpeg", 200)],
            )
            ids.append(created.post.id)
            await _published(res, created.post.id)
            if i % 2:
                await likes.like_post(res, 77, created.post.id)
            await comments.add_comment(res, 2, created.post.id, f"comment on {i}")
    finally:
        await res.close()
    return ids


async def test_a_listing_costs_a_fixed_number_of_statements(posts_api):
    await _seed_listing(posts_api.settings, 50)
    counts = {}
    for first in (5, 50):
        with count_statements() as counter:
            data = await posts_api.data(LISTING, {"first": first}, user=77)
        edges = data["posts"]["edges"]
        assert len(edges) == first
        assert all(len(e["node"]["media"]) == 2 for e in edges)
        assert [e["node"]["viewerHasLiked"] for e in edges] == [
            e["node"]["likeCount"] == 1 for e in edges
        ]
        counts[first] = len(counter.queries())
    # posts page, media, viewer's likes, comments: one statement each, whatever the size
    assert counts == {5: 4, 50: 4}
    reps = [{"__typename": "User", "id": str(u)} for u in (1, 2, 3)]
    with count_statements() as counter:
        data = await posts_api.data(ENTITIES, {"reps": reps}, user=77)
    assert [len(u["posts"]["edges"]) for u in data["_entities"]] == [17, 17, 16]
    assert len(counter.queries()) == 3  # authors' pages (LATERAL), media, viewer's likes
    counted = ENTITIES.replace(
        "... on User { id posts(first: 20) {",
        "... on User { id postCount posts(first: 20) { totalCount",
    )
    with count_statements() as counter:
        data = await posts_api.data(counted, {"reps": reps}, user=77)
    assert [(u["postCount"], u["posts"]["totalCount"]) for u in data["_entities"]] == [
        (17, 17),
        (17, 17),
        (16, 16),
    ]
    assert len(counter.queries()) == 4  # + every author's counters, in one statement


HOME_PAGE_POSTS = """
query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on Post { id text likeCount viewerHasLiked media { id } author { id } } } }"""


async def test_the_home_feed_page_s_posts_cost_two_statements(posts_api):
    """What the router asks for a home feed page: the posts with the viewer's likes in one
    statement, their media in another; anonymous viewers like nothing."""
    ids = await _seed_listing(posts_api.settings, 20)
    reps = [{"__typename": "Post", "id": str(i)} for i in ids]
    for viewer in (77, None):
        with count_statements() as counter:
            data = await posts_api.data(HOME_PAGE_POSTS, {"reps": reps}, user=viewer)
        posts = data["_entities"]
        assert [p["id"] for p in posts] == [str(i) for i in ids]
        liked = [p["viewerHasLiked"] for p in posts]
        assert liked == [viewer is not None and i % 2 == 1 for i in range(20)]
        assert [p["likeCount"] for p in posts] == [i % 2 for i in range(20)]
        assert all(len(p["media"]) == 2 for p in posts)
        assert len(counter.queries()) == 2


MIXED = """
query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on Post { id text likeCount viewerHasLiked author { id } }
  ... on Comment { id text post { id likeCount } }
  ... on User { id } } }"""


async def test_entities_are_answered_in_order_batched_or_one_by_one(posts_api):
    """Posts and comments are resolved a list at a time (`resolve_references`); a list
    with a type that has no such method is resolved one representation at a time. Either
    way: each entity in its place, null for a missing one, the error of a bad id at its
    own path, live like counts and the viewer's likes."""
    ids = await _seed_listing(posts_api.settings, 3)
    detail = await posts_api.data(
        "query($id: ID!) { post(id: $id) { comments(first: 1) { edges { node { id } } } } }",
        {"id": str(ids[1])},
    )
    comment = detail["post"]["comments"]["edges"][0]["node"]["id"]
    reps = [
        {"__typename": "Post", "id": str(ids[1])},
        {"__typename": "Post", "id": "x1"},
        {"__typename": "Comment", "id": comment},
        {"__typename": "Post", "id": "999999999"},
        {"__typename": "Comment", "id": "nope"},
        {"__typename": "Post", "id": str(ids[0])},
    ]
    batched = await posts_api.gql(MIXED, {"reps": reps}, user=77)
    one_by_one = await posts_api.gql(
        MIXED, {"reps": [*reps, {"__typename": "User", "id": "5"}]}, user=77
    )
    post_1 = {
        "id": str(ids[1]),
        "text": "post 1",
        "likeCount": 1,
        "viewerHasLiked": True,
        "author": {"id": "2"},
    }
    expected = [
        post_1,
        None,
        {"id": comment, "text": "comment on 1", "post": {"id": str(ids[1]), "likeCount": 1}},
        None,
        None,
        {
            **post_1,
            "id": str(ids[0]),
            "text": "post 0",
            "likeCount": 0,
            "viewerHasLiked": False,
            "author": {"id": "1"},
        },
    ]
    assert batched["data"]["_entities"] == expected
    assert one_by_one["data"]["_entities"] == [*expected, {"id": "5"}]
    for body in (batched, one_by_one):
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["_entities", 1], "BAD_USER_INPUT")
        ]


TRACED_COMMENT = """mutation($p: ID!, $t: String!, $r: ID) {
  addComment(input: {postId: $p, text: $t, replyTo: $r}) { comment { id } errors { code } } }"""
TRACED_EDIT = """mutation($id: ID!, $t: String!) {
  editPost(input: {id: $id, text: $t}) { post { id } errors { code } } }"""


async def test_every_events_trace_is_its_requests_one_statement_or_emit(posts_api):
    """Requests with a known traceparent and request id: the like and unlike, the post
    without media and the top-level comment (each one statement) write event rows whose
    trace columns equal those of the rows `emit` writes for the same request headers (an
    edit, a reply: transactions through `emit`), and the incoming ones."""
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    rid = "posts5-trace-check"
    headers = {
        "Authorization": f"Bearer {posts_api.token(7)}",
        "traceparent": traceparent,
        "x-request-id": rid,
    }

    async def call(query: str, variables: dict) -> dict:
        r = await posts_api.http.post(
            posts_api.url + "/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
        )
        body = r.json()
        assert "errors" not in body, body
        return body["data"]

    pid = (await call(NEW, {"t": "traced"}))["createPost"]["post"]["id"]
    await call(LIKE, {"id": pid})
    await call(UNLIKE, {"id": pid})
    top = (await call(TRACED_COMMENT, {"p": pid, "t": "top", "r": None}))["addComment"]
    await call(TRACED_COMMENT, {"p": pid, "t": "reply", "r": top["comment"]["id"]})
    await call(TRACED_EDIT, {"id": pid, "t": "traced, edited"})
    db = Database(posts_api.settings)
    try:
        async with db.session() as s:
            rows = (
                await s.execute(
                    text(
                        "SELECT event_type, traceparent, request_id FROM posts.outbox "
                        "WHERE aggregate_id = :a"
                    ),
                    {"a": int(pid)},
                )
            ).all()
    finally:
        await db.dispose()
    by_type: dict[str, set[tuple[str, str]]] = {}
    assert len(rows) == 6, rows
    for event_type, tp, r in rows:
        by_type.setdefault(event_type, set()).add((tp, r))
    assert sorted(by_type) == [
        "comment.created",
        "post.edited",
        "post.liked",
        "post.published",
        "post.unliked",
    ], by_type
    assert {v for vs in by_type.values() for v in vs} == {(traceparent, rid)}, by_type
