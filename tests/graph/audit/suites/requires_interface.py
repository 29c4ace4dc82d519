"""requires-interface: User.city / User.country (a) require an interface-typed field from b."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

USERS = [
    {"id": "u1", "name": "u1-name", "address": "a1"},
    {"id": "u2", "name": "u2-name", "address": "a2"},
]
ADDRESSES = [
    {"__typename": "HomeAddress", "id": "a1", "city": "a1-city", "country": "a1-country"},
    {"__typename": "WorkAddress", "id": "a2", "city": "a2-city", "country": "a2-country"},
]


def _user(k: dict) -> dict | None:
    return next((u for u in USERS if u["id"] == k["id"]), None)


def _address(address_id: object) -> dict | None:
    return next((dict(a) for a in ADDRESSES if a["id"] == address_id), None)


def _a_user(k: dict) -> dict | None:
    u = _user(k)
    if u is None:
        return None
    out: dict = {"id": u["id"], "name": u["name"]}
    if (k.get("address") or {}).get("id"):
        out["address"] = {"id": u["address"]}
    return out


def _city(user: dict) -> str | None:
    a = _address(user["address"]["id"])  # KeyError, as JS's TypeError, when not provided
    return a["city"] if a else None


def _country(user: dict) -> str | None:
    a = _address((user.get("address") or {}).get("id"))
    return a["country"] if a else None


def _address_ref(k: dict) -> dict | None:
    return _address(k["id"])


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key", "requires", "external", "shareable")
        + """
        type Query { a: User }
        interface Address { id: ID! }
        type HomeAddress implements Address @key(fields: "id") {
          id: ID!
          city: String @shareable
        }
        type WorkAddress implements Address @key(fields: "id") {
          id: ID!
          city: String @shareable
        }
        type User @key(fields: "id") {
          id: ID!
          name: String! @shareable
          address: Address @external
          city: String @requires(fields: "address { id }")
          country: String @requires(fields: "address { ... on WorkAddress { id } }")
        }
        """,
        {
            "Query": {"a": lambda _p: {"id": USERS[0]["id"], "name": USERS[0]["name"]}},
            "User": {"__resolveReference": _a_user, "city": _city, "country": _country},
            "HomeAddress": {"__resolveReference": _address_ref},
            "WorkAddress": {"__resolveReference": _address_ref},
        },
    ),
    SubgraphDef(
        "b",
        link("key", "shareable")
        + """
        type Query { b: User }
        interface Address { id: ID! }
        type HomeAddress implements Address @key(fields: "id") {
          id: ID!
          city: String @shareable
        }
        type WorkAddress implements Address @key(fields: "id") {
          id: ID!
          city: String @shareable
        }
        type SecondAddress implements Address @key(fields: "id") {
          id: ID!
          city: String @shareable
        }
        type User @key(fields: "id") {
          id: ID!
          name: String! @shareable
          address: Address @shareable
        }
        """,
        {
            "Query": {"b": lambda _p: dict(USERS[1])},
            "User": {
                "__resolveReference": lambda k: dict(u) if (u := _user(k)) else None,
                "address": lambda u: _address(u["address"]),
            },
            "HomeAddress": {"__resolveReference": _address_ref},
            "WorkAddress": {"__resolveReference": _address_ref},
        },
    ),
]
