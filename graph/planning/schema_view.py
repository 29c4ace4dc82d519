"""What the planner asks of the supergraph, with the caches that make asking cheap: parsed
field sets (keys, @requires, @provides), provided trees, where a field is local, the type a
subgraph declares for a field. One per Planner; it holds nothing of any one operation."""

from __future__ import annotations

from graphql import parse_type, print_ast

from graph.planning.groups import Provided, provided_tree
from graph.planning.operation import OpSelection, parse_field_set
from graph.supergraph.model import FieldInfo, Supergraph, named_type_of


class SchemaView:
    def __init__(self, supergraph: Supergraph) -> None:
        self.sg = supergraph
        self._fieldsets: dict[tuple[str, str | None], tuple[OpSelection, ...]] = {}
        self._provided: dict[str, Provided] = {}

    def field_set(self, text: str, prefix: str | None = None) -> tuple[OpSelection, ...]:
        """A key / @requires / @provides field set; with `prefix`, as internal fields under
        private response keys (see `parse_field_set`)."""
        key = (text, prefix)
        sels = self._fieldsets.get(key)
        if sels is None:
            sels = parse_field_set(text, prefix)
            self._fieldsets[key] = sels
        return sels

    def provided_of(self, text: str) -> Provided:
        p = self._provided.get(text)
        if p is None:
            p = provided_tree(self.field_set(text))
            self._provided[text] = p
        return p

    def field_type(self, graph: str, fi: FieldInfo) -> str:
        """The field's named type as the subgraph declares it (join__field(type:) may differ)."""
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.type:
            return named_type_of(parse_type(jf.type))
        return fi.named_type

    def type_shape(self, graph: str, fi: FieldInfo) -> str:
        jf = fi.by_graph.get(graph)
        if jf is not None and jf.type:
            return jf.type
        return print_ast(fi.type_node)

    def is_local(
        self, graph: str, type_name: str, fi: FieldInfo, provided: Provided | None
    ) -> bool:
        """Can `graph` resolve the field where it is (itself, or through a @provides)?"""
        if fi.resolvers.get(graph) == type_name:
            jf = fi.by_graph.get(graph)
            # A field with @requires is only resolvable through _entities (with its needs).
            return jf is None or not jf.requires
        return (
            provided is not None
            and self.prov(provided, fi)[0]
            and (graph in fi.by_graph or graph in self.sg.types[type_name].graphs)
        )

    def prov(self, provided: Provided | None, fi: FieldInfo) -> tuple[bool, Provided | None]:
        """Is the field in a @provides tree, and what does it provide below it?"""
        if not provided:
            return False, None
        if fi.name in provided:
            return True, provided[fi.name]
        t = self.sg.types.get(fi.parent)
        for tn in (fi.parent, *(t.interfaces if t else ())):
            k = f"{tn}.{fi.name}"
            if k in provided:
                return True, provided[k]
        return False, None
