"""Differential check against the reference implementations: Apollo's composition (and The
Guild's) must print the same supergraph as ours for every case.

It needs Node.js with `@apollo/composition`, `@theguild/federation-composition` and `graphql`
installed in `$PUPPIES_COMPOSITION_REFERENCE` (default `bench/.work/composition`, gitignored):

    npm install --prefix bench/.work/composition @apollo/composition@2.14.1 \\
        @theguild/federation-composition graphql@16

Without them the test is skipped (the golden files in cases/ still pin the output)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from graph.composition import compose
from graph.composition.links import EXECUTABLE_LOCATIONS
from tests.graph.composition.conftest import CASES, load_case

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = Path(
    os.environ.get("PUPPIES_COMPOSITION_REFERENCE", ROOT / "bench" / ".work" / "composition")
)
SCRIPT = Path(__file__).with_name("apollo_compose.mjs")
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None
    or not (REFERENCE / "node_modules" / "@apollo" / "composition").is_dir(),
    reason=f"reference composition not installed in {REFERENCE}",
)


def reference(case: str, which: str) -> str:
    payload = json.dumps([{"name": s.name, "url": s.url, "sdl": s.sdl} for s in load_case(case)])
    # Run from a copy inside the reference directory so Node resolves its node_modules.
    script = REFERENCE / "apollo_compose.mjs"
    script.write_text(SCRIPT.read_text())
    done = subprocess.run(
        ["node", str(script), which],
        input=payload,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "UNKNOWN_FEDERATION_LINK_VERSION" in done.stdout:
        pytest.skip(f"{which} does not know this federation version: {done.stdout.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _name(definition: object) -> str:
    name = getattr(definition, "name", None)
    return str(name.value) if name is not None else ""


@pytest.mark.parametrize("case", CASE_NAMES)
def test_same_as_apollo(case: str) -> None:
    assert compose(load_case(case)) == reference(case, "apollo")


@pytest.mark.parametrize("case", CASE_NAMES)
def test_same_types_and_fields_as_the_guild(case: str) -> None:
    """The Guild's printer lays the SDL out differently, its join v0.4/v0.5 definitions are a
    subset of Apollo's, and it names renamed or unused spec directives (`@cost__listSize`)
    its own way; compare the API types and fields and the executable directives, normalised."""
    from graphql import DirectiveDefinitionNode, DocumentNode, build_ast_schema, parse
    from graphql.utilities import lexicographic_sort_schema, print_schema

    def normal(sdl: str) -> str:
        doc = parse(sdl)
        kept = [
            d
            for d in doc.definitions
            if (not _name(d).startswith("join__") or _name(d) == "join__Graph")
            and not (
                isinstance(d, DirectiveDefinitionNode)
                and not {loc.value for loc in d.locations} & EXECUTABLE_LOCATIONS
            )
        ]
        schema = build_ast_schema(DocumentNode(definitions=kept), assume_valid_sdl=True)
        return print_schema(lexicographic_sort_schema(schema))

    assert normal(compose(load_case(case))) == normal(reference(case, "guild"))


def test_our_four_subgraphs_compose_as_with_apollo() -> None:
    """The checked-in supergraph (what our Strawberry subgraphs print, with their
    authorization and cost directives) is byte-identical to Apollo's composition of it."""
    from tests.graph.composition.test_checked_in_supergraph import _schemas

    schemas = _schemas()
    if not schemas:
        pytest.skip("the four subgraph packages are not in this tree")
    from graph.config import load_config

    config = load_config(ROOT / "router.yaml")
    payload = json.dumps(
        [
            {
                "name": name,
                "url": config.subgraphs[name].routing_url,
                "sdl": schema.execute_sync("{ _service { sdl } }").data["_service"]["sdl"],
            }
            for name, schema in schemas.items()
        ]
    )
    script = REFERENCE / "apollo_compose.mjs"
    script.write_text(SCRIPT.read_text())
    done = subprocess.run(
        ["node", str(script), "apollo"],
        input=payload,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (ROOT / "supergraph.graphql").read_text() == done.stdout
