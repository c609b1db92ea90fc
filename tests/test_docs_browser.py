"""The docs site in a real browser: headless Chromium (the Debian package) loads the built site
from a server on loopback.

Each page checked renders with no console error, no uncaught exception, no failed request and no
request leaving 127.0.0.1 (the site loads nothing from outside); the search finds a setting by its
name; Mermaid draws the architecture diagram; a screenshot of the home page is kept.

Playwright drives the system's Chromium (`executable_path`): it never downloads a browser.
"""

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from support.docs_site import build, warnings
from support.releases import REPO

# Where the screenshot goes: this folder when set (CI sets it, see .ci/run), else pytest's basetemp.
ARTEFACTS = "CDC_ARTEFACTS_DIR"
INSTALL = (
    "Chromium is not installed ({path}): the docs site is checked in headless Chromium. Install "
    "the Debian package (`apt-get install chromium`, as .ci/run does), or set CDC_CHROMIUM to the "
    "path of a Chromium."
)
SETTING = "task_acks_late"

# One xdist worker builds the site and starts the browser once for the whole module.
pytestmark = pytest.mark.xdist_group("docs-browser")


def chromium_path() -> str:
    path = os.environ.get("CDC_CHROMIUM") or shutil.which("chromium")
    if not path or not os.access(path, os.X_OK):
        where = f"CDC_CHROMIUM={path} is not executable" if path else "no `chromium` on PATH"
        pytest.fail(INSTALL.format(path=where), pytrace=False)
    return path


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("browser-site")
    result = build(REPO, site)
    assert result.returncode == 0, result.stderr
    assert warnings(result) == [], "\n".join(warnings(result))
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


class Problems(list):
    """Everything a page did wrong while it loaded: console errors, uncaught exceptions, failed
    requests, error responses, and requests to anywhere but the local server."""

    def watch(self, page: Page, origin: str) -> None:
        page.on("console", lambda m: m.type == "error" and self.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: self.append(f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.append(f"{r.status}: {r.url}"))

        def outside(route) -> None:
            self.append(f"outside request: {route.request.url}")
            route.abort()

        def elsewhere(url: str) -> bool:
            parts = urlsplit(url)
            return f"{parts.scheme}://{parts.netloc}" != origin

        # Any request whose origin is not the local server's is recorded and never sent.
        page.route(elsewhere, outside)


@pytest.fixture
def page(browser: Browser, site_url: str) -> Iterator[tuple[Page, Problems]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = Problems()
    problems.watch(page, site_url.rstrip("/"))
    yield page, problems
    context.close()


def visit(page: Page, url: str) -> None:
    page.goto(url, wait_until="networkidle")


def test_problems_are_caught(page) -> None:
    """The watch itself: an error in the console, an exception, a request to elsewhere."""
    tab, problems = page
    tab.set_content(
        '<img src="https://example.org/logo.png">'
        '<script>console.error("boom"); throw new Error("bang")</script>'
    )
    tab.wait_for_load_state("networkidle")
    assert "console: boom" in problems
    assert any(p.startswith("exception: ") and "bang" in p for p in problems), problems
    assert "outside request: https://example.org/logo.png" in problems


@pytest.mark.parametrize(
    ("path", "heading"),
    [("", "copier-django-celery"), ("reference/", "Question reference"), ("defaults/", None)],
)
def test_page_renders_with_no_error(page, site_url: str, path: str, heading: str | None) -> None:
    tab, problems = page
    visit(tab, site_url + path)
    title = tab.locator("article h1").first
    assert title.is_visible()
    if heading:
        assert heading in title.inner_text()
    assert tab.locator("nav.md-nav").first.is_visible(), "Material's navigation did not render"
    assert problems == []


def test_home_page_screenshot(page, site_url: str, tmp_path_factory) -> None:
    tab, problems = page
    visit(tab, site_url)
    folder = Path(os.environ.get(ARTEFACTS) or tmp_path_factory.getbasetemp()) / "docs-site"
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "home.png"
    tab.screenshot(path=shot, full_page=False)
    print(f"screenshot of the docs site's home page: {shot}")
    assert shot.stat().st_size > 10_000, "the screenshot is (nearly) empty"
    assert problems == []


def test_search_finds_a_setting_by_name(page, site_url: str) -> None:
    tab, problems = page
    visit(tab, site_url)
    search = tab.locator("input.md-search__input")
    search.click()
    search.press_sequentially(SETTING)
    results = tab.locator("a.md-search-result__link")
    results.first.wait_for(timeout=10_000)
    hrefs = [a.get_attribute("href") for a in results.all()]
    assert any(urlsplit(h).path.endswith("/defaults/") for h in hrefs), hrefs
    assert problems == []


DIAGRAMS = {
    # The stack of the default answers, generated from the process table.
    "reference/": ("web", "worker-critical", "worker-bulk", "beat", "flower", "queue bulk"),
    # How an answer reaches the files and the tests.
    "architecture/": ("queue table", "broker table", "render tier", "boot tier"),
}


@pytest.mark.parametrize(("path", "names"), DIAGRAMS.items(), ids=DIAGRAMS.keys())
def test_diagram_is_drawn(page, site_url: str, path: str, names: tuple[str, ...]) -> None:
    """Mermaid turns the block into an SVG, inside the closed shadow root Material gives it."""
    tab, problems = page
    visit(tab, site_url + path)
    tab.locator("div.mermaid").wait_for(timeout=10_000)
    cdp = tab.context.new_cdp_session(tab)
    # pierce: the document with every shadow root, the closed ones too.
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    diagrams = [n for n in walk(root) if n.get("nodeName") == "DIV" and is_mermaid(n)]
    assert len(diagrams) == 1, f"no rendered Mermaid block on {path}"
    svgs = [n for n in walk(diagrams[0]) if n.get("nodeName", "").lower() == "svg"]
    assert svgs, "Mermaid drew no <svg>"
    text = " ".join(n.get("nodeValue", "") for n in walk(svgs[0]) if n.get("nodeType") == 3)
    for name in names:
        assert name in text, f"{name} is not in the diagram: {text}"
    assert problems == []


def walk(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("children", []) + node.get("shadowRoots", []):
        yield from walk(child)


def is_mermaid(node: dict) -> bool:
    attributes = node.get("attributes", [])
    pairs = dict(zip(attributes[::2], attributes[1::2], strict=True))
    return "mermaid" in pairs.get("class", "").split()
