"""`User.from_row` (fields set directly) makes the very object the dataclass's constructor
makes (`_from_row`), for any row."""

from __future__ import annotations

from datetime import UTC
from typing import Any, NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from subgraphs.users.types import User


class Row(NamedTuple):
    id: int
    username: str
    email: str
    password_hash: str | None
    role: str
    display_name: str
    bio: str
    follower_count: int
    following_count: int
    created_at: Any


ROWS = st.builds(
    Row,
    id=st.integers(1, 2**63 - 1),
    username=st.text(max_size=20),
    email=st.text(max_size=20),
    password_hash=st.none() | st.text(max_size=20),
    role=st.sampled_from(["user", "moderator", "admin"]),
    display_name=st.text(max_size=20),
    bio=st.text(max_size=40),
    follower_count=st.integers(0, 10**9),
    following_count=st.integers(0, 10**9),
    created_at=st.datetimes(timezones=st.just(UTC)),
)


@given(ROWS)
def test_from_row_is_the_constructor(row: Row) -> None:
    got, want = User.from_row(row), User._from_row(row)  # type: ignore[arg-type]
    assert type(got) is User
    assert got == want
    assert vars(got) == vars(want)
