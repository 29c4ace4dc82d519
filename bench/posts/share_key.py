"""`share_key` (subgraphs/posts/multiplex.py) per subscribe: the query text's shape cached
per text (`_shape`, as built) against parsing it on every subscribe (as before: the same
function with the cache bypassed), in-process, CPU microseconds per call, rounds alternated
(ABAB), the keys checked equal.

    .venv/bin/python -m bench.posts.share_key [--calls 2000] [--rounds 6]

The subscription is the mix's live-like one (bench/mixed/workload.py's subscribers).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from subgraphs.posts import multiplex

SUB = """subscription LikeChanged($id: ID!) { postLikeChanged(postId: $id) {
  post { id likeCount } likeCount liked userId } }"""


def _per_call(calls: int, shape: Callable[[str], Any]) -> tuple[float, Any]:
    saved = multiplex._shape
    multiplex._shape = shape  # type: ignore[assignment]
    try:
        key = None
        start = time.process_time()
        for i in range(calls):
            key = multiplex.share_key(SUB, {"id": str(i % 50)}, "LikeChanged")
        return (time.process_time() - start) / calls * 1e6, key
    finally:
        multiplex._shape = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    cached, parsed = [], []
    for _ in range(args.rounds):
        a, key_a = _per_call(args.calls, multiplex._shape)
        b, key_b = _per_call(args.calls, multiplex._shape.__wrapped__)
        assert key_a == key_b and key_a is not None
        cached.append(a)
        parsed.append(b)
    ca, pa = statistics.median(cached), statistics.median(parsed)
    print(f"share_key per subscribe, CPU us (median of {args.rounds} rounds):")
    print(f"  parsed every time: {pa:8.1f}")
    print(f"  shape cached:      {ca:8.1f}   ({ca / pa:.3f}x)")


if __name__ == "__main__":
    main()
