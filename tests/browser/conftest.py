"""Browser tests: headless Chromium driven by Playwright against the development stack.

The browser is Debian's ``chromium`` (``apt-get install chromium``; ``.ci/run`` installs
it), started by Playwright's Python package from its path: no browser is downloaded. The
stack is what ``make run`` starts, ``puppies dev`` (the router with the repository's
router.yaml and supergraph.graphql, the four subgraphs, the worker), on the test session's
PostgreSQL, Redis and S3 and on free ports; it lives while this package's tests run.

Without Chromium (or Playwright) every test here is skipped, and says why; with
``PUPPIES_REQUIRE_BROWSER=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.stack import Site
from tests.support.devstack import DevStack, dev_env
from tests.support.tmp import private_tmp_dir

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# What works on this machine and in CI (as root, no GPU, no network but loopback). Playwright
# adds --headless and a fresh --user-data-dir of its own for every launch.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM=path)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


@pytest.fixture(scope="package", autouse=True)
def _chromium() -> None:
    missing = _missing()
    if missing is None:
        return
    if os.environ.get("PUPPIES_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (PUPPIES_REQUIRE_BROWSER=1) but {missing}")
    pytest.skip(f"BROWSER TESTS SKIPPED: {missing}")


@pytest.fixture(scope="package")
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    """``puppies dev`` on the session's services, every process on a free port.

    ``BROWSER_TESTS_STACK=http://127.0.0.1:4000`` (with ``POSTS_PORT`` if not 4002) runs
    the tests against a stack you already run (``make run``) instead: quicker while you
    work on the web client. The tests only add accounts and posts."""
    existing = os.environ.get("BROWSER_TESTS_STACK")
    if existing:
        site = Site(existing.rstrip("/"), int(os.environ.get("POSTS_PORT", "4002")))
        site.wait_until_ready(time.monotonic() + 30)
        yield site
        return
    service_env: dict[str, str] = request.getfixturevalue("service_env")
    data = private_tmp_dir("browser")
    given = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "JWT_KEYS_DIR")
    env, ports = dev_env(
        data,
        ENVIRONMENT="development",
        LIKES_FLUSH_INTERVAL_SECONDS="0.2",
        **{k: service_env[k] for k in given},
    )
    stack = DevStack.start(env, ports)
    try:
        stack.wait_ready()
        site = Site(f"http://127.0.0.1:{ports['ROUTER_PORT']}", ports["POSTS_PORT"])
        site.wait_until_ready(time.monotonic() + 60)
        yield site
    finally:
        stack.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="package")
def browser(_chromium: None, site: Site) -> Iterator[Any]:
    """Chromium, started after the stack: Playwright's synchronous API keeps an event loop
    running in this thread, where the session's fixtures could no longer run theirs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: ``SCREENSHOTS_DIR`` (``make screenshots``: docs/images/), or
    a temporary directory (taken all the same, so the script cannot rot)."""
    target = os.environ.get("SCREENSHOTS_DIR")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path
