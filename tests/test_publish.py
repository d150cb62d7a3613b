"""Tests of what publishing promises: the citation, the provenance, and a site that works where
it is served.

- Citation: `CITATION.cff` passes `cffconvert --validate` (the CFF 1.2.0 JSON schema); its
  version is `attention_ref.__version__`, which is also CHANGELOG.md's newest version and what
  pyproject.toml reads; the Cite page's BibTeX parses, and equals `citation.bib` and the
  README's copy, all generated from `CITATION.cff`.
- Provenance: every page's footer names the attention_ref and NumPy versions and the commit;
  outside a git checkout it says the commit is unknown.
- Publishing: the site is built once with a `site_url` under a sub-path (`SUBPATH_URL`),
  served from that sub-path on 127.0.0.1 the way GitHub Pages serves it (404.html for a
  missing address), and crawled: no link, stylesheet, script, image, source map, fragment,
  canonical or Open Graph URL may be broken or leave the sub-path. Every page has a
  description from its front matter and an Open Graph image that exists; the sitemap and
  robots.txt point at site_url.

The build runs like tests/test_site.py's (`python -m mkdocs build --strict`, a fixed
`SOURCE_DATE_EPOCH`, never `PYTHONOPTIMIZE`), once per session.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit
from xml.etree import ElementTree

import numpy as np
import pytest
import yaml

import attention_ref
from attention_ref_site import citation, provenance, social

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CFF = ROOT / "CITATION.cff"
README = ROOT / "README.md"
CHANGELOG = ROOT / "CHANGELOG.md"
WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"

# A site_url two directories deep on a host that is not this one: every link must stay
# relative to it, and the URLs that must be absolute (canonical, og:image) must use it.
SUBPATH_URL = "https://docs.example.org/projects/attention-ref/"
SOURCE_DATE_EPOCH = "1710892800"  # as tests/test_site.py
BUILD_TIMEOUT = 600
HTTP_TIMEOUT = 30  # seconds per request to the local server
MAX_REQUESTS = 3000  # the crawl's bound: the site is ~25 pages and ~60 other files

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OG_IMAGE_SIZE = (1200, 630)  # what link previews expect

# ---------------------------------------------------------------------------------------------
# Builds


@dataclass
class Build:
    site: Path
    returncode: int
    log: str

    def check(self) -> None:
        if self.returncode != 0:
            pytest.fail(f"mkdocs build --strict failed ({self.returncode}):\n{self.log[-6000:]}")


def _environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONOPTIMIZE", None)
    env.pop("SITE_URL", None)
    env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
    env["NO_MKDOCS_2_WARNING"] = "1"
    env.update(extra)
    return env


def _start_build(project: Path, site: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml"]
    with log.open("w") as out:
        return subprocess.Popen(
            [*command, "-d", str(site)],
            cwd=project,
            env=_environment(**env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _finish(process: subprocess.Popen[bytes], site: Path, log: Path) -> Build:
    try:
        process.wait(timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return Build(site, process.returncode, log.read_text())


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Build]:
    """The site with a sub-path site_url, and (in parallel) a copy of the project whose
    CITATION.cff disagrees with attention_ref.__version__."""
    base = tmp_path_factory.mktemp("publish")
    www = base / "www"  # the web server's root; the site goes under the sub-path
    site = www / urlsplit(SUBPATH_URL).path.strip("/")
    mismatch = base / "mismatch"
    mismatch.mkdir()
    for name in ("mkdocs.yml", "CITATION.cff"):
        shutil.copy2(ROOT / name, mismatch / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("docs", "overrides", "attention_ref", "attention_ref_site"):
        shutil.copytree(ROOT / name, mismatch / name, ignore=ignore)
    cff = mismatch / "CITATION.cff"
    cff.write_text(re.sub(r"(?m)^version: .*$", 'version: "0.0.0-mismatch"', cff.read_text()))
    jobs = {
        "subpath": (ROOT, site, {"SITE_URL": SUBPATH_URL}),
        "mismatch": (mismatch, base / "mismatch-site", {}),
    }
    running = {
        name: (_start_build(project, out, base / f"{name}.log", **env), out, base / f"{name}.log")
        for name, (project, out, env) in jobs.items()
    }
    return {name: _finish(*job) for name, job in running.items()}


@pytest.fixture(scope="session")
def site(builds: dict[str, Build]) -> Path:
    builds["subpath"].check()
    return builds["subpath"].site


# ---------------------------------------------------------------------------------------------
# Reading HTML


class _Page(HTMLParser):
    """A page's URLs (with the tag and attribute they came from), ids and meta tags."""

    URL_ATTRIBUTES = frozenset({"href", "src", "data", "poster", "xlink:href"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute or rel, url)
        self.ids: set[str] = set()
        self.meta: dict[str, list[str]] = {}
        self.canonical: list[str] = []
        self.scripts: list[str] = []
        self._script_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        if tag == "meta" and ("property" in a or "name" in a):
            key = a.get("property") or a.get("name", "")
            self.meta.setdefault(key, []).append(a.get("content", ""))
        if tag == "link" and "canonical" in a.get("rel", "").split():
            self.canonical.append(a.get("href", ""))
        if tag == "script":
            self._script_id = a.get("id")
        for name, value in a.items():
            if name in self.URL_ATTRIBUTES and value:
                self.urls.append((tag, name, value))
            elif name == "srcset":
                self.urls.extend((tag, name, p.split()[0]) for p in value.split(",") if p.strip())

    def handle_data(self, data: str) -> None:
        if self._script_id == "__config":
            self.scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script_id = None


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _html_pages(site: Path) -> dict[str, str]:
    return {str(p.relative_to(site)): p.read_text() for p in sorted(site.rglob("*.html"))}


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    m = re.match(r"\A---\n(.*?)\n---\n", text, re.DOTALL)
    return (yaml.safe_load(m.group(1)) or {}) if m else {}


def _doc_pages() -> list[Path]:
    return sorted(
        p
        for p in DOCS.rglob("*.md")
        if p.name != "_writing.md" and "snippets" not in p.relative_to(DOCS).parts
    )


def _built_path(doc: Path) -> str:
    """docs/x.md -> x/index.html, docs/index.md -> index.html (use_directory_urls)."""
    rel = doc.relative_to(DOCS).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "index" else rel.parts
    return "/".join([*parts, "index.html"])


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _png_chunks(data: bytes) -> list[bytes]:
    chunks, i = [], 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        chunks.append(data[i + 4 : i + 8])
        i += 12 + length
    return chunks


# ---------------------------------------------------------------------------------------------
# A small BibTeX reader, independent of attention_ref_site.citation: one entry,
# `@type{key, name = {value} | "value" | number, ...}`, braces balanced, no duplicate field.


class BibTeXError(ValueError):
    pass


def parse_bibtex(text: str) -> tuple[str, str, dict[str, str]]:
    """(entry type, key, fields) of the single entry in `text`; raises BibTeXError."""
    m = re.match(r"\s*@([A-Za-z]+)\s*\{\s*([^\s,{}]+)\s*,", text)
    if not m:
        raise BibTeXError("no @type{key, at the start")
    kind, key, i = m.group(1).lower(), m.group(2), m.end()
    fields: dict[str, str] = {}
    while True:
        f = re.compile(r"\s*(?:\}|([A-Za-z][\w-]*)\s*=\s*)").match(text, i)
        if not f:
            raise BibTeXError(f"expected a field or the closing brace at {text[i : i + 30]!r}")
        i = f.end()
        if f.group(1) is None:  # the closing brace
            break
        name = f.group(1).lower()
        if name in fields:
            raise BibTeXError(f"field {name!r} twice")
        value, i = _bibtex_value(text, i)
        fields[name] = value
        sep = re.compile(r"\s*(,|(?=\}))").match(text, i)
        if not sep:
            raise BibTeXError(f"expected , or }} after {name!r}")
        i = sep.end()
    if text[i:].strip():
        raise BibTeXError(f"text after the entry: {text[i:]!r}")
    return kind, key, fields


def _bibtex_value(text: str, i: int) -> tuple[str, int]:
    if text.startswith("{", i) or text.startswith('"', i):
        closing = "}" if text[i] == "{" else '"'
        depth, j = 0, i + 1
        while j < len(text):
            c = text[j]
            if c == "\\" and j + 1 < len(text) and text[j + 1] in "{}":
                j += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}" and depth:
                depth -= 1
            elif c == closing and not depth:
                # BibTeX reads any run of white space, line breaks included, as one space.
                return " ".join(text[i + 1 : j].split()), j + 1
            elif c == "}":
                raise BibTeXError("unbalanced }")
            j += 1
        raise BibTeXError("unterminated value")
    m = re.compile(r"\d+").match(text, i)
    if not m:
        raise BibTeXError(f"bad value at {text[i : i + 30]!r}")
    return m.group(0), m.end()


def _plain(value: str) -> str:
    """A BibTeX value without its case-protecting braces and escapes."""
    value = re.sub(r"\\([&%$#_{}])", r"\1", value)
    return re.sub(r"(?<!\\)[{}]", "", value)


@pytest.mark.parametrize(
    "bad",
    [
        "@software{k, title = {a}",  # unterminated entry
        "@software{k, title = {a}} }",  # trailing text
        "@software{k, title = {a}, title = {b}}",  # duplicate field
        "@software{k, title = {a}}b}}",  # unbalanced
        "software{k, title = {a}}",  # no @
    ],
)
def test_bibtex_reader_rejects(bad: str) -> None:
    with pytest.raises(BibTeXError):
        parse_bibtex(bad)


# ---------------------------------------------------------------------------------------------
# (1) the citation


def _pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _cffconvert() -> str:
    found = shutil.which("cffconvert", path=str(Path(sys.executable).parent)) or shutil.which(
        "cffconvert"
    )
    if not found:
        pytest.fail("cffconvert is not installed: pip install -e '.[test]'")
    return found


def test_citation_cff_validates(tmp_path: Path) -> None:
    tool = _cffconvert()
    done = subprocess.run(
        [tool, "--validate", "-i", str(CFF)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # ... and the validator does reject an invalid file (an author list may not be empty)
    bad = tmp_path / "CITATION.cff"
    bad.write_text(re.sub(r"(?ms)^authors:\n(?:  .*\n)+", "authors: []\n", CFF.read_text()))
    assert "authors: []" in bad.read_text()
    done = subprocess.run(
        [tool, "--validate", "-i", str(bad)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0, "cffconvert accepted an empty author list"


def test_one_version() -> None:
    """attention_ref.__version__ is the version: pyproject reads it, the CFF and the
    changelog repeat it (checked here), the site shows it (test_footer_states_provenance)."""
    project = _pyproject()
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "attention_ref.__version__"
    }
    cff = citation.load(CFF)
    assert str(cff["version"]) == attention_ref.__version__


def test_changelog_matches_the_release() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    releases = re.findall(r"(?m)^## \[(\d+\.\d+\.\d+[^\]]*)\] - (\d{4}-\d{2}-\d{2})$", text)
    assert releases, "CHANGELOG.md has no '## [X.Y.Z] - YYYY-MM-DD' heading"
    newest, date = releases[0]
    assert newest == attention_ref.__version__
    cff = citation.load(CFF)
    assert str(cff["date-released"]) == date, "CITATION.cff's date-released is not the release's"


def test_cff_agrees_with_pyproject() -> None:
    project = _pyproject()["project"]
    cff = citation.load(CFF)
    assert cff["license"] == project["license"]
    assert [a.get("name") for a in cff["authors"]] == [a["name"] for a in project["authors"]]
    assert cff["keywords"] == project["keywords"]


def test_readme_bibtex_is_generated_from_cff() -> None:
    """The README offers both citations, the software's and the article's, as generated."""
    cff = citation.load(CFF)
    readme = README.read_text(encoding="utf-8")
    for marker, expected in (
        (citation.README_MARKER, citation.bibtex(cff)),
        (citation.README_ARTICLE_MARKER, citation.article_bibtex(cff)),
    ):
        in_readme = citation.readme_bibtex(readme, marker)
        assert in_readme is not None, f"README.md needs a ```bibtex block under {marker}"
        assert in_readme == expected, (
            "README.md's BibTeX differs from CITATION.cff: "
            "run python -m attention_ref_site.citation --write"
        )
    assert "CITATION.cff" in readme
    assert "python -m attention_ref --cite" in readme


def test_citation_check_command_agrees() -> None:
    """`--check` (what a contributor runs) passes on the committed files."""
    done = subprocess.run(
        [sys.executable, "-m", "attention_ref_site.citation", "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_bibtex_generator() -> None:
    """Persons, entities, particles, escapes and case protection, on a made-up CFF."""
    entry = citation.bibtex(
        {
            "title": "Fast & exact: GQA in NumPy",
            "authors": [
                {"family-names": "Beethoven", "given-names": "Ludwig", "name-particle": "van"},
                {"family-names": "King", "given-names": "Martin Luther", "name-suffix": "Jr."},
                {"name": "Team_A"},
            ],
            "version": "1.0",
            "date-released": "2025-01-02",
            "doi": "10.5281/zenodo.1",
            "url": "https://example.org/x_y",
        },
        key="k",
    )
    kind, key, fields = parse_bibtex(entry)
    assert (kind, key) == ("software", "k")
    assert fields["title"] == r"{Fast} \& exact: {GQA} in {NumPy}"
    assert fields["author"] == (r"van Beethoven, Ludwig and King, Jr., Martin Luther and {Team\_A}")
    assert fields["year"] == "2025" and fields["version"] == "1.0"
    assert fields["url"] == "https://example.org/x_y"  # URLs are verbatim


def test_cffconvert_agrees_on_title_and_year() -> None:
    """An independent converter reads the same title and year out of CITATION.cff."""
    done = subprocess.run(
        [_cffconvert(), "-i", str(CFF), "-f", "bibtex"], capture_output=True, text=True, check=True
    )
    _, _, theirs = parse_bibtex(done.stdout)
    _, _, ours = parse_bibtex(citation.bibtex(citation.load(CFF)))
    assert _plain(ours["title"]) == _plain(theirs["title"])
    assert ours["year"] == theirs["year"]


def _cite_page_bibtex(site: Path) -> list[str]:
    page = (site / "cite" / "index.html").read_text()
    # a listing's highlighted copy waits in a <template> (attention_ref_site/lazy_code.py):
    # not part of the text a reader sees or copies
    page = re.sub(r"<template[^>]*>.*?</template>", "", page, flags=re.DOTALL)
    blocks = [
        html.unescape(re.sub(r"<[^>]+>", "", body))
        for body in re.findall(r"<pre[^>]*>(.*?)</pre>", page, re.DOTALL)
    ]
    entries = [b for b in blocks if b.lstrip().startswith("@")]
    assert len(entries) == 2, f"the Cite page should show two BibTeX entries, found {entries}"
    return entries


def test_cite_page_bibtex_parses_and_carries_the_version(site: Path) -> None:
    software, article = _cite_page_bibtex(site)
    kind, key, fields = parse_bibtex(software)
    assert kind == "software" and key == citation.BIBTEX_KEY
    assert fields["version"] == attention_ref.__version__
    cff = citation.load(CFF)
    assert _plain(fields["title"]) == cff["title"]
    assert fields["year"] == str(cff["date-released"])[:4]
    # the commit the site was built from, as in the footer (none outside a git checkout)
    built = provenance.collect(ROOT)
    if built.commit:
        assert fields["note"].startswith(f"commit {built.commit}")
    # the article, by its author
    kind, key, fields = parse_bibtex(article)
    assert (kind, key) == ("online", "ding2024understanding")
    assert fields["author"] == "Ding, Jimmy" and fields["date"] == "2024-03-20"
    assert _plain(fields["title"]) == "Understanding Attention Mechanisms in Transformers"
    # the page, the published citation.bib and the generator agree
    assert software == citation.bibtex(cff, commit=built.commit, dirty=built.dirty)
    assert article == citation.article_bibtex(cff)
    assert (site / "citation.bib").read_text() == f"{software}\n{article}"
    assert (site / "CITATION.cff").read_bytes() == CFF.read_bytes()


def test_build_stops_when_the_cff_version_differs(builds: dict[str, Build]) -> None:
    build = builds["mismatch"]
    assert build.returncode != 0, "the site built although CITATION.cff's version is wrong"
    assert "CITATION.cff says version 0.0.0-mismatch" in build.log, build.log[-3000:]


# ---------------------------------------------------------------------------------------------
# (2) provenance


def _head_commit() -> str | None:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--show-toplevel", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    top, commit = done.stdout.split()
    return commit if Path(top).resolve() == ROOT else None


def test_footer_states_provenance(site: Path) -> None:
    commit = _head_commit()
    for name, text in _html_pages(site).items():
        footer = re.search(r'<div class="md-copyright">(.*?)</div>\s*</div>', text, re.DOTALL)
        assert footer, f"{name}: no footer"
        words = " ".join(re.sub(r"<[^>]+>", " ", footer.group(1)).split())
        assert f"attention_ref {attention_ref.__version__}" in words, f"{name}: {words}"
        assert f"NumPy {np.__version__}" in words, f"{name}: {words}"
        if commit:
            assert f"from commit {commit[:12]} (" in words, f"{name}: {words}"
            assert f'title="{commit}"' in footer.group(1)
        else:
            assert "commit unknown" in words, f"{name}: {words}"
        assert re.search(r'<a href="[^"]*">How to cite</a>', footer.group(1)), name  # crawled


def _git(repo: Path, *args: str, **env: str) -> str:
    return subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout


def test_provenance_in_and_outside_git(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    outside = provenance.collect(tmp_path)
    assert outside.commit is None and outside.commit_date is None and not outside.dirty
    assert "commit unknown" in outside.text()
    assert outside.version == attention_ref.__version__
    assert outside.numpy_version == np.__version__

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    _git(repo, "add", "a.txt")
    when = "2024-03-20T23:30:00-05:00"  # 2024-03-21 in UTC: the date is UTC's
    _git(repo, "commit", "-q", "-m", "a", GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    head = _git(repo, "rev-parse", "HEAD").strip()
    clean = provenance.collect(repo)
    assert (clean.commit, clean.commit_date, clean.dirty) == (head, "2024-03-21", False)
    assert f"from commit {head[:12]} (2024-03-21)." in clean.text()
    assert head in clean.text(full_commit=True)
    (repo / "b.txt").write_text("untracked\n")
    assert provenance.collect(repo).dirty
    assert "with uncommitted changes" in provenance.collect(repo).text()
    # a directory inside someone else's checkout is not that checkout
    (repo / "sub").mkdir()
    assert provenance.collect(repo / "sub").commit is None


# ---------------------------------------------------------------------------------------------
# (3) publishing: the sub-path, served and crawled


class _GitHubPagesLike(SimpleHTTPRequestHandler):
    """Static files, and 404.html (with status 404) for a missing address."""

    not_found_page: bytes = b""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        if code != 404 or not self.not_found_page:
            return super().send_error(code, message, explain)
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.not_found_page)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.not_found_page)
        return None

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """The site served at SUBPATH_URL's path on 127.0.0.1; yields the local base URL."""
    www = site.parents[len(Path(urlsplit(SUBPATH_URL).path.strip("/")).parts) - 1]
    handler = type(
        "Handler", (_GitHubPagesLike,), {"not_found_page": (site / "404.html").read_bytes()}
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{urlsplit(SUBPATH_URL).path}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is reported as what it is, not followed


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with _OPENER.open(url, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


@dataclass
class Crawl:
    fetched: dict[str, int] = field(default_factory=dict)  # URL -> status
    ids: dict[str, set[str]] = field(default_factory=dict)  # HTML page URL -> its ids
    broken: list[str] = field(default_factory=list)
    fragments: list[tuple[str, str]] = field(default_factory=list)  # (from page, URL#id)


def _crawl(base: str, starts: list[tuple[str, int]]) -> Crawl:
    """Fetch every same-host URL reachable from `starts` (URL, expected status)."""
    local = urlsplit(base)
    crawl = Crawl()
    queue: list[tuple[str, str, int]] = [(url, "(start)", status) for url, status in starts]

    def to_local(url: str, page_url: str) -> str | None:
        if url.startswith(SUBPATH_URL):  # an absolute URL of the published site
            return base + url[len(SUBPATH_URL) :]
        absolute = urljoin(page_url, url)
        parts = urlsplit(absolute)
        if parts.scheme not in ("http", "https") or parts.netloc != local.netloc:
            return None
        return absolute

    while queue:
        url, source, expected = queue.pop(0)
        if url in crawl.fetched:
            continue
        assert len(crawl.fetched) < MAX_REQUESTS, "the crawl did not end"
        status, kind, body = _get(url)
        crawl.fetched[url] = status
        if status != expected:
            crawl.broken.append(f"{url} -> {status} (linked from {source})")
            continue
        if not urlsplit(url).path.startswith(local.path):
            crawl.broken.append(f"{url} leaves the sub-path {local.path} (from {source})")
        found: list[str] = []
        if kind == "text/html":
            page = _parse(body.decode())
            crawl.ids[url] = page.ids
            found += [u for tag, attr, u in page.urls]
            found += page.canonical
            for key in ("og:image", "og:url", "twitter:image"):
                found += page.meta.get(key, [])
            for script in page.scripts:  # Material's search worker, and the index it loads
                config = json.loads(script)
                found += [
                    config["search"],
                    config["base"].rstrip("/") + "/search/search_index.json",
                ]
        elif kind == "text/css":
            found += re.findall(r"url\(\s*[\"']?([^\"')]+)", body.decode())
        elif kind in ("application/javascript", "text/javascript"):
            found += re.findall(r"sourceMappingURL=(\S+)", body.decode(errors="replace"))
        for raw in found:
            if raw.startswith(("data:", "mailto:", "javascript:")):
                continue
            target = to_local(raw, url)
            if target is None:
                continue
            target, fragment = urldefrag(target)
            if fragment:
                crawl.fragments.append((url, f"{target}#{fragment}"))
            queue.append((target, url, 200))
    return crawl


@pytest.fixture(scope="module")
def crawl(server: str) -> Crawl:
    missing = server + "no/such/page/"  # served 404.html, at a depth it was not built for
    return _crawl(server, [(server, 200), (missing, 404)])


def test_subpath_crawl_finds_no_broken_link(crawl: Crawl, site: Path) -> None:
    assert not crawl.broken, "broken or escaping URLs:\n" + "\n".join(crawl.broken[:40])
    pages = {u for u in crawl.ids if u.endswith("/")}
    built = {p for p in _html_pages(site) if p != "404.html"}
    assert len(pages) >= len(built), f"the crawl reached {len(pages)} of {len(built)} pages"


def test_subpath_crawl_fragments_exist(crawl: Crawl) -> None:
    missing = []
    for source, url in crawl.fragments:
        target, fragment = urldefrag(url)
        ids = crawl.ids.get(target)
        if ids is not None and unquote(fragment) not in ids:
            missing.append(f"{url} (from {source})")
    assert not missing, "links to missing anchors:\n" + "\n".join(missing[:40])


def test_404_page(site: Path, crawl: Crawl) -> None:
    text = (site / "404.html").read_text()
    page = _parse(text)
    assert page.meta.get("robots") == ["noindex"]
    base = urlsplit(SUBPATH_URL).path
    local = [u for tag, attr, u in page.urls if not re.match(r"^[a-z]+:", u)]
    assert local and all(u.startswith(base) for u in local if not u.startswith("#")), local
    # served for a missing address, at a depth it was not built for, and its links worked
    assert [status for url, status in crawl.fetched.items() if "no/such/page" in url] == [404]


def test_every_page_has_a_description(site: Path) -> None:
    descriptions = {}
    for doc in _doc_pages():
        meta = _front_matter(doc)
        rel = doc.relative_to(DOCS)
        description = meta.get("description")
        assert isinstance(description, str) and description.strip(), (
            f"docs/{rel} needs `description:` in its front matter"
        )
        page = _parse((site / _built_path(doc)).read_text())
        assert page.meta.get("description") == [description], f"{rel}: {page.meta}"
        assert page.meta.get("og:description") == [description], rel
        assert page.meta.get("twitter:description") == [description], rel
        descriptions.setdefault(description, []).append(str(rel))
    shared = {d: pages for d, pages in descriptions.items() if len(pages) > 1}
    assert not shared, f"pages share a description: {shared}"


def test_every_page_has_open_graph_tags_and_an_image_that_exists(site: Path) -> None:
    for name, text in _html_pages(site).items():
        if name == "404.html":
            continue
        page = _parse(text)
        url = SUBPATH_URL + name.removesuffix("index.html")
        assert page.canonical == [url], f"{name}: canonical {page.canonical}"
        assert page.meta.get("og:url") == [url], name
        for key in ("og:title", "og:type", "og:site_name", "og:image:alt", "twitter:title"):
            assert len(page.meta.get(key, [])) == 1 and page.meta[key][0].strip(), (name, key)
        assert page.meta.get("twitter:card") == ["summary_large_image"], name
        (image,) = page.meta.get("og:image", [None])
        assert image and image.startswith(SUBPATH_URL), f"{name}: og:image {image!r}"
        assert page.meta.get("twitter:image") == [image], name
        data = (site / image[len(SUBPATH_URL) :]).read_bytes()
        assert _png_size(data) == OG_IMAGE_SIZE
        assert page.meta.get("og:image:width") == [str(OG_IMAGE_SIZE[0])]
        assert page.meta.get("og:image:height") == [str(OG_IMAGE_SIZE[1])]
    home = _parse((site / "index.html").read_text())
    assert home.meta["og:type"] == ["article"]
    assert home.meta["og:title"] == [_front_matter(DOCS / "index.md")["title"]]
    assert home.meta["article:published_time"] == [str(_front_matter(DOCS / "index.md")["date"])]


def test_search_dialog_is_named(site: Path) -> None:
    """Material's search box is an ARIA dialog; attention_ref_site/hooks.py names it."""
    for name, text in _html_pages(site).items():
        dialogs = re.findall(r'<[^>]*\brole="dialog"[^>]*>', text)
        assert dialogs and all("aria-label=" in d for d in dialogs), f"{name}: {dialogs}"


def test_social_image_is_reproducible_png() -> None:
    args = ("A title long enough to wrap onto lines", "A subtitle", "footer")
    one, two = social.cover_png(*args), social.cover_png(*args)
    assert one == two
    assert _png_size(one) == OG_IMAGE_SIZE
    chunks = _png_chunks(one)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(chunks), chunks  # no software, no date
    assert len(one) < 200_000


def test_sitemap_and_robots(site: Path) -> None:
    tree = ElementTree.parse(site / "sitemap.xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = {loc.text for loc in tree.getroot().findall("s:url/s:loc", ns)}
    pages = {
        SUBPATH_URL + name.removesuffix("index.html")
        for name in _html_pages(site)
        if name != "404.html"
    }
    assert locs == pages
    robots = (site / "robots.txt").read_text()
    assert re.search(r"(?m)^User-agent: \*$", robots)
    assert re.search(r"(?m)^Disallow:\s*$", robots), "robots.txt must not block crawlers"
    assert f"Sitemap: {SUBPATH_URL}sitemap.xml" in robots.splitlines()


# ---------------------------------------------------------------------------------------------
# Documentation of deployment


def _readme_block(marker: str) -> str:
    m = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", README.read_text(), re.DOTALL)
    assert m, f"README.md has no ```bash block after <!-- {marker} -->"
    return m.group(1).strip()


def test_readme_documents_deployment() -> None:
    text = README.read_text(encoding="utf-8")
    deploy = re.search(r"(?ms)^## Deploy\n(.*?)(?=^## |\Z)", text)
    assert deploy, "README.md needs a '## Deploy' section"
    body = deploy.group(1)
    for needle in ("mike deploy", "site/", "SITE_URL", "SOURCE_DATE_EPOCH"):
        assert needle in body, f"the Deploy section does not mention {needle}"
    build = _readme_block("build-command")
    assert "mkdocs build --strict" in build and "SOURCE_DATE_EPOCH" in build


def test_pages_workflow_matches_ci() -> None:
    """The workflow tests with .ci/run, then publishes with mike, reproducibly (the rest of
    the workflow is checked in tests/test_distribution.py)."""
    if not WORKFLOW.exists():
        pytest.skip("no GitHub Pages workflow")
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    runs = [step.get("run", "") for step in steps]
    assert any(run.strip() == "bash .ci/run" for run in runs), "the workflow must run .ci/run"
    epoch = "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)"
    assert any(epoch in run and "mike deploy" in run for run in runs), (
        f"the workflow must publish with mike deploy and {epoch}"
    )
