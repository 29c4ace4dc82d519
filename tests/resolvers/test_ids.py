"""One ID parser: what is an ID and what is not."""

from __future__ import annotations

import pytest

from resolvers.errors import BadInput
from resolvers.ids import MAX_ID, parse_id, try_parse_id


@pytest.mark.parametrize("value", ["1", "42", str(MAX_ID), 7, MAX_ID])
def test_ids(value: object) -> None:
    assert try_parse_id(value) == int(value)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1_000",
        "١٢",  # Arabic-Indic digits: str.isdigit() says yes, we say no
        "1\x00",
        "\ud800",
        str(MAX_ID + 1),
        "1" * 40,
        "1e3",
        "0x10",
        0,
        -5,
        MAX_ID + 1,
        True,
        None,
        1.0,
    ],
)
def test_not_ids(value: object) -> None:
    assert try_parse_id(value) is None
    with pytest.raises(BadInput) as err:
        parse_id(value, "postId")
    assert err.value.field == "postId" and "`postId` is not a valid ID" in err.value.message


def test_the_message_never_echoes_a_huge_value() -> None:
    with pytest.raises(BadInput) as err:
        parse_id("x" * 10_000, "id")
    assert len(err.value.message) < 100
