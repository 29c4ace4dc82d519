"""Embedded S3 servers side by side: start-up time, restart with data, memory, idle CPU, stop.

    .venv/bin/python -m bench.embedded_s3 [--rounds 3] [--objects 200]

Contenders, each from an empty data directory, in one run (alternating, so load on the
machine hits them alike):
- `weed mini` as `puppies dev` runs it (puppies/embedded/s3.py),
- `weed server -filer -s3` with the same ports and identities (the other SeaweedFS layout),
- moto's server with its recorder (what `puppies dev` ran before), when moto is installed.

Per round: cold start to ready (an S3 call signed with our key succeeds and, for SeaweedFS,
a file can be written and read), store N objects of 256 KiB, memory of the process tree (RSS,
and its anonymous part: RSS less file-backed pages), CPU used while idle for 10 s, graceful
stop, then a restart on the same data to ready (every object readable).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from puppies.embedded import EmbeddedS3, free_port
from puppies.embedded.base import EmbeddedService, tcp_open
from puppies.embedded.s3 import INTERNAL_ROLES, weed_binary
from puppies.s3 import create_s3_client, ensure_bucket
from puppies.settings import load_settings
from puppies.watchdog import Watchdog

KEY, SECRET = "bench", "bench-secret"
OBJECT_BYTES = 256 * 1024


class WeedServer(EmbeddedS3):
    """`weed server` (master, volume, filer, S3 as separate servers in one process)."""

    def _args(self, identities: Path) -> list[str]:
        i = self.internal
        return [
            weed_binary(),
            f"-logdir={self.data_dir / 'logs'}",
            "server",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={i['master']}",
            f"-master.port.grpc={i['master.grpc']}",
            f"-volume.port={i['volume']}",
            f"-volume.port.grpc={i['volume.grpc']}",
            "-filer",
            f"-filer.port={i['filer']}",
            f"-filer.port.grpc={i['filer.grpc']}",
            "-s3",
            f"-s3.port={self.port}",
            f"-s3.port.grpc={i['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={identities}",
            "-s3.iam=false",
            "-master.telemetry=false",
            "-master.resumeState=false",  # with it, a restart waits ~20 s for a raft election
            "-volume.preStopSeconds=0",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=100",
        ]


class MotoServer(EmbeddedService):
    """moto's server with its recorder replayed at start (the previous embedded S3)."""

    name = "s3"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        recording = self.data_dir / "recording.jsonl"
        env = {
            **os.environ,
            "MOTO_ENABLE_RECORDING": "True",
            "MOTO_RECORDER_FILEPATH": str(recording),
        }
        self._spawn(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
        )
        self._wait_ready(lambda: tcp_open(self.port), 60, "moto")
        if recording.exists() and recording.stat().st_size:
            import urllib.request

            req = urllib.request.Request(
                f"{self.url}/moto-api/recorder/replay-recording", method="POST", data=b""
            )
            urllib.request.urlopen(req, timeout=600).read()
        return self.url


WATCHDOG: Watchdog | None = None  # stops the servers if the benchmark is killed


def make(kind: str, data_dir: Path, port: int, internal: list[int]) -> EmbeddedService:
    server: EmbeddedService
    if kind == "moto":
        server = MotoServer(data_dir, port)
    else:
        cls = WeedServer if kind == "weed server" else EmbeddedS3
        server = cls(
            data_dir, port, access_key_id=KEY, secret_access_key=SECRET, internal_ports=internal
        )
    server.watchdog = WATCHDOG
    return server


def tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def rss_mib(pid: int) -> float:
    return sum(p.memory_info().rss for p in tree(pid)) / 2**20


def anon_mib(pid: int) -> float:
    """Anonymous memory of the process tree: RSS less file-backed pages (such as the 153 MB
    `weed` executable's text, which the page cache shares and can drop and re-read)."""
    return sum(p.memory_info().rss - p.memory_info().shared for p in tree(pid)) / 2**20


def cpu_seconds(pid: int) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in tree(pid))


def client(url: str) -> Any:
    return create_s3_client(
        load_settings(s3_endpoint_url=url, s3_access_key_id=KEY, s3_secret_access_key=SECRET)
    )


def one_round(kind: str, objects: int) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="puppies-bench-s3-"))
    port, internal = free_port(), [free_port() for _ in INTERNAL_ROLES]
    out: dict[str, float] = {}
    try:
        server = make(kind, data_dir, port, internal)
        t0 = time.monotonic()
        url = server.start()
        c = client(url)
        c.list_buckets()
        out["cold start s"] = time.monotonic() - t0
        assert server.proc is not None
        out["RSS ready MiB"] = rss_mib(server.proc.pid)
        out["anonymous ready MiB"] = anon_mib(server.proc.pid)
        ensure_bucket(c, "bench")
        body = os.urandom(OBJECT_BYTES)
        t0 = time.monotonic()
        for i in range(objects):
            c.put_object(Bucket="bench", Key=f"o/{i}", Body=body)
        out["put ms/object"] = (time.monotonic() - t0) * 1000 / objects
        out[f"RSS after {objects} puts MiB"] = rss_mib(server.proc.pid)
        out[f"anonymous after {objects} puts MiB"] = anon_mib(server.proc.pid)
        before = cpu_seconds(server.proc.pid)
        time.sleep(10)
        out["idle CPU % (10 s)"] = (cpu_seconds(server.proc.pid) - before) * 10
        t0 = time.monotonic()
        server.stop(timeout=60)
        out["graceful stop s"] = time.monotonic() - t0
        server = make(kind, data_dir, port, internal)
        t0 = time.monotonic()
        url = server.start()
        c = client(url)
        assert c.get_object(Bucket="bench", Key=f"o/{objects - 1}")["Body"].read() == body
        out["restart with data s"] = time.monotonic() - t0
        server.stop(timeout=60)
        out["data on disk MiB"] = (
            sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file()) / 2**20
        )
    finally:
        with contextlib.suppress(Exception):
            server.stop(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--objects", type=int, default=200)
    args = parser.parse_args()
    global WATCHDOG
    WATCHDOG = Watchdog()
    kinds = ["weed mini", "weed server"]
    try:
        import moto  # noqa: F401

        kinds.append("moto")
    except ImportError:
        print("moto is not installed: comparing the two SeaweedFS layouts only")
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        for kind in kinds:
            results[kind].append(one_round(kind, args.objects))
            print(f"round {r + 1} {kind}: {results[kind][-1]}", flush=True)
    print(f"\nload average at the end: {os.getloadavg()}")
    metrics = list(results[kinds[0]][0])
    print(f"| metric (median of {args.rounds}) | {' | '.join(kinds)} |")
    print("|---|" + "---|" * len(kinds))
    for m in metrics:
        row = [statistics.median(run[m] for run in results[k]) for k in kinds]
        print(f"| {m} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    with contextlib.suppress(Exception):
        subprocess.run(["uptime"], check=False)
    WATCHDOG.close()


if __name__ == "__main__":
    main()
