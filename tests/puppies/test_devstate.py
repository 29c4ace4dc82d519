"""The running-stack record that `puppies seed` and `puppies migrate` look up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from puppies import devstate
from puppies.settings import load_settings

URLS = {
    "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:15432/puppies",
    "REDIS_URL": "redis://127.0.0.1:16379/0",
    "S3_ENDPOINT_URL": "http://127.0.0.1:19000",
}


def test_a_record_is_written_atomically_and_cleared_by_its_owner(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    path = devstate.write(settings, URLS, "http://127.0.0.1:4000/graphql")
    assert json.loads(path.read_text())["urls"] == URLS
    assert path.stat().st_mode & 0o077 == 0
    assert not list(tmp_path.glob("*.tmp"))
    # This process (pytest) is no `puppies dev`: the record is not taken for a running stack.
    assert devstate.find(settings) is None
    devstate.clear(settings)
    assert not path.exists()


def test_a_stale_record_of_a_dead_supervisor_is_ignored(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    devstate.state_path(settings).write_text(
        json.dumps({"pid": int(dead.stdout), "urls": URLS, "router_url": None})
    )
    updated, stack = devstate.with_running_stack(settings)
    assert stack is None and updated.database_url is None
    devstate.state_path(settings).write_text("{not json")
    assert devstate.find(settings) is None


def test_urls_already_set_are_kept_and_nothing_is_looked_up(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        database_url="postgresql://db:5432/x",
        redis_url="redis://r:6379/0",
        s3_endpoint_url="http://s3:9000",
    )
    updated, stack = devstate.with_running_stack(settings)
    assert stack is None and updated is settings
