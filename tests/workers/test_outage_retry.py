"""A consumer job that meets an outage is tried again later; any other failure is final.

arq retries a job only when it raises `Retry`: without the registry's conversion a
consumer whose PostgreSQL, Redis or S3 was away failed for good and its effect waited for
a sweep, if one existed (tests/subgraphs/posts/test_media_outage.py shows it end to end
with a real worker and S3).
"""

from __future__ import annotations

from typing import Any

import pytest
from arq.worker import Retry
from botocore.exceptions import EndpointConnectionError

from models.outbox import Event
from workers.registry import Registry, outage_retry_delay


def _job(failure: BaseException) -> tuple[Any, list[int]]:
    reg = Registry()
    calls: list[int] = []

    async def consume(ctx: dict[str, Any], event: Event) -> None:
        calls.append(int(ctx["job_try"]))
        raise failure

    reg.consumer("test.happened", name="test.consume", max_tries=5)(consume)
    return reg.functions["test.consume"].coroutine, calls


def _event() -> dict[str, Any]:
    return Event(id="posts:1", type="test.happened", schema="posts", aggregate_id=1).to_dict()


@pytest.mark.parametrize(
    "outage",
    [
        EndpointConnectionError(endpoint_url="http://s3.invalid"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=["s3", "refused"],
)
async def test_an_outage_is_retried_with_a_growing_delay(outage: BaseException) -> None:
    run, calls = _job(outage)
    delays = []
    for job_try in (1, 2, 3, 4):
        with pytest.raises(Retry) as info:
            await run({"job_try": job_try}, _event())
        assert info.value.__cause__ is outage
        delays.append((info.value.defer_score or 0) / 1000)
    assert delays == [5.0, 10.0, 20.0, 40.0]
    assert calls == [1, 2, 3, 4]
    assert [outage_retry_delay(t) for t in (5, 6, 10)] == [60.0, 60.0, 60.0]


async def test_any_other_failure_is_not_retried() -> None:
    run, calls = _job(ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        await run({"job_try": 1}, _event())
    assert calls == [1]
