"""bench.mixed refuses to measure a stack one of whose processes has exited: its CPU would
read 0 and the run would report a figure that is not true (a worker that lost its health
port to another process once gave "worker 0.00 ms")."""

from __future__ import annotations

import os
import socket

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


def test_a_process_whose_port_another_process_holds_is_not_taken_as_started() -> None:
    """On a shared machine another process can take a stack process's free port before it
    binds it: the port then answers, but the process exits (address already in use). The
    stack took any listener as the process started, and the run failed later, at its first
    use of the process ("no running posts process")."""
    st = Stack(services=None, env=dict(os.environ))  # type: ignore[arg-type]
    with socket.socket() as other:  # another process's listener, on the port given
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(RuntimeError, match="exited with 2"):
            st.start(["worker", "--no-such-option"], port)  # exits at once, never listens
    st.forget(st.procs[0])
