"""puppies/observability/memtrace.py: off by default (no tracing, no threads); on, a real
process writes its memory samples, the allocation sites that grew, and an event-loop stall
with the stack that blocked it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import asyncio, glob, os, threading, time, tracemalloc
    from puppies.observability import memtrace

    memtrace.install("probe")
    print("tracing", tracemalloc.is_tracing(), "threads", threading.active_count(), flush=True)
    kept = []

    def report():
        paths = glob.glob(os.path.join(os.environ.get("PUPPIES_MEMTRACE_DIR", "-"), "*.txt"))
        return open(paths[0]).read() if paths else ""

    async def until(text):  # the samples come when they come on a loaded machine
        deadline = time.monotonic() + 120
        while text not in report() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    def block_the_loop():
        time.sleep(1.5)

    async def main():
        if not os.environ.get("PUPPIES_MEMTRACE_DIR"):
            await asyncio.sleep(3)
            return
        await until("baseline snapshot taken")
        for _ in range(5):
            kept.append(bytearray(400_000))  # growth after the baseline
        await until("kept.append")
        await until("watching the event loop")
        block_the_loop()
        await until("event loop stall ended")

    import uvloop  # as the servers run (it takes asyncio's running-loop hook at import)

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main())
    """
)


def _run(env: dict[str, str], cwd: Path) -> str:
    program = cwd / "probe.py"  # a file: the tracebacks show its lines
    program.write_text(PROGRAM)
    done = subprocess.run(
        [sys.executable, str(program)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_off_by_default_costs_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUPPIES_MEMTRACE")}
    out = _run(env, tmp_path)
    assert "tracing False threads 1" in out
    assert [p.name for p in tmp_path.iterdir()] == ["probe.py"]


def test_on_it_reports_growth_and_a_stall_with_its_stack(tmp_path: Path) -> None:
    out_dir = tmp_path / "memtrace"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PUPPIES_MEMTRACE")},
        "PUPPIES_MEMTRACE_DIR": str(out_dir),
        "PUPPIES_MEMTRACE_SECONDS": "2",
        "PUPPIES_MEMTRACE_STALL_MS": "300",
    }
    assert "tracing False threads 3" in _run(env, tmp_path)  # tracing starts later
    (report,) = out_dir.glob("probe-*.txt")
    text = report.read_text()
    assert "tracemalloc started (6 frames)" in text
    assert "baseline snapshot taken" in text
    assert "RSS " in text and "glibc heap: in use" in text
    assert "top 15 growth since the baseline" in text
    assert "kept.append(bytearray(400_000))" in text  # the site that grew, with its line
    assert "watching the event loop Loop" in text  # uvloop's
    assert "event loop stalled > 300 ms" in text
    assert "in block_the_loop" in text  # the stack that blocked it
    assert "event loop stall ended after" in text
