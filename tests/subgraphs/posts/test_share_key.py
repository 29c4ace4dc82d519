"""`share_key` parses a subscription's text once per distinct text (`_shape`, bounded): over
generated documents and variables it must give exactly what parsing every time gives (the
implementation before the cache, kept here as the oracle), on the first call and on the
cached ones; identical operations share a key, different texts or variables do not."""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
    visit,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subgraphs.posts import multiplex
from subgraphs.posts.multiplex import (
    SHAREABLE_ROOT_FIELDS,
    VIEWER_DEPENDENT_FIELDS,
    Share,
    _FieldNames,
    share_key,
)


def _oracle(
    query: str | None, variables: dict[str, Any] | None, operation_name: str | None
) -> Share | None:
    """share_key as it was before the cache: the text parsed on every call."""
    if not query or len(query) > 10_000:
        return None
    try:
        doc = parse(query)
    except GraphQLError:
        return None
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1 or ops[0].operation != OperationType.SUBSCRIPTION:
        return None
    fields = [s for s in ops[0].selection_set.selections if isinstance(s, FieldNode)]
    roots = {f.name.value for f in fields}
    if (
        not roots
        or not roots <= SHAREABLE_ROOT_FIELDS
        or len(fields) != len(ops[0].selection_set.selections)
    ):
        return None
    names = _FieldNames()
    visit(doc, names)
    if names.names & VIEWER_DEPENDENT_FIELDS:
        return None
    out: list[object] = []
    for f in fields:
        arg = next((a for a in f.arguments or () if a.name.value == "postId"), None)
        if arg is None:
            return None
        if isinstance(arg.value, VariableNode):
            name = arg.value.name.value
            if name not in (variables or {}):
                return None
            out.append((variables or {})[name])
        elif isinstance(arg.value, StringValueNode | IntValueNode):
            out.append(arg.value.value)
        else:
            return None
    try:
        vars_key = json.dumps(variables or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return Share(f"{operation_name or ''}\x00{vars_key}\x00{query}", tuple(out))


VAR_NAMES = ["id", "p", "other"]
_arg = st.integers(0, 9).flatmap(
    lambda k: (
        st.sampled_from(["$id", "$id", "$p", "$other"])
        if k < 6
        else st.integers(0, 99).map(str)
        if k == 6
        else st.integers(0, 99).map(lambda i: f'"{i}"')
        if k == 7
        else st.sampled_from(["[1]", "LIKED", "null", "{a: 1}", "1.5"])
    )
)
_leaf = st.sampled_from(["likeCount", "liked", "userId", "__typename"] * 4 + ["viewerHasLiked"])
_inner = st.lists(
    st.one_of(
        _leaf,
        st.lists(_leaf, min_size=1, max_size=3).map(lambda fs: "post { id " + " ".join(fs) + " }"),
        st.lists(_leaf, min_size=1, max_size=2).map(
            lambda fs: "... on LikeChange { " + " ".join(fs) + " }"
        ),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def _root(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["postLikeChanged"] * 6 + ["somethingElse"]))
    alias = draw(st.sampled_from(["", "", "a: ", "b: "]))
    arg_name = draw(st.sampled_from(["postId"] * 8 + ["id"]))
    args = "" if draw(st.integers(0, 9)) == 0 else f"({arg_name}: {draw(_arg)})"
    body = " ".join(draw(_inner))
    return f"{alias}{name}{args} {{ {body} }}"


@st.composite
def _document(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["subscription"] * 6 + ["query"]))
    roots = draw(st.lists(_root(), min_size=1, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        roots.append("...F")
    name = draw(st.sampled_from(["", " Live", " Other"]))
    defs = draw(st.sampled_from(["", "($id: ID!)", "($id: ID!, $p: ID)"]))
    text = f"{kind}{name}{defs} {{ {' '.join(roots)} }}"
    extra = draw(st.integers(0, 9))
    if extra == 0:
        text += " fragment F on Subscription { postLikeChanged(postId: 1) { likeCount } }"
    elif extra == 1:
        text += " subscription Second { postLikeChanged(postId: 2) { likeCount } }"
    elif extra == 2:
        text = text[: draw(st.integers(1, len(text) - 1))]  # a syntax error
    return text


_value = st.integers(0, 19).flatmap(
    lambda k: (
        st.just({1, 2})  # not JSON: never shared
        if k == 0
        else st.none()
        if k == 1
        else st.lists(st.integers(0, 3), max_size=2)
        if k == 2
        else st.integers(-5, 99)
        if k < 8
        else st.integers(0, 99).map(str)
    )
)
_variables = st.integers(0, 9).flatmap(
    lambda k: (
        st.none()
        if k == 0
        else st.dictionaries(st.sampled_from(VAR_NAMES), _value, max_size=3)
        if k < 3
        else st.fixed_dictionaries({n: _value for n in VAR_NAMES})
    )
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(_document(), _variables, st.sampled_from([None, "Live", "Other"])),
        min_size=1,
        max_size=4,
    )
)
def test_share_key_with_the_cache_is_share_key_parsing_every_time(
    calls: list[tuple[str, dict[str, Any] | None, str | None]],
) -> None:
    for query, variables, operation_name in calls + calls:  # the second round from the cache
        assert share_key(query, variables, operation_name) == _oracle(
            query, variables, operation_name
        ), (query, variables, operation_name)


def test_shareable_documents_are_generated() -> None:
    """The generator reaches both answers (else the comparison above proves little)."""
    shared = unshared = 0

    @settings(max_examples=300, deadline=None, database=None)
    @given(_document(), _variables)
    def count(query: str, variables: dict[str, Any] | None) -> None:
        nonlocal shared, unshared
        if _oracle(query, variables, None) is None:
            unshared += 1
        else:
            shared += 1

    count()
    assert shared >= 10 and unshared >= 10, (shared, unshared)


SUB = "subscription($id: ID!) { postLikeChanged(postId: $id) { likeCount userId } }"


def test_one_parse_per_text_and_keys_that_tell_operations_apart() -> None:
    multiplex._shape.cache_clear()
    a = share_key(SUB, {"id": "7"}, None)
    b = share_key(SUB, {"id": "7"}, None)
    assert a is not None and a == b and a.post_ids == ("7",)
    assert multiplex._shape.cache_info().misses == 1
    assert multiplex._shape.cache_info().hits == 1
    other_post = share_key(SUB, {"id": "8"}, None)
    assert other_post is not None and other_post.key != a.key and other_post.post_ids == ("8",)
    named = share_key(SUB, {"id": "7"}, "Live")
    assert named is not None and named.key != a.key
    other_text = share_key(SUB.replace("userId", "liked"), {"id": "7"}, None)
    assert other_text is not None and other_text.key != a.key
    spaced = share_key(SUB + " ", {"id": "7"}, None)
    assert spaced is not None and spaced.key != a.key  # the key is the text, as before
    assert share_key(SUB, {}, None) is None  # the variable missing: not shared
    assert multiplex._shape.cache_info().misses == 3


def test_the_cache_is_bounded() -> None:
    multiplex._shape.cache_clear()
    for i in range(multiplex.SHAPE_CACHE_SIZE + 50):
        text = f"subscription {{ postLikeChanged(postId: {i}) {{ likeCount }} }}"
        assert share_key(text, None, None) == Share(f"\x00{{}}\x00{text}", (str(i),))
    assert multiplex._shape.cache_info().currsize == multiplex.SHAPE_CACHE_SIZE
