"""Helpers for driving pages: a page that records what went wrong in it, GraphiQL's
editors, and logging in to the web client."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.browser.stack import PASSWORD, Site, User

TIMEOUT_MS = 60_000  # waits are for conditions; this only bounds a test that hangs


@dataclass
class Watched:
    """A page plus everything that went wrong in it: uncaught errors, console errors,
    requests to anywhere but the router (the IDE and the app must work offline)."""

    page: Any
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.elsewhere == [], self.elsewhere


def open_page(context: Any, site: Site, *, allowed: tuple[str, ...] = ()) -> Watched:
    """A new page in ``context``; requests to other origins than the router's (and
    ``allowed``, e.g. S3) are refused and recorded."""
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watched = Watched(page)
    own = {_origin(site.url), *allowed}

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith("data:") or _origin(url) in own:
            route.continue_()
        else:
            watched.elsewhere.append(url)
            route.abort()

    page.route(re.compile(r"^https?://"), route)

    def console(message: Any) -> None:
        if message.type == "error":
            watched.errors.append(message.text)

    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    page.on("console", console)
    return watched


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def log_in(watched: Watched, site: Site, user: User) -> None:
    """Log in through the web client's form; ends on the home feed."""
    page = watched.page
    page.goto(site.app + "#/login")
    page.fill("input[name=login]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.auth button[type=submit]")
    page.wait_for_selector("form.composer")


# ---- GraphiQL (CodeMirror editors: the query, variables, headers and the result)
def editor_value(page: Any, selector: str) -> str:
    value: str = page.eval_on_selector(selector, "e => e.CodeMirror.getValue()")
    return value


def set_editor(page: Any, selector: str, text: str) -> None:
    page.eval_on_selector(selector, "(e, text) => e.CodeMirror.setValue(text)", text)


QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESULT = ".result-window .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
