"""searchPosts through the router: full-text matching, pages, what it leaves out."""

from __future__ import annotations

import uuid

from tests.social.conftest import SocialApi

SEARCH = """query($q: String!, $first: Int, $after: String) {
  searchPosts(query: $q, first: $first, after: $after) {
    edges { node { id text } } pageInfo { hasNextPage endCursor } } }"""
EDIT = (
    "mutation($id: ID!, $t: String!) { editPost(input: {id: $id, text: $t}) { errors { code } } }"
)
DELETE = "mutation($id: ID!) { deletePost(id: $id) { errors { code } } }"


async def _found(api: SocialApi, q: str, token: str | None = None) -> list[str]:
    body = await api.data(SEARCH, {"q": q, "first": 50}, token=token)
    return [e["node"]["id"] for e in body["searchPosts"]["edges"]]


async def test_words_phrases_and_exclusions(api: SocialApi):
    tag = "zq" + uuid.uuid4().hex[:8]  # a word no other test writes
    alice = await api.account("alice")
    walks = await api.new_post(alice, f"{tag} Walking the puppies in the park")
    beach = await api.new_post(alice, f"{tag} A puppy at the beach, running")
    cats = await api.new_post(alice, f"{tag} cats only here")
    # Other tests on this stack write "park" and "puppy" too: a decoy without the tag must
    # never be found (`or` binds looser than the implied `and`: "a b or c" is (a & b) | c)
    await api.new_post(alice, "a park and a puppy, cats too, without the tag")

    assert await _found(api, f"{tag} puppy") == [beach, walks]  # stemmed, newest first
    assert await _found(api, f"{tag} walked") == [walks]
    assert await _found(api, f'{tag} "the beach"') == [beach]
    assert await _found(api, f"{tag} puppy -beach") == [walks]
    assert await _found(api, f"{tag} cats or {tag} park") == [cats, walks]
    assert await _found(api, f"{tag} UNICORNS") == []
    # only stop words: nothing to match, not an error
    assert await _found(api, "the and of") == []
    # an edit is searchable at once; a deleted post is not
    await api.data(EDIT, {"id": cats, "t": f"{tag} dogs now, puppies too"}, token=alice.token)
    assert await _found(api, f"{tag} puppies") == [cats, beach, walks]
    await api.data(DELETE, {"id": beach}, token=alice.token)
    assert await _found(api, f"{tag} puppies") == [cats, walks]


async def test_pages_and_bad_input(api: SocialApi):
    tag = "zq" + uuid.uuid4().hex[:8]
    alice = await api.account("alice")
    made = [await api.new_post(alice, f"{tag} number {i}") for i in range(5)]
    seen: list[str] = []
    after = None
    while True:
        page = (await api.data(SEARCH, {"q": tag, "first": 2, "after": after}))["searchPosts"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(made))

    for q, word in (("", "give words"), ("   ", "give words"), ("x " * 150, "at most")):
        error = await api.error(SEARCH, {"q": q})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (
            "BAD_USER_INPUT",
            "query",
        )
        assert word in error["message"]
    # odd input is searched, never an error
    for q in ("'", "&|!:*", "(((", '"unclosed', "-"):
        assert await _found(api, q) == [], q
    assert (await api.error(SEARCH, {"q": tag, "after": "garbage"}))["extensions"][
        "code"
    ] == "BAD_USER_INPUT"
