"""shared-root: the same root field in three subgraphs, each giving other fields of Product."""

from tests.graph.fixtures.executable import SubgraphDef

PRODUCT = {
    "id": "1",
    "name": {"id": "1", "brand": "Brand 1", "model": "Model 1"},
    "category": {"id": "1", "name": "Category 1"},
    "price": {"id": "1", "amount": 1000, "currency": "USD"},
}


def _sub(name: str, field: str, type_sdl: str) -> SubgraphDef:
    def one(_p: object) -> dict[str, object]:
        return {"id": PRODUCT["id"], field: PRODUCT[field]}

    return SubgraphDef(
        name,
        f"""
        extend schema
          @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable"])
        type Query {{
          product: Product! @shareable
          products: [Product!]! @shareable
        }}
        type Product {{
          id: ID! @shareable
          {field}: {field.capitalize()}!
        }}
        {type_sdl}
        """,
        {"Query": {"product": one, "products": lambda p: [one(p)]}},
    )


SUBGRAPHS = [
    _sub("category", "category", "type Category { id: ID! name: String! }"),
    _sub("name", "name", "type Name { id: ID! brand: String! model: String! }"),
    _sub("price", "price", "type Price { id: ID! amount: Int! currency: String! }"),
]
