"""Our supergraphs load in Hive Gateway, and the API schema it serves from them has the same
types and fields as the API schema our router derives (inaccessible elements and join
machinery removed on both sides).

Needs Node.js and `@graphql-hive/gateway` in `bench/.work/hive` (the gateway benchmark
installs it there: `npm install --prefix bench/.work/hive @graphql-hive/gateway graphql@16`);
skipped otherwise."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from graphql import get_introspection_query, graphql_sync

from graph.composition import compose
from graph.supergraph.api_schema import build_api_schema
from graph.supergraph.model import Supergraph
from tests.graph.composition.conftest import load_case

ROOT = Path(__file__).resolve().parents[3]
HIVE = ROOT / "bench" / ".work" / "hive" / "node_modules" / ".bin" / "hive-gateway"
CASES = ["features", "kitchen_sink", "entity_interfaces", "fed27"]

pytestmark = pytest.mark.skipif(not HIVE.exists(), reason=f"{HIVE} is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def _shape(introspection: dict[str, Any]) -> dict[str, set[str]]:
    return {
        t["name"]: {f["name"] for f in (t.get("fields") or t.get("inputFields") or [])}
        | {v["name"] for v in (t.get("enumValues") or [])}
        | {p["name"] for p in (t.get("possibleTypes") or [])}
        for t in introspection["__schema"]["types"]
        if not t["name"].startswith("__")
    }


@pytest.mark.parametrize("case", CASES)
def test_hive_gateway_serves_the_same_api_schema(case: str, tmp_path: Path) -> None:
    supergraph_path = tmp_path / "supergraph.graphql"
    sdl = compose(load_case(case))
    supergraph_path.write_text(sdl)
    port = _free_port()
    log = (tmp_path / "hive.log").open("wb")
    proc = subprocess.Popen(
        [
            str(HIVE),
            "supergraph",
            str(supergraph_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--fork",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        start_new_session=True,
        env={**os.environ, "NODE_ENV": "production"},
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = _post(url, get_introspection_query())
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(
                        f"Hive Gateway did not serve {case}:\n"
                        f"{(tmp_path / 'hive.log').read_text()[-2000:]}"
                    )
                time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
    assert "errors" not in answer, answer
    ours = build_api_schema(Supergraph.from_sdl(sdl))
    ours_answer = graphql_sync(ours, get_introspection_query())
    assert ours_answer.errors is None
    assert ours_answer.data is not None
    assert _shape(answer["data"]) == _shape(ours_answer.data)
