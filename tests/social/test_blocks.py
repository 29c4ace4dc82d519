"""Blocking and muting accounts, through the router."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from models.db import Database
from tests.social.conftest import DENIED, SocialApi
from tests.support.client import Account

BLOCK = """mutation($id: ID!) { blockUser(userId: $id) {
  changed user { id viewerBlocks viewerFollows followerCount followingCount } } }"""
UNBLOCK = """mutation($id: ID!) { unblockUser(userId: $id) { changed user { id viewerBlocks } } }"""
MUTE = """mutation($id: ID!) { muteUser(userId: $id) {
  changed user { id viewerMutes viewerFollows } } }"""
UNMUTE = """mutation($id: ID!) { unmuteUser(userId: $id) { changed user { id viewerMutes } } }"""
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { changed } }"
LISTS = """query($first: Int, $after: String) {
  blockedUsers(first: $first, after: $after) {
    edges { node { id username viewerBlocks } } pageInfo { hasNextPage endCursor } }
  mutedUsers(first: $first) { edges { node { id viewerMutes } } } }"""
COUNTS = "query($id: ID!) { user(id: $id) { followerCount followingCount } }"


async def _follows(db: Database, a: Account, b: Account) -> int:
    async with db.session() as s:
        return int(
            (
                await s.execute(
                    text(
                        "SELECT count(*) FROM users.follows WHERE (follower_id = :a AND "
                        "followee_id = :b) OR (follower_id = :b AND followee_id = :a)"
                    ),
                    {"a": int(a.id), "b": int(b.id)},
                )
            ).scalar_one()
        )


async def test_a_block_removes_follows_both_ways_and_refuses_new_ones(api: SocialApi, db: Database):
    alice, bob = await api.account("alice"), await api.account("bob")
    await api.data(FOLLOW, {"id": bob.id}, token=alice.token)
    await api.data(FOLLOW, {"id": alice.id}, token=bob.token)

    blocked = (await api.data(BLOCK, {"id": bob.id}, token=alice.token))["blockUser"]
    assert blocked == {
        "changed": True,
        "user": {
            "id": bob.id,
            "viewerBlocks": True,
            "viewerFollows": False,
            "followerCount": 0,
            "followingCount": 0,
        },
    }
    assert await _follows(db, alice, bob) == 0
    for who in (alice, bob):
        counts = (await api.data(COUNTS, {"id": who.id}))["user"]
        assert counts == {"followerCount": 0, "followingCount": 0}

    # neither can follow the other now; nothing is written
    theirs = await api.error(FOLLOW, {"id": alice.id}, token=bob.token)
    assert theirs["extensions"]["code"] == "FORBIDDEN"
    assert theirs["message"] == "you cannot follow this account"
    mine = await api.error(FOLLOW, {"id": bob.id}, token=alice.token)
    assert mine["extensions"]["code"] == "FORBIDDEN"
    assert "unblock" in mine["message"]
    assert await _follows(db, alice, bob) == 0

    again = (await api.data(BLOCK, {"id": bob.id}, token=alice.token))["blockUser"]
    assert again["changed"] is False
    lists = await api.data(LISTS, {}, token=alice.token)
    assert [e["node"]["id"] for e in lists["blockedUsers"]["edges"]] == [bob.id]
    # the block is alice's: bob sees no block of his own
    assert (await api.data(LISTS, {}, token=bob.token))["blockedUsers"]["edges"] == []

    lifted = (await api.data(UNBLOCK, {"id": bob.id}, token=alice.token))["unblockUser"]
    assert lifted == {"changed": True, "user": {"id": bob.id, "viewerBlocks": False}}
    assert (await api.data(UNBLOCK, {"id": bob.id}, token=alice.token))["unblockUser"][
        "changed"
    ] is False
    assert (await api.data(FOLLOW, {"id": alice.id}, token=bob.token))["follow"]["changed"]


async def test_block_and_mute_bad_input_changes_nothing(api: SocialApi, db: Database):
    alice = await api.account("alice")
    for mutation in (BLOCK, UNBLOCK, MUTE, UNMUTE):
        anonymous = await api.error(mutation, {"id": alice.id})
        assert anonymous["extensions"]["code"] == DENIED  # the router's @requiresScopes
        self_ = await api.error(mutation, {"id": alice.id}, token=alice.token)
        assert self_["extensions"]["code"] == "BAD_USER_INPUT"
        assert "yourself" in self_["message"]
        bad = await api.error(mutation, {"id": "12abc"}, token=alice.token)
        assert (bad["extensions"]["code"], bad["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            "userId",
        )
    for mutation in (BLOCK, MUTE):
        missing = await api.error(mutation, {"id": "999999999"}, token=alice.token)
        assert missing["extensions"]["code"] == "NOT_FOUND"
    async with db.session() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT (SELECT count(*) FROM users.blocks WHERE blocker_id = :a) + "
                    "(SELECT count(*) FROM users.mutes WHERE muter_id = :a)"
                ),
                {"a": int(alice.id)},
            )
        ).scalar_one()
    assert rows == 0
    cursor = await api.error(LISTS, {"after": "bm90LWEtY3Vyc29y"}, token=alice.token)
    assert cursor["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await api.error(LISTS, {}))["extensions"]["code"] == DENIED


async def test_mute_keeps_follows_and_is_listed(api: SocialApi):
    alice, bob, carol = [await api.account(n) for n in ("alice", "bob", "carol")]
    await api.data(FOLLOW, {"id": bob.id}, token=alice.token)
    muted = (await api.data(MUTE, {"id": bob.id}, token=alice.token))["muteUser"]
    assert muted == {
        "changed": True,
        "user": {"id": bob.id, "viewerMutes": True, "viewerFollows": True},
    }
    assert (await api.data(MUTE, {"id": bob.id}, token=alice.token))["muteUser"]["changed"] is False
    await api.data(MUTE, {"id": carol.id}, token=alice.token)
    lists = await api.data(LISTS, {"first": 1}, token=alice.token)
    assert [e["node"] for e in lists["mutedUsers"]["edges"]] == [
        {"id": carol.id, "viewerMutes": True}
    ]
    unmuted = (await api.data(UNMUTE, {"id": bob.id}, token=alice.token))["unmuteUser"]
    assert unmuted == {"changed": True, "user": {"id": bob.id, "viewerMutes": False}}
    assert (await api.data(UNMUTE, {"id": bob.id}, token=alice.token))["unmuteUser"][
        "changed"
    ] is False


async def test_blocked_list_pages(api: SocialApi):
    alice = await api.account("alice")
    others = [await api.account("other") for _ in range(3)]
    for other in others:
        await api.data(BLOCK, {"id": other.id}, token=alice.token)
    first = (await api.data(LISTS, {"first": 2}, token=alice.token))["blockedUsers"]
    assert [e["node"]["id"] for e in first["edges"]] == [others[2].id, others[1].id]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (
        await api.data(
            LISTS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=alice.token
        )
    )["blockedUsers"]
    assert [e["node"]["id"] for e in rest["edges"]] == [others[0].id]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_a_follow_racing_a_block_never_survives_it(api: SocialApi, db: Database):
    alice, bob = await api.account("alice"), await api.account("bob")
    for _ in range(8):
        follow, block = await asyncio.gather(
            api.gql(FOLLOW, {"id": alice.id}, token=bob.token),
            api.gql(BLOCK, {"id": bob.id}, token=alice.token),
        )
        assert "errors" not in block, block
        assert await _follows(db, alice, bob) == 0, follow
        counts = (await api.data(COUNTS, {"id": alice.id}))["user"]
        assert counts["followerCount"] == 0
        await api.data(UNBLOCK, {"id": bob.id}, token=alice.token)
