"""Embedded PostgreSQL, Redis and S3 for the feed benchmarks, in their own data directory.

    python -m bench.feed.services /tmp/feedbench/data 55432 56379 59100 &
    export DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:55432/puppies \
           REDIS_URL=redis://127.0.0.1:56379/0 S3_ENDPOINT_URL=http://127.0.0.1:59100 \
           DATA_DIR=/tmp/feedbench/data

Durable settings (fsync on), the same code `puppies dev` uses; SIGTERM stops them.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from puppies.services import start_services
from puppies.settings import load_settings


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/feedbench/data")
    ports = tuple(int(p) for p in sys.argv[2:5]) if len(sys.argv) >= 5 else (55432, 56379, 59100)
    running = start_services(load_settings(data_dir=data), data_dir=data, ports=ports)  # type: ignore[arg-type]
    print(json.dumps(running.env()), flush=True)
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stop:
            time.sleep(0.5)
    finally:
        running.stop()


if __name__ == "__main__":
    main()
