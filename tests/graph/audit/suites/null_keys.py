"""null-keys: Book by upc in `a`, by id or upc in `b` (which lacks book 3), author in `c`."""

from tests.graph.fixtures.executable import SubgraphDef

BOOKS = [
    {"id": "1", "upc": "b1", "author": {"id": "a1", "name": "Alice"}},
    {"id": "2", "upc": "b2", "author": {"id": "a2", "name": "Bob"}},
    {"id": "3", "upc": "b3", "author": {"id": "a3", "name": "Jack"}},
]


def _find(ref: dict) -> dict | None:
    book = None
    if ref.get("id") is not None:
        book = next((b for b in BOOKS if b["id"] == ref["id"]), None)
    if ref.get("upc") is not None:
        book = next((b for b in BOOKS if b["upc"] == ref["upc"]), None)
    return book


def _ref_a(ref: dict) -> dict:
    book = _find({"upc": ref.get("upc")})
    if book is None:
        raise ValueError("Invalid reference")
    return {"__typename": "Book", "upc": book["upc"]}


def _ref_b(ref: dict) -> dict | None:
    book = next((b for b in BOOKS if "id" in ref and b["id"] == ref["id"]), None)
    if "upc" in ref:
        book = next((b for b in BOOKS if b["upc"] == ref["upc"]), None)
    if book is None:
        raise ValueError("Invalid reference")
    if book["id"] == "3":
        return None
    return {"__typename": "Book", "id": book["id"], "upc": book["upc"]}


def _ref_c(ref: dict) -> dict:
    book = _find(ref)
    if book is None:
        raise ValueError("Invalid reference")
    return {"__typename": "Book", "id": book["id"], "author": dict(book["author"])}


SUBGRAPHS = [
    SubgraphDef(
        "a",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Query { bookContainers: [BookContainer] }
        type BookContainer { book: Book }
        type Book @key(fields: "upc") { upc: ID! }
        """,
        {
            "Query": {"bookContainers": lambda _p: [{"book": {"upc": b["upc"]}} for b in BOOKS]},
            "Book": {"__resolveReference": _ref_a},
        },
    ),
    SubgraphDef(
        "b",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Book @key(fields: "id") @key(fields: "upc") { id: ID! upc: ID! }
        """,
        {"Book": {"__resolveReference": _ref_b}},
    ),
    SubgraphDef(
        "c",
        """
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
        type Book @key(fields: "id") { id: ID! author: Author }
        type Author { id: ID! name: String }
        """,
        {"Book": {"__resolveReference": _ref_c}},
    ),
]
