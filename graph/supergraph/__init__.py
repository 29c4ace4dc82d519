"""Loading a Federation 2 supergraph SDL: the join model and the API schema."""

from graph.supergraph.api_schema import build_api_schema
from graph.supergraph.errors import SupergraphError
from graph.supergraph.model import FieldInfo, JoinField, JoinType, Subgraph, Supergraph, TypeInfo

__all__ = [
    "FieldInfo",
    "JoinField",
    "JoinType",
    "Subgraph",
    "Supergraph",
    "SupergraphError",
    "TypeInfo",
    "build_api_schema",
]
