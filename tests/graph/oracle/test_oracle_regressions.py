"""Failures the oracle found (tests/graph/oracle/test_oracle.py, test_oracle_incremental.py),
shrunk by hypothesis, kept as named cases: (world seed, operation, variables), compared with
the monolithic answer (and, for `@defer`/`@stream`, the merged parts with the whole answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.graph.oracle.check import case_for, compare
from tests.graph.oracle.test_oracle_incremental import check

CASES: dict[str, tuple[int, str, dict[str, Any]]] = {
    # A fragment left empty by a literal @skip declared its variable in the subgraph query.
    "empty_fragment_declares_no_variable": (
        0,
        "query Q($v0: Boolean!) { nodes { id ... @skip(if: $v0) { id @skip(if: true) } } }",
        {"v0": False},
    ),
    # One entity's answer merged into several objects shares its nested objects between them:
    # a later fetch's error for such an object belongs at every place it is found.
    "error_at_every_place_of_a_shared_object": (368, "{ allE2 { f0 { f3 { f2 } } } }", {}),
    # `f1 @requires(fields: "f0(mult: 2)")`: the client's own `f0` (no arguments) is not the
    # required `f0(mult: 2)`; both went into one subgraph query under the key `f0`, which the
    # subgraph rejected ("Fields 'f0' conflict because they have differing arguments").
    "requires_with_arguments_is_not_the_clients_field": (
        50,
        '{ oneE0(id: "e0-0") { f1 f0 } }',
        {},
    ),
    # Two copies of a root field under other conditions: the entity fetch for what is below
    # the excluded copy ran anyway (one fetch for both) and its error appeared at a skipped
    # field. Fetches for what is below a conditioned field are skipped with it.
    "fetch_below_a_skipped_copy_is_skipped": (
        1031,
        "query Q($v2: Boolean!, $v3: Boolean = true) "
        "{ allE1 @include(if: $v2) { f2 { f1 } } allE1 @skip(if: $v3) { a2: f2 { __typename } } }",
        {"v2": False, "v3": False},
    ),
}

INCREMENTAL: dict[str, tuple[int, str, dict[str, Any]]] = {
    # `__typename` of an @interfaceObject's object in a deferred part: the part's own fetch
    # tells the concrete type, and the part must be shaped as that type, as a whole answer
    # is ("Could not determine the object type of a Node.").
    "deferred_typename_of_an_interface_object": (
        29,
        '{ pickNode(id: "e0-0") { ... @defer { __typename } } }',
        {},
    ),
    # ... and a type condition in such a part applies to the concrete type.
    "deferred_type_condition_below_an_interface_object": (
        29,
        '{ pickNode(id: "e0-0") { n0 ... @defer { ... on E0 { f1 } ... @defer { __typename } } } }',
        {},
    ),
    # A key field fetched on its own through another key (`code` of `@key(fields: "id code")`
    # by `id`): the generated subgraphs' reference resolvers must resolve every key field.
    "deferred_key_field_fetched_by_another_key": (4, "{ allE1 { ... @defer { code } } }", {}),
    # A nested @defer found in the several places a part delivered at once (one per list
    # item) is one part: its fetches ran once per place, each with every place's errors.
    "nested_defer_in_list_items_is_one_part": (
        36,
        "{ allE1 { ... @defer { ... @defer { f1 } } } }",
        {},
    ),
    # One list streamed by two @streams at the same place (the same field outside and in a
    # deferred fragment): streamed once, the second stream's items merged into the first's.
    "one_list_streamed_at_one_place_twice": (
        0,
        "{ allE0 @stream(initialCount: 1) { id } "
        "... @defer { allE0 @stream(initialCount: 1) { f0 ... @defer { id } } } }",
        {},
    ),
    "one_list_streamed_in_two_nested_deferred_fragments": (
        0,
        "{ ... @defer { allE0 @stream(initialCount: 0) { ... @defer { id } } "
        "... @defer { ... @defer { allE0 @stream(initialCount: 0) { ... @defer { id } } } } } }",
        {},
    ),
}


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_found_by_the_oracle(loop: asyncio.AbstractEventLoop, name: str) -> None:
    seed, query, variables = CASES[name]
    case = case_for(seed)
    assert case is not None
    compare(case, query, variables, loop)


@pytest.mark.parametrize("name", sorted(INCREMENTAL))
def test_incremental_found_by_the_oracle(loop: asyncio.AbstractEventLoop, name: str) -> None:
    seed, query, variables = INCREMENTAL[name]
    case = case_for(seed)
    assert case is not None
    check(case, query, variables, loop)
