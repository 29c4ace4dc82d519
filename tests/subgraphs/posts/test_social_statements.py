"""likedBy, comment replies and searchPosts cost a fixed number of SQL statements per level,
whatever the number of posts, comments or likers (the posts subgraph in this process, so
its statements can be counted)."""

from __future__ import annotations

from models.sqlcount import count_statements
from tests.subgraphs.posts.conftest import PostsClient

NEW = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { errors { code } } }"
COMMENT = """mutation($p: ID!, $r: ID) { addComment(input: {postId: $p, text: "hi", replyTo: $r}) {
  comment { id } errors { code } } }"""
NESTED = """query($first: Int!) { posts(first: $first) { edges { node { id likeCount
  likedBy(first: 10) { edges { node { id } } }
  comments(first: 10) { edges { node { id replyCount parent { id }
    replies(first: 10) { edges { node { id parent { id } } } } } } } } } } }"""
SEARCH = """query($q: String!) { searchPosts(query: $q, first: 50) { edges { node { id
  likedBy(first: 3) { edges { node { id } } } } } } }"""


async def _world(api: PostsClient, posts: int, author: int) -> list[str]:
    ids = []
    for i in range(posts):
        pid = (await api.data(NEW, {"t": f"pupper number {i}"}, user=author))["createPost"]["post"][
            "id"
        ]
        for liker in (author + 1, author + 2):
            await api.data(LIKE, {"id": pid}, user=liker)
        top = (await api.data(COMMENT, {"p": pid}, user=author + 3))["addComment"]["comment"]["id"]
        await api.data(COMMENT, {"p": pid, "r": top}, user=author + 4)
        ids.append(pid)
    return ids


async def test_nested_social_lists_cost_fixed_statements(posts_api: PostsClient) -> None:
    await _world(posts_api, 2, 100)
    with count_statements() as small:
        body = await posts_api.data(NESTED, {"first": 2}, user=7)
    assert all(len(e["node"]["likedBy"]["edges"]) == 2 for e in body["posts"]["edges"])
    await _world(posts_api, 6, 200)
    with count_statements() as large:
        body = await posts_api.data(NESTED, {"first": 8}, user=7)
    edges = body["posts"]["edges"]
    assert len(edges) == 8
    replies = [c["node"]["replies"]["edges"] for e in edges for c in e["node"]["comments"]["edges"]]
    assert all(len(r) == 1 for r in replies) and len(replies) == 8
    # posts page, like counts (Redis, not SQL), likedBy pages, comment pages, reply pages,
    # the replies' parents (one batch)
    assert len(small.queries()) == len(large.queries()) == 5, large.queries()

    with count_statements() as searched:
        found = await posts_api.data(SEARCH, {"q": "pupper"}, user=7)
    assert len(found["searchPosts"]["edges"]) == 8
    assert len(searched.queries()) == 2, searched.queries()  # the search, likedBy pages


COUNTS = """query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on User { id postCount } } }"""


async def test_post_counts_of_many_users_are_one_statement(posts_api: PostsClient) -> None:
    for author in (300, 301, 302):
        for _ in range(author - 299):
            await posts_api.data(NEW, {"t": "x"}, user=author)
    reps = [{"__typename": "User", "id": str(a)} for a in (300, 301, 302, 303)]
    with count_statements() as counter:
        body = await posts_api.data(COUNTS, {"reps": reps}, user=7)
    assert [e["postCount"] for e in body["_entities"]] == [1, 2, 3, 0]
    assert len(counter.queries()) == 1, counter.queries()
