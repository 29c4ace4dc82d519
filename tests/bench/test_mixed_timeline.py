"""bench.mixed's per-second timeline: it must tell a stall (a few slow seconds) from
saturation (every second slow), which the run's single p95 cannot."""

from __future__ import annotations

import random

from bench.analytics.stack import percentile
from bench.mixed.run import per_second


def test_a_stall_shows_in_its_own_seconds_only() -> None:
    rng = random.Random(7)
    samples = [(s, rng.uniform(5, 20)) for s in range(20) for _ in range(50)]
    samples += [(13, 400.0 + k) for k in range(20)]  # second 13 stalled
    timeline = per_second(samples)
    assert [t["second"] for t in timeline] == list(range(20))
    slow = [t["second"] for t in timeline if t["p95"] >= 100]
    assert slow == [13]
    assert timeline[13]["n"] == 70 and timeline[13]["max"] == 419.0
    # the figures are the run's own: each second's p95 is the percentile of its samples
    for t in timeline:
        mine = [ms for s, ms in samples if s == t["second"]]
        assert t["p95"] == percentile(mine, 95)


def test_nothing_measured_is_an_empty_timeline() -> None:
    assert per_second([]) == []
