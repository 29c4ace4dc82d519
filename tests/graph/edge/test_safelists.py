"""Persisted-query safelists per client and per tier, end to end: a partner's key belongs to
a client (set by an operator with `puppies api-keys client`), and the router holds it to the
client's manifest over HTTP, SSE and WebSocket."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import httpx

from tests.graph.edge.stack import ME, Edge, Router, post, router_config, until, ws_operation

ACME_ME = "query AcmeMe { me { username } }"
GLOBAL_ME = "query GlobalMe { me { id } }"


def manifest(operations: dict[str, str]) -> str:
    return json.dumps(
        {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [
                {"id": op_id, "name": op_id, "type": "query", "body": body}
                for op_id, body in operations.items()
            ],
        }
    )


def safelisted(edge: Edge) -> dict[str, Any]:
    acme = edge.workdir / "acme.json"
    acme.write_text(manifest({"acme-me-v1": ACME_ME}))
    shared = edge.workdir / "shared.json"
    shared.write_text(manifest({"global-me-v1": GLOBAL_ME}))
    config = router_config(edge.users_url, str(edge.settings.redis_url))
    config["persisted_queries"] = {
        "enabled": True,
        "local_manifests": [str(shared)],
        "clients": {"acme": {"local_manifests": [str(acme)]}},
        "tiers": {"free": {"require_id": True}},
    }
    return config


async def by_id(router: Router, op_id: str, headers: dict[str, str]) -> httpx.Response:
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": op_id}}}
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(router.url + "/graphql", json=body, headers=headers)


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


def assign(edge: Edge, key_id: str, client: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "puppies.cli", "api-keys", "client", key_id, client],
        env=edge.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_a_partners_client_is_held_to_its_own_list(edge: Edge) -> None:
    router = edge.start_router(safelisted(edge))
    _, token = await edge.sign_up("acme_owner")
    key_id, key = await edge.api_key(router, token)
    headers = {"x-api-key": key}
    # a free key without a client: ids only, from the shared list
    assert code(await post(router, ME, headers=headers)) == "PERSISTED_QUERY_ID_REQUIRED"
    assert (await by_id(router, "global-me-v1", headers)).status_code == 200
    assert "now belongs to client 'acme'" in assign(edge, key_id, "acme")

    async def held_to_acme() -> bool:  # the routers forget the key's cached client at once
        return (await by_id(router, "global-me-v1", headers)).status_code == 400

    await until(held_to_acme)
    shared = await by_id(router, "global-me-v1", headers)
    assert code(shared) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert "client 'acme'" in shared.json()["errors"][0]["message"]
    own = await by_id(router, "acme-me-v1", headers)
    assert own.json() == {"data": {"me": {"username": "acme_owner"}}}
    # its operations as text run too (require_id is off for acme), others do not
    assert (await post(router, ACME_ME, headers=headers)).status_code == 200
    unknown = await post(router, ME, headers=headers)
    assert unknown.status_code == 400 and code(unknown) == "PERSISTED_QUERY_NOT_IN_LIST"
    assert code(await by_id(router, "0" * 64, headers)) == "PERSISTED_QUERY_NOT_IN_LIST"
    # the same over server-sent events and WebSocket
    over_sse = await post(router, ME, headers=headers, accept="text/event-stream")
    assert over_sse.status_code == 400 and code(over_sse) == "PERSISTED_QUERY_NOT_IN_LIST"
    outcome, payload = await ws_operation(router, headers, ME)
    assert outcome == "error" and payload[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    outcome, payload = await ws_operation(router, headers, ACME_ME)
    assert (outcome, payload) == ("next", {"data": {"me": {"username": "acme_owner"}}})
    # a signed-in user (no client, no tier) is not held to a list
    as_user = await post(router, ME, headers={"authorization": f"Bearer {token}"})
    assert as_user.status_code == 200


async def test_assigning_a_client_says_what_is_wrong(edge: Edge) -> None:
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "puppies.cli", "api-keys", "client", "1", "acme"],
        env=edge.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and "no API key with id 1" in out.stderr
    bad = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "puppies.cli", "api-keys", "client", "1", "not a name!"],
        env=edge.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and "client name" in bad.stderr
