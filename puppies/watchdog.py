"""A guard process that stops a stack's children when the process that started them dies.

`puppies dev` (and the tests' service fixture) starts every server in its own session, so
a terminal's Ctrl-C or a SIGTERM to the process group reaches only the supervisor, which
then stops the children in order. If the supervisor itself is SIGKILLed, nothing would stop
them: ports stay bound and the next start fails. So the supervisor first starts this
watchdog, holding the read end of a pipe. Each child's process group is registered over the
pipe with the signal that stops it gracefully. When the pipe closes without the word
"done" (the owner died, however it died), the watchdog sends each group its signal and a
SIGCONT (a group frozen with SIGSTOP, as bench.faults freezes a subgraph, would otherwise
hold the signal pending until the SIGKILL), waits, and SIGKILLs whatever is left.

The pipe's write end is not inherited by any child (file descriptors are non-inheritable by
default), so the owner's death is the only thing that closes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

GRACE_SECONDS = 10.0


class Watchdog:
    """The owner's side: register process groups; `close()` when they are all stopped."""

    def __init__(self) -> None:
        read_end, self._fd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "puppies.watchdog", str(read_end)],
                pass_fds=(read_end,),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            os.close(read_end)

    def _send(self, line: str) -> None:
        with contextlib.suppress(OSError):  # the watchdog is gone: nothing left to tell it
            os.write(self._fd, f"{line}\n".encode())

    def watch(self, pgid: int, stop_signal: int = signal.SIGTERM) -> None:
        self._send(f"+ {pgid} {int(stop_signal)}")

    def forget(self, pgid: int) -> None:
        self._send(f"- {pgid}")

    def close(self) -> None:
        """The owner stopped everything itself: the watchdog exits without acting."""
        if self._fd < 0:
            return
        self._send("done")
        os.close(self._fd)
        self._fd = -1
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(groups: dict[int, int], grace: float = GRACE_SECONDS) -> list[int]:
    """Signal each group (and continue it, should it be stopped), wait up to `grace`
    seconds, SIGKILL the rest; the killed groups."""
    for pgid, sig in groups.items():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
            os.killpg(pgid, signal.SIGCONT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_group_alive(g) for g in groups):
        time.sleep(0.1)
    killed = [g for g in groups if _group_alive(g)]
    for pgid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    return killed


def main(fd: int) -> int:
    # Signals meant for the owner's terminal or group are not for us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    groups: dict[int, int] = {}
    with os.fdopen(fd, "r") as pipe:
        for line in pipe:
            parts = line.split()
            if parts == ["done"]:
                return 0
            if len(parts) == 3 and parts[0] == "+":
                groups[int(parts[1])] = int(parts[2])
            elif len(parts) == 2 and parts[0] == "-":
                groups.pop(int(parts[1]), None)
    live = {g: s for g, s in groups.items() if _group_alive(g)}
    if live:
        killed = reap(live)
        with contextlib.suppress(OSError):
            print(
                f"puppies watchdog: the process that started them died; stopped "
                f"{len(live)} process group(s)"
                + (f", {len(killed)} with SIGKILL" if killed else ""),
                file=sys.stderr,
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
