"""The feed page's edges made without the dataclasses' `__init__` (`feed_edges`) are the
objects the keyword constructors make, for any ids; and `merge` (FeedItem a NamedTuple) is
the plain merge of its sources: newest first, each post once, the first row's author."""

from __future__ import annotations

import strawberry
from hypothesis import given
from hypothesis import strategies as st

from puppies.pagination import _encode_text
from resolvers.feed.read import merge
from subgraphs.feed.schema import feed_edges
from subgraphs.feed.types import FeedEdge, Post

IDS = st.integers(min_value=0, max_value=2**63 - 1)


@given(st.lists(IDS, max_size=30))
def test_edges_are_the_constructors(ids: list[int]) -> None:
    want = [FeedEdge(cursor=_encode_text(i), node=Post(id=strawberry.ID(str(i)))) for i in ids]
    got = feed_edges(ids)
    assert got == want
    assert [type(e) for e in got] == [FeedEdge] * len(ids)
    assert all(
        type(e.node) is Post and vars(e.node) == {"id": str(i)}
        for e, i in zip(got, ids, strict=True)
    )
    assert [vars(e).keys() for e in got] == [vars(e).keys() for e in want]


ROWS = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 9) | st.none()), max_size=40)


@given(st.integers(0, 25), st.lists(ROWS, min_size=1, max_size=3))
def test_merge_is_the_plain_merge(first: int, sources: list[list[tuple[int, int | None]]]) -> None:
    author: dict[int, int | None] = {}
    for rows in sources:
        for post_id, author_id in rows:
            author.setdefault(post_id, author_id)
    ordered = sorted(author, reverse=True)
    items, has_next = merge(first, *sources)
    assert [(i.post_id, i.author_id) for i in items] == [(p, author[p]) for p in ordered[:first]]
    assert has_next == (len(ordered) > first)
