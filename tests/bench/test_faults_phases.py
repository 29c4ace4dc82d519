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


async def _sent_in_answered_in(
    load: Load, release: asyncio.Event, sent_in: str, answered_in: str
) -> None:
    """One request sent in phase `sent_in`, held until the phase is `answered_in`."""
    load.phase = sent_in
    release.clear()
    in_flight = asyncio.create_task(load._send("feed", FEED, {}, "t", time.monotonic(), sent_in))
    await asyncio.sleep(0.2)
    load.phase = answered_in
    release.set()
    await in_flight


async def test_a_request_in_flight_when_the_fault_comes_is_the_faults(
    held: tuple[str, asyncio.Event],
) -> None:
    url, release = held
    async with _load(url) as load:
        await _sent_in_answered_in(load, release, "before", "before")
        assert _counts(load) == {"before": 1}  # answered before the fault: before's
        await _sent_in_answered_in(load, release, "before", "fault")
        assert _counts(load) == {"before": 1, "fault": 1}
        # sent during the fault, answered after it: still the fault's
        await _sent_in_answered_in(load, release, "fault", "after")
        assert _counts(load) == {"before": 1, "fault": 2}
        # sent before and answered only after the fault was healed: the fault's too
        await _sent_in_answered_in(load, release, "before", "after")
        assert _counts(load) == {"before": 1, "fault": 3}


async def test_a_warmup_request_answered_before_the_fault_is_not_counted_as_before(
    held: tuple[str, asyncio.Event],
) -> None:
    url, release = held
    async with _load(url) as load:
        await _sent_in_answered_in(load, release, "warmup", "before")
        assert _counts(load) == {"warmup": 1}
