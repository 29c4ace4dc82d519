"""The circuit breaker's state machine (graph/execution/breaker.py) on a clock the test
moves; the breaker in front of real router and subgraph processes is in
tests/e2e/test_circuit_breaker.py."""

from __future__ import annotations

import pytest

from graph.config import RouterConfig
from graph.execution.breaker import REJECTED, BreakerOptions, CircuitBreaker, CircuitState
from graph.execution.errors import SubgraphFetchError
from graph.options import gateway_options


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(**options: float) -> tuple[CircuitBreaker, Clock, list[tuple[str, str]]]:
    clock = Clock()
    breaker = CircuitBreaker("reviews", BreakerOptions(**options), clock=clock)  # type: ignore[arg-type]
    moves: list[tuple[str, str]] = []
    breaker.listener = lambda name, was, now: moves.append((was.value, now.value))
    return breaker, clock, moves


def _call(breaker: CircuitBreaker, ok: bool) -> None:
    ticket = breaker.admit()
    breaker.record(ticket, ok)


def _rejected(breaker: CircuitBreaker) -> SubgraphFetchError:
    with pytest.raises(SubgraphFetchError) as info:
        breaker.admit()
    assert info.value.code == REJECTED and info.value.subgraph == "reviews"
    assert "circuit breaker" in info.value.message
    return info.value


def test_opens_on_the_error_rate_of_a_full_window_then_probes_and_closes() -> None:
    breaker, clock, moves = _breaker(error_threshold=0.5, volume_threshold=4, reset_timeout=5)
    for ok in (False, False, False):  # the window is not full yet: no decision
        _call(breaker, ok)
    assert breaker.state is CircuitState.CLOSED
    _call(breaker, True)  # 3 of 4 failed
    assert breaker.state is CircuitState.OPEN
    assert "in 5.0s" in _rejected(breaker).message
    clock.now += 4.9
    _rejected(breaker)
    clock.now += 0.2
    probe = breaker.admit()  # half-open: one probe goes through, the next is refused
    assert breaker.state is CircuitState.HALF_OPEN
    _rejected(breaker)
    breaker.record(probe, True)
    assert breaker.state is CircuitState.CLOSED
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    # closed with a fresh window: three failures do not open it again
    for _ in range(3):
        _call(breaker, False)
    assert breaker.state is CircuitState.CLOSED


def test_stays_closed_below_the_threshold() -> None:
    breaker, _, moves = _breaker(error_threshold=0.5, volume_threshold=4)
    for _ in range(50):  # one failure in four, over and over
        for ok in (False, True, True, True):
            _call(breaker, ok)
    assert breaker.state is CircuitState.CLOSED and moves == []


def test_a_failed_probe_opens_it_again_for_a_whole_reset_timeout() -> None:
    breaker, clock, moves = _breaker(volume_threshold=1, reset_timeout=2, half_open_attempts=2)
    _call(breaker, False)
    clock.now += 2
    first, second = breaker.admit(), breaker.admit()
    _rejected(breaker)  # only two probes at once
    breaker.record(first, True)
    assert breaker.state is CircuitState.HALF_OPEN  # one of two probes done
    breaker.record(second, False)
    assert breaker.state is CircuitState.OPEN
    clock.now += 1.9
    _rejected(breaker)
    clock.now += 0.1
    _call(breaker, True)
    _call(breaker, True)
    assert breaker.state is CircuitState.CLOSED
    assert [now for _, now in moves] == ["open", "half_open", "open", "half_open", "closed"]


def test_a_cancelled_probe_frees_its_slot_and_stale_outcomes_are_ignored() -> None:
    breaker, clock, _ = _breaker(volume_threshold=2, reset_timeout=1)
    early = breaker.admit()  # sent while closed, answers after the breaker opened
    _call(breaker, False)
    _call(breaker, False)
    assert breaker.state is CircuitState.OPEN
    breaker.record(early, True)  # does not close an open breaker
    assert breaker.state is CircuitState.OPEN
    clock.now += 1
    probe = breaker.admit()
    breaker.cancelled(probe)  # the client went away: another probe may go
    probe = breaker.admit()
    breaker.record(probe, True)
    assert breaker.state is CircuitState.CLOSED


def test_router_yaml_keys_per_subgraph_and_all() -> None:
    config = RouterConfig.model_validate(
        {
            "traffic_shaping": {
                "all": {"circuit_breaker": {"volume_threshold": 20, "reset_timeout": "1m"}},
                "subgraphs": {
                    "reviews": {"circuit_breaker": {"enabled": False}},
                    "products": {"timeout": "2s"},
                    "inventory": {"circuit_breaker": {"error_threshold": 0.9}},
                },
            }
        }
    )
    options = gateway_options(config)
    assert options.for_subgraph("reviews").breaker is None
    products = options.for_subgraph("products").breaker
    assert products == BreakerOptions(volume_threshold=20, reset_timeout=60.0)
    # a subgraph's own block replaces all's whole
    assert options.for_subgraph("inventory").breaker == BreakerOptions(error_threshold=0.9)
    assert options.for_subgraph("accounts").breaker == products


@pytest.mark.parametrize(
    "bad",
    [
        {"error_threshold": 0},
        {"error_threshold": 1.5},
        {"volume_threshold": 0},
        {"reset_timeout": "soon"},
        {"half_open_attempts": 0},
        {"failure_threshold": 3},
    ],
)
def test_bad_breaker_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RouterConfig.model_validate({"traffic_shaping": {"all": {"circuit_breaker": bad}}})


def test_no_breaker_unless_configured() -> None:
    assert gateway_options(RouterConfig()).for_subgraph("reviews").breaker is None
