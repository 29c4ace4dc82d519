"""What a per-request timeout costs the router: one await of a future resolved on the next
loop turn, bare, inside ``asyncio.timeout`` and inside graph/deadline.py's ``Deadline``
(uvloop, as the router runs), rounds interleaved.

    .venv/bin/python -m bench.router_deadline [--awaits 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import uvloop

from graph.deadline import Deadline


async def _measure(awaits: int, rounds: int) -> dict[str, list[float]]:
    loop = asyncio.get_running_loop()

    async def one() -> int:
        future = loop.create_future()
        loop.call_soon(future.set_result, 1)
        return await future

    async def bare() -> None:
        for _ in range(awaits):
            await one()

    async def stdlib() -> None:
        for _ in range(awaits):
            async with asyncio.timeout(30):
                await one()

    async def deadline() -> None:
        for _ in range(awaits):
            with Deadline(30):
                await one()

    out: dict[str, list[float]] = {"bare": [], "asyncio.timeout": [], "Deadline": []}
    for _ in range(rounds):
        for name, run in (("bare", bare), ("asyncio.timeout", stdlib), ("Deadline", deadline)):
            cpu = time.process_time()
            await run()
            out[name].append((time.process_time() - cpu) / awaits * 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--awaits", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    results = uvloop.run(_measure(args.awaits, args.rounds))
    bare = statistics.median(results["bare"])
    print(f"CPU us per await, median of {args.rounds} rounds of {args.awaits}")
    for name, values in results.items():
        median = statistics.median(values)
        extra = "" if name == "bare" else f"  (+{median - bare:.2f} us for the timeout)"
        print(f"{name:16s} {median:.2f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
