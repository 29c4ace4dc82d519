"""keys-mashup: A with four keys, only some resolvable in each subgraph; `nameInB` requires
`name`, which only `a` resolves (by `id`)."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

A = {
    i: {
        "id": i,
        "pId": f"a.{i}.pId",
        "name": f"a.{i}",
        "compositeId": {
            "one": f"a.{i}.compositeId.one",
            "two": f"a.{i}.compositeId.two",
            "three": f"a.{i}.compositeId.three",
        },
    }
    for i in ("1", "2")
}
B = {"100": {"id": "100", "a": ["1"]}, "200": {"id": "200", "a": ["1", "2"]}}


def _a_in_a(k: dict) -> dict | None:
    obj = A.get(k["id"])
    return {"__typename": "A", **obj} if obj else None


def _a_in_b(k: dict) -> dict | None:
    obj = A.get(k["id"])
    if obj is None:
        return None
    out = {"__typename": "A", "id": obj["id"], "pId": obj["pId"], "compositeId": obj["compositeId"]}
    if k.get("name"):
        out["name"] = k["name"]
    return out


def _name_in_b(a: dict) -> str:
    if not a.get("name"):
        raise ValueError("A.name was not provided")
    return f"b.a.nameInB {a['name']}"


def _b_a(b: dict) -> list:
    out = []
    for i in b["a"]:
        obj = A.get(i)
        out.append(
            {
                "__typename": "A",
                "id": obj["id"],
                "pId": obj["pId"],
                "compositeId": obj["compositeId"],
            }
            if obj
            else None
        )
    return out


_COMPOSITE = "type CompositeID { one: ID! two: ID! three: ID! }"

SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key", version="2.5")
        + """
        type A
          @key(fields: "id", resolvable: true)
          @key(fields: "pId", resolvable: false)
          @key(fields: "compositeId { one two }", resolvable: false)
          @key(fields: "id compositeId { two three }", resolvable: false) {
          id: ID!
          pId: ID!
          compositeId: CompositeID!
          name: String!
        }
        """
        + _COMPOSITE,
        {"A": {"__resolveReference": _a_in_a}},
    ),
    SubgraphDef(
        "b",
        link("key", "requires", "external", version="2.5")
        + """
        type Query { b: B }
        type B @key(fields: "id") { id: ID! a: [A!]! }
        type A
          @key(fields: "compositeId { one two }", resolvable: false)
          @key(fields: "id compositeId { two three }", resolvable: true)
          @key(fields: "pId", resolvable: false)
          @key(fields: "id", resolvable: false) {
          id: ID!
          pId: ID!
          compositeId: CompositeID!
          name: String! @external
          nameInB: String! @requires(fields: "name")
        }
        """
        + _COMPOSITE,
        {
            "Query": {"b": lambda _p: {"__typename": "B", **B["100"]}},
            "B": {
                "__resolveReference": lambda k: (
                    {"__typename": "B", **B[k["id"]]} if k["id"] in B else None
                ),
                "a": _b_a,
            },
            "A": {"__resolveReference": _a_in_b, "nameInB": _name_in_b},
        },
    ),
]
