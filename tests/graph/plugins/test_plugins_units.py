"""The plugins' pure parts: operation measurement, CSRF decisions, Accept negotiation,
header rules and durations. (The same behaviour is tested end to end over HTTP in
tests/graph/serving/.)"""

from __future__ import annotations

import pytest
from graphql import build_schema, parse

from graph.config import config_from_mapping
from graph.http import (
    APPLICATION_JSON,
    EVENT_STREAM,
    GRAPHQL_RESPONSE_JSON,
    HttpError,
    negotiate,
)
from graph.plugins.base import parse_duration
from graph.plugins.csrf import CsrfConfig, CsrfGuard
from graph.plugins.headers import HeaderPropagation
from graph.plugins.introspection import uses_introspection
from graph.plugins.limits import measure, select_operation

SCHEMA = build_schema(
    """
    type Query { me: User, node(id: ID!): Node }
    interface Node { id: ID! }
    type User implements Node { id: ID! name: String friends: [User] }
    """
)


def shape(query: str, name: str | None = None) -> tuple[int, int, int, int]:
    document = parse(query)
    operation = select_operation(document, name)
    assert operation is not None
    s = measure(document, operation, SCHEMA)
    return s.depth, s.height, s.aliases, s.root_fields


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ me { id } }", (2, 2, 0, 1)),
        ("{ me { id name friends { id name } } }", (3, 4, 0, 1)),
        ("{ a: me { id } b: me { id } }", (2, 2, 2, 2)),
        ("{ me { ...F } } fragment F on User { friends { id } }", (3, 3, 0, 1)),
        ("{ ...Q ...Q } fragment Q on Query { me { id } }", (2, 2, 0, 2)),
        ('{ node(id: "1") { id ... on User { name } } }', (2, 3, 0, 1)),
        ("{ __typename }", (1, 1, 0, 1)),
    ],
)
def test_measure(query: str, expected: tuple[int, int, int, int]) -> None:
    assert shape(query) == expected


def test_measure_survives_fragment_cycles() -> None:
    query = "{ me { ...A } } fragment A on User { friends { ...B } } fragment B on User { ...A }"
    assert shape(query)[0] == 2


def test_select_operation() -> None:
    document = parse("query A { me { id } } query B { me { name } }")
    assert select_operation(document, None) is None
    b = select_operation(document, "B")
    assert b is not None and b.name is not None and b.name.value == "B"
    assert select_operation(document, "C") is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ __schema { types { name } } }", True),
        ('{ me { ...F } } fragment F on User { friends { x: __type(name: "U") { name } } }', True),
        ("{ __typename me { __typename } }", False),
    ],
)
def test_uses_introspection(query: str, expected: bool) -> None:
    assert uses_introspection(parse(query), None) is expected


@pytest.mark.parametrize(
    ("headers", "safe"),
    [
        ([], True),
        ([(b"content-type", b"application/json")], True),
        ([(b"content-type", b"text/plain")], False),
        ([(b"content-type", b"TEXT/PLAIN; charset=utf-8")], False),
        ([(b"content-type", b"multipart/form-data; boundary=x")], False),
        ([(b"content-type", b"application/x-www-form-urlencoded")], False),
        ([(b"content-type", b"text/plain"), (b"apollo-require-preflight", b"1")], True),
        ([(b"content-type", b"text/plain"), (b"x-apollo-operation-name", b"Q")], True),
        ([(b"content-type", b"garbage")], True),
        ([(b"content-type", b"text/plain"), (b"content-type", b"application/json")], True),
    ],
)
def test_csrf(headers: list[tuple[bytes, bytes]], safe: bool) -> None:
    assert CsrfGuard(CsrfConfig()).is_preflighted(headers) is safe


def test_csrf_disabled() -> None:
    guard = CsrfGuard(CsrfConfig(unsafe_disabled=True))
    assert guard.is_preflighted([(b"content-type", b"text/plain")])


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, APPLICATION_JSON),
        (b"", APPLICATION_JSON),
        (b"*/*", APPLICATION_JSON),
        (b"application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        (b"application/json;q=0.9, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        (b"application/graphql-response+json;q=0.1, application/json", APPLICATION_JSON),
        (b"application/graphql-response+json, application/json", GRAPHQL_RESPONSE_JSON),
        (b"application/json; charset=latin-1, */*;q=0.1", APPLICATION_JSON),
        (b"text/event-stream", EVENT_STREAM),
        (b"text/event-stream, application/json", APPLICATION_JSON),
        (b"text/event-stream, application/json;q=0.5", EVENT_STREAM),
    ],
)
def test_negotiate(accept: bytes | None, expected: bytes) -> None:
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    "accept", [b"text/html", b"application/json;q=0", b"application/json; charset=latin-1"]
)
def test_negotiate_refuses(accept: bytes) -> None:
    with pytest.raises(HttpError) as caught:
        negotiate(accept)
    assert caught.value.status == 406


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), (5, 5.0), ("1.5s", 1.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "30", "30 parsecs", "s30", True, "-1s", "0ms"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_header_rules_apply_in_order() -> None:
    config = config_from_mapping(
        {
            "headers": {
                "all": {
                    "request": [
                        {"propagate": {"matching": "x-.*"}},
                        {"remove": {"named": "x-secret"}},
                        {"insert": {"name": "x-secret", "value": "router"}},
                    ]
                },
                "subgraphs": {"b": {"request": [{"remove": {"matching": "x-.*"}}]}},
            }
        }
    ).headers
    headers_for = HeaderPropagation(config).for_request(
        [(b"x-secret", b"client"), (b"x-a", b"1"), (b"x-a", b"2"), (b"host", b"h")]
    )
    assert headers_for("a") == {"x-secret": "router", "x-a": "1, 2"}
    assert headers_for("b") == {}
    assert HeaderPropagation(config_from_mapping({}).headers).for_request([])("a") == {}
