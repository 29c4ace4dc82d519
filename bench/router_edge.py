"""The router's serving layer per request, in-process: transport + request pipeline + stages,
without sockets (the ASGI app is called directly), for a query the router answers itself
(``{ __typename }``, so no subgraph is involved) and optionally one that calls a subgraph.

    .venv/bin/python -m bench.router_edge [--requests 20000] [--rounds 5]
        [--baseline DIR] [--baseline-config NAME=router.yaml ...] [--config NAME=router.yaml ...]
        [--env NAME=KEY=VALUE ...]
        [--header NAME=header:value ...]

Each contender (``current`` = this checkout with defaults, ``baseline`` = another checkout of
the code, e.g. ``git archive <commit> | tar -x -C DIR``, and one per ``--config``) runs in its
own process, one after the other, ``--rounds`` times interleaved; each round sends
``--requests`` requests one at a time and records the wall time of each. The report gives
each contender's median of the per-round p50 and mean (microseconds per request) and the
difference to the first contender. On a shared machine, compare contenders of the same run
only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUPERGRAPH = ROOT / "tests" / "graph" / "serving" / "supergraph.graphql"


def _ping_worker(args: argparse.Namespace) -> None:
    """The ``redis-ping`` contender: one bare round trip to the bench's Redis per "request"
    (a PING with redis-py's asyncio client, as the router's stages use it), for scale."""
    import asyncio

    from redis.asyncio import Redis

    async def run() -> tuple[list[float], float]:
        redis = Redis.from_url(args.ping, socket_timeout=0.5)
        for _ in range(2000):
            await redis.ping()
        times = []
        cpu = time.process_time()
        for _ in range(args.requests):
            started = time.perf_counter()
            await redis.ping()
            times.append(time.perf_counter() - started)
        used = time.process_time() - cpu
        await redis.aclose()
        return times, used

    times, used = asyncio.run(run())
    times.sort()
    print(
        json.dumps(
            {
                "p50_us": times[len(times) // 2] * 1e6,
                "mean_us": sum(times) / len(times) * 1e6,
                "cpu_us": used / len(times) * 1e6,
                "status": 200,
                "uniform": True,
            }
        )
    )


def _worker(args: argparse.Namespace) -> None:
    """Runs inside the contender's process (its code first on sys.path)."""
    import asyncio

    import yaml

    from graph.app import create_app
    from graph.config import config_from_mapping

    sdl = SUPERGRAPH.read_text()
    for name in ("accounts", "reviews"):
        sdl = sdl.replace("{" + name + "}", f"http://127.0.0.1:9/{name}")
    data = yaml.safe_load(Path(args.config).read_text()) if args.config else {}
    app = create_app(sdl, config_from_mapping(data or {}))
    body = json.dumps({"query": args.query}).encode()
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"accept", b"application/graphql-response+json"),
    ]
    for item in args.header:
        name, _, value = item.partition(":")
        headers.append((name.strip().lower().encode(), value.strip().encode()))
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 4000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def lifespan() -> asyncio.Task[None]:
        """Start the app's lifespan (its stages' start-up) and wait until it is done."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await queue.put({"type": "lifespan.startup"})
        started = asyncio.Event()

        async def lifespan_send(message: MutableMapping[str, Any]) -> None:
            started.set()

        task = asyncio.create_task(app({"type": "lifespan"}, queue.get, lifespan_send))
        await started.wait()
        return task

    async def run() -> list[float]:
        serving = await lifespan()
        for _ in range(2000):  # warm up: caches, JIT-free but allocator and branch warm
            await app(scope, receive, send)
        times = []
        clock = time.perf_counter
        cpu = time.process_time()
        for _ in range(args.requests):
            started = clock()
            await app(scope, receive, send)
            times.append(clock() - started)
        cpu_used.append(time.process_time() - cpu)
        serving.cancel()
        return times

    cpu_used: list[float] = []
    times = asyncio.run(run())
    ok = statuses.count(statuses[-1]) == len(statuses)
    times.sort()
    print(
        json.dumps(
            {
                "p50_us": times[len(times) // 2] * 1e6,
                "mean_us": sum(times) / len(times) * 1e6,
                "cpu_us": cpu_used[0] / len(times) * 1e6,
                "status": statuses[-1],
                "uniform": ok,
            }
        )
    )


def _stub_key_service(port: int) -> None:
    """The key service of the API-key contenders (every key is a pro key of user 1), in a
    thread of the driver for the whole run: bound once, so no round can lose its port to
    another process between workers."""
    import asyncio
    import threading

    from aiohttp import web

    async def verify(request: web.Request) -> web.Response:
        return web.json_response({"id": "1", "userId": "1", "tier": "pro", "scopes": []})

    ready = threading.Event()

    async def serve() -> None:
        web_app = web.Application()
        web_app.router.add_post("/verify", verify)
        runner = web.AppRunner(web_app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    if not ready.wait(30):
        raise RuntimeError(f"the stub key service did not start on port {port}")


def edge_scenarios(workdir: Path, redis_url: str) -> list[tuple[str, Path, str, int]]:
    """(name, router.yaml, request header, stub key-service port) of the edge contenders."""
    import socket

    import yaml
    from joserfc import jwt
    from joserfc.jwk import ECKey

    workdir.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256", parameters={"kid": "bench", "alg": "ES256"})
    (workdir / "jwks.json").write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    now = int(time.time())
    claims = {"iss": "bench", "aud": "bench", "sub": "1", "iat": now, "exp": now + 86400}
    token = jwt.encode({"alg": "ES256", "kid": "bench"}, claims, key, algorithms=["ES256"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    principal = {"principal": {"secret": "bench-router-principal-secret-0123456789"}}
    jwt_config = {
        "jwks": [
            {
                "url": f"file://{workdir / 'jwks.json'}",
                "issuer": "bench",
                "audiences": ["bench"],
                "algorithms": ["ES256"],
            }
        ]
    }
    keys_config = {"verify_url": f"http://127.0.0.1:{port}/verify", "cache_ttl": "1h"}
    unlimited = 1_000_000_000  # counted in Redis for every request, never reached
    rate_limits = {
        "enabled": True,
        "redis": {"urls": [redis_url]},
        # a 1 s window: fair to the sliding-window log of earlier versions (compared with
        # --baseline), whose one bench caller then holds about a second of requests (a
        # 1-minute window at thousands of requests a second would grow a set no real
        # caller has); a GCRA bucket is one number whatever the window
        "window": "1s",
        "users": {"limit": unlimited},
        "anonymous": {"limit": unlimited},
    }
    demand_control = {
        "enabled": True,
        "mode": "enforce",
        # estimated on every operation, never over (the gateway benchmark's deep query too)
        "strategy": {"static_estimated": {"list_size": 10, "max": 1_000_000}},
    }
    jwt_header = f"authorization:Bearer {token}"
    jwt_auth = {"router": {"jwt": jwt_config}, "subgraph": principal}
    scenarios: list[tuple[str, dict[str, Any], str, int]] = [
        ("jwt", {"authentication": jwt_auth}, jwt_header, 0),
        (
            "api-key",
            {"authentication": {"router": {"api_keys": keys_config}, "subgraph": principal}},
            "x-api-key:pk_0123456789ab_" + "k" * 43,
            port,
        ),
        ("rate-limits", {"rate_limits": rate_limits}, "x-bench:anonymous", 0),
        ("cost", {"demand_control": demand_control}, "x-bench:anonymous", 0),
        (
            "all",
            {
                "authentication": jwt_auth,
                "rate_limits": rate_limits,
                "demand_control": demand_control,
            },
            jwt_header,
            0,
        ),
    ]
    out = []
    for name, config, header, stub in scenarios:
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        out.append((name, path, header, stub))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--query", default="{ __typename }")
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--config", action="append", default=[], metavar="NAME=FILE")
    parser.add_argument(
        "--baseline-config",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="the baseline's code with this router.yaml as NAME",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=KEY=VALUE", help="env for NAME"
    )
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME=header:value", help="for NAME"
    )
    parser.add_argument(
        "--edge",
        action="store_true",
        help="add the edge contenders: jwt (a cached JWT, file:// JWKS), api-key (a cached "
        "key), each with the signed principal to subgraphs; rate-limits (one Lua round trip "
        "to an embedded Redis per request); cost (demand control enforced); all (jwt, "
        "rate-limits and cost together); redis-ping (a bare PING round trip, for scale); "
        "with --baseline, each also as baseline-NAME on the baseline's code",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ping", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-config", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.ping:
            _ping_worker(args)
            return 0
        args.config = args.worker_config
        _worker(args)
        return 0
    contenders: list[tuple[str, dict[str, str], str | None]] = [("current", {}, None)]
    if args.baseline is not None:
        contenders.insert(0, ("baseline", {"PYTHONPATH": str(args.baseline.resolve())}, None))
    for item in args.baseline_config:
        name, _, path = item.partition("=")
        if args.baseline is None:
            parser.error("--baseline-config needs --baseline")
        contenders.append(
            (name, {"PYTHONPATH": str(args.baseline.resolve())}, str(Path(path).resolve()))
        )
    for item in args.config:
        name, _, path = item.partition("=")
        contenders.append((name, {}, str(Path(path).resolve())))
    pings: dict[str, str] = {}  # contender -> Redis URL: a bare round trip, for scale
    redis_server = None
    if args.edge:
        from puppies.embedded import free_port
        from puppies.embedded.redis import EmbeddedRedis

        workdir = ROOT / "bench" / ".work" / "edge"
        redis_server = EmbeddedRedis(workdir / "redis", free_port(), persist=False)
        redis_url = redis_server.start()
        for name, scenario, header, port in edge_scenarios(workdir, redis_url):
            names: list[tuple[str, dict[str, str]]] = [(name, {})]
            if args.baseline is not None:  # the same scenario on the baseline's code
                names.append((f"baseline-{name}", {"PYTHONPATH": str(args.baseline.resolve())}))
            for contender, env in names:
                contenders.append((contender, env, str(scenario)))
                args.header.append(f"{contender}={header}")
            if port:
                _stub_key_service(port)
        contenders.append(("redis-ping", {}, None))
        pings["redis-ping"] = redis_url
    extra_env: dict[str, dict[str, str]] = {}
    for item in args.env:
        name, _, rest = item.partition("=")
        key, _, value = rest.partition("=")
        extra_env.setdefault(name, {})[key] = value
    headers: dict[str, list[str]] = {}
    for item in args.header:
        name, _, header = item.partition("=")
        headers.setdefault(name, []).append(header)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in contenders}
    load_before = os.getloadavg()
    try:
        failed = _run_rounds(args, contenders, headers, extra_env, pings, rounds)
    finally:
        if redis_server is not None:
            redis_server.stop()
    if failed:
        return 1
    _report(args, contenders, rounds, load_before)
    return 0


def _run_rounds(
    args: argparse.Namespace,
    contenders: list[tuple[str, dict[str, str], str | None]],
    headers: dict[str, list[str]],
    extra_env: dict[str, dict[str, str]],
    pings: dict[str, str],
    rounds: dict[str, list[dict[str, Any]]],
) -> bool:
    """Run every contender ``args.rounds`` times, interleaved; True when one failed."""
    for _ in range(args.rounds):
        for name, env, config in contenders:
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                "--requests",
                str(args.requests),
                "--query",
                args.query,
            ]
            if config:
                cmd += ["--worker-config", config]
            for header in headers.get(name, []):
                cmd += ["--header", header]
            if name in pings:
                cmd += ["--ping", pings[name]]
            # the contender's code first; this file imports only graph.* in the worker
            env = {**os.environ, **env, **extra_env.get(name, {})}
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return True
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rounds[name].append(result)
            print(name, json.dumps(result), flush=True)
    return False


def _report(
    args: argparse.Namespace,
    contenders: list[tuple[str, dict[str, str], str | None]],
    rounds: dict[str, list[dict[str, Any]]],
    load_before: tuple[float, float, float],
) -> None:
    first = contenders[0][0]
    base = statistics.median(r["p50_us"] for r in rounds[first])
    print()
    print(f"query {args.query!r}, {args.requests} requests x {args.rounds} rounds")
    print(f"load average before/after: {load_before} / {os.getloadavg()}")
    cpu_base = statistics.median(r["cpu_us"] for r in rounds[first])
    print(
        "| contender | p50 us (median of rounds) | mean us | vs first | "
        "router CPU us/request | vs first | status |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, _, _ in contenders:
        p50 = statistics.median(r["p50_us"] for r in rounds[name])
        mean = statistics.median(r["mean_us"] for r in rounds[name])
        status = rounds[name][-1]["status"]
        cpu = statistics.median(r["cpu_us"] for r in rounds[name])
        print(
            f"| {name} | {p50:.1f} | {mean:.1f} | {p50 - base:+.1f} | {cpu:.1f} | "
            f"{cpu - cpu_base:+.1f} | {status} |"
        )


if __name__ == "__main__":
    sys.exit(main())
