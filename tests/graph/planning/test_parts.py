"""The planner's parts stand alone: the schema view and the cost model are built and asked
without a planner, and root planning is a function over them."""

from __future__ import annotations

from dataclasses import MISSING, fields

from graphql import OperationDefinitionNode, parse

from graph.planning import normalize_operation
from graph.planning.costs import INF, JUMP, CostModel
from graph.planning.groups import Ctx, FetchGraph, short_alias, with_selections
from graph.planning.operation import STREAM, Deferral, OpField, parse_field_set
from graph.planning.planner import OperationPlanning
from graph.planning.roots import plan_roots
from graph.planning.schema_view import SchemaView
from graph.supergraph import Supergraph
from graph.supergraph.model import FieldInfo
from tests.graph.fixtures.subgraphs import supergraph_sdl


def _view() -> SchemaView:
    return SchemaView(Supergraph.from_sdl(supergraph_sdl({})))


def test_schema_view_caches_field_sets_under_private_keys() -> None:
    view = _view()
    plain = view.field_set("upc")
    internal = view.field_set("upc", "_fed_")
    assert [s.response_key for s in plain] == ["upc"]  # type: ignore[union-attr]
    assert [s.response_key for s in internal] == ["_fed_upc"]  # type: ignore[union-attr]
    assert view.field_set("upc", "_fed_") is internal
    assert parse_field_set('price(currency: "USD")', "_p_")[0].response_key.startswith("_p_price_")  # type: ignore[union-attr]


def test_cost_model_alone() -> None:
    view = _view()
    costs = CostModel(view)
    product = view.sg.types["Product"]
    reviews = product.fields["reviews"]
    op = normalize_operation(_op("{ topProducts { reviews { body } } }"), {})
    top = op.selections[0]
    assert isinstance(top, OpField) and top.selections
    sub = top.selections[0]
    assert isinstance(sub, OpField)
    # From products, Product.reviews needs one jump (to reviews); from reviews it is local.
    assert costs.cost_local("reviews", reviews, sub, None, 0) == 0
    assert JUMP <= costs.cost_sels("products", "Product", top.selections, None, 0) < INF
    assert costs.jump_options("products", "Product", reviews) == [("reviews", "Product")]


def test_root_planning_is_a_function() -> None:
    view = _view()
    op = normalize_operation(_op("{ me { name } topProducts { name } }"), {})
    fetches = FetchGraph(mutation=False)
    added: list[tuple[str, str]] = []

    def add_field(ctx: Ctx, type_name: str, fi: FieldInfo, f: OpField) -> None:
        added.append((ctx.group.subgraph, f.name))

    plan_roots(op, view.sg, CostModel(view), fetches, add_field)
    assert added == [("accounts", "me"), ("products", "topProducts")]
    assert [g.subgraph for g in fetches.groups] == ["accounts", "products"]


def _every_attribute_set() -> OpField:
    """A field with no attribute at its default (fails when OpField gains one this misses)."""
    f = OpField(
        response_key="_fed___typename",
        name="name",
        args_text="(first: 1)",
        directives_text="@include(if: $v)",
        conditions=(("include", "v"),),
        selections=(OpField("id", "id"),),
        variables=frozenset({"v"}),
        internal=True,
        denied=True,
        stream=Deferral(7, STREAM, "l", "s", None, 2),
        client_key="__typename",
    )
    for attr in fields(OpField):
        default = attr.default if attr.default_factory is MISSING else attr.default_factory()
        assert attr.default is MISSING or getattr(f, attr.name) != default, attr.name
    return f


def _same_but(a: OpField, b: OpField, changed: str) -> None:
    for attr in fields(OpField):
        if attr.name != changed:
            assert getattr(a, attr.name) == getattr(b, attr.name), attr.name


def test_planner_copies_of_a_field_keep_every_attribute() -> None:
    """The planner's copies of a client field (split across subgraphs, renamed against a
    clash of types in one fetch) change one thing only: a copy that dropped, say, its client
    key (`__typename: name`) or its stream would plan or shape another field."""
    f = _every_attribute_set()
    sels = (OpField("upc", "upc"),)
    split = with_selections(f, sels)
    assert split.selections == sels
    _same_but(split, f, "selections")

    view = _view()
    op = normalize_operation(_op("{ topProducts { name } }"), {})
    planning = OperationPlanning(view, op)
    group = planning.fetches.root_group("products")
    ctx = Ctx(group, group.selset, ("topProducts", "@"))
    # The same response key already fetched here with another type: the field is renamed.
    group.shapes[(("topProducts", "@"), f.response_key)] = "Int"
    fi = view.sg.types["Product"].fields["name"]
    unclashed = planning._unclash(ctx, fi, f)
    assert unclashed.response_key == f"{f.response_key}__{short_alias('String!')}"
    _same_but(unclashed, f, "response_key")


def _op(text: str) -> OperationDefinitionNode:
    d = parse(text).definitions[0]
    assert isinstance(d, OperationDefinitionNode)
    return d
