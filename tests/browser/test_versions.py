"""Versioned documentation, deployed with mike as the README's Deploy section says, seen in
Chromium.

A throwaway git repository (in a temporary directory) holds a clean copy of the working tree
and two commits; `mike deploy` publishes the first as version 0.0.1 and the second as 0.1.0
with the alias `latest` (and `mike set-default latest`) into its local `gh-pages` branch.
The branch's tree is served on 127.0.0.1, and Chromium (the session's browser of
tests/browser/conftest.py: Debian's /usr/bin/chromium through Playwright) checks that

- the site's root leads to `latest`, that is 0.1.0;
- the header's version selector lists both versions, and choosing 0.0.1 switches to it;
- each version's footer names its own commit, and its Cite page gives its own versioned URL;
- no page asks any other host for anything.

Two builds by mike (about 15 s each on a quiet machine) and a browser: about a minute.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_distribution import clean_copy

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEPLOY_TIMEOUT = 900
TIMEOUT_MS = 15_000
OLD, NEW = "0.0.1", "0.1.0"
SITE_URL = "https://attention-ref.github.io/attention-ref/"  # mkdocs.yml's default


def _git(repo: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"git {' '.join(args)}: {done.stderr}")
    return done.stdout.strip()


def _mike(repo: Path, *args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(BIN / "mike"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=DEPLOY_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"mike {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two versions deployed by mike into a throwaway repository; its gh-pages tree."""
    base = tmp_path_factory.mktemp("mike")
    repo = clean_copy(base / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.pop("PYTHONOPTIMIZE", None)
    env.pop("SITE_URL", None)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # mike runs `mkdocs` by name
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.org",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.org",
        NO_MKDOCS_2_WARNING="1",
    )
    _git(repo, "init", "-q", "-b", "main", env=env)
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-q", "-m", "first", env=env)
    commits = {}
    commits[OLD] = _git(repo, "rev-parse", "HEAD", env=env)
    epoch = _git(repo, "log", "-1", "--format=%ct", env=env)
    _mike(repo, "deploy", OLD, env={**env, "SOURCE_DATE_EPOCH": epoch})
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\n<!-- a second commit -->\n")
    _git(repo, "commit", "-q", "-am", "second", env=env)
    commits[NEW] = _git(repo, "rev-parse", "HEAD", env=env)
    epoch = _git(repo, "log", "-1", "--format=%ct", env=env)
    _mike(
        repo, "deploy", "--update-aliases", NEW, "latest", env={**env, "SOURCE_DATE_EPOCH": epoch}
    )
    _mike(repo, "set-default", "latest", env=env)
    # The branch's tree, as GitHub Pages would serve it.
    www = base / "www"
    www.mkdir()
    archive = base / "gh-pages.tar"
    _git(repo, "archive", "--format=tar", "-o", str(archive), "gh-pages", env=env)
    with tarfile.open(archive) as tar:
        tar.extractall(www, filter="data")
    return {"www": www, "commits": commits}


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def served(deployed: dict[str, Any]) -> Any:
    handler = functools.partial(_Handler, directory=str(deployed["www"]))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def test_gh_pages_holds_both_versions_and_the_alias(deployed: dict[str, Any]) -> None:
    www = deployed["www"]
    versions = json.loads((www / "versions.json").read_text())
    by_name = {entry["version"]: entry["aliases"] for entry in versions}
    assert by_name == {NEW: ["latest"], OLD: []}
    for version in (OLD, NEW):
        assert (www / version / "index.html").is_file()
        assert (www / version / "notebooks" / "index.ipynb").is_file()
    assert (www / "latest").exists()
    assert "latest/" in (www / "index.html").read_text()


def test_deployed_pages_carry_the_selector(deployed: dict[str, Any]) -> None:
    """mike's builds switch Material's version selector on (a plain build does not:
    tests/test_notebooks.py checks that)."""
    for version in (OLD, NEW):
        page = (deployed["www"] / version / "index.html").read_text()
        assert '"version": {"alias": true, "default": "latest", "provider": "mike"}' in page


@pytest.fixture
def page(browser: Any, served: str) -> Any:
    host = urlsplit(served).netloc
    foreign: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})

    def route(r: Any) -> None:
        if urlsplit(r.request.url).netloc == host:
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    yield tab
    context.close()
    assert foreign == [], f"requests to other hosts: {foreign}"


def _footer(tab: Any) -> str:
    return tab.locator(".md-footer-meta").inner_text()


def test_selector_switches_versions_and_footers_name_their_commits(
    page: Any, served: str, deployed: dict[str, Any]
) -> None:
    commits = deployed["commits"]
    page.goto(served)  # the root redirects to the default, latest
    page.wait_for_url(f"{served}latest/")
    selector = page.locator(".md-header__topic .md-version")
    selector.wait_for()
    # The selector shows the version and its alias (in a span of its own).
    current = selector.locator(".md-version__current")
    assert current.locator(".md-version__alias").inner_text() == "latest"
    assert current.inner_text().strip() == NEW + "latest"
    assert commits[NEW][:12] in _footer(page)
    assert commits[OLD][:12] not in _footer(page)
    listed = selector.locator(".md-version__link").all_inner_texts()
    assert [text.strip() for text in listed] == [NEW + "latest", OLD], listed

    selector.hover()
    selector.locator(".md-version__link", has_text=OLD).click()
    page.wait_for_url(f"{served}{OLD}/**")
    page.locator(".md-header__topic .md-version__current").wait_for()
    assert page.locator(".md-version__current").inner_text().strip() == OLD
    assert commits[OLD][:12] in _footer(page)
    assert commits[NEW][:12] not in _footer(page)


@pytest.mark.parametrize("version", [OLD, NEW])
def test_cite_page_gives_its_versioned_url(page: Any, served: str, version: str) -> None:
    page.goto(f"{served}{version}/cite/")
    text = page.locator("article").inner_text()
    assert f"This is version {version}, at {SITE_URL}{version}/" in text
