"""What telemetry costs the router: the gateway benchmark (bench/gateways) with our router
configured four ways, interleaved in one run over the same subgraphs:

- ``puppies-tracing-off``: tracing off, access log off (stderr at critical only);
- ``puppies-access-log``: tracing off, the access log on (the default);
- ``puppies-tracing-1pct``: the access log, and traces sampled at 1%;
- ``puppies-tracing-100pct``: the access log, and every request traced.

Traces go to ``bench.ops.otlp_sink`` (accepts OTLP/HTTP, counts spans, drops them), a
separate process, so what is measured is the router's cost: span creation, propagation, the
batch processor's serialisation and export. Inbound de-duplication is off in all four, so
every request is executed (and traced) on its own.

    .venv/bin/python -m bench.ops.telemetry_cost [--duration 20] [--connections 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "bench" / ".work"
SINK_PORT = 4719

# Every request executes (no inbound de-duplication, which would share one execution, and
# its spans, among identical concurrent requests): the cost per request is the whole one.
BASE = "traffic_shaping:\n  router:\n    deduplicate_requests: false\n"


def configs() -> dict[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    tracing = f"""
    tracing:
      common:
        sampler: {{ratio}}
      otlp:
        enabled: true
        endpoint: http://127.0.0.1:{SINK_PORT}
"""
    variants = {
        "tracing-off": (
            "telemetry:\n  exporters:\n    logging:\n      stdout:\n        enabled: false\n"
        ),
        "access-log": "",
        "tracing-1pct": "telemetry:\n  exporters:" + tracing.format(ratio="0.01"),
        "tracing-100pct": "telemetry:\n  exporters:" + tracing.format(ratio="always_on"),
    }
    out = {}
    for name, extra in variants.items():
        path = WORK / f"router-{name}.yaml"
        path.write_text(BASE + extra)
        out[name] = path
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sink = subprocess.Popen([sys.executable, "-m", "bench.ops.otlp_sink", str(SINK_PORT)], cwd=ROOT)
    try:
        time.sleep(1.0)
        paths = configs()
        command = [
            sys.executable,
            "-m",
            "bench.gateways.run",
            "--duration",
            str(args.duration),
            "--connections",
            str(args.connections),
            "--repeat",
            str(args.repeat),
            "--skip-overhead",
        ]
        for name in paths:
            command += ["--only", f"puppies-{name}"]
        for name, path in paths.items():
            command += ["--router-config", f"{name}={path}"]
        print("$", " ".join(command), flush=True)
        code = subprocess.call(command, cwd=ROOT)
        with urllib.request.urlopen(f"http://127.0.0.1:{SINK_PORT}/") as answer:
            print(f"spans received by the sink: {answer.read().decode()}")
        return code
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    sys.exit(main())
