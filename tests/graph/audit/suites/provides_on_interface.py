"""provides-on-interface: `b` provides `animals { id name }` on Query.media; `a` and `c`
throw when a plan uses them where `b` could answer ("punish poor plans")."""

from tests.graph.audit.suites import link
from tests.graph.fixtures.executable import SubgraphDef

MEDIAS = [{"__typename": "Book", "id": "m1", "animals": ["a1", "a2"]}]
ANIMALS = [
    {"__typename": "Dog", "id": "a1", "name": "Fido", "age": 3},
    {"__typename": "Cat", "id": "a2", "name": "Whiskers", "age": 6},
]


def _animal(animal_id: str) -> dict | None:
    return next((a for a in ANIMALS if a["id"] == animal_id), None)


def _poor_plan(*_a: object) -> None:
    raise ValueError("You should be using the 'a' subgraph!")


def _a_book(_p: object) -> dict:
    book = MEDIAS[0]
    animals: list[dict | None] = []
    for i in book["animals"]:
        a = _animal(i)
        if a is None:
            animals.append(None)
        elif a["__typename"] == "Dog":
            animals.append({"__typename": "Dog", "id": a["id"], "name": a["name"]})
        else:
            animals.append({"__typename": a["__typename"], "id": a["id"]})
    return {"__typename": "Book", "id": book["id"], "animals": animals}


def _b_media(_p: object) -> dict:
    m = MEDIAS[0]
    return {
        "__typename": m["__typename"],
        "id": m["id"],
        "animals": [
            {"__typename": a["__typename"], "id": a["id"], "name": a["name"]}
            if (a := _animal(i))
            else None
            for i in m["animals"]
        ],
    }


def _c_book_ref(k: dict) -> dict | None:
    m = next((m for m in MEDIAS if m["id"] == k["id"]), None)
    return {"__typename": "Book", "id": m["id"], "animals": m["animals"]} if m else None


def _c_animals(book: dict) -> list:
    return [
        {"__typename": a["__typename"], "id": a["id"], "name": a["name"]}
        if (a := _animal(i))
        else None
        for i in book["animals"]
    ]


def _c_animal_ref(typename: str, punish: bool):
    def resolve(k: dict) -> dict | None:
        if punish:
            raise ValueError("You should be using the 'c' subgraph!")
        a = _animal(k["id"])
        return {"__typename": typename, **a} if a else None

    return resolve


def _age(obj: dict) -> int | None:
    a = _animal(obj["id"])
    return a["age"] if a else None


SUBGRAPHS = [
    SubgraphDef(
        "a",
        link("key", "shareable", "external", "provides")
        + """
        type Query {
          media: Media @shareable
          book: Book @provides(fields: "animals { ... on Dog { name } }")
        }
        interface Media { id: ID! }
        interface Animal { id: ID! }
        type Book implements Media @key(fields: "id") {
          id: ID!
          animals: [Animal] @shareable
        }
        type Dog implements Animal @key(fields: "id") {
          id: ID! @external
          name: String @external
        }
        type Cat implements Animal @key(fields: "id") {
          id: ID! @external
        }
        """,
        {"Query": {"media": _poor_plan, "book": _a_book}},
    ),
    SubgraphDef(
        "b",
        link("key", "shareable", "provides", "external")
        + """
        type Query {
          media: Media @shareable @provides(fields: "animals { id name }")
        }
        interface Media { id: ID! animals: [Animal] }
        interface Animal { id: ID! name: String }
        type Book implements Media {
          id: ID! @shareable
          animals: [Animal] @external
        }
        type Dog implements Animal {
          id: ID! @external
          name: String @external
        }
        type Cat implements Animal {
          id: ID! @external
          name: String @external
        }
        """,
        {"Query": {"media": _b_media}},
    ),
    SubgraphDef(
        "c",
        link("key", "shareable")
        + """
        interface Media { id: ID! animals: [Animal] }
        interface Animal { id: ID! name: String }
        type Book implements Media @key(fields: "id") {
          id: ID!
          animals: [Animal] @shareable
        }
        type Dog implements Animal @key(fields: "id") {
          id: ID!
          name: String @shareable
          age: Int
        }
        type Cat implements Animal @key(fields: "id") {
          id: ID!
          name: String @shareable
          age: Int
        }
        """,
        {
            "Book": {"__resolveReference": _c_book_ref, "animals": _c_animals},
            "Cat": {"__resolveReference": _c_animal_ref("Cat", False), "age": _age},
            "Dog": {"__resolveReference": _c_animal_ref("Dog", True), "age": _age},
        },
    ),
]
