from __future__ import annotations

from pathlib import Path

from graph.composition import Subgraph

CASES = Path(__file__).with_name("cases")


def load_case(name: str) -> list[Subgraph]:
    files = sorted((CASES / name / "subgraphs").glob("*.graphql"))
    return [Subgraph(f.stem, f"http://{f.stem}.example/graphql", f.read_text()) for f in files]
