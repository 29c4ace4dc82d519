"""The router's metrics as the request path records them (kept children, no labels() per
request): exact counts, and the caps on label values that come from clients hold for the
metrics and for the children kept."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from graph.observability.metrics import MAX_LABEL_VALUES, OTHER, ChildCache, Metrics
from tests.support.telemetry import samples


def _text(metrics: Metrics) -> str:
    return metrics.render()[0].decode()


def test_operations_are_counted_by_name_type_and_client() -> None:
    metrics = Metrics()
    for failed in (False, True, False):
        metrics.observe_operation("Me", "query", "web", 0.003, failed)
    metrics.observe_operation("Me", "query", "", 0.2, False)
    metrics.observe_operation("Me", "mutation", "web", 0.02, True)
    text = _text(metrics)
    count = "router_operation_duration_seconds_count"
    assert samples(text, count, operation_name="Me", operation_type="query", client_name="web") == [
        3.0
    ]
    assert samples(text, count, operation_name="Me", operation_type="query", client_name="") == [
        1.0
    ]
    assert samples(text, count, operation_name="Me", operation_type="mutation") == [1.0]
    assert samples(text, "router_operation_errors_total", operation_name="Me") == [2.0]
    buckets = samples(
        text,
        "router_operation_duration_seconds_bucket",
        operation_name="Me",
        operation_type="query",
        client_name="web",
        le="0.005",
    )
    assert buckets == [3.0]


def test_hostile_operation_and_client_names_are_capped_and_not_kept() -> None:
    metrics = Metrics()
    for n in range(MAX_LABEL_VALUES + 300):
        metrics.observe_operation(f"op{n}", "query", f"client{n}", 0.001, n % 2 == 0)
    text = _text(metrics)
    count = "router_operation_duration_seconds_count"
    names = {
        s.labels["operation_name"]
        for s in _family_samples(text, count)
        if s.labels["operation_name"] != OTHER
    }
    assert len(names) == MAX_LABEL_VALUES
    assert sum(samples(text, count)) == MAX_LABEL_VALUES + 300  # every request counted
    assert sum(samples(text, count, operation_name=OTHER)) == 300
    assert sum(samples(text, count, client_name=OTHER)) == 300
    assert sum(samples(text, "router_operation_errors_total", operation_name=OTHER)) == 150
    # the children kept are bounded as the label values are: the names past the caps share
    # the `other` ones
    assert len(metrics._operations) == MAX_LABEL_VALUES + 1
    assert sum(len(o.by_client) for o in metrics._operations.values()) <= 2 * MAX_LABEL_VALUES + 1
    metrics.observe_operation("op0", "query", "client0", 0.001, False)  # a known pair still
    text = _text(metrics)
    assert samples(text, count, operation_name="op0", client_name="client0") == [2.0]


def test_http_requests_by_method_and_status() -> None:
    metrics = Metrics()
    for status in (200, 200, 400, 200):
        metrics.observe_request("POST", status, 0.01)
    metrics.observe_request("GET", 200, 0.01)
    text = _text(metrics)
    assert samples(text, "router_http_requests_total", method="POST", status="200") == [3.0]
    assert samples(text, "router_http_requests_total", method="POST", status="400") == [1.0]
    assert samples(text, "router_http_requests_total", method="GET", status="200") == [1.0]
    assert samples(text, "router_http_request_duration_seconds_count") == [5.0]


def test_a_child_cache_keeps_at_most_its_limit_and_counts_past_it() -> None:
    counter = Counter("things", "Things.", ["kind", "name"], registry=CollectorRegistry())
    cache = ChildCache(counter, "fixed", limit=2)
    for name in ("a", "b", "c", "c", "a"):
        cache(name).inc()
    assert len(cache._children) == 2
    assert counter.labels("fixed", "c")._value.get() == 2
    assert counter.labels("fixed", "a")._value.get() == 2


def _family_samples(text: str, name: str) -> list[Sample]:
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]
