"""The authorization filter over real supergraphs composed by our composition: what is
removed for which caller, the errors' paths, the operation left to plan, and the response
the shaper gives for it (nulls, null propagation)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, validate

from graph.authorization import Access, Authorizer, Decision
from graph.composition import Subgraph, compose
from graph.execution.shaping import Shaper
from graph.planning import normalize_operation
from graph.planning.operation import OpField, OpFragment, OpSelection
from graph.supergraph import Supergraph, build_api_schema
from graph.supergraph.features import SpecDirectives

HEADER = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", '
    '"@authenticated", "@requiresScopes", "@policy", "@shareable"])\n'
)
USERS = """
type Query {
  me: User @authenticated
  user(id: ID!): User
  users: [User!]!
  stats: Stats @requiresScopes(scopes: [["read:analytics"], ["admin"]])
  feed: [Post!]!
  node: Node
  search: [Result!]!
}
type User @key(fields: "id") {
  id: ID!
  name: String
  email: String @requiresScopes(scopes: [["read:email"]])
  secret: String! @policy(policies: [["owner"]])
}
type Stats @requiresScopes(scopes: [["read:analytics"]]) { views: Int }
interface Node { id: ID! }
type Post implements Node @key(fields: "id") { id: ID! title: String views: Int @authenticated }
type Draft implements Node @key(fields: "id") @authenticated { id: ID! body: String }
union Result = Post | Draft
"""


@pytest.fixture(scope="module")
def world() -> tuple[Supergraph, Authorizer, Shaper]:
    sdl = compose([Subgraph("users", "http://users/graphql", HEADER + USERS)])
    supergraph = Supergraph.from_sdl(sdl)
    api = build_api_schema(supergraph)
    return supergraph, Authorizer(api, SpecDirectives.read(supergraph.document)), Shaper(api)


def selections(world: Any, query: str) -> tuple[OpSelection, ...]:
    _, authorizer, _ = world
    doc = parse(query)
    assert not validate(authorizer.schema, doc)
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    return normalize_operation(op, frags).selections


def decide(world: Any, query: str, access: Access, **kw: Any) -> Decision:
    return world[1].decide(selections(world, query), "Query", access, **kw)


def names(sels: tuple[OpSelection, ...]) -> list[Any]:
    out: list[Any] = []
    for s in sels:
        if isinstance(s, OpField):
            sub = s.selections
            out.append(s.response_key if sub is None else {s.response_key: names(sub)})
        else:
            out.append({f"... on {s.type_condition}": names(s.selections)})
    return out


def shape(world: Any, decision: Decision, data: dict[str, Any]) -> tuple[Any, list[Any]]:
    errors = decision.errors()
    shaped = world[2].shape(decision.shape_selections, "Query", data, {}, errors, {})
    return shaped, errors


ANONYMOUS = Access()
SIGNED_IN = Access(authenticated=True)


def test_nothing_protected_is_asked_for_nothing_changes(world: Any) -> None:
    sels = selections(world, "{ user(id: 1) { id name } }")
    decision = world[1].decide(sels, "Query", ANONYMOUS)
    assert not decision.filtered
    assert decision.plan_selections is sels and decision.shape_selections is sels


def test_authenticated_field_removed_for_anonymous_and_kept_for_a_signed_in_caller(
    world: Any,
) -> None:
    query = "{ me { name } user(id: 1) { name } }"
    anonymous = decide(world, query, ANONYMOUS)
    assert names(anonymous.plan_selections) == [{"user": ["name"]}]
    assert anonymous.errors() == [
        {
            "message": "Unauthorized field or type",
            "path": ["me"],
            "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
        }
    ]
    data, _ = shape(world, anonymous, {"user": {"name": "ann"}})
    assert data == {"me": None, "user": {"name": "ann"}}
    assert not decide(world, query, SIGNED_IN).filtered


def test_scopes_are_an_or_of_ands(world: Any) -> None:
    query = "{ stats { views } }"
    assert decide(world, query, Access(True, frozenset({"admin"}))).filtered  # type needs analytics
    assert not decide(world, query, Access(True, frozenset({"read:analytics"}))).filtered
    assert decide(world, query, Access(True, frozenset({"read:posts"}))).filtered


def test_fields_under_lists_use_at_in_their_path_and_non_null_propagates(world: Any) -> None:
    decision = decide(world, "{ users { id email secret } }", Access(True, frozenset()))
    assert [e["path"] for e in decision.errors()] == [
        ["users", "@", "email"],
        ["users", "@", "secret"],
    ]
    assert names(decision.plan_selections) == [{"users": ["id"]}]
    data, errors = shape(world, decision, {"users": [{"id": "1"}, {"id": "2"}]})
    # secret is String!: its null nulls the User, which nulls the non-null list, then data.
    assert data is None
    assert len(errors) == 2  # authorization's errors only, no "Cannot return null" on top


def test_policies_granted_by_the_evaluator(world: Any) -> None:
    query = "{ user(id: 1) { secret } }"
    needs = world[1].needs(selections(world, query), "Query")
    assert needs.policies == {"owner"} and needs.any
    assert decide(world, query, Access(True)).filtered
    assert not decide(world, query, Access(True, policies=frozenset({"owner"}))).filtered


def test_a_field_with_nothing_readable_left_is_null_without_a_fetch(world: Any) -> None:
    decision = decide(world, "{ user(id: 1) { email } name: user(id: 2) { id } }", ANONYMOUS)
    assert names(decision.plan_selections) == [{"name": ["id"]}]
    data, errors = shape(world, decision, {"name": {"id": "2"}})
    assert data == {"user": None, "name": {"id": "2"}}
    assert [e["path"] for e in errors] == [["user", "email"]]


def test_everything_removed_leaves_nothing_to_plan(world: Any) -> None:
    decision = decide(world, "{ me { id } __typename }", ANONYMOUS)
    assert decision.empty
    data, _ = shape(world, decision, {})
    assert data == {"me": None, "__typename": "Query"}


def test_protected_implementation_protects_the_interface_and_the_union_fragment(
    world: Any,
) -> None:
    # Composition gave Node the requirements of Draft: reading a Node needs them.
    assert decide(world, "{ node { id } }", ANONYMOUS).errors()[0]["path"] == ["node"]
    # A union carries nothing: only the protected member's fragment goes.
    decision = decide(
        world,
        "{ search { ... on Post { title } ... on Draft { body } } }",
        ANONYMOUS,
    )
    assert [e["path"] for e in decision.errors()] == [["search", "@", "... on Draft"]]
    assert names(decision.plan_selections) == [{"search": [{"... on Post": ["title"]}]}]
    data, _ = shape(
        world,
        decision,
        {"search": [{"__typename": "Post", "title": "t"}, {"__typename": "Draft"}]},
    )
    assert data == {"search": [{"title": "t"}, {}]}


def test_named_fragments_are_checked_where_they_are_spread(world: Any) -> None:
    decision = decide(
        world,
        "query { feed { ...P } } fragment P on Post { title views }",
        ANONYMOUS,
    )
    assert [e["path"] for e in decision.errors()] == [["feed", "@", "views"]]
    plan = decision.plan_selections
    assert isinstance(plan[0], OpField) and plan[0].selections is not None
    assert isinstance(plan[0].selections[0], OpFragment)


def test_aliases_name_the_error_path(world: Any) -> None:
    decision = decide(world, "{ who: me { id } }", ANONYMOUS)
    assert decision.errors()[0]["path"] == ["who"]


def test_dry_run_reports_without_removing(world: Any) -> None:
    sels = selections(world, "{ me { id } }")
    decision = world[1].decide(sels, "Query", ANONYMOUS, dry_run=True)
    assert decision.filtered and decision.plan_selections is sels
    assert [e["path"] for e in decision.errors()] == [["me"]]


def test_needs_lists_the_scopes_an_operation_can_touch(world: Any) -> None:
    needs = world[1].needs(selections(world, "{ stats { views } users { email } }"), "Query")
    assert needs.scopes == {"read:analytics", "admin", "read:email"}
    assert not world[1].needs(selections(world, "{ user(id: 1) { name } }"), "Query").any
