"""Issue 9, bug 11: `make install` on a fresh checkout said nothing for about 90 s (pip
--quiet). It now names each step before it starts, and the long one, installing the
locked packages, reports what it installed.

It builds a whole new virtual environment (about 700 MB, a minute or more), so it runs in
`make test-deep` (PUPPIES_DEEP=1), not in `make test`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The steps, in the order they run; each must be announced before its own output.
STEPS = (
    "==> make install: .venv with the exact, hash-checked versions of requirements.lock",
    "--> creating ",
    "--> installing uv, the installer",
    "--> installing the locked packages",
    "--> installing puppies itself",
    "==> .venv is ready",
)


@pytest.mark.skipif(
    not os.environ.get("PUPPIES_DEEP"), reason="builds a fresh .venv: run by make test-deep"
)
def test_make_install_on_a_fresh_checkout_says_what_it_is_doing() -> None:
    where = Path(tempfile.mkdtemp(prefix="puppies-make-install-"))
    venv = where / "venv"
    try:
        done = subprocess.run(
            ["make", "--no-print-directory", "install", f"VENV={venv}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
            text=True,
            timeout=1200,
        )
        out = done.stdout
        assert done.returncode == 0, out
        lines = out.splitlines()
        at = [next((i for i, line in enumerate(lines) if line.startswith(s)), -1) for s in STEPS]
        assert -1 not in at, f"a step is not announced: {dict(zip(STEPS, at, strict=True))}\n{out}"
        assert at == sorted(at), f"steps announced out of order: {at}\n{out}"
        assert lines[0] == STEPS[0], out  # the first thing the user sees says what is going on
        # The long step reports its work: the packages it installed, one line each.
        sync = lines[at[3] + 1 : at[4]]
        installed = [m for line in sync if (m := re.match(r"Installed (\d+) packages", line))]
        assert installed and int(installed[0].group(1)) >= 50, out
        assert sum(line.startswith(" + ") for line in sync) == int(installed[0].group(1)), out
        # and what it built works
        cli = subprocess.run(
            [str(venv / "bin" / "puppies"), "--help"], capture_output=True, text=True, timeout=120
        )
        assert cli.returncode == 0 and "Usage" in cli.stdout, cli.stderr
    finally:
        shutil.rmtree(where, ignore_errors=True)
