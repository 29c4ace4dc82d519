"""The planner's parts stand alone: the schema view and the cost model are built and asked
without a planner, and root planning is a function over them."""

from __future__ import annotations

from graphql import OperationDefinitionNode, parse

from graph.planning import normalize_operation
from graph.planning.costs import INF, JUMP, CostModel
from graph.planning.groups import Ctx, FetchGraph
from graph.planning.operation import OpField, parse_field_set
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


def _op(text: str) -> OperationDefinitionNode:
    d = parse(text).definitions[0]
    assert isinstance(d, OperationDefinitionNode)
    return d
