"""Run `puppies ...` under cProfile and write its stats when it stops, SIGTERM included.

    python -m bench.profiled OUT.prof -m puppies.cli serve posts --port 4102

With BENCH_PROFILE_CLOCK=cpu the profile counts CPU time (time.process_time) instead of
wall time: on a loaded machine wall time charges preemption (a write to a loopback socket
that wakes the peer) to whatever line was running.

(`python -m cProfile -o` loses the stats of a server stopped by SIGTERM: uvicorn re-raises
the signal after its graceful shutdown, with the handler it found at start: this one.)
"""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
import sys
import time
from types import FrameType


def main() -> None:
    out = sys.argv[1]
    module = sys.argv[3]
    sys.argv = [module, *sys.argv[4:]]
    if os.environ.get("BENCH_PROFILE_CLOCK") == "cpu":
        prof = cProfile.Profile(time.process_time)
    else:
        prof = cProfile.Profile()

    def dump(signum: int | None = None, frame: FrameType | None = None) -> None:
        prof.disable()
        prof.dump_stats(out)
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    signal.signal(signal.SIGINT, dump)
    prof.enable()
    try:
        runpy.run_module(module, run_name="__main__")
    finally:
        dump()


if __name__ == "__main__":
    main()
