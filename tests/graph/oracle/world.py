"""Random small federated graphs over one generated data set, and the same graph as one
monolithic graphql-core schema over the same data (the oracle).

`make_world(seed)` draws (deterministically from the seed):

- 2-4 subgraphs; 2-4 entity types, each with a single key (`id`) and, sometimes, a compound
  key (`id code`) and a nested one (`info { tag }`; some subgraphs know an entity by its
  nested key only), known to several subgraphs;
- scalar fields of every nullability, lists, references to other entities (single and
  lists), resolved by one subgraph or shared (`@shareable`) by several;
- `@requires` fields (the input owned by another subgraph, sometimes `@inaccessible`, with or
  without an argument), `@provides` on references, `@override` (the overridden subgraph
  throws if it is ever asked), a union and an interface over the entities; sometimes the
  interface is an entity interface (`@key` on it) with fields of its own in a subgraph that
  sees it as an `@interfaceObject` (a subgraph of its own when every other one knows an
  implementation), with a root field there that returns the interface;
- root fields (`eX(id:)`, `allX`, `things`, `nodes`) in one or several subgraphs;
- values that fail (the resolver raises) on some objects, in both graphs alike, never on a
  field the router needs to jump (keys, @requires inputs).

`World.subgraphs()` gives executable subgraph definitions (tests/graph/fixtures/executable.py)
and `World.monolith()` the monolithic schema; both read the same `data`.

The features added after the first version draw from a second generator (seeded from the
seed too), so the worlds of the regression cases keep their first-version parts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLSchema, build_schema

from tests.graph.fixtures.executable import SubgraphDef

SCALARS = ("String", "Int", "Boolean")
KEY_FIELDS = ("id", "code", "info")


@dataclass
class Field:
    name: str
    kind: str  # scalar | list | ref | reflist | computed | computed_arg | argfield
    type: str  # the GraphQL type (monolith and subgraphs)
    owners: list[str]
    target: str | None = None  # ref / reflist: the entity type
    requires: str | None = None  # computed: the input field
    override_from: str | None = None  # @override(from:) in owners[0]
    provides: str | None = None  # ref: a field of the target provided by the owner
    fails_on: frozenset[str] = frozenset()  # object ids whose value raises
    inaccessible: bool = False
    provided: bool = False  # some subgraph @provides it (then it is @shareable where owned)


@dataclass
class Entity:
    name: str
    graphs: list[str]
    fields: dict[str, Field] = field(default_factory=dict)
    compound_key: bool = False
    nested_key: bool = False  # `info { tag }` (`info: <Name>Info!`, tag unique)
    nested_only: str | None = None  # a subgraph that knows the entity by its nested key only


@dataclass
class World:
    seed: int
    graphs: list[str]
    entities: dict[str, Entity]
    data: dict[str, dict[str, dict[str, Any]]]  # entity -> id -> values
    roots: dict[str, list[str]]  # root field -> subgraphs
    interface_members: list[str]
    union_members: list[str]
    # The subgraph with `Node` as an @interfaceObject (the interface then has `@key(fields:
    # "id")`), and the fields it adds to the interface (values in the members' rows).
    node_object: str | None = None
    node_fields: list[Field] = field(default_factory=list)

    def node_entity(self, obj_id: str) -> str | None:
        """The interface member with the object `obj_id` (ids are unique across types)."""
        for m in self.interface_members:
            if obj_id in self.data[m]:
                return m
        return None

    def key_values(self, entity: str, obj_id: str) -> dict[str, Any]:
        """The key fields of an object, as a subgraph returns them."""
        e = self.entities[entity]
        row = self.data[entity][obj_id]
        out: dict[str, Any] = {"id": obj_id}
        if e.compound_key:
            out["code"] = row["code"]
        if e.nested_key:
            out["info"] = row["info"]
        return out

    # ------------------------------------------------------------------ values
    def value(self, entity: str, obj_id: str, f: Field, args: dict[str, Any]) -> Any:
        """What the field resolves to for one object (the same in both graphs)."""
        if obj_id in f.fails_on:
            raise ValueError(f"{entity}.{f.name} fails for {obj_id}")
        row = self.data[entity][obj_id]
        if f.kind in ("scalar", "list"):
            return row[f.name]
        if f.kind == "argfield":
            return row["score"] * args.get("mult", 1)
        if f.kind == "ref":
            target = row[f.name]
            return None if target is None else {"id": target}
        if f.kind == "reflist":
            return [{"id": t} if t is not None else None for t in row[f.name]]
        if f.kind == "computed_arg":
            return _compute(row["score"] * 2)
        if f.kind == "computed":
            return _compute(row[f.requires or ""])
        raise AssertionError(f.kind)

    # ------------------------------------------------------------------ monolith
    def monolith(self) -> GraphQLSchema:
        lines = []
        node_body = " ".join(f"{f.name}: {f.type}" for f in self.node_fields)
        for e in self.entities.values():
            impl = " implements Node" if e.name in self.interface_members else ""
            body = " ".join(
                f"{f.name}{'(mult: Int! = 1)' if f.kind == 'argfield' else ''}: {f.type}"
                for f in e.fields.values()
                if not f.inaccessible
            )
            if impl:
                body += " " + node_body
            lines.append(f"type {e.name}{impl} {{ {body} }}")
            if e.nested_key:
                lines.append(f"type {e.name}Info {{ tag: ID! }}")
        lines.append(f"interface Node {{ id: ID! {node_body} }}")
        lines.append(f"union Thing = {' | '.join(self.union_members)}")
        lines.append("type Query { " + " ".join(self._root_sdl(n) for n in self.roots) + " }")
        schema = build_schema("\n".join(lines))
        for e in self.entities.values():
            t: Any = schema.get_type(e.name)
            for f in e.fields.values():
                if f.inaccessible:
                    continue
                t.fields[f.name].resolve = self._mono_field(e.name, f)
            if e.name in self.interface_members:
                for f in self.node_fields:
                    t.fields[f.name].resolve = self._mono_field(e.name, f)
        q: Any = schema.query_type
        for name in self.roots:
            q.fields[name].resolve = self._root_resolver(name)
        for abstract in ("Node", "Thing"):
            at: Any = schema.get_type(abstract)
            at.resolve_type = lambda obj, *_: obj["__typename"]
        return schema

    def _mono_field(self, entity: str, f: Field) -> Callable[..., Any]:
        def resolve(obj: dict[str, Any], _info: Any, **args: Any) -> Any:
            v = self.value(entity, obj["id"], f, args)
            return self._typed(f, v)

        return resolve

    def _typed(self, f: Field, v: Any) -> Any:
        if f.kind == "ref" and v is not None:
            return {"__typename": f.target, **v}
        if f.kind == "reflist":
            return [{"__typename": f.target, **x} if x is not None else None for x in v]
        return v

    # ------------------------------------------------------------------ roots
    def _root_sdl(self, name: str) -> str:
        if name == "things":
            return "things: [Thing]"
        if name == "nodes":
            return "nodes: [Node!]!"
        if name == "pickNode":
            return "pickNode(id: ID!): Node"
        entity = name[3:]
        if name.startswith("all"):
            return f"{name}: [{entity}!]!"
        return f"{name}(id: ID!): {entity}"

    def _root_resolver(self, name: str) -> Callable[..., Any]:
        def resolve(_root: Any, _info: Any, **args: Any) -> Any:
            if name == "things":
                return [
                    {"__typename": e, "id": i}
                    for e in self.union_members
                    for i in list(self.data[e])[:2]
                ]
            if name == "nodes":
                return [
                    {"__typename": e, "id": i}
                    for e in self.interface_members
                    for i in list(self.data[e])[:2]
                ]
            if name == "pickNode":
                m = self.node_entity(args["id"])
                return None if m is None else {"__typename": m, "id": args["id"]}
            entity = name[3:]
            if name.startswith("all"):
                return [{"__typename": entity, "id": i} for i in self.data[entity]]
            if args["id"] not in self.data[entity]:
                return None
            return {"__typename": entity, "id": args["id"]}

        return resolve

    # ------------------------------------------------------------------ subgraphs
    def subgraphs(self) -> list[SubgraphDef]:
        return [self._subgraph(g) for g in self.graphs]

    def _subgraph(self, g: str) -> SubgraphDef:
        imports = {"key", "shareable", "external", "requires", "provides", "override"}
        imports |= {"inaccessible", "interfaceObject"}
        lines = [
            'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ['
            + ", ".join(f'"@{d}"' for d in sorted(imports))
            + "])"
        ]
        resolvers: dict[str, dict[str, Callable[..., Any]]] = {}
        has_node = has_thing = False
        for e in self.entities.values():
            if g not in e.graphs:
                continue
            shared = " @shareable" if len(e.graphs) > 1 else ""
            keys = ['@key(fields: "id")']
            if e.compound_key:
                keys.append('@key(fields: "id code")')
            if e.nested_only == g:
                keys = []
            parts = ["id: ID!" + shared]
            if e.compound_key:
                parts.append("code: String!" + shared)
            if e.nested_key:
                keys.append('@key(fields: "info { tag }")')
                parts.append(f"info: {e.name}Info!{shared}")
                lines.append(f"type {e.name}Info @shareable {{ tag: ID! }}")
            res: dict[str, Callable[..., Any]] = {"__resolveReference": self._reference(e.name)}
            externals: set[str] = set()
            for f in e.fields.values():
                if f.name in KEY_FIELDS:
                    continue
                mine = g in f.owners
                overridden = f.override_from == g
                if mine or overridden:
                    parts.append(self._field_sdl(e, f, g, overridden))
                    res[f.name] = self._sub_field(e.name, f, overridden)
                if mine and f.kind in ("computed", "computed_arg") and f.requires:
                    externals.add(f.requires)
            for name in sorted(externals):
                inp = e.fields[name]
                if g not in inp.owners:
                    args = "(mult: Int! = 1)" if inp.kind == "argfield" else ""
                    parts.append(f"{name}{args}: {inp.type} @external")
            if e.name in self.interface_members and self._knows_interface(g):
                has_node = True
            impl = " implements Node" if e.name in self.interface_members and has_node else ""
            lines.append(f"type {e.name}{impl} {' '.join(keys)} {{ {' '.join(parts)} }}")
            resolvers[e.name] = res
        # provided fields of other entities: declared @external here
        for e in self.entities.values():
            for f in e.fields.values():
                if self._provides(f, g):
                    t = self.entities[f.target or ""]
                    pf = t.fields[f.provides or ""]
                    if g not in t.graphs:
                        raise AssertionError("a provided target must be known")
                    if g not in pf.owners:
                        lines.append(f"extend type {t.name} {{ {pf.name}: {pf.type} @external }}")
        roots = []
        q: dict[str, Callable[..., Any]] = {}
        for name, owners in self.roots.items():
            if g not in owners:
                continue
            share = " @shareable" if len(owners) > 1 else ""
            roots.append(self._root_sdl(name) + share)
            q[name] = self._sub_root(name)
            has_thing |= name == "things"
            has_node |= name == "nodes"
        if has_node and self.node_object:
            lines.append('interface Node @key(fields: "id") { id: ID! }')
            resolvers["Node"] = {"__resolveReference": self._node_reference}
        elif has_node:
            lines.append("interface Node { id: ID! }")
        if g == self.node_object:
            body = " ".join(f"{f.name}: {f.type}" for f in self.node_fields)
            lines.append(f'type Node @key(fields: "id") @interfaceObject {{ id: ID! {body} }}')
            node_res: dict[str, Callable[..., Any]] = {"__resolveReference": self._node_object}
            for f in self.node_fields:
                node_res[f.name] = self._node_field(f)
            resolvers["Node"] = node_res
        if has_thing:
            members = [m for m in self.union_members if g in self.entities[m].graphs]
            lines.append(f"union Thing = {' | '.join(members)}")
        if roots:
            lines.append("type Query { " + " ".join(roots) + " }")
            resolvers["Query"] = q
        return SubgraphDef(g, "\n".join(lines), resolvers)

    def _knows_interface(self, g: str) -> bool:
        return "nodes" in self.roots and g in self.roots["nodes"]

    def _field_sdl(self, e: Entity, f: Field, g: str, overridden: bool) -> str:
        args = "(mult: Int! = 1)" if f.kind == "argfield" else ""
        out = f"{f.name}{args}: {f.type}"
        if (len(f.owners) > 1 or f.provided) and not f.kind.startswith("computed"):
            out += " @shareable"
        if f.override_from and g == f.owners[0]:
            out += f' @override(from: "{f.override_from}")'
        if f.kind == "computed" and f.requires:
            out += f' @requires(fields: "{f.requires}")'
        if f.kind == "computed_arg" and f.requires:
            out += f' @requires(fields: "{f.requires}(mult: 2)")'
        if self._provides(f, g) and not overridden:
            out += f' @provides(fields: "{f.provides}")'
        if f.inaccessible:
            out += " @inaccessible"
        del e
        return out

    def _provides(self, f: Field, g: str) -> bool:
        """Whether `g` declares the @provides of `f` (not when `g` itself has the provided
        field, overridden to another subgraph: it would declare that field twice)."""
        if not f.provides or not f.target or g not in f.owners:
            return False
        return self.entities[f.target].fields[f.provides].override_from != g

    def _reference(self, entity: str) -> Callable[[dict[str, Any]], Any]:
        def resolve(rep: dict[str, Any]) -> Any:
            if "id" in rep:
                row = self.data[entity].get(str(rep["id"]))
            else:  # the nested key
                tag = (rep.get("info") or {}).get("tag")
                row = next((r for r in self.data[entity].values() if r["info"]["tag"] == tag), None)
            if row is None:
                return None
            if "code" in rep and rep["code"] != row["code"]:
                return None
            if "info" in rep and rep["info"] != row.get("info"):
                return None
            return {**rep, **self.key_values(entity, row["id"])}

        return resolve

    def _node_reference(self, rep: dict[str, Any]) -> Any:
        """`Node` (an entity interface) by its key, in a subgraph that knows the members."""
        m = self.node_entity(str(rep.get("id")))
        if m is None:
            return None
        return {**rep, "__typename": m, **self.key_values(m, str(rep["id"]))}

    def _node_object(self, rep: dict[str, Any]) -> Any:
        """`Node` in the @interfaceObject subgraph (it does not know the concrete type)."""
        if self.node_entity(str(rep.get("id"))) is None:
            return None
        return {"id": rep["id"]}

    def _node_field(self, f: Field) -> Callable[..., Any]:
        def resolve(obj: dict[str, Any]) -> Any:
            m = self.node_entity(obj["id"])
            assert m is not None
            return self.value(m, obj["id"], f, {})

        return resolve

    def _sub_field(self, entity: str, f: Field, overridden: bool) -> Callable[..., Any]:
        def resolve(obj: dict[str, Any], **args: Any) -> Any:
            if overridden:
                raise ValueError(f"{entity}.{f.name} is overridden: the router must not ask here")
            if f.kind in ("computed", "computed_arg"):
                key = f.requires or ""
                if key not in obj:
                    raise ValueError(f"{entity}.{f.name}: @requires input {key} missing")
                return _compute(obj[key])
            v = self.value(entity, obj["id"], f, args)
            if f.kind == "ref" and v is not None:
                target = self.entities[f.target or ""]
                out = self.key_values(target.name, v["id"])
                if f.provides:
                    pf = target.fields[f.provides]
                    out[pf.name] = self.value(target.name, v["id"], pf, {})
                return out
            if f.kind == "reflist":
                t = f.target or ""
                return [None if x is None else self.key_values(t, x["id"]) for x in v]
            return v

        return resolve

    def _sub_root(self, name: str) -> Callable[..., Any]:
        mono = self._root_resolver(name)

        def resolve(_root: Any, **args: Any) -> Any:
            v = mono(None, None, **args)
            if v is None:
                return None
            items = v if isinstance(v, list) else [v]
            for item in items:
                item.update(self.key_values(item["__typename"], item["id"]))
            return v

        return resolve


def _compute(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 3 + 1
    if isinstance(value, str):
        return len(value)
    return None


# ---------------------------------------------------------------------- generation
def make_world(seed: int) -> World:
    rng = random.Random(seed)
    graphs = [chr(ord("a") + i) for i in range(rng.randint(2, 4))]
    names = [f"E{i}" for i in range(rng.randint(2, 4))]
    entities: dict[str, Entity] = {}
    for n in names:
        known = rng.sample(graphs, rng.randint(1, len(graphs)))
        entities[n] = Entity(n, sorted(known), compound_key=rng.random() < 0.35)
    data: dict[str, dict[str, dict[str, Any]]] = {}
    for e in entities.values():
        ids = [f"{e.name.lower()}-{i}" for i in range(rng.randint(2, 4))]
        e.fields["id"] = Field("id", "scalar", "ID!", list(e.graphs))
        rows = {i: {"id": i, "code": f"c{rng.randint(0, 9)}"} for i in ids}
        if e.compound_key:
            e.fields["code"] = Field("code", "scalar", "String!", list(e.graphs))
        for k in range(rng.randint(2, 5)):
            _add_field(rng, e, entities, rows, k)
        data[e.name] = rows
    # reference values, now that every entity has ids
    for e in entities.values():
        for f in e.fields.values():
            if f.kind in ("ref", "reflist"):
                tids = list(data[f.target or ""])
                for row in data[e.name].values():
                    if f.kind == "ref":
                        nullable = not f.type.endswith("!")
                        row[f.name] = None if nullable and rng.random() < 0.2 else rng.choice(tids)
                    else:
                        row[f.name] = [rng.choice(tids) for _ in range(rng.randint(0, 3))]
    roots: dict[str, list[str]] = {}
    for e in entities.values():
        for name in (f"one{e.name}", f"all{e.name}"):
            if rng.random() < 0.8 or name.startswith("all"):
                roots[name] = sorted(rng.sample(e.graphs, rng.randint(1, len(e.graphs))))
    union_members = sorted(rng.sample(names, 2))
    iface_members = sorted(rng.sample(names, rng.randint(1, len(names))))
    # the union / interface roots live in a subgraph that knows all their members
    for root, members in (("things", union_members), ("nodes", iface_members)):
        common = [g for g in graphs if all(g in entities[m].graphs for m in members)]
        if common:
            roots[root] = sorted(rng.sample(common, rng.randint(1, len(common))))
    if "nodes" not in roots:
        iface_members = []
    if "things" not in roots:
        union_members = names[:1]
    world = World(seed, graphs, entities, data, roots, iface_members, union_members)
    if iface_members:
        # every subgraph that serves `nodes` declares the interface and all its members
        for m in iface_members:
            for g in roots["nodes"]:
                if g not in entities[m].graphs:
                    entities[m].graphs.append(g)
    _later_features(world, random.Random(f"{seed}/later"))
    return world


def _later_features(world: World, rng: random.Random) -> None:
    """Nested keys and the @interfaceObject (from their own generator: see the module)."""
    for e in world.entities.values():
        if rng.random() < 0.3:
            e.nested_key = True
            e.fields["info"] = Field("info", "scalar", f"{e.name}Info!", list(e.graphs))
            for obj_id, row in world.data[e.name].items():
                row["info"] = {"tag": f"t-{obj_id}"}
            # (not a subgraph with `nodes`: an entity interface's key is every member's key)
            serving = world.roots.get("nodes", []) if e.name in world.interface_members else []
            some = sorted(g for g in e.graphs if g not in serving)
            if len(e.graphs) > 1 and some and rng.random() < 0.5:
                e.nested_only = rng.choice(some)
    members = world.interface_members
    if not members or rng.random() < 0.4:
        return
    free = [
        g
        for g in world.graphs
        if g not in world.roots["nodes"] and all(g not in world.entities[m].graphs for m in members)
    ]
    if free:
        owner = rng.choice(free)
    else:  # every subgraph knows a member: the @interfaceObject gets a subgraph of its own
        owner = chr(ord("a") + len(world.graphs))
        world.graphs.append(owner)
    world.node_object = owner
    ids = [i for m in members for i in world.data[m]]
    for k in range(rng.randint(1, 2)):
        scalar = rng.choice(SCALARS)
        nonnull = rng.random() < 0.3
        f = Field(f"n{k}", "scalar", scalar + ("!" if nonnull else ""), [owner])
        if rng.random() < 0.25:
            f.fails_on = frozenset(rng.sample(ids, 1))
        for m in members:
            for row in world.data[m].values():
                row[f.name] = _scalar_value(rng, scalar, nonnull)
        world.node_fields.append(f)
    if rng.random() < 0.7:
        world.roots["pickNode"] = [owner]


def _add_field(
    rng: random.Random,
    e: Entity,
    entities: dict[str, Entity],
    rows: dict[str, dict[str, Any]],
    k: int,
) -> None:
    kind = rng.choices(
        ["scalar", "list", "ref", "reflist", "computed", "argfield"], [5, 1, 3, 2, 2, 1]
    )[0]
    owners = sorted(
        rng.sample(e.graphs, 1 if rng.random() < 0.7 else rng.randint(1, len(e.graphs)))
    )
    nonnull = rng.random() < 0.4
    name = f"f{k}"
    ids = list(rows)
    if kind == "scalar":
        scalar = rng.choice(SCALARS)
        f = Field(name, kind, scalar + ("!" if nonnull else ""), owners)
        for i in ids:
            rows[i][name] = _scalar_value(rng, scalar, nonnull)
    elif kind == "list":
        f = Field(name, kind, "[Int]" + ("!" if nonnull else ""), owners)
        for i in ids:
            rows[i][name] = [rng.randint(0, 9) for _ in range(rng.randint(0, 3))]
    elif kind == "argfield":
        f = Field(name, kind, "Int", owners)
        for i in ids:
            rows[i]["score"] = rng.randint(1, 5)
    elif kind in ("ref", "reflist"):
        target = rng.choice(list(entities))
        typ = target if kind == "ref" else f"[{target}]"
        f = Field(name, kind, typ + ("!" if nonnull and kind == "ref" else ""), owners, target)
        t = entities[target]
        for o in owners:  # a subgraph that returns the entity knows it (by its key at least)
            if o not in t.graphs:
                t.graphs.append(o)
        if kind == "ref" and len(owners) == 1 and owners[0] in t.graphs and rng.random() < 0.5:
            provided = [
                x
                for x in t.fields.values()
                if x.kind == "scalar"
                and owners[0] not in x.owners
                and x.name not in ("id", "code")
                and not x.inaccessible
                and not x.fails_on
            ]
            if provided:
                chosen = rng.choice(provided)
                f.provides = chosen.name
                chosen.provided = True
    else:  # computed: an input owned by another subgraph
        inputs = [
            x
            for x in e.fields.values()
            if x.kind in ("scalar", "argfield")
            and x.name not in ("id", "code")
            and not x.fails_on
            and not x.override_from
        ]
        others = [g for g in e.graphs if not inputs or all(g not in x.owners for x in inputs[:1])]
        if not inputs or not others:
            f = Field(name, "scalar", "Int", owners)
            for i in ids:
                rows[i][name] = rng.randint(0, 9)
        else:
            inp = rng.choice(inputs)
            candidates = [g for g in e.graphs if g not in inp.owners]
            if not candidates:
                f = Field(name, "scalar", "Int", owners)
                for i in ids:
                    rows[i][name] = rng.randint(0, 9)
            else:
                if inp.kind == "argfield":
                    f = Field(
                        name, "computed_arg", "Int", [rng.choice(candidates)], requires=inp.name
                    )
                else:
                    if rng.random() < 0.3 and not inp.type.endswith("!"):
                        inp.inaccessible = True
                    out_type = {"String": "Int", "Int": "Int", "Boolean": "Boolean"}[
                        inp.type.rstrip("!")
                    ]
                    f = Field(
                        name, "computed", out_type, [rng.choice(candidates)], requires=inp.name
                    )
    # override: a single-owner field of a type known to another subgraph
    if (
        f.kind in ("scalar", "list")
        and len(f.owners) == 1
        and len(e.graphs) > 1
        and rng.random() < 0.2
    ):
        other = rng.choice([g for g in e.graphs if g != f.owners[0]])
        f.override_from = other
    # failures: never on inputs of @requires or keys (the router needs those to jump)
    if f.kind in ("scalar", "list", "ref", "reflist") and rng.random() < 0.25:
        f.fails_on = frozenset(rng.sample(ids, 1))
    e.fields[name] = f


def _scalar_value(rng: random.Random, scalar: str, nonnull: bool) -> Any:
    if not nonnull and rng.random() < 0.2:
        return None
    if scalar == "String":
        return rng.choice(["x", "yy", "zzz", "", "q"])
    if scalar == "Int":
        return rng.randint(-3, 20)
    return rng.random() < 0.5
