"""The social features in the web client, in headless Chromium on the development stack:
editing a post, search, who liked a post, and notifications (the live unread badge, the
list, marking read)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.pages import Watched, log_in, open_page
from tests.browser.stack import Site, User

VIEWPORT = {"width": 900, "height": 1000}
UNREAD = "{ notifications(first: 1) { unreadCount } }"
EDIT = """mutation($id: ID!, $t: String!) { editPost(input: {id: $id, text: $t}) {
  post { id } errors { code } } }"""


def _logged_in(browser: Any, site: Site, user: User) -> Watched:
    watched = open_page(browser.new_context(viewport=VIEWPORT), site)
    log_in(watched, site, user)
    return watched


def _card(page: Any, post_id: str) -> Any:
    return page.locator(f'article.post[data-post-id="{post_id}"]')


def _unread(site: Site, user: User) -> int:
    count: int = site.call(UNREAD, token=user.token)["notifications"]["unreadCount"]
    return count


def test_the_author_edits_a_post(browser: Any, site: Site) -> None:
    author = site.new_user("editor")
    (post_id,) = site.create_posts(author, ["a typo in this pots"])
    watched = _logged_in(browser, site, author)
    page = watched.page
    card = _card(page, post_id)
    card.wait_for()
    assert card.locator(".edited").count() == 0

    card.get_by_role("button", name="Edit").click()
    card.locator("textarea[name=edit]").fill("")  # a post without media needs text
    card.get_by_role("button", name="Save").click()
    card.get_by_role("alert").filter(has_text="text").wait_for()

    card.locator("textarea[name=edit]").fill("no typo in this post")
    card.get_by_role("button", name="Save").click()
    card.locator("p.text", has_text="no typo in this post").wait_for()
    card.locator(".edited").wait_for()
    assert card.get_by_role("alert").is_hidden()

    page.reload()
    _card(page, post_id).locator(".edited").wait_for()  # the API says so, not the page
    assert _card(page, post_id).locator("p.text").inner_text() == "no typo in this post"
    watched.assert_clean()
    page.context.close()


def test_search_finds_people_and_posts(browser: Any, site: Site, screenshots: Path) -> None:
    word = "snufflewump"
    poster = site.new_user(word)  # its username starts with the word
    site.create_posts(poster, [f"The {word} chased its tail", "nothing to see here"])
    reader = site.new_user("searcher")
    watched = _logged_in(browser, site, reader)
    page = watched.page

    page.get_by_role("searchbox", name="Search").fill(word)
    page.get_by_role("searchbox", name="Search").press("Enter")
    page.wait_for_url(f"**/#/search?q={word}")
    page.locator(f'.user-row[data-user-id="{poster.id}"]').wait_for()
    page.locator("article.post", has_text=f"The {word} chased its tail").wait_for()
    assert page.locator("article.post", has_text="nothing to see here").count() == 0
    page.screenshot(path=str(screenshots / "app-search.png"))

    page.get_by_role("link", name=poster.username).first.click()  # to the profile
    page.wait_for_url(f"**/#/u/{poster.username}")
    page.locator(".profile").wait_for()

    page.goto(f"{site.app}#/search?q=qwxzvbnm")
    page.get_by_text("Nobody by that name.").wait_for()
    page.get_by_text("No post says that.").wait_for()
    watched.assert_clean()
    page.context.close()


def test_who_liked_a_post(browser: Any, site: Site, screenshots: Path) -> None:
    author, first, second = (site.new_user(n) for n in ("liked", "fan", "fan"))
    (post_id,) = site.create_posts(author, ["a good boy"])
    edit = site.call(EDIT, {"id": post_id, "t": "a very good boy"}, author.token)["editPost"]
    assert edit["errors"] == []
    site.like(first, post_id)
    site.like(second, post_id)
    watched = _logged_in(browser, site, author)
    page = watched.page
    page.goto(f"{site.app}#/p/{post_id}")
    rows = page.locator(".liked-by .user-row")
    rows.nth(1).wait_for()
    shown = [rows.nth(i).get_attribute("data-user-id") for i in range(rows.count())]
    assert shown == [second.id, first.id]  # newest like first
    assert _card(page, post_id).locator(".edited").is_visible()
    page.screenshot(path=str(screenshots / "app-post.png"))

    site.like(second, post_id, liked=False)
    page.reload()
    rows.nth(0).wait_for()
    assert [rows.nth(i).get_attribute("data-user-id") for i in range(rows.count())] == [first.id]
    watched.assert_clean()
    page.context.close()


def test_notifications_arrive_live_and_are_marked_read(
    browser: Any, site: Site, screenshots: Path
) -> None:
    bob, alice = site.new_user("notified"), site.new_user("notifier")
    posts = site.create_posts(bob, [f"bob's post {i}" for i in range(8)])
    watched = _logged_in(browser, site, bob)
    page = watched.page
    badge = page.locator("a.notifications .badge")
    assert badge.is_hidden()  # nothing unread

    # A notification made before the subscription is live is not streamed: Alice likes
    # Bob's posts one after the other until the badge shows one arriving.
    likes = 0
    for post_id in posts:
        site.like(alice, post_id)
        likes += 1
        try:
            badge.wait_for(state="visible", timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    else:
        raise AssertionError("no notification reached the badge")
    page.wait_for_function(
        "n => document.querySelector('a.notifications .badge').textContent === String(n)",
        arg=likes,
    )
    assert _unread(site, bob) == likes

    page.get_by_role("link", name="Notifications").click()
    items = page.locator(".notification")
    items.nth(likes - 1).wait_for()
    assert page.locator(".notification.unread").count() == likes
    assert items.first.get_attribute("data-kind") == "LIKE"
    assert (
        alice.username in items.first.inner_text() or "liked your post" in items.first.inner_text()
    )

    site.call("mutation($id: ID!) { follow(userId: $id) { changed } }", {"id": bob.id}, alice.token)
    follow = page.locator('.notification.unread[data-kind="FOLLOW"]')
    follow.wait_for()  # live, on top, without a reload
    assert items.first.get_attribute("data-kind") == "FOLLOW"
    assert "followed you" in follow.inner_text()
    page.wait_for_function(
        "n => document.querySelector('a.notifications .badge').textContent === String(n)",
        arg=likes + 1,
    )
    page.screenshot(path=str(screenshots / "app-notifications.png"))

    page.get_by_role("button", name="Mark all as read").click()
    badge.wait_for(state="hidden")
    assert page.locator(".notification.unread").count() == 0
    assert _unread(site, bob) == 0
    page.reload()
    items.first.wait_for()
    assert page.locator(".notification.unread").count() == 0
    watched.assert_clean()
    page.context.close()
