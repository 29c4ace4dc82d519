"""The answers the benchmark's queries must get, computed from the data without GraphQL,
so a gateway that answers fast but wrong is caught."""

from __future__ import annotations

from typing import Any

from bench.gateways.data import IN_STOCK, PRODUCTS, REVIEWS, USERS

_PRODUCTS = {p["upc"]: p for p in PRODUCTS}


def _product(upc: str) -> dict[str, Any]:
    p = _PRODUCTS[upc]
    estimate = 0 if p["price"] > 1000 else p["weight"] // 2
    return {
        "inStock": IN_STOCK[upc],
        "name": p["name"],
        "price": p["price"],
        "shippingEstimate": estimate,
        "upc": upc,
        "weight": p["weight"],
    }


def _review(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": r["id"], "body": r["body"]}


def _user(u: dict[str, Any]) -> dict[str, Any]:
    return {"id": u["id"], "username": u["username"], "name": u["name"]}


def _author() -> dict[str, Any]:
    """Every review's author is user 1 (provided with its username by reviews); each user's
    reviews are the first two reviews, as in the original benchmark's subgraphs."""
    return {
        **_user(USERS[0]),
        "reviews": [{**_review(r), "product": _product(r["product_upc"])} for r in REVIEWS[:2]],
    }


def _product_reviews(upc: str) -> list[dict[str, Any]]:
    return [{**_review(r), "author": _author()} for r in REVIEWS if r["product_upc"] == upc]


def expected_deep_result() -> dict[str, Any]:
    users = [
        {
            **_user(u),
            "reviews": [
                {
                    **_review(r),
                    "product": {
                        **_product(r["product_upc"]),
                        "reviews": _product_reviews(r["product_upc"]),
                    },
                }
                for r in REVIEWS[:2]
            ],
        }
        for u in USERS
    ]
    top = [{**_product(p["upc"]), "reviews": _product_reviews(p["upc"])} for p in PRODUCTS[:5]]
    return {"users": users, "topProducts": top}


def expected_single_result() -> dict[str, Any]:
    return {"users": [{**_user(u), "birthday": u["birthday"]} for u in USERS]}
