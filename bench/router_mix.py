"""The router's CPU per request for the mix's operations, in-process: the ASGI app called
directly (no server socket in front), real HTTP to stub subgraphs in another process
(bench/router_stubs.py: data generated from the supergraph, cached per request body), with
router.yaml's stages (JWT authentication, authorization, demand control, limits, headers,
metrics, APQ in memory), minus what needs Redis (rate limits, revocations, the APQ's Redis
tier): bench/router_edge.py measures those.

    .venv/bin/python -m bench.router_mix [--requests 400] [--rounds 3] [--baseline DIR]
        [--ops feed,post,profile,me,like] [--profile FILE.prof] [--fresh-tokens]

Each contender (``current`` = this checkout, ``baseline`` = another checkout, e.g.
``git archive main | tar -x -C DIR``) runs in its own process, rounds interleaved (ABAB);
a round sends ``--requests`` requests of each operation one at a time and records the
router process's CPU time (user+system) per request. The report gives each contender's
median over rounds, per operation, and the ratio to the first contender, and per round the
garbage collections and the time spent in them (gc.callbacks). With ``--profile``, one
extra run of the current checkout under cProfile (all operations). With ``--fresh-tokens``
every request brings an access token the router has not seen before (signed ahead, the same
ones for every contender: each verifies every one), as most viewers of the in-stack mix do
(bench/mixed: 2,000 viewers); otherwise one token, verified once and then cached.

With ``--served``, each contender's router runs as ``puppies serve router`` (uvicorn,
httptools, uvloop: what the stack runs) in its own process, a new one per round, and the
driver sends the requests over one keep-alive connection; the router's CPU is read from
/proc (clock ticks: use ``--requests`` of 1,000 or more).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from bench.router_core import _free_port, _wait

ROOT = Path(__file__).resolve().parents[1]
SUBGRAPHS = ("analytics", "feed", "posts", "users")


def _operations() -> dict[str, tuple[str, dict[str, Any]]]:
    """The mix's operations (bench/mixed/workload.py) with fixed variables."""
    from bench.mixed import workload as w

    return {
        "feed": (w.FEED, {}),
        "post": (w.POST_DETAIL, {"id": "4242"}),
        "profile": (w.PROFILE, {"id": "77"}),
        "me": (w.ME, {}),
        "like": (w.LIKE, {"id": "4242"}),
        "track": (
            w.TRACK,
            {
                "events": [
                    {
                        "id": f"{i:032x}",
                        "type": "POST_VIEW",
                        "occurredAt": "2026-12-07T11:00:00+00:00",
                        "postId": str(4000 + i),
                    }
                    for i in range(10)
                ]
            },
        ),
    }


def _config(workdir: Path, stub_port: int, tokens: int = 0) -> tuple[Path, str]:
    """router.yaml for the bench and an access token it accepts (and ``tokens`` more of
    them, different ones, in tokens.json next to it)."""
    import yaml
    from joserfc import jwt
    from joserfc.jwk import ECKey

    workdir.mkdir(parents=True, exist_ok=True)
    key = ECKey.generate_key("P-256", parameters={"kid": "bench", "alg": "ES256"})
    (workdir / "jwks.json").write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    now = int(time.time())
    claims = {"iss": "puppies", "aud": "puppies", "sub": "7", "iat": now, "exp": now + 86400}
    token = jwt.encode({"alg": "ES256", "kid": "bench"}, claims, key, algorithms=["ES256"])
    config: dict[str, Any] = yaml.safe_load((ROOT / "router.yaml").read_text())
    for section in ("static_files", "graphiql", "rate_limits", "subgraphs"):
        config.pop(section, None)
    jwt_config = config["authentication"]["router"]["jwt"]
    jwt_config["jwks"][0]["url"] = f"file://{workdir / 'jwks.json'}"
    jwt_config.pop("revocations", None)
    config["authentication"]["router"].pop("api_keys", None)
    config["apq"]["router"]["cache"].pop("redis", None)
    config["override_subgraph_url"] = {
        name: f"http://127.0.0.1:{stub_port}/{name}" for name in SUBGRAPHS
    }
    path = workdir / "router.bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    fresh = [
        jwt.encode(
            {"alg": "ES256", "kid": "bench"},
            {**claims, "sub": str(1000 + i), "jti": f"t{i}"},
            key,
            algorithms=["ES256"],
        )
        for i in range(tokens)
    ]
    (workdir / "tokens.json").write_text(json.dumps(fresh))
    return path, token


def _worker(args: argparse.Namespace) -> None:
    """Runs inside the contender's process (its code first on sys.path)."""
    import asyncio
    import gc
    import logging.config

    import uvloop
    import yaml

    from graph.app import create_app
    from graph.config import config_from_mapping
    from graph.observability.logs import logging_config

    data = yaml.safe_load(Path(args.config).read_text())
    config = config_from_mapping(data)
    # as `puppies serve router` does: its log lines (an access line per request) to stderr,
    # here a file
    log = open(Path(args.config).with_name(f"router-{os.getpid()}.log"), "wb")  # noqa: SIM115
    os.dup2(log.fileno(), 2)
    logging.config.dictConfig(
        logging_config(
            os.environ.get("BENCH_LOG_LEVEL", "info"),
            config.telemetry.exporters.logging.stdout.format,
        )
    )
    app = create_app((ROOT / "supergraph.graphql").read_text(), config)
    operations = _operations()
    names = args.ops.split(",")
    statuses: list[int] = []
    bodies: list[bytes] = []

    fresh: list[str] = []
    if args.fresh_tokens:
        fresh = json.loads(Path(args.config).with_name("tokens.json").read_text())

    def scope_for(name: str, token: str) -> tuple[dict[str, Any], bytes]:
        query, variables = operations[name]
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"application/graphql-response+json"),
            (b"authorization", f"Bearer {token}".encode()),
        ]
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/graphql",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 4000),
        }
        return scope, body

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        elif message["type"] == "http.response.body" and message.get("body"):
            bodies.append(message["body"])

    async def lifespan() -> asyncio.Task[None]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        await queue.put({"type": "lifespan.startup"})
        started = asyncio.Event()

        async def lifespan_send(message: MutableMapping[str, Any]) -> None:
            started.set()

        task = asyncio.create_task(app({"type": "lifespan"}, queue.get, lifespan_send))
        await started.wait()
        return task

    async def one(name: str, n: int) -> float:
        if fresh:  # a token not seen before for each request (built before the clock starts)
            scopes = [scope_for(name, fresh.pop())[0] for _ in range(n)]
        else:
            scopes = [scope_for(name, args.token)[0]] * n
        _, body = scope_for(name, args.token)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        cpu = time.process_time()
        for scope in scopes:
            await app(scope, receive, send)
        return (time.process_time() - cpu) / n * 1e3

    async def run() -> dict[str, Any]:
        serving = await lifespan()
        result: dict[str, Any] = {}
        for name in names:  # warm up; check the answers
            bodies.clear()
            await one(name, 50)
            answer = json.loads(bodies[-1])
            if "errors" in answer or statuses[-1] != 200:
                raise SystemExit(f"{name}: {statuses[-1]} {bodies[-1][:600]!r}")
            result[f"{name}_bytes"] = len(bodies[-1])
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        gcs = sum(s["collections"] for s in gc.get_stats())
        paused = [0.0, 0.0]  # seconds in collections, the start of the one running

        def timer(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                paused[1] = time.perf_counter()
            else:
                paused[0] += time.perf_counter() - paused[1]

        gc.callbacks.append(timer)
        for name in names:
            result[name] = await one(name, args.requests)
        gc.callbacks.remove(timer)
        result["gc_collections"] = sum(s["collections"] for s in gc.get_stats()) - gcs
        result["gc_ms"] = paused[0] * 1e3
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        serving.cancel()
        return result

    print(json.dumps(uvloop.run(run())))


def _cpu_seconds(pid: int) -> float:
    """user + system CPU time of process `pid` so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drive(pid: int, port: int, token: str, names: list[str], n: int) -> dict[str, Any]:
    """`n` requests of each operation, one at a time over one keep-alive connection, to the
    router served at `port`; its CPU ms per request."""
    import http.client

    operations = _operations()
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {
        "content-type": "application/json",
        "accept": "application/graphql-response+json",
        "authorization": f"Bearer {token}",
    }

    def send(body: bytes) -> tuple[int, bytes]:
        connection.request("POST", "/graphql", body, headers)
        response = connection.getresponse()
        return response.status, response.read()

    result: dict[str, Any] = {}
    for name in names:
        query, variables = operations[name]
        body = json.dumps({"query": query, "variables": variables}).encode()
        for _ in range(50):  # warm up; check the answers
            status, answer = send(body)
        if status != 200 or "errors" in json.loads(answer):
            raise SystemExit(f"{name}: {status} {answer[:600]!r}")
        result[f"{name}_bytes"] = len(answer)
        cpu = _cpu_seconds(pid)
        for _ in range(n):
            send(body)
        result[name] = (_cpu_seconds(pid) - cpu) / n * 1e3
    connection.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--ops", default="feed,post,profile,me,like,track")
    parser.add_argument("--profile", default=None)
    parser.add_argument(
        "--served",
        action="store_true",
        help="the router as `puppies serve router` (uvicorn) in its own process, driven over "
        "one keep-alive connection; its CPU from /proc",
    )
    parser.add_argument(
        "--fresh-tokens",
        action="store_true",
        help="each request with an access token not seen before (in-process runs only)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--token", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0

    import tempfile

    port = _free_port()
    stub = subprocess.Popen(
        [sys.executable, "-m", "bench.router_stubs", "--port", str(port)], cwd=ROOT
    )
    workdir = Path(tempfile.mkdtemp(prefix="router-mix-"))
    try:
        _wait(f"http://127.0.0.1:{port}/health")
        ops = len(args.ops.split(","))
        fresh = ops * (50 + args.requests) if args.fresh_tokens else 0
        config, token = _config(workdir, port, fresh)
        contenders = [("current", ROOT)]
        if args.baseline is not None:
            contenders.append(("baseline", args.baseline.resolve()))

        def run(where: Path, profile: str | None = None) -> dict[str, Any]:
            env = dict(os.environ, PYTHONPATH=f"{where}:{ROOT}")
            # this file run as a script: the contender's `graph` first on the path
            command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
            command += ["--config", str(config), "--token", token, "--ops", args.ops]
            command += ["--requests", str(args.requests)]
            if args.fresh_tokens:
                command.append("--fresh-tokens")
            if profile:
                command += ["--profile", profile]
            out = subprocess.run(
                command, cwd=where, env=env, check=True, capture_output=True, text=True
            ).stdout
            return dict(json.loads(out.strip().splitlines()[-1]))

        def served(where: Path) -> dict[str, Any]:
            listen = _free_port()
            env = dict(os.environ, PYTHONPATH=f"{where}:{ROOT}")
            command = [sys.executable, "-c", "from puppies.cli import main; main()"]
            command += ["serve", "router", "--supergraph", str(ROOT / "supergraph.graphql")]
            command += ["--config", str(config), "--listen", f"127.0.0.1:{listen}"]
            with open(workdir / "served.log", "ab") as log:
                router = subprocess.Popen(command, cwd=where, env=env, stdout=log, stderr=log)
            try:
                _wait(f"http://127.0.0.1:{listen}/health")
                return _drive(router.pid, listen, token, args.ops.split(","), args.requests)
            finally:
                router.terminate()
                router.wait()

        results: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in contenders}
        for _ in range(args.rounds):
            for name, where in contenders:
                results[name].append(served(where) if args.served else run(where))
        names = args.ops.split(",")
        first = None
        print(f"router CPU ms per request, median of {args.rounds} rounds of {args.requests}")
        for name, _ in contenders:
            medians = {op: statistics.median(r[op] for r in results[name]) for op in names}
            line = "  ".join(f"{op} {medians[op]:.3f}" for op in names)
            if first is None:
                first = medians
                print(f"{name:9s} {line}")
            else:
                ratios = "  ".join(f"{op} {medians[op] / first[op]:.2f}x" for op in names)
                print(f"{name:9s} {line}\n{'':9s} ({name}/current: {ratios})")
            if not args.served:
                gcs = [f"{r['gc_collections']} ({r['gc_ms']:.1f} ms)" for r in results[name]]
                print(f"{'':9s} collections (time in them) per round {gcs}")
            sizes = {op: results[name][0][f"{op}_bytes"] for op in names}
            print(f"{'':9s} response bytes {sizes}")
        if args.profile:
            run(ROOT, args.profile)
            print(f"profile: {args.profile}")
    finally:
        stub.terminate()
        stub.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
