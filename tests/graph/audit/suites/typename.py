"""typename: `__typename` of unions, interfaces and an @interfaceObject (which must never
answer with the interface's name)."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

USERS = [
    {"__typename": "Admin", "id": "u1", "name": "Alice", "isMain": False},
    {"__typename": "Admin", "id": "u2", "name": "Bob", "isMain": True},
]


def _user(k: dict) -> dict | None:
    return next((u for u in USERS if u["id"] == k["id"]), None)


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key")
        + """
        type Query { union: Product interface: Node }
        union Product = Oven | Toaster
        interface Node { id: ID! }
        type Oven implements Node { id: ID! }
        type Toaster implements Node { id: ID! }
        interface User @key(fields: "id") { id: ID! }
        type Admin implements User @key(fields: "id") {
          id: ID!
          isMain: Boolean!
        }
        """,
        {
            "Query": {
                "union": lambda _p: {"id": "1", "__typename": "Oven"},
                "interface": lambda _p: {"id": "2", "__typename": "Toaster"},
            },
            "User": {
                "__resolveReference": lambda k: (
                    {"__typename": u["__typename"], "id": u["id"]} if (u := _user(k)) else None
                )
            },
            "Admin": {
                "__resolveReference": lambda k: (
                    {
                        "__typename": u["__typename"],
                        "id": u["id"],
                        "isMain": u["isMain"],
                    }
                    if (u := _user(k))
                    else None
                )
            },
        },
    ),
    SubgraphDef(
        "b",
        link("key", "interfaceObject")
        + """
        type Query { users: [User] }
        type User @key(fields: "id") @interfaceObject {
          id: ID!
          name: String!
        }
        """,
        {
            "Query": {"users": lambda _p: [{"id": u["id"]} for u in USERS]},
            "User": {
                "__resolveReference": lambda k: {"id": u["id"]} if (u := _user(k)) else None,
                "name": lambda u: (_user(u) or {}).get("name"),
            },
        },
    ),
]
