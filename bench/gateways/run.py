"""The gateway benchmark: our router and Hive Gateway over the same four subgraphs, one run,
one load generator (wrk with a POST script).

    .venv/bin/python -m bench.gateways.run [--duration 30] [--connections 50] [--only puppies]
        [--baseline [NAME=]DIR ...] [--router-config NAME=router.yaml ...] [--overhead-of NAME ...]
        [--header 'name: value' ...] [--edge]

``--baseline DIR`` adds ``puppies-baseline``: the router from another checkout of the code
(e.g. ``git worktree add --detach DIR <commit>``) on this .venv, for side-by-side runs of two
commits; ``--baseline NAME=DIR`` (repeatable) adds ``puppies-NAME``, for several commits.
``--router-config NAME=FILE`` adds ``puppies-NAME``: our router with that router.yaml, and for
each baseline ``<baseline>-NAME``: that router.yaml on the baseline's code.
``--header`` is sent with every request to every contender. ``--edge`` adds ``puppies-edge``:
our router with authentication (a JWT checked against a ``file://`` JWKS, the signed principal
to subgraphs), rate limits in an embedded Redis (counted on every request, never reached) and
demand control enforced (never over), and sends every contender that JWT, so ``puppies`` and
``puppies-edge`` differ only in the edge stages doing their work.

Steps: start the subgraphs (uvicorn, raw ASGI, graphql-core); compose the supergraph from
their ``_service { sdl }`` with our composition; for each gateway: start it, check that its
answer to the deep query equals the expected data, warm up, run wrk, record RPS, latency
percentiles and the peak RSS of the gateway's process tree; then measure what the router adds
over calling one subgraph directly for a single-fetch query. Results go to
``bench/.work/gateways-<time>.json`` and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.gateways.data import QUERY, SINGLE_FETCH_QUERY
from bench.gateways.expected import expected_deep_result, expected_single_result
from graph.composition.sources import SubgraphLocation, compose_locations

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "bench" / ".work"
HIVE_DIR = WORK / "hive"
LUA = Path(__file__).with_name("wrk_post.lua")
SUBGRAPH_PORT = int(os.environ.get("BENCH_SUBGRAPH_PORT", "4710"))
GATEWAY_PORT = int(os.environ.get("BENCH_GATEWAY_PORT", "4711"))
NAMES = ("accounts", "inventory", "products", "reviews")
HEADERS: dict[str, str] = {}  # sent with every request (--header, --edge)


@dataclass
class LoadResult:
    name: str
    command: str
    rps: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    peak_rss_mb: float
    correct: bool
    gateway_cpu_ms_per_request: float = 0.0
    subgraphs_cpu_ms_per_request: float = 0.0
    notes: list[str] = field(default_factory=list)


def _post(url: str, query: str, timeout: float = 10.0) -> dict[str, Any]:
    body = json.dumps({"query": query}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "content-type": "application/json",
            "accept": "application/graphql-response+json, application/json",
            **HEADERS,
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return dict(json.loads(response.read()))


def _port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_http(url: str, timeout: float = 60.0, post_query: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if post_query is not None:
                _post(url, post_query, timeout=2)
            else:
                with urllib.request.urlopen(url, timeout=2):
                    pass
            return
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as exc:
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout}s: {last}")


class PeakRss:
    """Samples the summed RSS of a process tree every 50 ms and keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        continue
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process and its children, in seconds."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _start(
    cmd: list[str], log: Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wrk(url: str, query: str, duration: int, connections: int, threads: int) -> dict[str, Any]:
    body_file = WORK / "body.json"
    body_file.write_text(json.dumps({"query": query}))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        *(arg for name, value in HEADERS.items() for arg in ("-H", f"{name}: {value}")),
        url,
    ]
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BENCH_BODY_FILE": str(body_file)},
    ).stdout
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            return dict(json.loads(line[len("WRK_JSON ") :]))
    raise RuntimeError(f"wrk printed no summary:\n{out}")


def _summary(
    name: str, command: str, stats: dict[str, Any], peak: int, correct: bool
) -> LoadResult:
    errors = sum(
        stats[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return LoadResult(
        name=name,
        command=command,
        rps=round(stats["requests"] / (stats["duration_us"] / 1e6), 1),
        p50_ms=stats["p50_us"] / 1000,
        p90_ms=stats["p90_us"] / 1000,
        p95_ms=stats["p95_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        max_ms=stats["max_us"] / 1000,
        requests=stats["requests"],
        errors=errors,
        peak_rss_mb=round(peak / 2**20, 1),
        correct=correct,
    )


HIVE_INBOUND_CONFIG = """import { defineConfig } from "@graphql-hive/gateway";

// The original benchmark's gateway.config.ts: identical client requests in flight share one
// execution.
export const gatewayConfig = defineConfig({ inboundInflightRequestDeduplication: true });
"""


def gateway_commands(
    supergraph: Path,
    baselines: dict[str, Path] | None = None,
    router_configs: dict[str, Path] | None = None,
) -> dict[str, tuple[list[str], str, dict[str, str], Path]]:
    """name -> (command, health URL, extra environment, working directory). `baselines`:
    contender name -> another checkout of the code, run as that contender."""
    puppies = ROOT / ".venv" / "bin" / "puppies"
    hive = HIVE_DIR / "node_modules" / ".bin" / "hive-gateway"
    hive_cmd = [
        str(hive),
        "supergraph",
        str(supergraph),
        "--host",
        "127.0.0.1",
        "--port",
        str(GATEWAY_PORT),
        "--fork",
        "1",
        "--jit",
    ]
    inbound_dir = HIVE_DIR / "inbound-dedup"  # node finds ../node_modules from here
    inbound_dir.mkdir(parents=True, exist_ok=True)
    (inbound_dir / "gateway.config.ts").write_text(HIVE_INBOUND_CONFIG)
    hive_health = f"http://127.0.0.1:{GATEWAY_PORT}/healthcheck"
    production = {"NODE_ENV": "production"}
    # Our router without inbound dedup: the fair match for Hive Gateway's defaults (both
    # still share identical in-flight *subgraph* requests).
    no_inbound = WORK / "router-no-inbound-dedup.yaml"
    no_inbound.write_text("traffic_shaping:\n  router:\n    deduplicate_requests: false\n")
    router_cmd = [
        str(puppies),
        "serve",
        "router",
        "--supergraph",
        str(supergraph),
        "--listen",
        f"127.0.0.1:{GATEWAY_PORT}",
    ]
    health = f"http://127.0.0.1:{GATEWAY_PORT}/health"
    extra: dict[str, tuple[list[str], str, dict[str, str], Path]] = {}
    for name, baseline in (baselines or {}).items():
        # the other checkout's packages come first on sys.path (the editable install's finder
        # only answers for what the path does not have)
        extra[name] = (router_cmd, health, {"PYTHONPATH": str(baseline)}, baseline)
        extra[f"{name}-no-inbound-dedup"] = (
            [*router_cmd, "--config", str(WORK / "router-no-inbound-dedup.yaml")],
            health,
            {"PYTHONPATH": str(baseline)},
            baseline,
        )
    for name, config in (router_configs or {}).items():
        extra[f"puppies-{name}"] = ([*router_cmd, "--config", str(config)], health, {}, ROOT)
        for base, directory in (baselines or {}).items():  # the same router.yaml, its code
            extra[f"{base}-{name}"] = (
                [*router_cmd, "--config", str(config)],
                health,
                {"PYTHONPATH": str(directory)},
                directory,
            )
    return {
        **extra,
        "puppies": (router_cmd, f"http://127.0.0.1:{GATEWAY_PORT}/health", {}, ROOT),
        "puppies-no-inbound-dedup": (
            [*router_cmd, "--config", str(no_inbound)],
            f"http://127.0.0.1:{GATEWAY_PORT}/health",
            {},
            ROOT,
        ),
        "hive-gateway": (hive_cmd, hive_health, production, WORK),
        "hive-gateway-inbound-dedup": (hive_cmd, hive_health, production, inbound_dir),
    }


def run_gateway(
    name: str,
    cmd: list[str],
    health: str,
    env: dict[str, str],
    cwd: Path,
    args: argparse.Namespace,
    subgraphs_pid: int,
) -> LoadResult:
    url = f"http://127.0.0.1:{GATEWAY_PORT}/graphql"
    proc = _start(cmd, WORK / "logs" / f"{name}.log", cwd=cwd, env=env)
    try:
        with PeakRss(proc.pid) as rss:
            _wait_http(health)
            answer = _post(url, QUERY)
            correct = answer.get("data") == expected_deep_result() and "errors" not in answer
            if not correct:
                (WORK / f"{name}-answer.json").write_text(json.dumps(answer, indent=1))
            _wrk(url, QUERY, args.warmup, args.connections, args.threads)
            cpu0 = tree_cpu_seconds(proc.pid), tree_cpu_seconds(subgraphs_pid)
            stats = _wrk(url, QUERY, args.duration, args.connections, args.threads)
            cpu1 = tree_cpu_seconds(proc.pid), tree_cpu_seconds(subgraphs_pid)
            after = _post(url, QUERY)
            correct = correct and after.get("data") == expected_deep_result()
        result = _summary(name, " ".join(cmd), stats, rss.peak, correct)
        n = max(stats["requests"], 1)
        result.gateway_cpu_ms_per_request = round(1000 * (cpu1[0] - cpu0[0]) / n, 2)
        result.subgraphs_cpu_ms_per_request = round(1000 * (cpu1[1] - cpu0[1]) / n, 2)
        return result
    finally:
        _stop(proc)


def run_overhead(
    commands: dict[str, tuple[list[str], str, dict[str, str], Path]],
    name: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Single-fetch query at one connection: subgraph directly vs through router ``name``."""
    direct_url = f"http://127.0.0.1:{SUBGRAPH_PORT}/accounts"
    direct = _wrk(direct_url, SINGLE_FETCH_QUERY, args.overhead_duration, 1, 1)
    cmd, health, env, cwd = commands[name]
    proc = _start(cmd, WORK / "logs" / f"{name}-overhead.log", cwd=cwd, env=env)
    try:
        _wait_http(health)
        url = f"http://127.0.0.1:{GATEWAY_PORT}/graphql"
        answer = _post(url, SINGLE_FETCH_QUERY)
        correct = answer.get("data") == expected_single_result()
        _wrk(url, SINGLE_FETCH_QUERY, 3, 1, 1)
        cpu0 = tree_cpu_seconds(proc.pid)
        routed = _wrk(url, SINGLE_FETCH_QUERY, args.overhead_duration, 1, 1)
        router_cpu = tree_cpu_seconds(proc.pid) - cpu0
    finally:
        _stop(proc)
    return {
        "router": name,
        "query": SINGLE_FETCH_QUERY,
        "correct": correct,
        "direct_p50_ms": direct["p50_us"] / 1000,
        "direct_p99_ms": direct["p99_us"] / 1000,
        "router_p50_ms": routed["p50_us"] / 1000,
        "router_p99_ms": routed["p99_us"] / 1000,
        "added_p50_ms": (routed["p50_us"] - direct["p50_us"]) / 1000,
        "added_p99_ms": (routed["p99_us"] - direct["p99_us"]) / 1000,
        "router_cpu_ms_per_request": round(1000 * router_cpu / max(routed["requests"], 1), 3),
    }


def _edge_contender() -> tuple[Any, Path]:
    """An embedded Redis and the router.yaml of ``puppies-edge`` (bench/router_edge.py's
    ``all`` scenario); its JWT goes into HEADERS. The caller stops the Redis."""
    from bench.router_edge import edge_scenarios
    from puppies.embedded import free_port
    from puppies.embedded.redis import EmbeddedRedis

    workdir = WORK / "edge"
    redis_server = EmbeddedRedis(workdir / "redis", free_port(), persist=False)
    redis_url = redis_server.start()
    for name, config, header, _ in edge_scenarios(workdir, redis_url):
        if name == "all":
            key, _, value = header.partition(":")
            HEADERS[key] = value
            return redis_server, config
    redis_server.stop()
    raise RuntimeError("bench.router_edge has no 'all' scenario")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--subgraph-workers", type=int, default=2)
    parser.add_argument("--overhead-duration", type=int, default=10)
    parser.add_argument(
        "--only",
        action="append",
        help="A contender to run (repeatable): puppies, puppies-no-inbound-dedup, "
        "hive-gateway, hive-gateway-inbound-dedup, puppies-baseline, puppies-NAME.",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="[NAME=]DIR",
        help="Another checkout of the code (e.g. an older commit) run as puppies-baseline, "
        "or as puppies-NAME (repeatable: several commits side by side).",
    )
    parser.add_argument(
        "--router-config",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="Run our router with this router.yaml as puppies-NAME (repeatable).",
    )
    parser.add_argument(
        "--overhead-of",
        action="append",
        default=None,
        metavar="CONTENDER",
        help="Routers whose single-fetch overhead is measured (default: puppies); repeatable.",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="A header sent with every request to every contender (repeatable).",
    )
    parser.add_argument(
        "--edge",
        action="store_true",
        help="Add puppies-edge: authentication, rate limits (embedded Redis) and demand "
        "control on, and send every contender its JWT.",
    )
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument(
        "--overhead-only", action="store_true", help="Only measure the single-fetch overhead."
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="Run the gateways this many times, interleaved (noisy machines).",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    for port in (SUBGRAPH_PORT, GATEWAY_PORT):
        if _port_busy(port):
            print(
                f"port {port} is busy (set BENCH_SUBGRAPH_PORT / BENCH_GATEWAY_PORT)",
                file=sys.stderr,
            )
            return 2
    for item in args.header:
        name, _, value = item.partition(":")
        HEADERS[name.strip()] = value.strip()
    redis_server = None
    if args.edge:
        redis_server, edge_config = _edge_contender()
        args.router_config.append(f"edge={edge_config}")
    subgraphs = _start(
        [
            str(ROOT / ".venv" / "bin" / "uvicorn"),
            "bench.gateways.subgraphs:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(SUBGRAPH_PORT),
            "--workers",
            str(args.subgraph_workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        WORK / "logs" / "subgraphs.log",
    )
    results: list[LoadResult] = []
    overhead: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    try:
        _wait_http(f"http://127.0.0.1:{SUBGRAPH_PORT}/health")
        locations = [SubgraphLocation(n, f"http://127.0.0.1:{SUBGRAPH_PORT}/{n}") for n in NAMES]
        supergraph = WORK / "supergraph.graphql"
        supergraph.write_text(compose_locations(locations))
        configs = {}
        for item in args.router_config:
            name, _, path = item.partition("=")
            configs[name] = Path(path).resolve()
        baselines = {}
        for item in args.baseline:
            name, sep, path = item.rpartition("=")
            baselines[f"puppies-{name}" if sep else "puppies-baseline"] = Path(path).resolve()
        commands = gateway_commands(supergraph, baselines, configs)
        unknown = [n for n in (args.only or []) + (args.overhead_of or []) if n not in commands]
        if unknown:
            print(f"unknown contenders {unknown}; known: {sorted(commands)}", file=sys.stderr)
            return 2
        for _ in range(0 if args.overhead_only else args.repeat):
            for name in args.only or list(commands):
                cmd, health, env, cwd = commands[name]
                result = run_gateway(name, cmd, health, env, cwd, args, subgraphs.pid)
                results.append(result)
                print(json.dumps(asdict(result)), flush=True)
        if not args.skip_overhead:
            overhead = []
            for _ in range(args.repeat):
                for name in args.overhead_of or ["puppies"]:
                    measured = run_overhead(commands, name, args)
                    overhead.append(measured)
                    print(json.dumps(measured), flush=True)
    finally:
        _stop(subgraphs)
        if redis_server is not None:
            redis_server.stop()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    report = {
        "when": stamp,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "results": [asdict(r) for r in results],
        "overhead": overhead,
    }
    (WORK / f"gateways-{stamp}.json").write_text(json.dumps(report, indent=1))
    print(markdown(report))
    return 0 if all(r.correct for r in results) else 1


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| gateway | RPS | p50 ms | p95 ms | p99 ms | peak RSS MB | errors | correct "
        "| gateway CPU ms/req | subgraphs CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['name']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['peak_rss_mb']:.0f} | {r['errors']} | {r['correct']} | "
            f"{r['gateway_cpu_ms_per_request']:.1f} | {r['subgraphs_cpu_ms_per_request']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"load average before/after (1, 5, 15 min): {report['loadavg_before']} / "
        f"{report['loadavg_after']} on {report['cpus']} CPUs"
    )
    for o in report.get("overhead") or []:
        lines.append("")
        lines.append(
            f"single fetch at 1 connection via {o['router']}: direct p50 "
            f"{o['direct_p50_ms']:.3f} ms, through the router p50 {o['router_p50_ms']:.3f} ms, "
            f"added p50 {o['added_p50_ms']:.3f} ms (p99 added {o['added_p99_ms']:.3f} ms), "
            f"router CPU per request {o['router_cpu_ms_per_request']:.3f} ms, "
            f"correct: {o['correct']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
