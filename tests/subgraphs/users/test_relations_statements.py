"""searchUsers, blockedUsers and mutedUsers cost a fixed number of statements, whatever the
page size (the users subgraph in this process, so its statements can be counted)."""

from __future__ import annotations

from models.sqlcount import count_statements
from resolvers.runtime import Resources
from resolvers.users import notifications
from tests.subgraphs.users.conftest import UsersApi

SEARCH = """query($q: String!) { searchUsers(query: $q, first: 50) {
  edges { node { id username viewerFollows viewerBlocks viewerMutes } } } }"""
LISTS = """{ blockedUsers(first: 50) { edges { node { id viewerBlocks viewerFollows } } }
  mutedUsers(first: 50) { edges { node { id viewerMutes } } } }"""
BLOCK = "mutation($id: ID!) { blockUser(userId: $id) { changed } }"
MUTE = "mutation($id: ID!) { muteUser(userId: $id) { changed } }"


async def test_search_and_relation_lists_cost_fixed_statements(users_api: UsersApi) -> None:
    viewer = await users_api.sign_up("viewer")
    small = [await users_api.sign_up(f"small{i}") for i in range(2)]
    large = [await users_api.sign_up(f"large{i}") for i in range(12)]
    gql = users_api.gql

    counts = {}
    for prefix, n in (("small", 2), ("large", 12)):
        with count_statements() as counter:
            body = await gql.data(SEARCH, {"q": prefix}, token=viewer.token)
        assert len(body["searchUsers"]["edges"]) == n
        counts[prefix] = counter.queries()
    # the search (users come with it), viewerFollows, viewerBlocks, viewerMutes
    assert len(counts["small"]) == len(counts["large"]) == 4, counts["large"]

    lists = {}
    for group in (small, large):
        for other in group:
            await gql.data(BLOCK, {"id": other.id}, token=viewer.token)
            await gql.data(MUTE, {"id": other.id}, token=viewer.token)
        with count_statements() as counter:
            body = await gql.data(LISTS, token=viewer.token)
        assert len(body["blockedUsers"]["edges"]) == len(body["mutedUsers"]["edges"])
        assert all(e["node"]["viewerBlocks"] for e in body["blockedUsers"]["edges"])
        lists[len(body["mutedUsers"]["edges"])] = counter.queries()
    # blocked page, muted page, their users (one batch), viewerBlocks, viewerFollows,
    # viewerMutes
    assert len(lists[2]) == len(lists[14]) == 6, lists[14]


NOTIFICATIONS = """{ notifications(first: 50) { unreadCount
  edges { node { id kind read actor { username viewerFollows } post { id } } } } }"""


async def test_notifications_cost_fixed_statements(users_api: UsersApi) -> None:
    viewer = await users_api.sign_up("viewer")
    actors = [await users_api.sign_up(f"actor{i}") for i in range(12)]
    res = Resources.open(users_api.app.state.settings)
    counts = {}
    try:
        for n in (2, 12):
            for actor in actors[:n]:
                await notifications.notify(
                    res,
                    recipient=int(viewer.id),
                    actor=int(actor.id),
                    kind="FOLLOW",
                    key=f"follow:{actor.id}",
                )
            with count_statements() as counter:
                body = await users_api.gql.data(NOTIFICATIONS, token=viewer.token)
            listed = body["notifications"]
            assert len(listed["edges"]) == listed["unreadCount"] == n
            counts[n] = counter.queries()
    finally:
        await res.close()
    # the page, its actors (one batch), viewerFollows, the unread count
    assert len(counts[2]) == len(counts[12]) == 4, counts[12]


async def test_the_subgraph_checks_credentials_itself(users_api: UsersApi) -> None:
    """Behind the router's directives, the subgraph still refuses (defense in depth)."""
    alice = await users_api.sign_up("alice")
    for query in (
        'mutation { blockUser(userId: "1") { changed } }',
        "{ notifications { unreadCount } }",
        "mutation { markNotificationsRead { marked } }",
        'mutation { changePassword(input: {currentPassword: "x", newPassword: "y"}) '
        "{ revokedSessions } }",
    ):
        body = await users_api.gql(query)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", (query, body)
    assert alice.id
