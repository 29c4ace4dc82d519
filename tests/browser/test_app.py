"""The web client at /app, in headless Chromium, on the development stack: accounts, the
home feed's infinite scroll, a post with an image uploaded from the browser, and likes
that every viewer sees live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from tests.browser.pages import Watched, log_in, open_page
from tests.browser.stack import PASSWORD, Site, User

VIEWPORT = {"width": 900, "height": 1000}


def _card(page: Any, post_id: str) -> Any:
    return page.locator(f'article.post[data-post-id="{post_id}"]')


def _like_count(page: Any, post_id: str) -> str:
    text: str = _card(page, post_id).locator(".like-count").inner_text()
    return text


def _wait_for_count(page: Any, post_id: str, count: int, timeout: float | None = None) -> None:
    page.wait_for_function(
        "([id, count]) => document.querySelector("
        '`article.post[data-post-id="${id}"] .like-count`)?.textContent === count',
        arg=[post_id, str(count)],
        **({"timeout": timeout} if timeout is not None else {}),
    )


def _logged_in(browser: Any, site: Site, user: User, **options: Any) -> Watched:
    watched = open_page(browser.new_context(viewport=VIEWPORT), site, **options)
    log_in(watched, site, user)
    return watched


def test_sign_up_log_out_and_log_in(browser: Any, site: Site) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    watched = open_page(context, site)
    page = watched.page
    page.goto(site.app)
    page.wait_for_url("**/app/#/login")  # logged out: the log-in form
    page.locator("form.auth").get_by_role("link", name="Sign up").click()
    taken = site.new_user("taken")

    username = taken.username + "b"
    page.fill("input[name=username]", username)
    page.fill("input[name=email]", f"{username}@example.com")
    page.fill("input[name=password]", "short")
    page.get_by_role("button", name="Sign up").click()
    alert = page.get_by_role("alert")
    alert.filter(has_text="password: use at least 10 characters").wait_for()

    page.fill("input[name=username]", taken.username)  # the API's errors, as they come
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    alert.filter(has_text="username").wait_for()

    page.fill("input[name=username]", username)
    page.get_by_role("button", name="Sign up").click()
    page.locator("form.composer").wait_for()
    page.get_by_role("link", name=f"@{username}").wait_for()
    page.get_by_text("Your feed is empty").wait_for()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/#/login")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD + "!")
    page.get_by_role("button", name="Log in").click()
    alert.filter(has_text="password").wait_for()
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.locator("form.composer").wait_for()
    watched.assert_clean()
    context.close()


def test_the_home_feed_loads_page_after_page_as_you_scroll(browser: Any, site: Site) -> None:
    user = site.new_user("scroll")
    created = site.create_posts(user, [f"post number {i}" for i in range(25)])
    site.wait_for_feed(user, 25)
    watched = _logged_in(browser, site, user)
    page = watched.page
    cards = page.locator("article.post")
    cards.nth(9).wait_for()
    assert cards.count() == 10  # one page of 10: nothing below the fold is fetched yet

    status = page.locator(".sentinel")
    while cards.count() < 25:
        before = cards.count()
        status.scroll_into_view_if_needed()
        page.wait_for_function(
            "n => document.querySelectorAll('article.post').length > n", arg=before
        )
    page.get_by_text("You are all caught up.").wait_for()
    shown = [cards.nth(i).get_attribute("data-post-id") for i in range(cards.count())]
    assert shown == list(reversed(created))  # newest first, each once
    watched.assert_clean()
    page.context.close()


def _photo(path: Path, size: tuple[int, int] = (1600, 1200)) -> Path:
    """A warm gradient with grain: the grain keeps it from compressing away, so the upload
    is over a megabyte and the progress bar has something to show."""
    gradient = ImageOps.colorize(
        Image.linear_gradient("L").rotate(45).resize(size), black="#7c2d12", white="#fde68a"
    )
    grain = Image.effect_noise(size, 64).convert("RGB")
    Image.blend(gradient, grain, 0.3).save(path, "JPEG", quality=95)
    return path


def test_a_post_with_an_image(browser: Any, site: Site, tmp_path: Path, screenshots: Path) -> None:
    user = site.new_user("photo")
    s3 = _s3_origin(site, user)
    watched = _logged_in(browser, site, user, allowed=(s3,))
    page = watched.page
    photo = _photo(tmp_path / "walkies.jpg")
    assert photo.stat().st_size > 1_000_000

    # record every value the progress bar shows during the upload
    page.evaluate(
        """() => {
        window.progress = [];
        const bar = document.querySelector("form.composer progress");
        new MutationObserver(() => window.progress.push(bar.value))
          .observe(bar, { attributes: true, attributeFilter: ["value"] });
    }"""
    )
    page.fill("textarea[name=text]", "Walkies in the park")
    page.set_input_files("input[name=image]", str(photo))
    page.get_by_role("button", name="Post").click()

    card = page.locator("article.post", has_text="Walkies in the park")
    image = card.locator(".media img")
    image.wait_for()  # the thumbnail, once the worker made it READY
    assert card.locator(".media").get_attribute("data-media-status") == "READY"
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    width = image.evaluate("img => img.naturalWidth")
    assert width == 320  # the 320 px WebP thumbnail, loaded from S3
    progress = page.evaluate("window.progress")
    assert progress and progress[-1] == 0  # reset after the upload...
    assert 1 in progress  # ...which went all the way
    assert page.locator("textarea[name=text]").input_value() == ""
    page.screenshot(path=str(screenshots / "app.png"))
    watched.assert_clean()

    # Not an image, though the browser calls it one: the worker says why, the card shows it.
    fake = tmp_path / "not-a-photo.png"
    fake.write_bytes(b"these bytes are text, not a PNG image " * 20)
    page.fill("textarea[name=text]", "Not really a photo")
    page.set_input_files("input[name=image]", str(fake))
    page.get_by_role("button", name="Post").click()
    bad = page.locator("article.post", has_text="Not really a photo")
    bad.locator('.media[data-media-status="FAILED"]').wait_for()
    assert "could not be used" in bad.inner_text()
    watched.assert_clean()
    page.context.close()


def _s3_origin(site: Site, user: User) -> str:
    """Where uploads go (the presigned URL's origin): the page may talk to it."""
    data = site.call(
        'mutation($m: [MediaInput!]!) { createPost(input: {text: "probe", media: $m}) '
        "{ uploads { url } post { id } } }",
        {"m": [{"contentType": "image/png", "byteSize": 10}]},
        token=user.token,
    )
    url: str = data["createPost"]["uploads"][0]["url"]
    site.call(
        "mutation($id: ID!) { deletePost(id: $id) { deletedPostId } }",
        {"id": data["createPost"]["post"]["id"]},
        user.token,
    )
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def test_two_viewers_see_each_others_likes_live(browser: Any, site: Site) -> None:
    """Alice and Bob in two browser contexts: Bob follows Alice from her profile, her post
    reaches his feed, and each like shows on the other's screen without a reload."""
    alice, bob, carol = (site.new_user(n) for n in ("alice", "bob", "carol"))
    a = _logged_in(browser, site, alice)
    b = _logged_in(browser, site, bob)

    b.page.goto(f"{site.app}#/u/{alice.username}")
    b.page.get_by_role("button", name="Follow").click()
    b.page.get_by_role("button", name="Unfollow").wait_for()
    assert b.page.locator(".followers").inner_text() == "1"

    a.page.fill("textarea[name=text]", "Who likes this?")
    a.page.get_by_role("button", name="Post").click()
    card = a.page.locator("article.post", has_text="Who likes this?")
    card.wait_for()
    post_id = card.get_attribute("data-post-id")
    assert post_id
    site.wait_for_feed(bob, 1)  # the worker put it in Bob's feed
    b.page.goto(f"{site.app}#/")
    _card(b.page, post_id).wait_for()
    for page in (a.page, b.page):
        page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    # A like made before a subscription is live is not streamed: Carol likes (and unlikes)
    # through the API until both screens show it, so both subscriptions are live.
    for _ in range(20):
        site.like(carol, post_id)
        try:
            for page in (a.page, b.page):
                _wait_for_count(page, post_id, 1, timeout=5_000)
            break
        except Exception:
            site.like(carol, post_id, liked=False)
    else:
        raise AssertionError("the like count never changed on both screens")
    site.like(carol, post_id, liked=False)
    for page in (a.page, b.page):
        _wait_for_count(page, post_id, 0)

    _card(a.page, post_id).locator("button.like").click()  # Alice likes her post
    _wait_for_count(b.page, post_id, 1)  # Bob sees it
    _card(b.page, post_id).locator("button.like").click()  # Bob likes it too
    _wait_for_count(a.page, post_id, 2)  # Alice sees it
    _wait_for_count(b.page, post_id, 2)
    assert _card(b.page, post_id).locator("button.like").get_attribute("aria-pressed") == "true"
    _card(a.page, post_id).locator("button.like").click()  # Alice changes her mind
    _wait_for_count(b.page, post_id, 1)
    for watched in (a, b):
        assert watched.page.evaluate("window.loadedOnce") is True
        watched.assert_clean()
        watched.page.context.close()


def test_the_author_deletes_a_post(browser: Any, site: Site) -> None:
    author, reader = site.new_user("writer"), site.new_user("reader")
    site.call(
        "mutation($id: ID!) { follow(userId: $id) { changed } }", {"id": author.id}, reader.token
    )
    keep, gone = site.create_posts(author, ["this one stays", "this one goes"])
    site.wait_for_feed(reader, 2)
    a = _logged_in(browser, site, author)
    b = _logged_in(browser, site, reader)
    _card(b.page, gone).wait_for()
    assert _card(b.page, gone).get_by_role("button", name="Delete").count() == 0  # not theirs

    a.page.once("dialog", lambda dialog: dialog.accept())
    _card(a.page, gone).get_by_role("button", name="Delete").click()
    _card(a.page, gone).wait_for(state="detached")
    assert site.call("query($id: ID!) { post(id: $id) { id } }", {"id": gone})["post"] is None
    for watched in (a, b):
        watched.page.reload()
        _card(watched.page, keep).wait_for()
        assert _card(watched.page, gone).count() == 0  # gone from every feed
        watched.assert_clean()
        watched.page.context.close()


def test_comments_on_a_post_page(browser: Any, site: Site) -> None:
    author, reader = site.new_user("poster"), site.new_user("commenter")
    (post_id,) = site.create_posts(author, ["a post to talk about"])
    watched = _logged_in(browser, site, reader)
    page = watched.page
    page.goto(f"{site.app}#/p/{post_id}")
    _card(page, post_id).wait_for()
    page.get_by_text("No comments yet.").wait_for()

    page.get_by_role("button", name="Comment").click()  # empty: the API says what to fix
    page.get_by_role("alert").filter(has_text="text").wait_for()
    page.fill("textarea[name=comment]", "Good dog!")
    page.get_by_role("button", name="Comment").click()
    page.locator(".comment", has_text="Good dog!").wait_for()
    assert page.get_by_role("alert").is_hidden()

    page.reload()
    page.locator(".comment", has_text="Good dog!").wait_for()
    assert page.locator(".comment").count() == 1
    assert _card(page, post_id).get_by_text("1 comment").is_visible()
    watched.assert_clean()
    page.context.close()
