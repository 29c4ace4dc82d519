"""simple-entity-call: User from `email` (key id), its nickname from `nickname` (key email)."""

from tests.graph.fixtures.executable import SubgraphDef

USERS = [
    {"id": "1", "email": "user1@gmail.com", "nickname": "user1"},
    {"id": "2", "email": "user2@gmail.com", "nickname": "user2"},
]


def _by(key: str, value: object) -> dict | None:
    return next((u for u in USERS if u[key] == value), None)


SUBGRAPHS = [
    SubgraphDef(
        "email",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key"])
        type Query { user: User }
        type User @key(fields: "id") { id: ID! email: String! }
        """,
        {
            "Query": {"user": lambda _p: {"id": USERS[0]["id"], "email": USERS[0]["email"]}},
            "User": {
                "__resolveReference": lambda k: (
                    {"id": u["id"], "email": u["email"]} if (u := _by("id", k["id"])) else None
                )
            },
        },
    ),
    SubgraphDef(
        "nickname",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key", "@external"])
        type User @key(fields: "email") { email: String! @external nickname: String! }
        """,
        {
            "User": {
                "__resolveReference": lambda k: (
                    {"nickname": u["nickname"]} if (u := _by("email", k["email"])) else None
                )
            },
        },
    ),
]
