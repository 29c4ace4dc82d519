"""Composition errors of the authorization (`@authenticated`, `@requiresScopes`, `@policy`) and
demand-control (`@cost`, `@listSize`) directives, with the codes and messages of Apollo's
composition 2.14.1 (each message below was checked against it)."""

from __future__ import annotations

import pytest

from graph.composition import CompositionError, CompositionIssue, Subgraph, compose

V29 = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", '
    '"@external", "@requires", "@interfaceObject", "@authenticated", "@requiresScopes", '
    '"@policy", "@cost", "@listSize"])\n'
)


def sub(name: str, sdl: str, header: str = V29) -> Subgraph:
    return Subgraph(name, f"http://{name}.example/graphql", header + sdl)


def issues_of(*subgraphs: Subgraph) -> list[CompositionIssue]:
    with pytest.raises(CompositionError) as info:
        compose(list(subgraphs))
    return info.value.issues


def messages(*subgraphs: Subgraph) -> list[tuple[str, str]]:
    return sorted((i.code, i.message) for i in issues_of(*subgraphs))


def test_directive_newer_than_the_linked_federation_version() -> None:
    header = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.4", '
        'import: ["@key", "@authenticated"])\n'
    )
    [issue] = issues_of(sub("a", "type Query { a: Int @authenticated }", header))
    assert issue.code == "INVALID_LINK_DIRECTIVE_USAGE"
    assert issue.message.startswith('[a] Cannot import unknown element "@authenticated"')
    assert "v2.4" in issue.message


def test_authorization_on_interfaces_and_cost_on_interface_fields() -> None:
    found = messages(
        sub(
            "a",
            "type Query { i: I }\n"
            'interface I @authenticated { id: ID @cost(weight: 2) @policy(policies: [["p"]]) }',
        )
    )
    assert found == [
        (
            "AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE",
            '[a] Invalid use of @authenticated on interface "I": @authenticated cannot be '
            "applied on interfaces, interface fields and interface objects",
        ),
        (
            "AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE",
            '[a] Invalid use of @policy on field "I.id": @policy cannot be applied on '
            "interfaces, interface fields and interface objects",
        ),
        ("COST_APPLIED_TO_INTERFACE_FIELD", '[a] @cost cannot be applied to interface "I.id"'),
    ]


def test_authorization_on_an_interface_object() -> None:
    found = messages(
        sub(
            "a",
            'type Query { n: Node } type Node @key(fields: "id") @interfaceObject '
            '@requiresScopes(scopes: [["x"]]) { id: ID! }',
        ),
        sub(
            "b",
            'interface Node @key(fields: "id") { id: ID! } '
            'type A implements Node @key(fields: "id") { id: ID! }',
        ),
    )
    assert found == [
        (
            "AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE",
            '[a] Invalid use of @requiresScopes on interface object "Node": @requiresScopes '
            "cannot be applied on interfaces, interface fields and interface objects",
        )
    ]


def test_list_size_placement() -> None:
    found = messages(
        sub(
            "a",
            "type Query {\n"
            "  l(first: String, n: Int): Int @listSize(assumedSize: -1, slicingArguments: "
            '["first", "nope"])\n'
            '  s: Int @listSize(sizedFields: ["x"])\n'
            '  c: Conn @listSize(sizedFields: ["items", "count", "zz"])\n'
            "}\n"
            "type Conn { items: [Int] count: Int }",
        )
    )
    assert found == sorted(
        [
            ("LIST_SIZE_APPLIED_TO_NON_LIST", '[a] "Query.l" is not a list'),
            ("LIST_SIZE_INVALID_ASSUMED_SIZE", '[a] Assumed size of "Query.l" cannot be negative'),
            (
                "LIST_SIZE_INVALID_SLICING_ARGUMENT",
                '[a] Slicing argument "Query.l(first:)" must be Int or Int!',
            ),
            (
                "LIST_SIZE_INVALID_SLICING_ARGUMENT",
                '[a] Slicing argument "nope" is not an argument of "Query.l"',
            ),
            (
                "LIST_SIZE_INVALID_SIZED_FIELD",
                '[a] Sized fields cannot be used because "Int" is not a composite type',
            ),
            ("LIST_SIZE_APPLIED_TO_NON_LIST", '[a] Sized field "Conn.count" is not a list'),
            (
                "LIST_SIZE_INVALID_SIZED_FIELD",
                '[a] Sized field "zz" is not a field on type "Conn"',
            ),
        ]
    )


def test_requires_reading_protected_data_needs_the_same_requirements() -> None:
    [issue] = issues_of(
        sub(
            "a",
            'type Query { p: P } type P @key(fields: "id") { id: ID! price: Int @external '
            'total: Int @requires(fields: "price") }',
        ),
        sub(
            "b",
            'type P @key(fields: "id") { id: ID! price: Int @requiresScopes(scopes: [["money"]]) }',
        ),
    )
    assert issue.code == "MISSING_TRANSITIVE_AUTH_REQUIREMENTS"
    assert issue.message == (
        '[a] Field "P.total" does not specify necessary @authenticated, @requiresScopes '
        'and/or @policy auth requirements to access the transitive field "P.price" data from '
        "@requires selection set."
    )
    assert (issue.type_name, issue.field_name) == ("P", "total")


def test_requires_through_a_protected_interface() -> None:
    """An interface carries the requirements of its implementations, so reading it needs
    them too."""
    [issue] = issues_of(
        sub(
            "a",
            'type Query { p: P } type P @key(fields: "id") { id: ID! item: Item @external '
            'total: Int @requires(fields: "item { id }") @authenticated } '
            "interface Item { id: ID } "
            'type Book implements Item @key(fields: "id") { id: ID @external }',
        ),
        sub(
            "b",
            'type P @key(fields: "id") { id: ID! item: Item } interface Item { id: ID } '
            'type Book implements Item @key(fields: "id") @policy(policies: [["library"]]) '
            "{ id: ID }",
        ),
    )
    assert issue.code == "MISSING_TRANSITIVE_AUTH_REQUIREMENTS"
    assert 'the transitive field "P.item" data from @requires selection set.' in issue.message


def test_requires_through_a_protected_type_in_a_fragment() -> None:
    [issue] = issues_of(
        sub(
            "a",
            'type Query { p: P } type P @key(fields: "id") { id: ID! item: Thing @external '
            'total: Int @requires(fields: "item { ... on Book { id } }") @authenticated } '
            'union Thing = Book type Book @key(fields: "id") { id: ID @external }',
        ),
        sub(
            "b",
            'type P @key(fields: "id") { id: ID! item: Thing } union Thing = Book '
            'type Book @key(fields: "id") @policy(policies: [["library"]]) { id: ID }',
        ),
    )
    assert issue.message == (
        '[a] Field "P.total" does not specify necessary @authenticated, @requiresScopes '
        "and/or @policy auth requirements to access the transitive data in inline fragment "
        'type condition "Book" from @requires selection set.'
    )


def test_one_spec_directive_must_have_one_name_across_subgraphs() -> None:
    renamed = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", '
        'import: ["@key", {name: "@cost", as: "@weight"}])\n'
    )
    [issue] = issues_of(
        sub("a", "type Query { a: Int @weight(weight: 1) }", renamed),
        sub("b", "type Query { b: Int @cost(weight: 2) }"),
    )
    assert issue.code == "LINK_IMPORT_NAME_MISMATCH"
    assert issue.subgraphs == ("a", "b")
