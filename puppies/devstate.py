"""How a running `puppies dev` tells other commands where its services are.

Once the stack is up, the supervisor writes `<DATA_DIR>/dev-stack.json`: its pid and the
service URLs it gave its processes (the embedded servers' ports included). `puppies seed` and
`puppies migrate`, run in another terminal with the same DATA_DIR and no service URLs set,
read it and use that stack. The file is removed when the stack stops; one left behind by a
killed supervisor is recognised as stale (its pid is gone, or is no `puppies dev`).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

from puppies.settings import Settings

STATE_FILE = "dev-stack.json"
SERVICE_URLS = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "S3_ENDPOINT_URL": "s3_endpoint_url",
}


@dataclass(frozen=True)
class DevStack:
    pid: int
    urls: dict[str, str]  # DATABASE_URL, REDIS_URL, S3_ENDPOINT_URL
    router_url: str | None

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.urls.items())


def state_path(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


def write(settings: Settings, urls: dict[str, str], router_url: str | None) -> Path:
    """Record this process as the running stack (atomically: readers see all or nothing)."""
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    body = {"pid": os.getpid(), "urls": urls, "router_url": router_url}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(body, f, indent=2)
    os.replace(tmp, path)
    return path


def clear(settings: Settings) -> None:
    """Remove the record, if it is this process's."""
    found = _read(state_path(settings))
    if found is not None and found.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            state_path(settings).unlink()


def _read(path: Path) -> DevStack | None:
    try:
        raw = json.loads(path.read_text())
        urls = {k: str(raw["urls"][k]) for k in SERVICE_URLS}
        return DevStack(pid=int(raw["pid"]), urls=urls, router_url=raw.get("router_url"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _is_puppies_dev(pid: int) -> bool:
    try:
        cmd = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return "dev" in cmd and any("puppies" in part for part in cmd)


def find(settings: Settings) -> DevStack | None:
    """The `puppies dev` running on this DATA_DIR, or None (none, or a stale record)."""
    found = _read(state_path(settings))
    if found is None or not _is_puppies_dev(found.pid):
        return None
    return found


def with_running_stack(settings: Settings) -> tuple[Settings, DevStack | None]:
    """`settings` with the running dev stack's service URLs for those that are unset."""
    missing = [f for f in SERVICE_URLS.values() if getattr(settings, f) is None]
    if not missing:
        return settings, None
    stack = find(settings)
    if stack is None:
        return settings, None
    updates = {field: stack.urls[env] for env, field in SERVICE_URLS.items() if field in missing}
    return settings.model_copy(update=updates), stack
