"""The long-run tools of the oracle, in small: the shrinker (shrink.py) and the runner
(deep.py) on a few cases."""

from __future__ import annotations

import json
import random
from pathlib import Path

from graphql import parse, validate

from tests.graph.oracle import deep
from tests.graph.oracle.check import case_for
from tests.graph.oracle.operations import RandomChooser, operation
from tests.graph.oracle.shrink import shrink


def test_shrink_keeps_the_failure_and_drops_the_rest() -> None:
    case = case_for(2)
    assert case is not None
    schema = case.gateway.api_schema
    # A large drawn operation with a fragment and a variable.
    for i in range(200):
        query, variables = operation(schema, RandomChooser(random.Random(i)))
        if "@skip(if: $" in query and "fragment" in query and len(query) > 300:
            break
    else:
        raise AssertionError("no large operation drawn")

    def fails(text: str, values: dict[str, object]) -> bool:
        # "Fails" while it is valid and still skips something by a variable.
        doc = parse(text)
        return not validate(schema, doc) and "@skip(if: $" in text and values != {}

    assert fails(query, variables)
    small, small_vars = shrink(fails, query, variables)
    assert fails(small, small_vars)
    assert len(small) < len(query) / 3, small
    assert "fragment" not in small  # not needed for the failure: inlined or dropped
    assert len(small_vars) == 1, small_vars  # the other variables are unused now: dropped


def test_deep_run_in_small(tmp_path: Path) -> None:
    code = deep.main(
        ["--cases", "12", "--workers", "1", "--per-world", "6", "--out", str(tmp_path)]
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert code == 0, report
    assert report["cases"] == 12
    assert report["worlds"] == 2
    assert report["failures"] == 0
    assert (tmp_path / "failures-0.jsonl").read_text() == ""


def test_deep_replays_one_case() -> None:
    assert deep.main(["--world", "2", "--index", "3"]) == 0
