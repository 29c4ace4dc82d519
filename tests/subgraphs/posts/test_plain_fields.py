"""The posts subgraph's plain fields (context fields likeCount, viewerHasLiked, ...; data
fields text, createdAt, author; `_entities`' union: subgraphs/common/plain.py) answer as the
general path does, over generated worlds of real posts: likes, edits, comments, a deletion,
a post still waiting for its media, viewers signed in or not, entity lists with missing and
malformed ids, and every read that gives posts (entities, a post, the newest posts, an
author's posts, a search)."""

from __future__ import annotations

import copy
import random
from typing import Any, cast

from graphql import GraphQLObjectType, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from puppies.auth import Viewer
from subgraphs.common.context import RequestContext
from subgraphs.common.plain import PlainFieldsExecutionContext, context_resolver
from subgraphs.posts.schema import schema
from tests.subgraphs.posts.conftest import PostsClient
from tests.support.execution import execute_with

NEW = "mutation($t: String!) { createPost(input: {text: $t}) { post { id } } }"
WITH_MEDIA = """mutation($t: String!) { createPost(input: {text: $t, media: [
  {contentType: "image/png", byteSize: 100}]}) { post { id } } }"""
LIKE = "mutation($id: ID!) { likePost(postId: $id) { errors { code } } }"
EDIT = (
    "mutation($id: ID!, $t: String!) { editPost(input: {id: $id, text: $t}) { errors { code } } }"
)
DELETE = "mutation($id: ID!) { deletePost(id: $id) { errors { code } } }"
COMMENT = """mutation($p: ID!) { addComment(input: {postId: $p, text: "hi"}) {
  comment { id } errors { code } } }"""

FIELDS = "id text createdAt edited editedAt likeCount viewerHasLiked commentCount __typename"
READS = [
    f"""query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on Post {{ {FIELDS}
      author {{ __typename _fed_id: id }} }} }} }}""",
    f"query($id: ID!) {{ post(id: $id) {{ {FIELDS} again: likeCount media {{ id status }} }} }}",
    f"""{{ posts(first: 30) {{ edges {{ cursor node {{ {FIELDS} }} }}
      pageInfo {{ hasNextPage }} }} }}""",
    f"""query($r: [_Any!]!) {{ _entities(representations: $r) {{ ... on User {{ postCount
      posts(first: 5) {{ edges {{ node {{ {FIELDS} }} }} }} }} }} }}""",
    f'{{ searchPosts(query: "pupper", first: 30) {{ edges {{ node {{ {FIELDS} }} }} }} }}',
]


async def _world(api: PostsClient, rng: random.Random) -> tuple[list[str], list[int]]:
    authors = [300 + i for i in range(4)]
    ids: list[str] = []
    published: dict[str, int] = {}
    for i in range(12):
        author = rng.choice(authors)
        waiting = rng.random() < 0.15  # for its media: visible to its author only
        created = await api.data(WITH_MEDIA if waiting else NEW, {"t": f"pupper {i}"}, user=author)
        pid = created["createPost"]["post"]["id"]
        ids.append(pid)
        if not waiting:
            published[pid] = author
        for liker in rng.sample(authors, rng.randint(0, len(authors))):
            await api.data(LIKE, {"id": pid}, user=liker)
        if rng.random() < 0.3:
            await api.data(EDIT, {"id": pid, "t": f"pupper {i}, edited"}, user=author)
        if rng.random() < 0.3:
            await api.data(COMMENT, {"p": pid}, user=rng.choice(authors))
    gone = rng.choice(sorted(published))
    await api.data(DELETE, {"id": gone}, user=published[gone])
    return ids, authors


async def _run(
    api: PostsClient, context_class: Any, query: str, variables: Any, viewer: Any
) -> Any:
    state = api.app.state
    context = RequestContext(state.resources, viewer, state.make_loaders)
    return await execute_with(
        schema._schema,
        parse(query),
        context_class,
        # a copy: Strawberry's `_entities` changes the representations it is given
        variable_values=copy.deepcopy(variables),
        context_value=context,
    )


async def test_posts_plain_fields_answer_as_the_general_path(posts_api: PostsClient) -> None:
    assert issubclass(schema.execution_context_class, PlainFieldsExecutionContext)
    post = cast(GraphQLObjectType, schema._schema.type_map["Post"])
    for name in ("likeCount", "viewerHasLiked", "commentCount", "edited", "editedAt"):
        definition = (post.fields[name].extensions or {}).get("strawberry-definition")
        assert context_resolver(definition) is not None, name
    rng = random.Random(22)
    ids, authors = await _world(posts_api, rng)
    viewers = [Viewer(), *(Viewer(user_id=a, kind="user") for a in authors)]
    answered = 0
    for _ in range(60):
        query = rng.choice(READS)
        picks = rng.sample(ids, rng.randint(1, len(ids))) + rng.sample(["999999", "x"], 1)
        variables: dict[str, Any] = {
            "r": [{"__typename": "Post", "id": i} for i in picks],
            "id": rng.choice([*ids, "999999"]),
        }
        if "on User" in query:
            variables["r"] = [{"__typename": "User", "id": str(a)} for a in authors]
        viewer = rng.choice(viewers)
        plain_answer = await _run(
            posts_api, schema.execution_context_class, query, variables, viewer
        )
        general = await _run(
            posts_api, StrawberryGraphQLCoreExecutionContext, query, variables, viewer
        )
        assert plain_answer == general, (query, variables, viewer)
        answered += bool(plain_answer[0])
    assert answered > 30
