"""Identical work in flight done once (graph/execution/inflight.py), against what each caller
doing its own work gives: generated schedules of callers (keys, start times, cancellations,
work that fails or is slow), then a leader cancelled in front of the real HTTP client and
gateway."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Hashable
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.execution.gateway import Gateway, GatewayOptions, SubgraphOptions
from graph.execution.http import SubgraphClient
from graph.execution.inflight import shared
from tests.graph.execution.test_http_client import RawServer, ok
from tests.graph.fixtures.subgraphs import SubgraphServer


class Boom(Exception):
    pass


callers = st.lists(
    st.tuples(
        st.integers(0, 3),  # key
        st.integers(0, 6),  # start tick
        st.one_of(st.none(), st.integers(0, 8)),  # cancelled at this tick (None: never)
    ),
    min_size=1,
    max_size=12,
)
works = st.fixed_dictionaries(
    {k: st.tuples(st.integers(0, 5), st.booleans()) for k in range(4)}  # (ticks, fails)
)


async def _ticks(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@settings(max_examples=300, deadline=None)
@given(callers=callers, works=works)
def test_every_caller_gets_its_own_works_outcome(
    callers: list[tuple[int, int, int | None]], works: dict[int, tuple[int, bool]]
) -> None:
    """Whatever the schedule: a caller not cancelled gets exactly what its own key's work
    gives (the value, or the exception), however many callers shared it; a cancelled caller
    gets CancelledError; nothing is left in flight; no exception goes unretrieved."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        unhandled: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda _, context: unhandled.append(context))
        inflight: dict[Hashable, asyncio.Future[str]] = {}
        runs: list[int] = []

        def work_for(key: int) -> Any:
            async def work() -> str:
                runs.append(key)
                ticks, fails = works[key]
                await _ticks(ticks)
                if fails:
                    raise Boom(f"work {key} failed")
                return f"value {key}"

            return work

        async def caller(key: int, start: int) -> tuple[str, bool]:
            await _ticks(start)
            return await shared(inflight, key, work_for(key))

        tasks = [asyncio.ensure_future(caller(key, start)) for key, start, _ in callers]

        async def canceller() -> None:
            for tick in range(10):
                for task, (_, _, at) in zip(tasks, callers, strict=True):
                    if at == tick:
                        task.cancel()
                await asyncio.sleep(0)

        await asyncio.gather(canceller(), *tasks, return_exceptions=True)
        for task, (key, _, at) in zip(tasks, callers, strict=True):
            _, fails = works[key]
            if task.cancelled():
                assert at is not None
                continue
            exc = task.exception()
            if fails:
                assert isinstance(exc, Boom) and str(exc) == f"work {key} failed"
            else:
                assert exc is None
                assert task.result()[0] == f"value {key}"
        assert inflight == {}
        assert len(runs) <= len(callers)
        tasks.clear()  # what holds the exceptions (and, through them, the futures)
        gc.collect()
        await asyncio.sleep(0)
        assert unhandled == []

    asyncio.run(scenario())


async def test_followers_of_a_cancelled_leader_do_the_work_themselves() -> None:
    inflight: dict[Hashable, asyncio.Future[str]] = {}
    started = asyncio.Event()
    runs = 0

    async def work() -> str:
        nonlocal runs
        runs += 1
        started.set()
        await asyncio.sleep(0.05)
        return "done"

    leader = asyncio.ensure_future(shared(inflight, "k", work))
    await started.wait()
    followers = [asyncio.ensure_future(shared(inflight, "k", work)) for _ in range(3)]
    await asyncio.sleep(0)
    leader.cancel()
    results = await asyncio.gather(*followers)
    assert [r for r, _ in results] == ["done"] * 3
    assert all(follower for _, follower in results)
    assert leader.cancelled()
    assert runs == 4  # the leader's, then each follower's own
    assert inflight == {}


async def test_a_cancelled_follower_leaves_the_work_to_the_others() -> None:
    inflight: dict[Hashable, asyncio.Future[str]] = {}
    runs = 0

    async def work() -> str:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return "done"

    leader = asyncio.ensure_future(shared(inflight, "k", work))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(shared(inflight, "k", work))
    other = asyncio.ensure_future(shared(inflight, "k", work))
    await asyncio.sleep(0.01)
    follower.cancel()
    assert await leader == ("done", False)
    assert await other == ("done", True)
    assert runs == 1


async def test_client_leader_cancelled_mid_request_followers_answered() -> None:
    """The HTTP client: the first of three identical queries is cancelled while its round
    trip is in flight; the two others still get the subgraph's answer."""

    def respond(n: int, body: bytes) -> bytes:
        return ok({"data": {"n": n, "q": orjson.loads(body)["query"]}})

    server = RawServer(respond)
    async with server as url:
        c = SubgraphClient("sub", url, 2.0, 10)
        try:
            slow = asyncio.Event()
            original = c._send

            async def delayed(data: bytes, idempotent: bool) -> tuple[int, bytes]:
                slow.set()
                await asyncio.sleep(0.05)
                return await original(data, idempotent)

            c._send = delayed  # type: ignore[method-assign]
            leader = asyncio.ensure_future(c.post({"query": "{ a }"}))
            await slow.wait()
            followers = [asyncio.ensure_future(c.post({"query": "{ a }"})) for _ in range(2)]
            await asyncio.sleep(0)
            leader.cancel()
            results = await asyncio.gather(*followers)
            assert [r["data"]["q"] for r in results] == ["{ a }", "{ a }"]
            assert results[0] is not results[1]
            assert c._inflight == {}
        finally:
            await c.aclose()


async def test_gateway_leader_cancelled_followers_answered(
    sdl: str, servers: dict[str, SubgraphServer]
) -> None:
    """The gateway's identical client requests: the first is cancelled while its execution
    waits for the subgraph; the others get the same answer as a request made alone."""
    servers["products"].delay = 0.1
    gw = Gateway.from_supergraph_sdl(
        sdl, GatewayOptions(default=SubgraphOptions(deduplicate=False))
    )
    try:
        query = gw.prepare("query ($n: Int) { topProducts(first: $n) { upc name } }", None)
        leader = asyncio.ensure_future(gw.execute(query, {"n": 2}))
        await asyncio.sleep(0.02)
        followers = [asyncio.ensure_future(gw.execute(query, {"n": 2})) for _ in range(3)]
        await asyncio.sleep(0.02)
        leader.cancel()
        results = await asyncio.gather(*followers)
        servers["products"].delay = 0
        alone = await gw.execute(query, {"n": 2})
        assert results == [alone] * 3
        assert len({id(r) for r in results}) == 3
        assert gw._inflight == {}
    finally:
        await gw.aclose()
