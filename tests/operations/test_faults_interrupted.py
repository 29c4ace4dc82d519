"""`python -m bench.faults` interrupted in the middle of a run leaves no process behind.

The run is stopped while the posts subgraph is frozen (SIGSTOP, the `subgraph-slow`
scenario): by SIGTERM (what `timeout` sends; the run stops its stack as at the end, thawing
the subgraph) and by SIGKILL (the run cannot clean up: the stack's watchdog stops every
process it started). Every process of the run carries a marker in its environment, so the
test finds them all (embedded servers, subgraphs, worker, router, watchdog) wherever they
were reparented.

Each case starts a whole seeded stack (about 30 s on a quiet machine), so `make test` runs
the SIGTERM case (the run's own clean-up: unique to bench.faults) and `make test-deep`
(PUPPIES_DEEP=1) both. What the SIGKILL case relies on, puppies/watchdog.py stopping every
process it watches once their starter is killed, stays in `make test` through
tests/puppies/test_supervisor.py (`kill -9` of `puppies dev` in the middle of an upload).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.tmp import private_tmp_dir

ROOT = Path(__file__).resolve().parents[2]
MARK = "PUPPIES_FAULTS_TEST_RUN"


def _marked(mark: str) -> dict[int, str]:
    """pid -> state (R, S, T, ...) of every live process whose environment has the mark."""
    needle = f"{MARK}={mark}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        state = stat.rsplit(")", 1)[1].split()[0]
        if state not in ("Z", "X"):  # a zombie has already exited
            found[int(entry.name)] = state
    return found


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError(f"never saw {text!r}; the run's output:\n{path.read_text()[-4000:]}")


SIGNALS = [signal.SIGTERM, signal.SIGKILL] if os.environ.get("PUPPIES_DEEP") else [signal.SIGTERM]


@pytest.mark.timeout(900)  # a whole stack starts (and is seeded) under the suite's load
@pytest.mark.parametrize("sig", SIGNALS, ids=[s.name for s in SIGNALS])
def test_an_interrupted_fault_run_leaves_no_process_behind(sig: signal.Signals) -> None:
    mark = uuid.uuid4().hex
    data_dir = private_tmp_dir("faults-interrupted")
    out = data_dir / "run.log"
    env = {**os.environ, MARK: mark}
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.faults",
                "--scenario",
                "subgraph-slow",
                "--users",
                "20",
                "--viewers",
                "10",
                "--warmup",
                "1",
                "--before",
                "1",
                "--data-dir",
                str(data_dir / "stack"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        _wait_for(out, "subgraph-slow: fault injected", proc, timeout=600)
        running = _marked(mark)
        # PostgreSQL, Redis, S3, four subgraphs, the worker, the router, the watchdog
        assert len(running) >= 10, running
        assert "T" in running.values(), f"the posts subgraph should be frozen: {running}"
        proc.send_signal(sig)
        proc.wait(120)
        deadline = time.monotonic() + 60
        while _marked(mark) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _marked(mark) == {}, f"left behind: {_marked(mark)}\n{out.read_text()[-4000:]}"
        if sig == signal.SIGKILL:
            assert "the process that started them died" in out.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        for pid in _marked(mark):  # only the run's own processes, should the test fail
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)
