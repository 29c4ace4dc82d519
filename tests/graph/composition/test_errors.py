"""Every class of composition error: raised as one `CompositionError` whose issues name the
subgraphs, type and field involved."""

from __future__ import annotations

import pytest

from graph.composition import CompositionError, CompositionIssue, Subgraph, compose

FED2 = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ['
    '"@key", "@shareable", "@external", "@requires", "@provides", "@override", '
    '"@inaccessible", "@interfaceObject"])\n'
)


def sub(name: str, sdl: str, fed2: bool = True) -> Subgraph:
    return Subgraph(name, f"http://{name}.example/graphql", (FED2 if fed2 else "") + sdl)


def issues_of(*subgraphs: Subgraph) -> list[CompositionIssue]:
    with pytest.raises(CompositionError) as info:
        compose(list(subgraphs))
    return info.value.issues


def only(code: str, *subgraphs: Subgraph) -> CompositionIssue:
    found = issues_of(*subgraphs)
    matching = [i for i in found if i.code == code]
    assert matching, f"no {code} in {[str(i) for i in found]}"
    return matching[0]


def test_invalid_graphql_names_the_subgraph() -> None:
    issue = only("INVALID_GRAPHQL", sub("users", "type Query { me: User "))
    assert issue.subgraphs == ("users",)
    assert "[users]" in issue.message


def test_unknown_directive() -> None:
    issue = only("INVALID_GRAPHQL", sub("users", "type Query { me: Int @nope }"))
    assert 'Unknown directive "@nope"' in issue.message


def test_key_naming_a_missing_field() -> None:
    issue = only(
        "KEY_INVALID_FIELDS",
        sub("users", 'type Query { me: User } type User @key(fields: "id email") { id: ID! }'),
    )
    assert issue.subgraphs == ("users",)
    assert issue.type_name == "User"
    assert 'Cannot query field "email" on type "User"' in issue.message


def test_key_with_arguments_or_missing_subselection() -> None:
    args = only(
        "KEY_INVALID_FIELDS",
        sub("a", 'type Query { t: T } type T @key(fields: "id") { id(x: Int): ID! }'),
    )
    assert "arguments" in args.message
    missing = only(
        "KEY_INVALID_FIELDS",
        sub("a", 'type Query { t: T } type T @key(fields: "o") { o: O } type O { x: Int }'),
    )
    assert "must have a selection of subfields" in missing.message


def test_non_shareable_field_in_two_subgraphs() -> None:
    issue = only(
        "INVALID_FIELD_SHARING",
        sub("a", 'type Query { u: User } type User @key(fields: "id") { id: ID! name: String }'),
        sub("b", 'type Query { v: User } type User @key(fields: "id") { id: ID! name: String }'),
    )
    assert issue.subgraphs == ("a", "b")
    assert (issue.type_name, issue.field_name) == ("User", "name")
    assert 'Non-shareable field "User.name"' in issue.message


def test_sharing_is_fine_when_every_definition_is_shareable() -> None:
    user = 'type User @key(fields: "id") { id: ID! n: String @shareable }'
    compose(
        [
            sub("a", "type Query { u: User } " + user),
            sub("b", "type Query { v: User } " + user),
        ]
    )


def test_conflicting_field_types() -> None:
    issue = only(
        "FIELD_TYPE_MISMATCH",
        sub(
            "a",
            'type Query { u: User } type User @key(fields: "id") { id: ID! age: Int @shareable }',
        ),
        sub(
            "b",
            'type Query { v: User } type User @key(fields: "id") { id: ID! '
            "age: String @shareable }",
        ),
    )
    assert (issue.type_name, issue.field_name) == ("User", "age")
    assert '"Int" in subgraph "a"' in issue.message and '"String" in subgraph "b"' in issue.message


def test_conflicting_argument_types_and_defaults() -> None:
    a = sub("a", "type Query { f(x: Int = 1): Int @shareable }")
    b = sub("b", 'type Query { f(x: String = "1"): Int @shareable }')
    assert only("FIELD_ARGUMENT_TYPE_MISMATCH", a, b).subgraphs == ("a", "b")
    c = sub("c", "type Query { f(x: Int = 2): Int @shareable }")
    assert "default" in only("FIELD_ARGUMENT_DEFAULT_MISMATCH", a, c).message


def test_required_argument_missing_in_some_subgraph() -> None:
    issue = only(
        "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
        sub("a", "type Query { f(x: Int!): Int @shareable }"),
        sub("b", "type Query { f: Int @shareable }"),
    )
    assert '"Query.f(x:)"' in issue.message and issue.subgraphs == ("a", "b")


def test_type_kind_mismatch() -> None:
    issue = only(
        "TYPE_KIND_MISMATCH",
        sub("a", "type Query { t: T } type T { x: Int }"),
        sub("b", "type Query { u: T } interface T { x: Int }"),
    )
    assert issue.type_name == "T"
    assert 'Object Type in subgraph "a"' in issue.message
    assert 'Interface Type in subgraph "b"' in issue.message


def test_external_with_no_owner_is_an_unresolvable_requires() -> None:
    issue = only(
        "EXTERNAL_MISSING_ON_BASE",
        sub(
            "a",
            'type Query { t: T } type T @key(fields: "id") { id: ID! '
            'w: Int @external e: Int @requires(fields: "w") }',
        ),
    )
    assert (issue.type_name, issue.field_name, issue.subgraphs) == ("T", "w", ("a",))


def test_requires_naming_a_missing_field() -> None:
    issue = only(
        "REQUIRES_INVALID_FIELDS",
        sub(
            "a",
            'type Query { t: T } type T @key(fields: "id") { id: ID! '
            'e: Int @requires(fields: "ghost") }',
        ),
    )
    assert (issue.type_name, issue.field_name) == ("T", "e")
    assert 'Cannot query field "ghost"' in issue.message


def test_requires_of_a_local_field() -> None:
    issue = only(
        "REQUIRES_FIELDS_MISSING_EXTERNAL",
        sub(
            "a",
            'type Query { t: T } type T @key(fields: "id") { id: ID! w: Int '
            'e: Int @requires(fields: "w") }',
        ),
    )
    assert '"T.w" should not be part of a @requires' in issue.message


def test_requires_on_a_type_without_a_resolvable_key() -> None:
    issue = only(
        "REQUIRES_UNRESOLVABLE",
        sub("a", 'type Query { t: T } type T @key(fields: "id") { id: ID! w: Int @shareable }'),
        sub(
            "b",
            'type Query { u: T } type T @key(fields: "id", resolvable: false) { id: ID! '
            'w: Int @external e: Int @requires(fields: "w") }',
        ),
    )
    assert (issue.subgraphs, issue.type_name, issue.field_name) == (("b",), "T", "e")


def test_provides_errors() -> None:
    bad = only(
        "PROVIDES_INVALID_FIELDS",
        sub(
            "a",
            'type Query { t: T @provides(fields: "nope") } type T @key(fields: "id") { id: ID! }',
        ),
    )
    assert (bad.type_name, bad.field_name) == ("Query", "t")
    scalar = only(
        "PROVIDES_ON_NON_OBJECT_FIELD",
        sub("a", 'type Query { n: Int @provides(fields: "x") }'),
    )
    assert scalar.field_name == "n"
    local = only(
        "PROVIDES_FIELDS_MISSING_EXTERNAL",
        sub(
            "a",
            'type Query { t: T @provides(fields: "x") } type T @key(fields: "id") '
            "{ id: ID! x: Int }",
        ),
    )
    assert '"T.x" should not be part of a @provides' in local.message


def test_unused_external() -> None:
    issue = only(
        "EXTERNAL_UNUSED",
        sub("a", 'type Query { t: T } type T @key(fields: "id") { id: ID! w: Int @shareable }'),
        sub("b", 'type T @key(fields: "id") { id: ID! w: Int @external }'),
    )
    assert (issue.subgraphs, issue.type_name, issue.field_name) == (("b",), "T", "w")


def test_enum_used_for_input_and_output_must_match() -> None:
    issue = only(
        "ENUM_VALUE_MISMATCH",
        sub("a", "type Query { c(x: Color): Color } enum Color { RED BLUE }"),
        sub("b", "type Query { d(x: Color): Color } enum Color { RED GREEN }"),
    )
    assert issue.type_name == "Color"
    assert '"BLUE" is defined in subgraph "a" but not in subgraph "b"' in issue.message


def test_input_types() -> None:
    missing = only(
        "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
        sub("a", "type Query { f(i: In): Int } input In { x: Int! y: Int }"),
        sub("b", "type Query { g(i: In): Int } input In { y: Int }"),
    )
    assert (missing.type_name, missing.field_name) == ("In", "x")
    empty = only(
        "EMPTY_MERGED_INPUT_TYPE",
        sub("a", "type Query { f(i: In): Int } input In { x: Int }"),
        sub("b", "type Query { g(i: In): Int } input In { y: Int }"),
    )
    assert empty.type_name == "In"


def test_override_errors() -> None:
    own = only(
        "OVERRIDE_FROM_SELF_ERROR",
        sub(
            "a",
            'type Query { t: T } type T @key(fields: "id") { id: ID! x: Int @override(from: "a") }',
        ),
    )
    assert own.field_name == "x"
    both = only(
        "OVERRIDE_SOURCE_HAS_OVERRIDE",
        sub(
            "a",
            'type Query { t: T } type T @key(fields: "id") { id: ID! x: Int @override(from: "b") }',
        ),
        sub("b", 'type T @key(fields: "id") { id: ID! x: Int @override(from: "a") }'),
    )
    assert set(both.subgraphs) == {"a", "b"}
    external = only(
        "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
        sub("a", 'type Query { t: T } type T @key(fields: "id") { id: ID! x: Int @shareable }'),
        sub(
            "b",
            'type T @key(fields: "id") { id: ID! x: Int @external @override(from: "a") '
            'y: Int @requires(fields: "x") }',
        ),
    )
    assert external.subgraphs == ("b",)


def test_interface_object_errors() -> None:
    issue = only(
        "INTERFACE_OBJECT_USAGE_ERROR",
        sub(
            "a",
            'type Query { n: Node } interface Node @key(fields: "id") { id: ID! } '
            'type Book implements Node @key(fields: "id") { id: ID! }',
        ),
        sub(
            "b",
            'type Node @key(fields: "id") @interfaceObject { id: ID! x: Int } '
            'type Book @key(fields: "id") { id: ID! }',
        ),
    )
    assert 'defines type "Book"' in issue.message
    alone = only(
        "INTERFACE_OBJECT_USAGE_ERROR",
        sub(
            "b", 'type Query { n: Node } type Node @key(fields: "id") @interfaceObject { id: ID! }'
        ),
    )
    assert "no subgraph defines it as an interface" in alone.message


def test_extension_with_no_base() -> None:
    issue = only(
        "EXTENSION_WITH_NO_BASE",
        sub("a", 'type Query { t: T } extend type T @key(fields: "id") { id: ID! }'),
    )
    assert issue.type_name == "T"


def test_unsatisfiable_field() -> None:
    issue = only(
        "SATISFIABILITY_ERROR",
        sub("a", "type Query { p: P } type P @shareable { x: Int y: Int }"),
        sub("b", "type Query { q: P } type P @shareable { x: Int }"),
    )
    assert (issue.type_name, issue.field_name) == ("P", "y")
    assert "{\n  q {\n    y\n  }\n}" in issue.message
    assert 'from subgraph "b"' in issue.message
    assert 'type "P" has no @key defined in subgraph "a"' in issue.message


def test_entity_jump_makes_the_field_reachable() -> None:
    compose(
        [
            sub("a", 'type Query { p: P } type P @key(fields: "id") { id: ID! x: Int }'),
            sub("b", 'type Query { q: P } type P @key(fields: "id") { id: ID! y: Int }'),
        ]
    )


def test_duplicates() -> None:
    duplicate = only(
        "DUPLICATE_SUBGRAPH_NAME",
        sub("a", "type Query { x: Int }"),
        sub("a", "type Query { y: Int }"),
    )
    assert duplicate.subgraphs == ("a",)


def test_every_issue_is_reported_at_once() -> None:
    issues = issues_of(
        sub(
            "a",
            'type Query { u: User } type User @key(fields: "id") { id: ID! name: String '
            "age: Int @shareable }",
        ),
        sub(
            "b",
            'type Query { v: User } type User @key(fields: "id") { id: ID! name: String '
            "age: String @shareable }",
        ),
    )
    assert {i.code for i in issues} == {"INVALID_FIELD_SHARING", "FIELD_TYPE_MISMATCH"}
    text = str(CompositionError(issues))
    assert "composition failed with 2 issue(s)" in text


def test_no_subgraphs() -> None:
    assert issues_of()[0].code == "NO_SUBGRAPHS"


def test_requires_whose_fields_cannot_be_reached() -> None:
    """`T.z` needs `w`, which only subgraph c resolves, and c's key `sku` is unreachable."""
    issues = issues_of(
        sub("a", 'type Query { t: T } type T @key(fields: "id") { id: ID! }'),
        sub(
            "b",
            'type T @key(fields: "id") { id: ID! w: Int @external z: Int @requires(fields: "w") }',
        ),
        sub("c", 'type T @key(fields: "sku") { sku: ID! w: Int }'),
    )
    unreachable = {(i.type_name, i.field_name) for i in issues if i.code == "SATISFIABILITY_ERROR"}
    assert {("T", "w"), ("T", "z"), ("T", "sku")} <= unreachable
    w = next(i for i in issues if i.field_name == "w")
    assert 'cannot move to subgraph "c" using @key(fields: "sku") of "T"' in w.message


def test_keys_that_are_all_unresolvable() -> None:
    issue = only(
        "SATISFIABILITY_ERROR",
        sub("a", 'type Query { t: T } type T @key(fields: "id", resolvable: false) { id: ID! }'),
        sub("b", 'type T @key(fields: "id", resolvable: false) { id: ID! y: Int }'),
    )
    assert '"resolvable" argument set to false' in issue.message


def test_provided_field_counts_as_resolved_for_sharing() -> None:
    issue = only(
        "INVALID_FIELD_SHARING",
        sub(
            "a",
            'type Query { t: T u: U } type T @key(fields: "id") { id: ID! '
            'n: String @external } type U { t: T @provides(fields: "n") }',
        ),
        sub("b", 'type T @key(fields: "id", resolvable: false) { id: ID! n: String }'),
    )
    assert 'defined as non-shareable in subgraph "b"' in issue.message


def _override(label: str, version: str = "2.7") -> list[Subgraph]:
    link = f'extend schema @link(url: "https://specs.apollo.dev/federation/v{version}", '
    return [
        Subgraph(
            "orders",
            "http://orders",
            link + 'import: ["@key"]) type Query { o: O } type O @key(fields: "id") '
            "{ id: ID! status: String! }",
        ),
        Subgraph(
            "shipping",
            "http://shipping",
            link + 'import: ["@key", "@override"]) type O @key(fields: "id") '
            f'{{ id: ID! status: String! @override(from: "orders", label: "{label}") }}',
        ),
    ]


@pytest.mark.parametrize(
    "label", ["1bad", "bad label", "percent(101)", "percent(1.123456789)", "percent(-1)"]
)
def test_invalid_override_labels(label: str) -> None:
    found = issues_of(*_override(label))
    assert [i.code for i in found] == ["OVERRIDE_LABEL_INVALID"]  # (and no sharing error)
    assert f'Invalid @override label "{label}" on field "O.status"' in found[0].message


@pytest.mark.parametrize(
    "label", ["percent(0)", "percent(100)", "percent(0.00000001)", "a:b/c.d-e_f"]
)
def test_valid_override_labels(label: str) -> None:
    assert f'overrideLabel: "{label}"' in compose(_override(label))


def test_override_labels_need_federation_2_7() -> None:
    issue = only("INVALID_GRAPHQL", *_override("percent(5)", "2.6"))
    assert issue.message == '[shipping] Unknown argument "label" on directive "@override".'


def _context_subgraph(body: str) -> Subgraph:
    return Subgraph(
        "a",
        "http://a",
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.8", '
        'import: ["@key", "@context", "@fromContext"]) ' + body,
    )


def test_context_errors_as_apollo_reports_them() -> None:
    found = issues_of(
        _context_subgraph(
            'type Query { t: T! } type T @key(fields: "id") @context(name: "my_ctx") '
            '{ id: ID! u: U! prop: String! } type U @key(fields: "id") { id: ID! '
            'f1(a: String @fromContext(field: "$nope { prop }")): Int! '
            'f2(a: String @fromContext(field: "$my_ctx { missing }")): Int! '
            'f3(a: String @fromContext(field: "{ prop }")): Int! } '
            'type V { x(a: String @fromContext(field: "$my_ctx { prop }")): Int }'
        )
    )
    # (the messages of @apollo/composition 2.14.1 for the same subgraph)
    assert [(i.code, i.message) for i in found] == [
        ("CONTEXT_NAME_INVALID", '[a] Context name "my_ctx" may not contain an underscore.'),
        (
            "CONTEXT_NOT_SET",
            '[a] Context "nope" is used at location "U.f1(a:)" but is never set.',
        ),
        (
            "CONTEXT_INVALID_SELECTION",
            '[a] Context "my_ctx" is used in "U.f2(a:)" but the selection is invalid for '
            'type T. Error: Cannot query field "missing" on type "T".',
        ),
        (
            "NO_CONTEXT_IN_SELECTION",
            '[a] @fromContext argument does not reference a context "{ prop }".',
        ),
        (
            "CONTEXT_NO_RESOLVABLE_KEY",
            '[a] Object "V" has no resolvable key but has a field with a contextual argument.',
        ),
    ]


def test_context_needs_federation_2_8() -> None:
    issue = only(
        "INVALID_LINK_DIRECTIVE_USAGE",
        Subgraph(
            "a",
            "http://a",
            'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", '
            'import: ["@key", "@context"]) type Query { t: Int }',
        ),
    )
    assert '"@context"' in issue.message
