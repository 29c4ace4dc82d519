"""Federation: the SDL the router composes, and `_entities` batched through the DataLoader."""

from __future__ import annotations

from models.sqlcount import count_statements
from tests.subgraphs.users.conftest import UsersApi

ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on User { id username followerCount viewerFollows } } }"""


async def test_sdl(users_api: UsersApi) -> None:
    sdl = (await users_api.gql.data("{ _service { sdl } }"))["_service"]["sdl"]
    assert "specs.apollo.dev/federation/v2" in sdl
    assert 'type User @key(fields: "id")' in sdl
    assert "type PageInfo @shareable" in sdl
    for field in (
        "signUp(",
        "logIn(",
        "refreshSession(",
        "logOut(",
        "updateProfile(",
        "follow(",
        "unfollow(",
        "createApiKey(",
        "revokeApiKey(",
        "me: User",
        "userByUsername(",
        "viewerFollows: Boolean!",
    ):
        assert field in sdl, field


async def test_entities_batched(users_api: UsersApi) -> None:
    accts = [await users_api.sign_up(f"ent{i}") for i in range(3)]
    reps = [{"__typename": "User", "id": a.id} for a in accts]
    reps += [{"__typename": "User", "id": "12345"}, {"__typename": "User", "id": "junk"}]
    await users_api.gql.data(ENTITIES, {"r": reps[:1]})  # warm up
    with count_statements() as counter:
        body = await users_api.gql.data(ENTITIES, {"r": reps}, token=accts[0].token)
    got = body["_entities"]
    assert [e and e["username"] for e in got] == ["ent0", "ent1", "ent2", None, None]
    assert got[1]["viewerFollows"] is False
    # one statement for the users, one for viewerFollows: not one per representation
    assert len(counter.queries()) == 2, counter.queries()
