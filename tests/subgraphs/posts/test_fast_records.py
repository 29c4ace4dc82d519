"""`PostRecord.from_row` and `Post.of` (fields set directly, not through the dataclasses'
`__init__`) make the very objects the constructors make, for any record
(`resolve_references`' answers, bad ids and all, are held to the one-by-one path in
test_likes_api.py and to the rows in test_read_oracle.py)."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC

import strawberry
from hypothesis import given
from hypothesis import strategies as st

from resolvers.posts.records import PostRecord
from subgraphs.posts.types import Post, User

IDS = st.integers(min_value=1, max_value=2**63 - 1)
TIMES = st.datetimes(timezones=st.just(UTC))
RECORDS = st.builds(
    PostRecord,
    id=IDS,
    author_id=IDS,
    text=st.text(max_size=50),
    like_count=st.integers(0, 10**6),
    comment_count=st.integers(0, 10**6),
    created_at=TIMES,
    published_at=st.none() | TIMES,
    edited_at=st.none() | TIMES,
)


@given(RECORDS)
def test_of_is_the_constructor(rec: PostRecord) -> None:
    want = Post(
        id=strawberry.ID(str(rec.id)),
        rec=rec,
        author=User(id=strawberry.ID(str(rec.author_id))),
        text=rec.text,
        created_at=rec.created_at,
    )
    got = Post.of(rec)
    assert got == want
    assert type(got) is Post and type(got.author) is User
    assert vars(got) == vars(want) and list(vars(got)) == list(vars(want))
    assert vars(got.author) == vars(want.author)


@given(RECORDS, st.lists(st.booleans() | st.integers(), max_size=3))
def test_from_row_is_the_constructor(rec: PostRecord, more: list[object]) -> None:
    row = (*astuple(rec), *more)  # a statement's row: the columns, then what else it read
    got = PostRecord.from_row(row)
    assert got == rec and type(got) is PostRecord and hash(got) == hash(rec)
    assert list(vars(got).items()) == list(vars(rec).items())
