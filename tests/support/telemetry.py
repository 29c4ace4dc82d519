"""Reading what processes expose to operators: Prometheus text and JSON log lines."""

from __future__ import annotations

import json
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, name: str, **labels: str) -> list[float]:
    """Values of every sample called `name` whose labels include `labels`."""
    out: list[float] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                out.append(sample.value)
    return out


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of `name`'s samples matching `labels` at `url`/metrics (0 when none)."""
    return sum(samples(httpx.get(url + "/metrics", timeout=10).text, name, **labels))


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    """Every line parsed as a JSON object; fails on the first line that is not one."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"a log line is not JSON: {line!r}") from None
        assert isinstance(record, dict), line
        out.append(record)
    return out


LOG_FIELDS = {"timestamp", "level", "process", "pid", "logger", "message", "trace_id", "request_id"}
