"""GraphiQL at the router's GraphQL path, in headless Chromium, on the development stack:
it loads the schema, runs a query with the headers editor's token, runs a subscription
over WebSocket, and loads nothing from anywhere but the router."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.browser.pages import (
    HEADERS_EDITOR,
    QUERY_EDITOR,
    RESULT,
    TIMEOUT_MS,
    editor_value,
    open_page,
    set_editor,
)
from tests.browser.stack import Site

VIEWPORT = {"width": 1280, "height": 800}


def _wait_for_result(page: Any, *texts: str, timeout: float = TIMEOUT_MS) -> str:
    page.wait_for_function(
        "([selector, texts]) => { const e = document.querySelector(selector);"
        " return !!e && texts.every(t => e.CodeMirror.getValue().includes(t)); }",
        arg=[RESULT, list(texts)],
        timeout=timeout,
    )
    return editor_value(page, RESULT)


def _use_token(page: Any, token: str) -> None:
    page.get_by_role("button", name="Headers", exact=True).click()
    set_editor(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {token}"}))


def test_the_ide_loads_the_schema_and_runs_a_query(
    browser: Any, site: Site, screenshots: Path
) -> None:
    user = site.new_user("ide")
    context = browser.new_context(viewport=VIEWPORT)
    watched = open_page(context, site)
    page = watched.page
    query = "query Me {\n  me {\n    username\n    followerCount\n  }\n}"
    page.goto(f"{site.graphql}?query={quote(query)}")  # a link can carry an operation
    page.wait_for_selector(QUERY_EDITOR)
    assert editor_value(page, QUERY_EDITOR) == query

    # The schema, by introspection: the docs list the root types, then Query's fields.
    page.get_by_role("button", name="Show Documentation Explorer").click()
    docs = page.locator(".graphiql-doc-explorer")
    docs.get_by_text("subscription: Subscription").wait_for()
    docs.get_by_role("link", name="Query", exact=True).first.click()
    docs.get_by_text("The viewer's home feed", exact=False).wait_for()

    # Logged out, then with the token from the headers editor.
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    assert json.loads(_wait_for_result(page, '"me"')) == {"data": {"me": None}}
    _use_token(page, user.token)
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    result = json.loads(_wait_for_result(page, user.username))
    assert result == {"data": {"me": {"username": user.username, "followerCount": 0}}}

    page.screenshot(path=str(screenshots / "ide.png"))
    watched.assert_clean()
    context.close()


def test_a_subscription_in_the_ide_streams_over_websocket(browser: Any, site: Site) -> None:
    """The subscription runs over graphql-transport-ws, with the headers editor's token
    in connection_init: ``viewerHasLiked`` is the viewer's own like."""
    author = site.new_user("idews")
    post_id = site.create_posts(author, ["live in GraphiQL"])[0]
    context = browser.new_context(viewport=VIEWPORT)
    watched = open_page(context, site)
    page = watched.page
    subscription = (
        "subscription Likes($id: ID!) {\n  postLikeChanged(postId: $id) {\n"
        "    likeCount\n    liked\n    post { viewerHasLiked }\n  }\n}"
    )
    variables = json.dumps({"id": post_id})
    page.goto(f"{site.graphql}?query={quote(subscription)}&variables={quote(variables)}")
    page.wait_for_selector(QUERY_EDITOR)
    _use_token(page, author.token)
    with page.expect_websocket() as opened:
        page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    socket = opened.value
    assert socket.url == site.graphql.replace("http://", "ws://")

    # The subgraph subscribes a moment after the router acknowledged: like until an event
    # arrives (a like before that is not streamed, by design), unliking in between.
    for _ in range(20):
        site.like(author, post_id)
        try:
            result = _wait_for_result(page, '"liked": true', timeout=5_000)
            break
        except Exception:
            site.like(author, post_id, liked=False)
    else:
        raise AssertionError("no like event reached GraphiQL")
    event = json.loads(result)["data"]["postLikeChanged"]
    assert event == {"likeCount": 1, "liked": True, "post": {"viewerHasLiked": True}}

    site.like(author, post_id, liked=False)
    event = json.loads(_wait_for_result(page, '"liked": false'))["data"]["postLikeChanged"]
    assert event == {"likeCount": 0, "liked": False, "post": {"viewerHasLiked": False}}
    watched.assert_clean()
    context.close()
