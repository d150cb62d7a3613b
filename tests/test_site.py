"""Tests of the documentation site: it builds strictly and reproducibly, and what it
builds is what the site promises.

The site is built with `python -m mkdocs build --strict` exactly as a person builds it. The
builds are slow, so each is made once per test session (session-scoped fixtures) and shared:

- the site itself (its build time is measured by `benchmarks/build_site.py`, not asserted);
- the site again, to compare every output byte (reproducibility);
- four copies of the project with one page added: an example that raises, an example whose
  `assert` fails, a LaTeX error (all three must fail the build), and an API page of a probe
  module whose docstring holds math (the math extension must reach mkdocstrings' docstrings).

The last five run in parallel. Every build gets a fixed `SOURCE_DATE_EPOCH` (the reproducible-
builds convention, which MkDocs follows for the sitemap's date and gzip header) and never
`PYTHONOPTIMIZE`, which would strip the examples' asserts.

Some checks count content that the content pages bring (at least `MIN_FIGURES` figures and
`MIN_EXAMPLES` executed examples): they fail until those pages are written.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPET_BASES = (DOCS / "snippets", ROOT)  # pymdownx.snippets' base_path, in order
FONT = DOCS / "assets" / "fonts" / "ar-math.woff2"
FONT_LICENSE = DOCS / "assets" / "fonts" / "GUST-FONT-LICENSE.txt"
SITE_CSS = DOCS / "assets" / "css" / "site.css"

# The article's headings, in the seed's order (/work/shared/seed/understanding-attention.md).
ARTICLE_TITLE = "Understanding Attention Mechanisms in Transformers"
ARTICLE_HEADINGS = [
    "What is Attention?",
    "Types of Attention",
    "How Attention Works",
    "Benefits of Attention",
    "Applications",
    "Conclusion",
]
MOJIBAKE = "âˆš"  # a UTF-8 "√" read as Windows-1252, as in the seed

MIN_FIGURES = 8  # inline SVG figures with a caption, across the site
MIN_EXAMPLES = 30  # executed example blocks across docs/ (the hidden setup blocks not counted)
FONT_BYTES_LIMIT = 150_000  # the subset is ~110 kB; catches the font growing back

SOURCE_DATE_EPOCH = "1710892800"  # 2024-03-20, the article's date
BUILD_TIMEOUT = 600

# Pages whose Python blocks may be shown without running (PyTorch and JAX are not installed
# where the site is built): there, and only there, a block may say exec="off", and its title
# must say "not run". Documented in docs/_writing.md.
NOT_RUN_PAGES = {"conventions.md", "conformance.md", "flex-attention.md"}
PYTHON_LANGUAGES = {"python", "py", "python3", "py3", "pycon"}
TRUE_VALUES = {"on", "1", "true", "yes"}
SETUP_INCLUDE = '--8<-- "_setup.py"'

# ---------------------------------------------------------------------------------------------
# Building


@dataclass
class Build:
    """One `mkdocs build --strict`: where it wrote, how it ended, what it said."""

    site: Path
    returncode: int
    log: str
    seconds: float

    def check(self) -> None:
        if self.returncode != 0:
            pytest.fail(f"mkdocs build --strict failed ({self.returncode}):\n{self.log[-6000:]}")


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONOPTIMIZE", None)  # -O strips asserts: the examples would check nothing
    env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
    env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about MkDocs 2 (not a log warning)
    return env


def _command(site: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "-f",
        "mkdocs.yml",
        "-d",
        str(site),
    ]


def _run_builds(jobs: dict[str, tuple[Path, Path]], logs: Path) -> dict[str, Build]:
    """Run builds in parallel; `jobs` maps a name to (project directory, site directory)."""
    logs.mkdir(parents=True, exist_ok=True)
    running = {}
    start = time.perf_counter()
    for name, (project, site) in jobs.items():
        log_path = logs / f"{name}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                _command(site),
                cwd=project,
                env=_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        running[name] = (process, log_path, site)
    builds = {}
    for name, (process, log_path, site) in running.items():
        try:
            process.wait(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        builds[name] = Build(
            site, process.returncode, log_path.read_text(), time.perf_counter() - start
        )
    return builds


def _copy_project(dest: Path) -> Path:
    """What a build needs, copied: mkdocs.yml, the citation, the docs, the theme override and
    packages. (Not a git checkout: the footer's provenance falls back to "commit unknown".)"""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    dest.mkdir(parents=True)
    for name in ("mkdocs.yml", "CITATION.cff"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("docs", "overrides", "attention_ref", "attention_ref_site"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    return dest


def _add_page(project: Path, filename: str, title: str, text: str) -> None:
    """Write docs/<filename> and list it first in the nav (an unlisted page would warn)."""
    (project / "docs" / filename).write_text(text)
    config = project / "mkdocs.yml"
    lines = config.read_text().splitlines(keepends=True)
    nav = next(i for i, line in enumerate(lines) if line.rstrip() == "nav:")
    item = lines[nav + 1]
    indent = item[: len(item) - len(item.lstrip())]
    assert item.lstrip().startswith("- "), "mkdocs.yml's nav must be a block list"
    lines.insert(nav + 1, f"{indent}- {title}: {filename}\n")
    config.write_text("".join(lines))


RAISING_PAGE = """# A broken example

```python exec="on" session="test-broken-raise"
--8<-- "_setup.py"
```

```python exec="on" session="test-broken-raise" source="above" result="text"
singular = np.zeros((2, 2))
np.linalg.inv(singular)
```
"""

FAILING_ASSERT_PAGE = """# An example whose claim is false

```python exec="on" session="test-broken-assert" source="above" result="text"
total = sum([0.25, 0.25, 0.25])
assert total == 1.0, "marker: the weights do not sum to one"
```
"""

LATEX_ERROR_PAGE = r"""# Broken math

An unfinished fraction: $\frac{1}{$.
"""

PROBE_MODULE = '''r"""A module whose docstring holds math, for tests/test_site.py."""


def attention_probe(query):
    r"""Scale the scores by $1/\\sqrt{E}$, where $Q \\in \\mathbb{R}^{L \\times E}$.

    $$
    \\operatorname{softmax}\\left(\\frac{Q K^\\top}{\\sqrt{E}}\\right)_{ij}
    = \\frac{\\exp(s_{ij})}{\\sum_{j} \\exp(s_{ij})}
    $$

    Parameters
    ----------
    query : array_like of shape (..., L, E)
        Queries; $L$ rows. Code stays code: `$not math$`. A price: \\$5.

    Returns
    -------
    float
        Nothing, really.
    """
    return 0.0
'''

PROBE_PAGE = """---
title: Probe
---

::: mathdoc_probe.attention_probe
"""


@pytest.fixture(scope="session")
def site_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The site, built once from the repository (the cold, timed build)."""
    base = tmp_path_factory.mktemp("site")
    return _run_builds({"site": (ROOT, base / "site")}, base / "logs")["site"]


@pytest.fixture(scope="session")
def site(site_build: Build) -> Path:
    """The built site's directory; fails the test if the build failed."""
    site_build.check()
    return site_build.site


@pytest.fixture(scope="session")
def other_builds(tmp_path_factory: pytest.TempPathFactory, site_build: Build) -> dict[str, Build]:
    """The repeated build and the four modified copies, built in parallel."""
    base = tmp_path_factory.mktemp("other")
    raising = _copy_project(base / "raising")
    _add_page(raising, "test-broken-raise.md", "Broken", RAISING_PAGE)
    failing = _copy_project(base / "failing")
    _add_page(failing, "test-broken-assert.md", "Broken", FAILING_ASSERT_PAGE)
    latex = _copy_project(base / "latex")
    _add_page(latex, "test-broken-latex.md", "Broken", LATEX_ERROR_PAGE)
    probe = _copy_project(base / "probe")
    (probe / "mathdoc_probe.py").write_text(PROBE_MODULE)
    _add_page(probe, "probe.md", "Probe", PROBE_PAGE)
    jobs = {
        "repeat": (ROOT, base / "repeat-site"),
        "raising": (raising, base / "raising-site"),
        "failing": (failing, base / "failing-site"),
        "latex": (latex, base / "latex-site"),
        "probe": (probe, base / "probe-site"),
    }
    return _run_builds(jobs, base / "logs")


# ---------------------------------------------------------------------------------------------
# Reading the output


def _files(site: Path) -> dict[str, bytes]:
    paths = sorted(p for p in site.rglob("*") if p.is_file())
    return {str(p.relative_to(site)): p.read_bytes() for p in paths}


def _html_pages(site: Path) -> dict[str, str]:
    return {str(p.relative_to(site)): p.read_text() for p in sorted(site.rglob("*.html"))}


def _text_files(site: Path) -> dict[str, str]:
    suffixes = {".html", ".json", ".xml", ".css", ".js", ".txt"}
    return {
        str(p.relative_to(site)): p.read_text(errors="replace")
        for p in sorted(site.rglob("*"))
        if p.suffix in suffixes
    }


def _is_external(url: str) -> bool:
    """A URL that makes the browser contact another host (scheme-relative counts)."""
    url = url.strip()
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE))


class _ResourceCollector(HTMLParser):
    """Collects every URL a page would load: src/href/data/poster/srcset, except <a href>."""

    LOADING_ATTRIBUTES: ClassVar[set[str]] = {
        "src",
        "href",
        "xlink:href",
        "data",
        "poster",
        "srcset",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []
        self.canonical: list[str] = []  # the page's own published address (site_url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        rel = (dict(attrs).get("rel") or "").split()
        if tag == "link" and rel == ["canonical"]:
            # Names the page's address under site_url (absolute, as search engines want it);
            # a browser never loads it. test_no_resources_from_other_hosts checks that every
            # page's canonical URL lies under the same site_url.
            self.canonical.extend(value for name, value in attrs if name == "href" and value)
            return
        for name, value in attrs:
            if value is None or name not in self.LOADING_ATTRIBUTES:
                continue
            if tag == "a" and name in ("href", "xlink:href"):
                continue  # a link the reader may follow (a paper), not a resource
            urls = (
                [part.split()[0] for part in value.split(",") if part.strip()]
                if name == "srcset"
                else [value]
            )
            self.urls.extend((tag, name, url) for url in urls)

    handle_startendtag = handle_starttag


class _VisibleText(HTMLParser):
    """The text of a page outside code, scripts and styles."""

    SKIP: ClassVar[set[str]] = {"code", "pre", "script", "style", "math", "svg", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def _visible_text(page: str) -> str:
    parser = _VisibleText()
    parser.feed(page)
    return " ".join(parser.parts)


_FIGURE_RE = re.compile(r"<figure\b[^>]*\bclass=\"ar-figure\"[^>]*>(.*?)</figure>", re.DOTALL)


def _figures(page: str) -> list[str]:
    """Inline-SVG figures with a caption."""
    return [
        body
        for body in _FIGURE_RE.findall(page)
        if re.search(r"<svg\b[^>]*\brole=\"img\"", body) and re.search(r"<figcaption>\s*\S", body)
    ]


# ---------------------------------------------------------------------------------------------
# Reading the sources: the fenced blocks of docs/**/*.md


@dataclass
class Fence:
    page: str
    line: int  # of the opening fence, 1-based
    end: int  # of the closing fence, 1-based
    language: str
    options: dict[str, str]
    body: str

    @property
    def executed(self) -> bool:
        return self.options.get("exec", "").lower() in TRUE_VALUES

    @property
    def is_setup(self) -> bool:
        return self.body.strip() == SETUP_INCLUDE

    def expanded_body(self) -> str:
        """The body with `--8<-- "file"` lines replaced by the file, as pymdownx.snippets does."""

        def include(m: re.Match[str]) -> str:
            name = m.group(1)
            for base in SNIPPET_BASES:
                if (base / name).is_file():
                    return (base / name).read_text()
            raise AssertionError(f"{self.page}:{self.line}: snippet {name!r} not found")

        return re.sub(r"^\s*--8<--\s+\"([^\"]+)\"\s*$", include, self.body, flags=re.MULTILINE)


_FENCE_OPEN_RE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
_OPTION_RE = re.compile(r"(\w[\w-]*)=(?:\"([^\"]*)\"|'([^']*)'|(\S+))")


def _fences(path: Path) -> list[Fence]:
    page = str(path.relative_to(DOCS))
    lines = path.read_text().splitlines()
    fences = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN_RE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        language = info.split()[0].lower() if info else ""
        if language.startswith("{"):  # ``` {.python ...} style: take the first class
            language = language.strip("{.").rstrip("}")
        options = {
            o.group(1): next(g for g in o.groups()[1:] if g is not None)
            for o in _OPTION_RE.finditer(info)
        }
        close_re = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        indent = m.group("indent")
        body = []
        j = i + 1
        while j < len(lines) and not close_re.match(lines[j]):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line)
            j += 1
        fences.append(Fence(page, i + 1, j + 1, language, options, "\n".join(body)))
        i = j + 1
    return fences


def _doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.name != "_writing.md")


@pytest.fixture(scope="module")
def fences() -> list[Fence]:
    return [fence for path in _doc_pages() for fence in _fences(path)]


# ---------------------------------------------------------------------------------------------
# (a) the strict build passes (its wall time is measured by benchmarks/, never asserted here:
# these machines are too noisy for timed tests)


def test_strict_build_passes(site_build: Build) -> None:
    site_build.check()
    assert (site_build.site / "index.html").is_file()
    assert (site_build.site / "reference" / "index.html").is_file()


# ---------------------------------------------------------------------------------------------
# (b) a failing example fails the build


@pytest.mark.parametrize(
    ("name", "evidence"),
    [
        ("raising", "LinAlgError: Singular matrix"),
        ("failing", "AssertionError: marker: the weights do not sum to one"),
    ],
)
def test_failing_example_fails_the_build(
    other_builds: dict[str, Build], name: str, evidence: str
) -> None:
    build = other_builds[name]
    assert build.returncode != 0, f"the build passed despite the broken page:\n{build.log[-4000:]}"
    # ... and it failed because of that page: markdown-exec's warning, made fatal by --strict
    assert "Execution of python code block exited with errors" in build.log, build.log[-4000:]
    assert evidence in build.log, build.log[-4000:]
    assert "Aborted with" in build.log and "in strict mode" in build.log, build.log[-4000:]
    assert 'not included in the "nav"' not in build.log, "the added page must be in the nav"


def test_latex_error_fails_the_build(other_builds: dict[str, Build]) -> None:
    build = other_builds["latex"]
    assert build.returncode != 0, f"the build passed despite bad LaTeX:\n{build.log[-4000:]}"
    assert "Error reading page 'test-broken-latex.md'" in build.log, build.log[-4000:]
    assert "MathError: cannot convert inline math '\\\\frac{1}{'" in build.log, build.log[-4000:]


# ---------------------------------------------------------------------------------------------
# (c) two builds, identical bytes


def test_build_is_reproducible(site: Path, other_builds: dict[str, Build]) -> None:
    repeat = other_builds["repeat"]
    repeat.check()
    first, second = _files(site), _files(repeat.site)
    assert sorted(first) == sorted(second), "the two builds wrote different files"
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, f"files differ between two builds: {differing}"


# ---------------------------------------------------------------------------------------------
# (d) the built HTML


def test_article_headings_in_order(site: Path) -> None:
    page = (site / "index.html").read_text()
    assert f"<title>{ARTICLE_TITLE} - attention-ref</title>" in page
    assert re.search(rf"<h1\b[^>]*>\s*{re.escape(ARTICLE_TITLE)}", page)
    positions = []
    for heading in ARTICLE_HEADINGS:
        m = re.search(rf"<h2\b[^>]*>\s*{re.escape(html.escape(heading, quote=False))}\s*<", page)
        assert m, f"heading {heading!r} missing from index.html"
        positions.append(m.start())
    assert positions == sorted(positions), "the article's headings are out of order"


def test_article_metadata(site: Path) -> None:
    page = (site / "index.html").read_text()
    assert re.search(r'<meta name="description" content="A comprehensive guide to attention', page)
    assert '<meta name="author" content="Jimmy Ding">' in page
    byline = re.search(r'<p class="ar-byline">(.*?)</p>', page, re.DOTALL)
    assert byline, "author, date and category are not shown"
    assert "Jimmy Ding" in byline.group(1)
    assert '<time class="ar-byline__date" datetime="2024-03-20">' in byline.group(1)
    assert "AI Fundamentals" in byline.group(1)
    for tag in ("Attention", "Transformers", "NLP"):
        assert re.search(rf'class="md-tag[^"]*"[^>]*>\s*{tag}\s*<', page), f"tag {tag} not shown"
    front_matter = (DOCS / "index.md").read_text().split("---")[1]
    assert "cover:" not in front_matter, "the seed's cover image (a third-party host) is dropped"


def test_formula_is_mathml(site: Path) -> None:
    page = (site / "index.html").read_text()
    blocks = re.findall(r'<math\b[^>]*display="block"[^>]*>.*?</math>', page, re.DOTALL)
    formula = [b for b in blocks if "softmax" in b and "Attention" in b]
    assert formula, "the attention formula is not display MathML"
    for element in ("<mfrac>", "<msqrt>", "<msub>", "<msup>", 'stretchy="true"'):
        assert element in formula[0], f"{element} missing from the formula's MathML"
    assert "&#x022A4;" in formula[0]  # ⊤


def test_no_mojibake_anywhere(site: Path) -> None:
    for name, text in _text_files(site).items():
        assert MOJIBAKE not in text, f"{name} contains {MOJIBAKE!r}"
    for path in DOCS.rglob("*"):
        if path.suffix in {".md", ".py", ".css", ".html", ".yml"}:
            assert MOJIBAKE not in path.read_text(), f"{path} contains {MOJIBAKE!r}"


def test_no_traceback_anywhere(site: Path) -> None:
    for name, text in _text_files(site).items():
        assert "Traceback" not in text, f"{name} shows a traceback: an example failed"


def test_no_unconverted_math(site: Path) -> None:
    for name, page in _html_pages(site).items():
        text = _visible_text(page)
        for leftover in ("$$", "\\frac", "\\sqrt", "\\operatorname", "\\mathbb"):
            assert leftover not in text, f"{name}: {leftover!r} left as text"


# Lighthouse flags a page whose DOM has more than 1,400 elements, and the target is a live
# DOM under 1,500 on every page. The built HTML is what the browser parses; Material's script
# then adds about 80 elements (copy buttons, search), and the listings in the first screen get
# their highlighted spans (attention_ref_site/lazy_code.py), so the built page keeps under
# 1,400. What a browser running scripts never parses into elements is not counted: the content
# of a <template> (deferred highlighting) and of a <noscript> (the frames of a stepped figure
# not yet shown), both text to the document until they are used.
DOM_ELEMENTS_LIMIT = 1_400


class _BodyElements(HTMLParser):
    INERT: ClassVar[set[str]] = {"template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.count, self.in_body, self.inert = 0, False, 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_body = self.in_body or tag == "body"
        if self.in_body and not self.inert:
            self.count += 1
        self.inert += tag in self.INERT

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.in_body and not self.inert:
            self.count += 1

    def handle_endtag(self, tag: str) -> None:
        self.inert -= tag in self.INERT


def _body_elements(page: str) -> int:
    parser = _BodyElements()
    parser.feed(page)
    return parser.count


def test_body_elements_counts_as_the_browser_parses() -> None:
    page = (
        "<html><head><title>t</title></head><body><p>a<br>b</p><img src=x />"
        "<pre><code>x</code><template><span>x</span></template></pre>"
        "<div><noscript><figure><svg></svg></figure></noscript></div></body></html>"
    )
    # body p br img pre code template div noscript: not what the template and noscript hold
    assert _body_elements(page) == 9


def test_every_page_has_a_small_dom(site: Path) -> None:
    counts = {
        name: _body_elements(page)
        for name, page in _html_pages(site).items()
        if not name.startswith("assets/")
    }
    assert len(counts) > 30 and counts["index.html"] > 500  # the pages, and their content
    over = {name: n for name, n in counts.items() if n > DOM_ELEMENTS_LIMIT}
    assert not over, f"pages over {DOM_ELEMENTS_LIMIT} body elements: {over}"


def test_figures_inline_svg_with_captions(site: Path) -> None:
    figures = [f for page in _html_pages(site).values() for f in _figures(page)]
    for body in figures:
        assert "<title>" in body and "aria-label=" in body
    assert len(figures) >= MIN_FIGURES, (
        f"{len(figures)} inline SVG figures with a caption; the site needs at least {MIN_FIGURES}"
    )


def test_svg_ids_unique_per_page(site: Path) -> None:
    for name, page in _html_pages(site).items():
        ids = re.findall(r'\sid="([^"]+)"', page)
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        assert not duplicates, f"{name}: duplicate element ids {duplicates[:10]}"


def test_no_resources_from_other_hosts(site: Path) -> None:
    canonical = {}
    for name, page in _html_pages(site).items():
        collector = _ResourceCollector()
        collector.feed(page)
        external = [u for u in collector.urls if _is_external(u[2])]
        assert not external, f"{name} loads from other hosts: {external}"
        canonical.update(dict.fromkeys(collector.canonical, name))
    # <link rel="canonical"> is the one absolute URL allowed: the page's own, under site_url,
    # which is the home page's canonical URL.
    home = _ResourceCollector()
    home.feed((site / "index.html").read_text())
    assert len(home.canonical) == 1, "the home page needs one canonical link"
    elsewhere = {
        url: name for url, name in canonical.items() if not url.startswith(home.canonical[0])
    }
    assert not elsewhere, f"canonical links outside the site's own URL: {elsewhere}"


def test_no_css_from_other_hosts(site: Path) -> None:
    for css in sorted(site.rglob("*.css")):
        text = css.read_text()
        imports = re.findall(r"@import\s+(?:url\()?\s*[\"']?([^\"');\s]+)", text)
        urls = re.findall(r"url\(\s*[\"']?([^\"')]+)", text)
        external = [u for u in imports + urls if _is_external(u)]
        assert not external, f"{css.relative_to(site)} refers to other hosts: {external}"


def test_docstring_math_on_api_pages(other_builds: dict[str, Build]) -> None:
    probe = other_builds["probe"]
    probe.check()
    page = (probe.site / "probe" / "index.html").read_text()
    assert re.search(r"<math\b[^>]*display=\"inline\"[^>]*>.*?<msqrt>", page, re.DOTALL)
    display = re.findall(r'<math\b[^>]*display="block"[^>]*>.*?</math>', page, re.DOTALL)
    assert display and "<mfrac>" in display[0] and "&#x02211;" in display[0]  # ∑
    assert "<code>$not math$</code>" in page
    assert "A price: $5." in page


# ---------------------------------------------------------------------------------------------
# (e) the examples in the sources


def test_enough_executed_examples(fences: list[Fence]) -> None:
    examples = [f for f in fences if f.executed and not f.is_setup]
    assert len(examples) >= MIN_EXAMPLES, (
        f"{len(examples)} executed examples in docs/; the site needs at least {MIN_EXAMPLES}"
    )


def test_every_python_block_runs(fences: list[Fence]) -> None:
    problems = []
    for f in fences:
        if f.language not in PYTHON_LANGUAGES or f.executed:
            continue
        where = f"{f.page}:{f.line}"
        if f.options.get("exec", "").lower() != "off":
            problems.append(f'{where}: a {f.language} block without exec="on"')
        elif f.page not in NOT_RUN_PAGES:
            problems.append(f'{where}: exec="off" is only for {sorted(NOT_RUN_PAGES)}')
        elif "not run" not in f.options.get("title", "").lower():
            problems.append(f'{where}: an exec="off" block needs title="... (not run)"')
    assert not problems, "\n".join(problems)


def test_no_hand_typed_output(fences: list[Fence]) -> None:
    """A text/output block right after a Python block is output typed by hand."""
    problems = []
    for path in _doc_pages():
        lines = path.read_text().splitlines()
        page_fences = [f for f in fences if f.page == str(path.relative_to(DOCS))]
        for before, after in pairwise(page_fences):
            if before.language not in PYTHON_LANGUAGES or after.language not in {
                "text",
                "txt",
                "output",
                "console",
                "",
            }:
                continue
            between = lines[before.end : after.line - 1]
            if all(not line.strip() for line in between):
                problems.append(f"{after.page}:{after.line}: output typed under a Python block")
    assert not problems, "\n".join(problems)


def test_snippet_includes_intact() -> None:
    """`ruff format` (0.16+) formats Python blocks in Markdown and mangles `--8<--` lines."""
    mangled = [
        f"{path.relative_to(DOCS)}:{number}: {line.strip()}"
        for path in _doc_pages()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"^\s*--8\s+<\s+--", line)
    ]
    assert not mangled, (
        "snippet includes rewritten by a formatter (exclude docs' Markdown from ruff format):\n"
        + "\n".join(mangled)
    )


def test_every_example_asserts(fences: list[Fence]) -> None:
    problems = [
        f"{f.page}:{f.line}: an executed block without an assert"
        for f in fences
        if f.executed and not f.is_setup and not re.search(r"\bassert\b", f.expanded_body())
    ]
    assert not problems, "\n".join(problems)


def test_sessions_start_with_setup_and_stay_on_their_page(fences: list[Fence]) -> None:
    first_block: dict[str, Fence] = {}
    problems = []
    for f in fences:
        if not f.executed:
            continue
        session = f.options.get("session")
        if not session:
            problems.append(f"{f.page}:{f.line}: an executed block without session=")
            continue
        first = first_block.setdefault(session, f)
        if first.page != f.page:
            problems.append(f"{f.page}:{f.line}: session {session!r} also used in {first.page}")
        if first is f and not f.is_setup:
            problems.append(
                f"{f.page}:{f.line}: session {session!r} must start with the setup "
                f"block ({SETUP_INCLUDE})"
            )
    assert not problems, "\n".join(problems)


def test_api_reference_holds_only_directives() -> None:
    """The group pages hold only `:::` lines; together they document every public name, each
    once; the index links to every documented object."""
    import attention_ref

    documented: list[str] = []
    for page in sorted((DOCS / "reference").glob("*.md")):
        if page.name == "index.md":
            continue
        body = re.sub(r"\A---\n.*?\n---\n", "", page.read_text(), flags=re.DOTALL)
        lines = [line for line in body.splitlines() if line.strip()]
        assert lines and all(line.startswith("::: attention_ref.") for line in lines), lines
        documented += [line.removeprefix("::: ") for line in lines]
    assert len(documented) == len(set(documented)), documented
    public = {
        f"attention_ref.{name}" for name in attention_ref.__all__ if not name.startswith("__")
    }
    assert public <= set(documented), sorted(public - set(documented))
    index = (DOCS / "reference" / "index.md").read_text()
    linked = set(re.findall(r"\]\[(attention_ref\.[\w.]+)\]", index))
    assert linked == set(documented), sorted(linked ^ set(documented))
    assert "attention_ref.conformance.check" in documented  # the conformance helpers too


# ---------------------------------------------------------------------------------------------
# (f) the math font


def test_math_font_is_self_hosted(site: Path) -> None:
    data = FONT.read_bytes()
    assert data[:4] == b"wOF2", "not a WOFF2 file"
    assert len(data) < FONT_BYTES_LIMIT, f"the math font is {len(data)} bytes"
    assert FONT_LICENSE.is_file(), "the font's license must sit next to it"
    css = SITE_CSS.read_text()
    face = re.search(r"@font-face\s*{[^}]*}", css)
    assert face and 'url("../fonts/ar-math.woff2")' in face.group(0)
    family = re.search(r"font-family:\s*\"([^\"]+)\"", face.group(0)).group(1)
    assert re.search(rf"(?m)^math\s*{{[^}}]*font-family:\s*\"{family}\"", css)
    assert (site / "assets" / "fonts" / "ar-math.woff2").read_bytes() == data
    assert (site / "assets" / "fonts" / "GUST-FONT-LICENSE.txt").is_file()


def test_math_font_covers_every_math_character(site: Path) -> None:
    """The math font is a subset: the characters the site's math uses plus a margin. Every
    character of every <math> element of every page (API reference included; entities
    unescaped, whitespace ignored) must be in it, and so must the characters a browser draws
    instead (the italic 𝑥 of <mi>x</mi>, √ for <msqrt>, ...): else it falls back to another font
    for them. The font's code points are listed next to it (no fontTools needed here)."""
    import hashlib

    from attention_ref_site.make_math_font import implied_characters

    listing = FONT.with_name("ar-math.codepoints.txt")
    regenerate = (
        "run attention_ref_site/make_math_font.py (in a throwaway venv with fonttools and "
        "brotli, as its docstring says) to regenerate the font and its list"
    )
    assert listing.is_file(), f"{listing.name} is missing: {regenerate}"
    lines = listing.read_text().splitlines()
    digest = hashlib.sha256(FONT.read_bytes()).hexdigest()
    assert f"# sha256 {digest}" in lines, (
        f"{listing.name} was not written with this {FONT.name}: {regenerate}"
    )
    covered: set[int] = set()
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            low, _, high = entry.partition("-")
            covered.update(range(int(low, 16), int(high or low, 16) + 1))

    missing: dict[str, set[str]] = {}
    formulas = 0
    for name, page in _html_pages(site).items():
        for math in re.findall(r"<math\b[^>]*>.*?</math>", page, re.DOTALL):
            formulas += 1
            text = html.unescape(re.sub(r"<[^>]*>", "", math))
            for char in {c for c in text if not c.isspace()} | implied_characters(math):
                if ord(char) not in covered:
                    missing.setdefault(char, set()).add(name)
    assert formulas > 100, f"only {formulas} <math> elements found: is the site's math there?"
    report = "\n".join(
        f"  U+{ord(char):04X} {char}  ({', '.join(sorted(pages)[:3])}"
        f"{', ...' if len(pages) > 3 else ''})"
        for char, pages in sorted(missing.items())
    )
    assert not missing, (
        f"the math font {FONT.name} lacks characters the site's math uses:\n{report}\n"
        f"To add them, {regenerate}."
    )


# ---------------------------------------------------------------------------------------------
# The building blocks, without a build


def _markdown(text: str) -> str:
    import markdown

    return markdown.markdown(
        text,
        extensions=[
            "attention_ref_site.mathml",
            "pymdownx.superfences",
            "pymdownx.inlinehilite",
            "pymdownx.highlight",
            "admonition",
        ],
    )


@pytest.mark.parametrize(
    ("latex", "element"),
    [
        (r"\frac{a}{b}", "<mfrac>"),
        (r"\sqrt{d_k}", "<msqrt>"),
        (r"\operatorname{softmax}(x)", "<mi>softmax</mi>"),
        (r"K^\top", "&#x022A4;"),
        (r"\mathbb{R}^{L \times E}", "&#x0211D;"),
        (r"\left( x \right)", 'stretchy="true"'),
        (r"\sum_{j} x_j", "&#x02211;"),
        (r"\exp(x)", "<mi>exp</mi>"),
        (r"\max_j x_j", "<mi>max</mi>"),
        (r"x_i^2", "<msubsup>"),
        (r"-\infty", "<mi>&#x0221E;</mi>"),  # an identifier, not a padded operator
        (r"\text{head\_dim}", "<mtext>head_dim</mtext>"),  # TeX escapes in text unescaped
    ],
)
def test_latex_to_mathml(latex: str, element: str) -> None:
    out = _markdown(f"${latex}$")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in out
    assert element in out


def test_display_limits_go_under_max() -> None:
    from attention_ref_site.mathml import latex_to_mathml

    display = latex_to_mathml(r"m = \max_j x_j", display=True)
    inline = latex_to_mathml(r"m = \max_j x_j", display=False)
    assert "<munder><mi>max</mi><mi>j</mi></munder>" in display
    assert "<msub><mi>max</mi><mi>j</mi></msub>" in inline  # inline keeps the subscript


def test_math_has_no_redundant_elements() -> None:
    """An <mrow> that is the only child of <math> or <msqrt> is dropped (they hold an inferred
    row); \\mathrm{word} is one upright <mi>, not one per letter."""
    from attention_ref_site.mathml import latex_to_mathml

    out = latex_to_mathml(r"\mathrm{softmax}(\sqrt{d_k}) + \sqrt{a + b} + x_{i+1}", display=False)
    body = out[out.index(">") + 1 : out.rindex("</math>")]
    assert not body.startswith("<mrow>")
    assert '<mi mathvariant="normal">softmax</mi>' in out
    assert "<msqrt><msub><mi>d</mi><mi>k</mi></msub></msqrt>" in out
    assert "<msqrt><mi>a</mi><mo>&#x0002B;</mo><mi>b</mi></msqrt>" in out
    assert "<msub><mi>x</mi><mrow><mi>i</mi>" in out  # a subscript's row stays
    two = latex_to_mathml("{a}{b}", display=True)
    assert two.count("<mrow>") == 2  # two rows side by side: not an only child


def test_display_math_spans_lines() -> None:
    out = _markdown("Before.\n\n$$\n\\frac{1}{2}\n+ x\n$$\n\nAfter.")
    assert (
        '<div class="math-display"><math xmlns="http://www.w3.org/1998/Math/MathML" '
        'display="block">' in out
    )
    assert "<mfrac>" in out and "<p>After.</p>" in out


def test_math_leaves_code_and_dollars_alone() -> None:
    out = _markdown(
        "Code `$x$`, money \\$5, costs $5 and $10, $a \\$ b$.\n\n"
        '```python\ny = "$\\frac{1}{$"\n```\n\n    $$ indented code $$\n'
    )
    assert "<code>$x$</code>" in out
    assert "money $5, costs $5 and $10," in out
    assert out.count("<math") == 1 and "&#x00024;" in out  # the escaped dollar inside math
    assert "$$ indented code $$" in out


@pytest.mark.parametrize(
    "text",
    [
        r"$\frac{1}{$",
        r"$\notacommand x$",
        "$$\n\\frac{1}{2}\n\nx$$",
        r"$x^$",
        "$$\n\\begin{aligned} a &= b \\end{aligned}\n$$",
    ],
)
def test_latex_errors_raise(text: str) -> None:
    from attention_ref_site.mathml import MathError

    with pytest.raises(MathError):
        _markdown(text)


def test_figure_svg_is_themeable_accessible_and_stable() -> None:
    import numpy as np

    from attention_ref_site import figures

    weights = np.array([[0.9, 0.1], [0.3, 0.7]])
    one = figures.heatmap(weights, caption="Weights $w$", alt="A 2 by 2 grid")
    two = figures.heatmap(weights, caption="Weights $w$", alt="A 2 by 2 grid")
    for out in (one, two):
        # the figure carries the build's values for figures.js, then the SVG
        assert re.match(
            r"""<figure class="ar-figure" data-ar-heatmap='[^']*'><svg role="img" """
            r'aria-label="A 2 by 2',
            out,
        )
        assert "<title>A 2 by 2 grid</title>" in out and "<figcaption>Weights <math" in out
        assert "currentColor" in out and figures.FOREGROUND not in out
        assert "<style" not in out and "font-family" not in out and "<metadata" not in out
        assert "0.90" in out and "0.70" in out  # annotated cells
        assert "<?xml" not in out and "DOCTYPE" not in out
    ids_one = set(re.findall(r'\sid="([^"]+)"', one))
    ids_two = set(re.findall(r'\sid="([^"]+)"', two))
    assert ids_one and not ids_one & ids_two, "two figures on a page must not share ids"
    # apart from the id prefix, the same input gives the same bytes
    prefix = re.compile(r"f[0-9a-f]{8}\d*-")
    assert prefix.sub("", one) == prefix.sub("", two)
    mask = figures.mask_figure(np.tril(np.ones((3, 3), dtype=bool)), caption="c", alt="a")
    assert "may attend" in mask and "currentColor" in mask
    with pytest.raises(ValueError, match="colour-blind"):
        figures.heatmap(weights, caption="c", alt="a", cmap="jet")
