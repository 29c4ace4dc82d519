"""bench.mixed refuses to measure a stack one of whose processes has exited: its CPU would
read 0 and the run would report a figure that is not true (a worker that lost its health
port to another process once gave "worker 0.00 ms")."""

from __future__ import annotations

import os

import pytest

from bench.analytics.stack import Stack
from bench.mixed.run import StackProcessDied, require_running


def test_a_stack_with_an_exited_process_is_not_measured() -> None:
    st = Stack(services=None, env=dict(os.environ))  # type: ignore[arg-type]
    require_running(st)  # nothing started, nothing dead
    proc = st.start(["worker", "--no-such-option"])  # a real process that exits at once
    assert proc.wait(60) != 0
    with pytest.raises(StackProcessDied, match=r"worker \(exit 2\)"):
        require_running(st)
    st.forget(proc)  # stopped on purpose (as bench.faults does): no longer the stack's
    require_running(st)
