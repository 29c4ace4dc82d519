"""The per-request work on `_entities`' representations before any resolver runs, side by
side, in-process (no database): the variables' coercion (graphql-core's `ExecutionContext.build`
against `PlainFieldsExecutionContext.build`, which coerces `[_Any!]!` directly) and the text
check of the argument (`check_strings` with its paths against `acceptable`).

    .venv/bin/python -m bench.users.entities_input [--entities 20] [--runs 3000]

Prints microseconds per call, each pair alternated twice (the machine is shared).
"""

from __future__ import annotations

import argparse
import timeit

from graphql import parse
from graphql.execution import ExecutionContext

from subgraphs.common.inputs import acceptable, check_strings
from subgraphs.common.plain import PlainFieldsExecutionContext
from subgraphs.users.schema import schema

QUERY = (
    "query($representations: [_Any!]!) { _entities(representations: $representations) "
    "{ ... on User { id username displayName } } }"
)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.users.entities_input")
    ap.add_argument("--entities", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3000)
    args = ap.parse_args()
    graphql_schema = schema._schema
    document = parse(QUERY)
    variables = {
        "representations": [
            {"__typename": "User", "id": str(700 + i)} for i in range(args.entities)
        ]
    }
    reps = variables["representations"]
    n = args.runs
    cases = {
        "variables: graphql-core build": lambda: ExecutionContext.build(
            graphql_schema, document, raw_variable_values=variables
        ),
        "variables: PlainFieldsExecutionContext.build": lambda: PlainFieldsExecutionContext.build(
            graphql_schema, document, raw_variable_values=variables
        ),
        "text check: check_strings": lambda: check_strings(reps, "representations", 10_000),
        "text check: acceptable": lambda: acceptable(reps, 10_000),
    }
    for round_ in (1, 2):
        for name, call in cases.items():
            took = timeit.timeit(call, number=n) / n * 1e6
            print(f"round {round_} | {name} | {took:.1f} us")


if __name__ == "__main__":
    main()
