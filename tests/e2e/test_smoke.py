"""The stack answers through the router: an account, a post, its author across subgraphs."""

from __future__ import annotations

from tests.support.client import Api

POST = "query($id: ID!) { post(id: $id) { id text author { id username } } }"


async def test_a_post_and_its_author_through_the_router(api: Api) -> None:
    alice = await api.account("alice")
    post_id, uploads = await api.create_post(alice, "hello")
    assert uploads == []
    body = await api.data(POST, {"id": post_id})
    assert body["post"] == {
        "id": post_id,
        "text": "hello",
        "author": {"id": alice.id, "username": alice.username},
    }
