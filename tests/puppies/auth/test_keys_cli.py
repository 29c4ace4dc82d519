"""`puppies keys rotate | list | prune` as a real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _keys(args: list[str], keys_dir: Path) -> str:
    env = {**os.environ, "JWT_KEYS_DIR": str(keys_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "puppies.cli", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def test_rotate_list_prune(tmp_path: Path) -> None:
    first = _keys(["rotate"], tmp_path).split()[-1]
    second = _keys(["rotate"], tmp_path).split()[-1]
    listing = _keys(["list"], tmp_path).splitlines()
    assert listing == [first, f"{second}  (signing)"]
    assert "removed 0" in _keys(["prune"], tmp_path)  # the old key may still verify tokens
    assert first in _keys(["prune", "--older-than", "0"], tmp_path)
    assert _keys(["list"], tmp_path).splitlines() == [f"{second}  (signing)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{second}.pem"]
    assert (tmp_path / f"{second}.pem").stat().st_mode & 0o077 == 0  # private key: owner only
