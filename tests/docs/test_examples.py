"""Every shell example in README.md and docs/*.md runs, as written, against a real stack.

Each ```sh (or ```bash) block is collected from the files as they are now, so a block added
to any document is tested from then on. The blocks of one document run in order in one bash
session (a variable set in one block serves the next), with `set -euo pipefail`, in a
directory holding a real photo `dog.jpg`, after the database and Redis are emptied. The
stack is `puppies dev` on the test session's PostgreSQL, Redis and S3: real router,
subgraphs and worker processes, on free ports. The documented default addresses
(`localhost:4000`, `127.0.0.1:4001` ... `4004`) are pointed at those ports; nothing else in
a block is changed.

A block fails when a command fails, when `curl` gets an HTTP error status, or when a
GraphQL response carries top-level `errors`. Markers, as the first line of a block:

    # docs-test: skip: <why>       the block is not run (listed as skipped, with the why)
    # docs-test: expect-errors     GraphQL errors are what the block shows
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from puppies.settings import Settings
from tests.conftest import _flush_redis, _truncate_all
from tests.support.devstack import DevStack, dev_env
from tests.support.tmp import private_tmp_dir

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[A-Za-z]*)[^\n]*$")
MARKER = re.compile(r"^#\s*docs-test:\s*(?P<what>skip|expect-errors)\s*:?\s*(?P<why>.*)$")
DEFAULT_ADDRESS = re.compile(r"\b(?:localhost|127\.0\.0\.1):(?P<port>400[0-4])\b")
PORT_SETTING = {
    "4000": "ROUTER_PORT",
    "4001": "USERS_PORT",
    "4002": "POSTS_PORT",
    "4003": "FEED_PORT",
    "4004": "ANALYTICS_PORT",
}
# A bash `curl` that fails on HTTP errors and on GraphQL responses with top-level errors.
PRELUDE = r"""
set -euo pipefail
curl() {
  local body
  body=$(command curl --fail-with-body --max-time 60 "$@") || {
    printf '%s\n' "$body" >&2; echo "docs-test: curl $* failed" >&2; return 1; }
  printf '%s\n' "$body"
  if [[ -z "${DOCS_EXPECT_ERRORS:-}" && "$body" == "{"* ]]; then
    python3 -c 'import json, sys
body = json.loads(sys.argv[1])
if isinstance(body, dict) and body.get("errors"):
    sys.exit("docs-test: the response has GraphQL errors: " + sys.argv[1][:500])' "$body"
  fi
}
"""


@dataclass(frozen=True)
class Block:
    doc: str  # path relative to the repository
    line: int  # of the opening fence
    code: str
    skip: str | None  # the reason, when marked skip
    expect_errors: bool

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, indent, lang = i, m.group("indent"), m.group("lang")
        i += 1
        body: list[str] = []
        while i < len(lines) and not re.match(rf"^{indent}```\s*$", lines[i]):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if lang not in ("sh", "bash", "shell"):
            continue
        first = next((b.strip() for b in body if b.strip()), "")
        marker = MARKER.match(first)
        out.append(
            Block(
                doc=str(path.relative_to(REPO)),
                line=start + 1,
                code="\n".join(body),
                skip=(marker.group("why") or "no reason given")
                if marker and marker.group("what") == "skip"
                else None,
                expect_errors=bool(marker and marker.group("what") == "expect-errors"),
            )
        )
    return out


ALL_BLOCKS = [b for doc in documents() for b in blocks_of(doc)]
RUN_DOCS = sorted({b.doc for b in ALL_BLOCKS if b.skip is None})
SKIPPED = [b for b in ALL_BLOCKS if b.skip is not None]


def test_the_examples_are_found() -> None:
    assert RUN_DOCS, "no runnable ```sh block in README.md or docs/"
    assert "README.md" in RUN_DOCS


@pytest.mark.parametrize("block", SKIPPED, ids=[b.where for b in SKIPPED])
def test_skipped_examples_are_listed(block: Block) -> None:
    assert block.skip and block.skip != "no reason given", f"{block.where}: say why it is skipped"
    pytest.skip(f"{block.where} is marked `docs-test: skip`: {block.skip}")


@pytest.fixture(scope="module")
def docs_stack(service_env: dict[str, str]) -> Iterator[DevStack]:
    """`puppies dev` on the session's servers: it starts the subgraphs, worker and router."""
    data = private_tmp_dir("docs")
    given = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "JWT_KEYS_DIR")
    env, ports = dev_env(data, ENVIRONMENT="test", **{k: service_env[k] for k in given})
    stack = DevStack.start(env, ports)
    try:
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(data, ignore_errors=True)


def script_for(doc: str, stack: DevStack) -> str:
    parts = [PRELUDE]
    for block in (b for b in ALL_BLOCKS if b.doc == doc and b.skip is None):
        code = DEFAULT_ADDRESS.sub(
            lambda m: f"127.0.0.1:{stack.ports[PORT_SETTING[m.group('port')]]}", block.code
        )
        parts.append(f"echo '=== {block.where}'")
        parts.append(f"DOCS_EXPECT_ERRORS={'1' if block.expect_errors else ''}")
        parts.append(code)
    return "\n".join(parts) + "\n"


def photo() -> bytes:
    im = Image.new("RGB", (800, 600), (200, 150, 90))
    buf = io.BytesIO()
    im.save(buf, format="JPEG")
    return buf.getvalue()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("doc", RUN_DOCS)
async def test_the_shell_examples_run_as_written(
    doc: str, docs_stack: DevStack, settings: Settings, tmp_path: Path
) -> None:
    await _truncate_all(settings)
    await _flush_redis(settings)
    (tmp_path / "dog.jpg").write_bytes(photo())
    script = tmp_path / "examples.sh"
    script.write_text(script_for(doc, docs_stack))
    result = await asyncio.to_thread(
        subprocess.run,
        ["bash", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=540,
    )
    ran = re.findall(r"^=== (\S+)$", result.stdout, re.M)
    assert result.returncode == 0, (
        f"the example at {ran[-1] if ran else doc} failed (exit {result.returncode})\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )
