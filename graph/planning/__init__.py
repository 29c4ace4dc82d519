"""Planning: a validated operation and the supergraph -> a QueryPlan (plain frozen data)."""

from graph.planning.errors import PlanningError
from graph.planning.operation import Deferral, NormalizedOperation, normalize_operation
from graph.planning.plan import (
    DeferredNode,
    EntityTarget,
    FetchNode,
    FlattenNode,
    ParallelNode,
    PlanNode,
    QueryPlan,
    ReqField,
    ReqFragment,
    SequenceNode,
)
from graph.planning.planner import Planner
from graph.planning.printer import format_plan

__all__ = [
    "Deferral",
    "DeferredNode",
    "EntityTarget",
    "FetchNode",
    "FlattenNode",
    "NormalizedOperation",
    "ParallelNode",
    "PlanNode",
    "Planner",
    "PlanningError",
    "QueryPlan",
    "ReqField",
    "ReqFragment",
    "SequenceNode",
    "format_plan",
    "normalize_operation",
]
