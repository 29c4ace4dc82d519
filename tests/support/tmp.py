"""Temporary directories the embedded PostgreSQL can reach."""

from __future__ import annotations

import tempfile
from pathlib import Path


def private_tmp_dir(prefix: str) -> Path:
    """A temporary directory outside pytest's own tmp root.

    The embedded PostgreSQL runs as another user when the tests run as root, so it must be
    able to traverse to its data directory; pytest resets its tmp root to mode 0700 whenever
    a pytest session starts, which would lock it out of data under `tmp_path`.
    """
    return Path(tempfile.mkdtemp(prefix=f"puppies-{prefix}-"))
