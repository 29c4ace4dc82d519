"""bench.faults counts an answer in the phase its request was sent in, except that a request
sent before the fault and still in flight when the fault came is the fault's: the request
due just ahead of a SIGSTOP waited out the router's timeout, and one ahead of a SIGKILL got a
partial answer, and counted in "before" they read as the healthy stack's errors. A real
HTTP server on loopback holds the answer while the phase changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.faults.load import Load
from bench.mixed.stack import Population
from bench.mixed.workload import FEED


@pytest.fixture
async def held() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A GraphQL endpoint whose answers wait for `release` (set: answer at once)."""
    release = asyncio.Event()
    release.set()

    async def graphql(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"data": {"feed": {"edges": [], "pageInfo": {}}}})

    app = web.Application()
    app.router.add_post("/graphql", graphql)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", release
    await runner.cleanup()


def _load(url: str) -> Load:
    pop = Population(
        tokens=["t"], viewer_ids=["v"], post_ids=["p"], hot_post_ids=["p"], user_ids=["u"]
    )
    return Load(url, pop, 0, liked=set())


def _counts(load: Load) -> dict[str, int]:
    return {name: sum(phase.outcomes.values()) for name, phase in load.phases.items()}


async def test_a_request_in_flight_when_the_fault_comes_is_the_faults(
    held: tuple[str, asyncio.Event],
) -> None:
    url, release = held
    async with _load(url) as load:
        load.phase = "before"
        await load._send("feed", FEED, {}, "t", time.monotonic(), load.phase)
        assert _counts(load) == {"before": 1}  # answered before the fault: before's

        release.clear()
        in_flight = asyncio.create_task(
            load._send("feed", FEED, {}, "t", time.monotonic(), load.phase)
        )
        await asyncio.sleep(0.2)
        load.phase = "fault"
        release.set()
        await in_flight
        assert _counts(load) == {"before": 1, "fault": 1}

        # sent during the fault, answered after it: still the fault's
        release.clear()
        in_flight = asyncio.create_task(
            load._send("feed", FEED, {}, "t", time.monotonic(), load.phase)
        )
        await asyncio.sleep(0.2)
        load.phase = "after"
        release.set()
        await in_flight
        assert _counts(load) == {"before": 1, "fault": 2}

        # sent before and answered only after the fault was healed: the fault's too
        load.phase = "before"
        release.clear()
        in_flight = asyncio.create_task(
            load._send("feed", FEED, {}, "t", time.monotonic(), load.phase)
        )
        await asyncio.sleep(0.2)
        load.phase = "after"
        release.set()
        await in_flight
        assert _counts(load) == {"before": 1, "fault": 3}


async def test_a_warmup_request_answered_before_the_fault_is_not_counted_as_before(
    held: tuple[str, asyncio.Event],
) -> None:
    url, release = held
    async with _load(url) as load:
        load.phase = "warmup"
        release.clear()
        in_flight = asyncio.create_task(
            load._send("feed", FEED, {}, "t", time.monotonic(), load.phase)
        )
        await asyncio.sleep(0.2)
        load.phase = "before"
        release.set()
        await in_flight
        assert _counts(load) == {"warmup": 1}
