"""What the router serves to browsers: GraphiQL at the GraphQL path (``graphiql``) and
directories (``static_files``), over real HTTP. The IDE in a real browser is in
tests/browser/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from graph.config import config_from_mapping, load_config
from graph.errors import ConfigError
from graph.serving.ide import ASSETS_PREFIX, accepts_html, assets_version
from tests.graph.serving.conftest import RouterFactory

REPO = Path(__file__).resolve().parents[3]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
IDE: dict[str, Any] = {
    "supergraph": {"introspection": True},
    "graphiql": {"enabled": True, "title": "Shop </script><b>IDE", "default_query": "{ me }"},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text("<!doctype html><title>app</title>")
    (root / "js").mkdir()
    (root / "js" / "main.js").write_text("export const answer = 42;\n")
    (root / "style.css").write_text("body { color: red }\n")
    (root.parent / "secret.txt").write_text("not for the web\n")
    return root


@pytest.fixture(scope="module")
def ide_router(start_router: RouterFactory, site: Path) -> str:
    return start_router({**IDE, "static_files": [{"path": "/app", "dir": str(site)}]})


def _asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/-/graphiql/[^"]+)"', page)


async def test_a_browser_at_the_graphql_path_gets_graphiql(ide_router: str) -> None:
    async with httpx.AsyncClient(base_url=ide_router) as http:
        r = await http.get("/graphql", headers={"accept": BROWSER_ACCEPT})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert r.headers["vary"] == "accept"
    page = r.text
    # the title is escaped in HTML and the settings cannot close their <script> element
    assert "<title>Shop &lt;/script&gt;&lt;b&gt;IDE</title>" in page
    assert "Shop <\\/script><b>IDE" in page
    assert page.count("</script>") == len(re.findall(r"<script", page))
    assert '"endpoint":"/graphql"' in page and '"defaultQuery":"{ me }"' in page
    # every script and stylesheet is the router's own, under one versioned prefix
    urls = _asset_urls(page)
    assert len(urls) == 6
    assert all(u.startswith(f"{ASSETS_PREFIX}{assets_version()}/") for u in urls)
    assert "http://" not in page and "https://" not in page  # no CDN


async def test_every_asset_of_the_page_is_served_and_cached_for_good(ide_router: str) -> None:
    async with httpx.AsyncClient(base_url=ide_router) as http:
        page = (await http.get("/graphql", headers={"accept": "text/html"})).text
        for url in _asset_urls(page):
            r = await http.get(url)
            assert r.status_code == 200, url
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert r.headers["x-content-type-options"] == "nosniff"
            kind = "text/css" if url.endswith(".css") else "text/javascript"
            assert r.headers["content-type"].startswith(kind), url
            again = await http.get(url, headers={"if-none-match": r.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
        stale = await http.get(f"{ASSETS_PREFIX}0000000000000000/puppies-ide.js")
        missing = await http.get(f"{ASSETS_PREFIX}{assets_version()}/nope.js")
        escape = await http.get(f"{ASSETS_PREFIX}{assets_version()}/%2e%2e/__init__.py")
    assert (stale.status_code, missing.status_code, escape.status_code) == (404, 404, 404)


async def test_graphql_clients_still_get_graphql(ide_router: str) -> None:
    async with httpx.AsyncClient(base_url=ide_router) as http:
        posted = await http.post("/graphql", json={"query": "{ __typename }"})
        got = await http.get(
            "/graphql",
            params={"query": "{ __typename }"},
            headers={"accept": "application/json", "apollo-require-preflight": "1"},
        )
        # q=0 means "not HTML"
        refused = await http.get("/graphql", headers={"accept": "text/html;q=0, application/json"})
    assert posted.json() == {"data": {"__typename": "Query"}}
    assert got.json() == {"data": {"__typename": "Query"}}
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["errors"][0]["extensions"]["code"]


async def test_without_graphiql_a_browser_gets_no_ide(router_url: str) -> None:
    """The default (and production): a GET without a query is a GraphQL request error."""
    async with httpx.AsyncClient(base_url=router_url) as http:
        r = await http.get("/graphql", headers={"accept": BROWSER_ACCEPT})
        asset = await http.get(f"{ASSETS_PREFIX}{assets_version()}/puppies-ide.js")
    assert not r.headers["content-type"].startswith("text/html")
    assert r.json()["errors"][0]["extensions"]["code"]
    assert asset.status_code == 404


def test_accepts_html() -> None:
    assert accepts_html(BROWSER_ACCEPT.encode())
    assert accepts_html(b"text/html")
    assert accepts_html(b"application/json, TEXT/HTML;q=0.5")
    assert not accepts_html(None)
    assert not accepts_html(b"*/*")
    assert not accepts_html(b"application/json")
    assert not accepts_html(b"text/html;q=0")
    assert not accepts_html(b"text/html;q=zero")


async def test_static_files_are_served_below_their_mount(ide_router: str) -> None:
    async with httpx.AsyncClient(base_url=ide_router) as http:
        bare = await http.get("/app?x=1")
        index = await http.get("/app/")
        module = await http.get("/app/js/main.js")
        head = await http.head("/app/style.css")
        cached = await http.get("/app/style.css", headers={"if-none-match": head.headers["etag"]})
    assert bare.status_code == 308 and bare.headers["location"] == "/app/?x=1"
    assert index.status_code == 200 and index.text.startswith("<!doctype html>")
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert index.headers["cache-control"] == "no-cache"
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert module.headers["x-content-type-options"] == "nosniff"
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len("body { color: red }\n"))
    assert cached.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/app/../secret.txt",
        "/app/%2e%2e/secret.txt",
        "/app/js/%2e%2e/%2e%2e/secret.txt",
        "/app/..%2fsecret.txt",
        "/app/..%5csecret.txt",
        "/app/%00index.html",
        "/app/nope.html",
        "/app/js/",  # a directory without index.html
        "/apple",  # not below /app
    ],
)
async def test_nothing_outside_the_directory_is_served(ide_router: str, path: str) -> None:
    async with httpx.AsyncClient(base_url=ide_router) as http:
        r = await http.get(path, extensions={"raw_path": path.encode()} if ".." in path else {})
    assert r.status_code == 404
    assert "not for the web" not in r.text


async def test_static_files_are_read_only(ide_router: str) -> None:
    async with httpx.AsyncClient(base_url=ide_router) as http:
        r = await http.post("/app/index.html", content=b"x")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"


async def test_a_file_edited_on_disk_is_served_at_once(ide_router: str, site: Path) -> None:
    async with httpx.AsyncClient(base_url=ide_router) as http:
        before = await http.get("/app/js/main.js")
        (site / "js" / "main.js").write_text("export const answer = 43;\n")
        after = await http.get("/app/js/main.js", headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200 and "43" in after.text


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"graphiql": {"enabled": True}}, "graphiql.enabled needs supergraph.introspection"),
        ({"graphiql": {"enabled": True, "theme": "dark"}}, "unknown key 'graphiql.theme'"),
        ({"static_files": [{"path": "app", "dir": "."}]}, "starts with '/'"),
        ({"static_files": [{"path": "/", "dir": "."}]}, "names a prefix"),
        ({"static_files": [{"path": "/-/x", "dir": "."}]}, "router's own"),
        ({"static_files": [{"path": "/app", "dir": "/no/such/dir"}]}, "is not a directory"),
        ({"static_files": [{"path": "/graphql", "dir": "."}]}, "would hide /graphql"),
        ({"static_files": [{"path": "/health", "dir": "."}]}, "would hide /health"),
        (
            {"static_files": [{"path": "/a", "dir": "."}, {"path": "/a", "dir": "."}]},
            "would hide /a",
        ),
        ({"static_files": [{"path": "/a", "dir": ".", "index": "../x"}]}, "index is a file"),
    ],
)
def test_bad_browser_config_is_refused_with_what_to_fix(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(section)
    assert message in str(caught.value)


def test_static_dirs_are_relative_to_router_yaml(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "router.yaml").write_text(
        yaml.safe_dump({"static_files": [{"path": "/app/", "dir": "site"}]})
    )
    config = load_config(tmp_path / "router.yaml")
    assert config.static_files[0].path == "/app"
    assert Path(config.static_files[0].dir) == tmp_path / "site"


def test_the_dev_router_yaml_serves_the_ide_and_the_web_client() -> None:
    config = load_config(REPO / "router.yaml")
    assert config.graphiql.enabled and config.supergraph.introspection
    assert [(m.path, Path(m.dir).resolve()) for m in config.static_files] == [
        ("/app", REPO / "web")
    ]


def test_the_production_router_yaml_serves_neither(monkeypatch: pytest.MonkeyPatch) -> None:
    production = REPO / "router.production.yaml"
    if not production.exists():
        pytest.skip("router.production.yaml does not exist yet")
    # what it requires of the environment (tests/graph/serving/test_production_config.py)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("ROUTER_PRINCIPAL_SECRET", "browser-pages-test-principal-secret-01")
    config = load_config(production)
    assert not config.graphiql.enabled
    assert config.static_files == []


def test_the_ide_files_are_package_data() -> None:
    """An installed router (the image) has every file of the IDE: pyproject.toml's
    package-data globs cover graph/serving/ide/static/."""
    import fnmatch
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["graph"]
    static = REPO / "graph" / "serving" / "ide" / "static"
    files = [p.relative_to(REPO / "graph").as_posix() for p in static.rglob("*") if p.is_file()]
    assert len(files) >= 8

    def covered(file: str, glob: str) -> bool:  # setuptools' globs: "*" stays in its folder
        parts, pattern = file.split("/"), glob.split("/")
        return len(parts) == len(pattern) and all(map(fnmatch.fnmatchcase, parts, pattern))

    uncovered = [f for f in files if not any(covered(f, g) for g in globs)]
    assert uncovered == []
