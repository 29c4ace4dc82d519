"""searchUsers through the router: prefixes, ranking, pages, blocks, bad input."""

from __future__ import annotations

import uuid

from tests.social.conftest import SocialApi

SEARCH = """query($q: String!, $first: Int, $after: String) {
  searchUsers(query: $q, first: $first, after: $after) {
    edges { cursor node { id username displayName followerCount } }
    pageInfo { hasNextPage endCursor } } }"""
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { changed } }"
BLOCK = "mutation($id: ID!) { blockUser(userId: $id) { changed } }"


async def _names(api: SocialApi, q: str, token: str | None = None, first: int = 20) -> list[str]:
    body = await api.data(SEARCH, {"q": q, "first": first}, token=token)
    return [e["node"]["username"] for e in body["searchUsers"]["edges"]]


async def test_username_and_display_name_prefixes_ranked(api: SocialApi):
    tag = uuid.uuid4().hex[:6]
    exact = await api.account(f"zq{tag}")  # username zq<tag>_<hex>
    # usernames are made unique by a suffix: make an exact one by searching it whole
    popular = await api.account(f"zq{tag}x")
    plain = await api.account(f"zq{tag}y")
    named = await api.account("someone", display_name=f"Rex Zq{tag}Dog")
    await api.account("unrelated", display_name="Nobody Here")
    fan = await api.account("fan")
    await api.data(FOLLOW, {"id": popular.id}, token=fan.token)

    found = await _names(api, f"zq{tag}")
    # username prefixes first (most followed first), then display-name word prefixes
    assert found[0] == popular.username
    assert set(found[1:3]) == {exact.username, plain.username}
    assert found[3:] == [named.username]
    # case, a leading @ and surrounding spaces do not matter
    assert await _names(api, f"  @ZQ{tag.upper()}  ") == found
    # the exact username ranks first whatever the follower counts
    longer = await api.account(exact.username)  # username <exact>_<hex>
    await api.data(FOLLOW, {"id": longer.id}, token=fan.token)
    assert await _names(api, exact.username) == [exact.username, longer.username]
    # a display-name word prefix matches any word, not only the first
    assert await _names(api, f"zq{tag}d") == [named.username]
    assert await _names(api, f"rex zq{tag}") == [named.username]


async def test_pages_do_not_repeat_or_skip(api: SocialApi):
    tag = uuid.uuid4().hex[:6]
    made = {(await api.account(f"pg{tag}")).username for _ in range(5)}
    seen: list[str] = []
    after = None
    while True:
        body = await api.data(SEARCH, {"q": f"pg{tag}", "first": 2, "after": after})
        page = body["searchUsers"]
        seen += [e["node"]["username"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(made) and len(seen) == 5


async def test_like_wildcards_are_plain_characters(api: SocialApi):
    tag = uuid.uuid4().hex[:6]
    await api.account(f"w{tag}")
    assert await _names(api, "%") == []
    assert await _names(api, f"w{tag[:2]}_{tag[3:]}") == []  # `_` is not "any character"
    assert await _names(api, "'\\:*&|!") == []  # tsquery syntax is not interpreted


async def test_accounts_that_block_the_viewer_are_left_out(api: SocialApi):
    tag = uuid.uuid4().hex[:6]
    blocker = await api.account(f"bk{tag}")
    viewer = await api.account("viewer")
    await api.data(BLOCK, {"id": viewer.id}, token=blocker.token)
    assert await _names(api, f"bk{tag}", token=viewer.token) == []
    assert await _names(api, f"bk{tag}") == [blocker.username]  # anonymous
    # the blocker still finds the account it blocks (to unblock it)
    assert await _names(api, viewer.username, token=blocker.token) == [viewer.username]


async def test_bad_search_input(api: SocialApi):
    for q, word in (("", "at least one"), ("   @ ", "at least one"), ("x" * 101, "at most")):
        error = await api.error(SEARCH, {"q": q})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["extensions"]["field"] == "query"
        assert word in error["message"]
    for after in ("garbage", "djE6MTIz"):  # not a cursor; an ID cursor from another list
        error = await api.error(SEARCH, {"q": "abc", "after": after})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            "after",
        )
    error = await api.error(SEARCH, {"q": "abc", "first": 1000})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
