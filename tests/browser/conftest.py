"""The browser tests' machinery: the built site, served on 127.0.0.1, seen by a real Chromium.

- The site is built once per session, by the same `mkdocs build --strict` that
  tests/test_site.py runs (its helpers are reused), or taken ready-made from the directory in
  `ATTENTION_REF_SITE_DIR` (to test a build made elsewhere, or a deliberately broken copy).
- It is served by `http.server.ThreadingHTTPServer` on 127.0.0.1 (a free port), in a thread,
  under the path of its `site_url` (as it is published).
- One Chromium per session, Debian's `/usr/bin/chromium` driven by Playwright (never
  `playwright install`, which downloads a browser of its own), headless, with the flags that
  keep Chromium itself off the network.
- Every request of every browser context is routed: those to the local server go through,
  any other is recorded and aborted, and the tests fail on it.
- Each page is loaded once per colour scheme (a light and a dark context); what the tests
  check is measured then (`page_facts.js`), the full-page screenshot is written and axe-core
  runs, and the result is cached for every test of that page.

Without Chromium or Playwright the tests skip, saying why; under CI (`CI=true`) they fail.
Screenshots go to `screenshots/{light,dark}/` (git-ignored), or to
`ATTENTION_REF_SCREENSHOT_DIR`.
"""

from __future__ import annotations

import functools
import html
import importlib.util
import os
import re
import shutil
import sys
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOCS = ROOT / "docs"

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; the tests never download a browser
# Headless as root needs --no-sandbox; the rest stop Chromium's own background traffic
# (updates, sync, first-run pings), which has nowhere to go on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}  # a laptop: Material shows both sidebars
SCHEMES = ("light", "dark")  # browser contexts with prefers-color-scheme set to each
SITE_DIR_VARIABLE = "ATTENTION_REF_SITE_DIR"
SCREENSHOT_DIR_VARIABLE = "ATTENTION_REF_SCREENSHOT_DIR"
PAGE_FACTS_JS = (HERE / "page_facts.js").read_text(encoding="utf-8")
TIMEOUT_MS = 15_000  # per navigation or wait; the local server answers in milliseconds
SETTLE_POLLS, SETTLE_POLL_MS = 100, 50  # up to 5 s for the requests a page makes after load


# ---------------------------------------------------------------------------------------------
# Which pages: known at collection time, before the site is built


def page_id(path: str) -> str:
    """A test id and file name for a site path: "" -> "index", "reference/" -> "reference",
    "404.html" -> "404"."""
    return path.strip("/").removesuffix(".html").replace("/", "-") or "index"


def site_pages() -> list[str]:
    """Every page of the site, as a path relative to its root ("", "masks/", "404.html").

    From the prebuilt site when `ATTENTION_REF_SITE_DIR` is set, otherwise from the Markdown
    sources as MkDocs maps them (directory URLs; `exclude_docs` of mkdocs.yml left out), plus
    Material's 404 page. `test_every_built_page_is_tested` checks that this is the built set.
    """
    prebuilt = os.environ.get(SITE_DIR_VARIABLE)
    if prebuilt:
        return sorted(html_path(p.relative_to(prebuilt)) for p in Path(prebuilt).rglob("*.html"))
    pages = {"404.html"}
    for source in DOCS.rglob("*.md"):
        relative = source.relative_to(DOCS)
        if relative.name == "_writing.md" or relative.parts[0] == "snippets":
            continue  # mkdocs.yml's exclude_docs
        if any(part.startswith(".") for part in relative.parts):
            continue  # MkDocs' default exclusion
        stem = relative.with_suffix("")
        pages.add(
            f"{stem.parent.as_posix()}/".removeprefix("./")
            if stem.name == "index"
            else f"{stem.as_posix()}/"
        )
    return sorted(pages)


def html_path(relative: Path) -> str:
    """The URL path of a built HTML file: "masks/index.html" -> "masks/"."""
    posix = relative.as_posix()
    if posix == "index.html":
        return ""
    return posix.removesuffix("index.html")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "page_path" in metafunc.fixturenames:
        pages = site_pages()
        metafunc.parametrize("page_path", pages, ids=[page_id(p) for p in pages])
    if "scheme" in metafunc.fixturenames:
        metafunc.parametrize("scheme", SCHEMES)


# ---------------------------------------------------------------------------------------------
# The browser may be missing: skip on a developer's machine, fail in CI


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_available() -> None:
    """Chromium at /usr/bin/chromium, Playwright and axe-playwright-python importable."""
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    for module, package in (
        ("playwright.sync_api", "playwright"),
        ("axe_playwright_python.sync_playwright", "axe-playwright-python"),
    ):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            missing.append(f"{package} is not installed (pip install -e '.[test]')")
    if missing:
        _unavailable("browser tests: " + "; ".join(missing))


# ---------------------------------------------------------------------------------------------
# The site, built once, and its server


def _test_site_module() -> Any:
    """tests/test_site.py, for its build helpers (imported by path: no package needed)."""
    name = "_attention_ref_test_site"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "test_site.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def site_dir(browser_available: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site: `ATTENTION_REF_SITE_DIR` if set, else one strict build of the repo."""
    prebuilt = os.environ.get(SITE_DIR_VARIABLE)
    if prebuilt:
        site = Path(prebuilt).resolve()
        if not (site / "index.html").is_file():
            pytest.fail(f"{SITE_DIR_VARIABLE}={prebuilt} holds no built site (no index.html)")
        return site
    test_site = _test_site_module()
    base = tmp_path_factory.mktemp("browser-site")
    build = test_site._run_builds({"site": (ROOT, base / "site")}, base / "logs")["site"]
    build.check()
    return build.site


class _SiteHandler(SimpleHTTPRequestHandler):
    """Serves the site under `prefix` (site_url's path, as where it is published); any
    other path is a 404."""

    def __init__(self, *args: Any, prefix: str, **kwargs: Any) -> None:
        self.prefix = prefix
        super().__init__(*args, **kwargs)

    def send_head(self) -> Any:
        if not self.path.startswith(self.prefix):
            self.send_error(HTTPStatus.NOT_FOUND, "outside the site's path")
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        return super().translate_path("/" + path.removeprefix(self.prefix))

    def log_message(self, format: str, *args: Any) -> None:  # one line per request otherwise
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The browser closes connections it no longer needs; that is not the site's error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def site_url(site_dir: Path) -> str | None:
    """mkdocs.yml's site_url as the build used it (the home page's canonical link), if any."""
    home = (site_dir / "index.html").read_text(encoding="utf-8")
    canonical = re.search(r'<link\b[^>]*\brel="canonical"[^>]*\bhref="([^"]+)"', home)
    return html.unescape(canonical.group(1)) if canonical else None


@pytest.fixture(scope="session")
def base_url(site_dir: Path, site_url: str | None) -> Any:
    """The site served on http://127.0.0.1:<free port>/ for the whole session, under the
    path of its site_url (MkDocs makes the 404 page's links absolute under that path)."""
    prefix = urlsplit(site_url).path if site_url else "/"
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    handler = functools.partial(_SiteHandler, directory=str(site_dir), prefix=prefix)
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    server.shutdown()
    server.server_close()
    thread.join()


# ---------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="session")
def browser(browser_available: None) -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class Traffic:
    """What happened on the network and in the console while one page loaded."""

    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    error_responses: list[str] = field(default_factory=list)
    off_host: list[str] = field(default_factory=list)


class Tab:
    """One page in its own browser context; every request is routed and recorded.

    Requests to the local server continue; any other is recorded in `traffic.off_host` and
    aborted, so nothing ever leaves the machine even when a page tries.
    """

    def __init__(self, browser: Any, base_url: str, scheme: str, **context_options: Any):
        self.base_url = base_url
        self.origin = urlsplit(base_url).netloc
        self.traffic = Traffic()
        self.context = browser.new_context(
            color_scheme="dark" if scheme == "dark" else "light",
            viewport=VIEWPORT,
            reduced_motion="reduce",
            service_workers="block",
            **context_options,
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.route("**/*", self._route)
        self.in_flight: set[Any] = set()
        self.context.on("request", lambda request: self.in_flight.add(request))
        self.context.on("requestfinished", lambda request: self.in_flight.discard(request))
        self.context.on("requestfailed", self._request_failed)
        self.context.on("response", self._response)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.traffic.page_errors.append(str(error)))

    def _is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("data", "blob") or (
            parts.scheme == "http" and parts.netloc == self.origin
        )

    def _route(self, route: Any) -> None:
        url = route.request.url
        if self._is_local(url):
            route.continue_()
        else:
            self.traffic.off_host.append(url)
            route.abort("blockedbyclient")

    def _request_failed(self, request: Any) -> None:
        self.in_flight.discard(request)
        if self._is_local(request.url):  # off-host requests are reported as such
            self.traffic.failed_requests.append(f"{request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.traffic.error_responses.append(f"{response.url} (HTTP {response.status})")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            location = message.location or {}
            where = f" at {location.get('url', '')}:{location.get('lineNumber', '')}"
            self.traffic.console_errors.append(message.text + (where if location else ""))

    def goto(self, path: str) -> Traffic:
        """Load a page (to its `load` event); its traffic is recorded from scratch."""
        self.settle()  # nothing of the previous page may be counted for this one
        self.traffic = Traffic()
        response = self.page.goto(self.base_url + path, wait_until="load")
        self.traffic.status = response.status if response else None
        return self.traffic

    def settle(self) -> Traffic:
        """Wait until no request is in flight (the search index loads after `load`)."""
        for _ in range(SETTLE_POLLS):
            if not self.in_flight:
                break
            self.page.wait_for_timeout(SETTLE_POLL_MS)
        else:
            self.traffic.failed_requests.append(f"still loading: {sorted(self.in_flight)}")
        return self.traffic

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def new_tab(browser: Any, base_url: str) -> Any:
    """A fresh light-mode tab for a test that clicks and types (closed afterwards)."""
    tabs = []

    def make(scheme: str = "light", **context_options: Any) -> Tab:
        tab = Tab(browser, base_url, scheme, **context_options)
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.close()


# ---------------------------------------------------------------------------------------------
# Visiting every page once per scheme


@dataclass
class Visit:
    """One page as a reader sees it in one colour scheme."""

    path: str
    scheme: str
    traffic: Traffic
    facts: dict[str, Any]
    screenshot: Path | None
    axe: dict[str, Any] | None
    problems: dict[str, str]  # step -> what went wrong while measuring


class Visitor:
    """Loads each page once per scheme (one tab per scheme), measures it, and remembers."""

    def __init__(self, browser: Any, base_url: str, screenshots: Path):
        self.browser = browser
        self.base_url = base_url
        self.screenshots = screenshots
        self.tabs: dict[str, Tab] = {}
        self.visits: dict[tuple[str, str], Visit] = {}

    def tab(self, scheme: str) -> Tab:
        if scheme not in self.tabs:
            self.tabs[scheme] = Tab(self.browser, self.base_url, scheme)
        return self.tabs[scheme]

    def visit(self, scheme: str, path: str) -> Visit:
        key = (scheme, path)
        if key not in self.visits:
            self.visits[key] = self._measure(scheme, path)
        return self.visits[key]

    def _measure(self, scheme: str, path: str) -> Visit:
        from axe_playwright_python.sync_playwright import Axe

        tab = self.tab(scheme)
        problems: dict[str, str] = {}
        facts: dict[str, Any] = {}
        screenshot = None
        axe = None
        tab.goto(path)
        try:
            facts = tab.page.evaluate(PAGE_FACTS_JS)
        except Exception as error:  # reported by every test that needs the facts
            problems["facts"] = repr(error)
        try:
            screenshot = self.screenshots / scheme / f"{page_id(path)}.png"
            tab.page.screenshot(path=screenshot, full_page=True, animations="disabled")
        except Exception as error:
            problems["screenshot"] = repr(error)
        try:
            axe = Axe().run(tab.page).response
        except Exception as error:
            problems["axe"] = repr(error)
        traffic = tab.settle()
        return Visit(path, scheme, traffic, facts, screenshot, axe, problems)

    def close(self) -> None:
        for tab in self.tabs.values():
            tab.close()


@pytest.fixture(scope="session")
def built_pages(site_dir: Path) -> list[str]:
    """The URL paths of every HTML file of the built site."""
    return sorted(html_path(p.relative_to(site_dir)) for p in site_dir.rglob("*.html"))


@pytest.fixture(scope="session")
def tested_pages() -> list[str]:
    """The pages the per-page tests are parametrized with."""
    return site_pages()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """screenshots/{light,dark}/, emptied at the start of the session."""
    folder = Path(os.environ.get(SCREENSHOT_DIR_VARIABLE) or ROOT / "screenshots")
    for scheme in SCHEMES:
        shutil.rmtree(folder / scheme, ignore_errors=True)
        (folder / scheme).mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def visitor(browser: Any, base_url: str, screenshots: Path) -> Any:
    visitor = Visitor(browser, base_url, screenshots)
    yield visitor
    visitor.close()
