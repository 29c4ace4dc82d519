"""The metamorphic checks (rewrites.py) against the federation-gateway-audit's own subgraphs,
all 46 suites, with no port of ours: the audit's server (its TypeScript subgraphs, from a
checkout of the audit with its npm packages installed, as `shared/tools/federation-audit`
leaves one in its `--workdir`) is started on a free port; for every suite the router (our
Gateway, in this process, over its real HTTP client) runs on the audit's supergraph, and
random valid operations (tests/graph/oracle/operations.py) must get the same answer under
every rewrite. Also: every error has a code, and no subgraph rejects a query the router
sent as invalid.

    python -m tests.graph.audit.live --audit-dir /tmp/federation-audit-<branch> --per-suite 200

Operation `i` of suite `s` is drawn from `random.Random(f"{s}:{i}")`. Failures (shrunk,
shrink.py) go to `<out>/failures.jsonl`, the counts to `<out>/report.json`. Nothing of the
audit is copied: it runs from its own checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphql import DocumentNode, parse, print_ast, validate

from graph.execution.gateway import Gateway, GatewayOptions, SubgraphOptions
from tests.graph.audit.rewrites import check_rewrites
from tests.graph.oracle.operations import RandomChooser, operation
from tests.graph.oracle.shrink import shrink

# Node 20 has no Promise.withResolvers, which the audit's server calls.
_POLYFILL = """if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", { configurable: true, writable: true,
    value() { let resolve, reject; const promise = new Promise((a, b) => { resolve = a;
      reject = b; }); return { promise, resolve, reject }; } });
}
"""
# What a subgraph says about a query that does not validate against its schema.
_INVALID = ("Cannot query field", "conflict because", "Unknown argument", "is not defined by")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return str(r.read().decode())


class AuditServer:
    """The audit's server in its own process group (stopped by its pid)."""

    def __init__(self, audit_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._poly = tempfile.NamedTemporaryFile("w", suffix=".mjs", delete=False)  # noqa: SIM115
        self._poly.write(_POLYFILL)
        self._poly.close()
        env = {**os.environ, "NODE_OPTIONS": f"--import=file://{self._poly.name}"}
        tsx = audit_dir / "node_modules" / ".bin" / "tsx"
        self.proc = subprocess.Popen(
            [str(tsx), "src/cli.ts", "serve", "--port", str(self.port)],
            cwd=audit_dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"{self.base}/ids")  # answers once every suite is loaded
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the audit's server did not start") from None
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        os.unlink(self._poly.name)


def _answer(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, variables: dict[str, Any]
) -> Callable[[DocumentNode], dict[str, Any]]:
    async def run(text: str) -> dict[str, Any]:
        from graph.execution.errors import RequestError

        try:
            prepared = gateway.prepare(text, None)
        except RequestError as exc:
            return exc.to_response()
        return await gateway.execute(prepared, variables)

    def answer(doc: DocumentNode) -> dict[str, Any]:
        text = print_ast(doc)
        got = loop.run_until_complete(run(text))
        for e in got.get("errors") or ():
            assert (e.get("extensions") or {}).get("code"), (text, got)
            message = str(e.get("message"))
            assert not any(m in message for m in _INVALID), ("invalid subgraph query", text, got)
        return got

    return answer


def run_suite(
    base: str, suite: str, per_suite: int, loop: asyncio.AbstractEventLoop, out: Any
) -> dict[str, int]:
    sdl = _get(f"{base}/{suite}/supergraph")
    options = GatewayOptions(
        default=SubgraphOptions(timeout=30, include_errors=True), deduplicate_requests=False
    )
    gateway = Gateway.from_supergraph_sdl(sdl, options)
    schema = gateway.api_schema
    root = schema.query_type.name if schema.query_type else "Query"
    counts = {"checked": 0, "invalid": 0, "failures": 0}
    seen: set[str] = set()
    try:
        for i in range(per_suite):
            query, variables = operation(schema, RandomChooser(random.Random(f"{suite}:{i}")))
            doc = parse(query)
            if validate(schema, doc):
                counts["invalid"] += 1
                continue
            answer = _answer(gateway, loop, variables)
            try:
                check_rewrites(doc, root, answer, f"{suite}\n{variables}")
            except AssertionError as exc:
                counts["failures"] += 1
                first = str(exc).split("\n", 1)[0][:200]
                record: dict[str, Any] = {"suite": suite, "index": i, "query": query}
                record["variables"] = variables
                if first not in seen:
                    seen.add(first)
                    record["shrunk"] = shrink(
                        _fails(gateway, loop, root, schema), query, variables, budget=400
                    )
                out.write(json.dumps(record) + "\n")
                out.flush()
            counts["checked"] += 1
    finally:
        loop.run_until_complete(gateway.aclose())
    return counts


def _fails(
    gateway: Gateway, loop: asyncio.AbstractEventLoop, root: str, schema: Any
) -> Callable[[str, dict[str, Any]], bool]:
    def fails(text: str, values: dict[str, Any]) -> bool:
        doc = parse(text)
        if validate(schema, doc):
            return False
        try:
            check_rewrites(doc, root, _answer(gateway, loop, values), "")
        except AssertionError:
            return True
        return False

    return fails


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--audit-dir", required=True, type=Path, help="the audit checkout")
    p.add_argument("--per-suite", type=int, default=100, help="operations per suite")
    p.add_argument("--suite", action="append", help="only these suites (repeatable)")
    p.add_argument("--out", default="/tmp/audit-live", type=Path)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    server = AuditServer(a.audit_dir)
    loop = asyncio.new_event_loop()
    started = time.monotonic()
    report: dict[str, Any] = {"suites": {}}
    try:
        suites = a.suite or json.loads(_get(f"{server.base}/ids"))
        with open(a.out / "failures.jsonl", "a") as out:
            for suite in suites:
                report["suites"][suite] = run_suite(server.base, suite, a.per_suite, loop, out)
                print(suite, report["suites"][suite], flush=True)
    finally:
        server.stop()
        loop.close()
    for key in ("checked", "invalid", "failures"):
        report[key] = sum(c[key] for c in report["suites"].values())
    report["seconds"] = round(time.monotonic() - started, 1)
    (a.out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k != "suites"}))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
