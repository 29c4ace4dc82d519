"""`encode_cursor`'s fast path (binascii, a per-process cache of ID cursors) gives exactly the
cursor of the formula it replaced, for any key, cached or not, across the cache's emptying."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puppies import pagination
from puppies.pagination import _encode_text, decode_cursor, decode_keyset, encode_cursor

IDS = st.integers(min_value=-(2**70), max_value=2**70)


@settings(max_examples=500)
@given(st.lists(IDS, max_size=40))
def test_id_cursors_are_the_formulas(keys: list[int]) -> None:
    for key in keys + keys:  # the second time from the cache
        assert encode_cursor(key) == _encode_text(key)
        if key >= 0:
            assert decode_cursor(encode_cursor(key)) == key


@given(st.lists(st.integers(min_value=0, max_value=2**63), min_size=1, max_size=5))
def test_compound_cursors_are_the_formulas(keys: list[int]) -> None:
    key = tuple(keys)
    assert encode_cursor(key) == _encode_text(key)
    assert decode_keyset(encode_cursor(key), len(key)) == key


def test_the_cache_is_bounded_and_stays_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pagination, "_ID_CURSORS", {})
    monkeypatch.setattr(pagination, "_ID_CURSORS_MAX", 8)
    for key in list(range(30)) + list(range(30)):
        assert encode_cursor(key) == _encode_text(key)
        assert len(pagination._ID_CURSORS) <= 8


def test_a_bool_is_not_an_id() -> None:
    # not `int` exactly: the formula's own text ("v1:True"), as before
    assert encode_cursor(True) == _encode_text(True)
