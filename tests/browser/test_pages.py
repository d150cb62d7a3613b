"""Every page of the built site, in light and in dark mode, as Chromium shows it.

Each page is loaded once per scheme (see conftest.py); the tests below read what was
measured then. A page that fails a test names the page, the scheme and what is wrong.
"""

from __future__ import annotations

import html
import struct
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.browser

# Impacts that fail the accessibility test (axe-core's scale: minor, moderate, serious,
# critical).
FAILING_IMPACTS = {"serious", "critical"}
# Violations we accept, each narrowly: (axe rule id, a substring of the node's CSS selector,
# why). Only for what the theme does and our CSS or overrides cannot fix. None so far.
AXE_EXCLUSIONS: list[tuple[str, str, str]] = []

MATERIAL_SCHEMES = {"light": "default", "dark": "slate"}  # data-md-color-scheme
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _facts(visit: Any) -> dict[str, Any]:
    if "facts" in visit.problems:
        pytest.fail(f"{visit.path!r} ({visit.scheme}): measuring failed: {visit.problems['facts']}")
    return visit.facts


def _where(visit: Any) -> str:
    return f"page {visit.path or 'index'!r} in {visit.scheme} mode"


# ---------------------------------------------------------------------------------------------
# The set of pages


def test_every_built_page_is_tested(built_pages: list[str], tested_pages: list[str]) -> None:
    assert built_pages == tested_pages, (
        "the per-page tests must cover exactly the built pages: "
        f"untested {sorted(set(built_pages) - set(tested_pages))}, "
        f"not built {sorted(set(tested_pages) - set(built_pages))}"
    )


# ---------------------------------------------------------------------------------------------
# Loading


def test_page_loads_cleanly(visitor: Any, scheme: str, page_path: str) -> None:
    """HTTP 200; no console error, uncaught exception, failed request or HTTP error."""
    visit = visitor.visit(scheme, page_path)
    traffic = visit.traffic
    problems = [f"HTTP status {traffic.status}"] if traffic.status != 200 else []
    problems += [f"console error: {m}" for m in traffic.console_errors]
    problems += [f"uncaught error: {m}" for m in traffic.page_errors]
    problems += [f"failed request: {m}" for m in traffic.failed_requests]
    problems += [f"HTTP error: {m}" for m in traffic.error_responses]
    assert not problems, f"{_where(visit)}:\n" + "\n".join(problems)


def test_no_request_leaves_the_local_server(visitor: Any, scheme: str, page_path: str) -> None:
    """Every request goes to the local server; any other was blocked, and is a failure."""
    visit = visitor.visit(scheme, page_path)
    off_host = visit.traffic.off_host
    assert not off_host, f"{_where(visit)} requested other hosts (blocked):\n" + "\n".join(off_host)


# ---------------------------------------------------------------------------------------------
# Math


def test_math_is_rendered_mathml(visitor: Any, scheme: str, page_path: str) -> None:
    """Every formula is a MathML element laid out by the browser with a non-zero box, and no
    raw TeX (\\frac, \\sqrt, ...) is visible in the prose."""
    visit = visitor.visit(scheme, page_path)
    facts = _facts(visit)
    problems = []
    for m in facts["math"]:
        if not m["mathml"]:
            problems.append(f"not MathML: {m['label']}")
        elif m["display"] not in ("math", "inline math", "block math"):
            problems.append(f"not laid out as math (display: {m['display']}): {m['label']}")
        elif not (m["width"] > 0 and m["height"] > 0):
            problems.append(f"empty box {m['width']}x{m['height']}: {m['label']}")
    problems += [f"raw TeX shown: {hit}" for hit in facts["rawTex"]]
    assert not problems, f"{_where(visit)}:\n" + "\n".join(problems)


def test_main_formula_is_laid_out(visitor: Any, scheme: str) -> None:
    """The attention formula on the article: a real fraction over a real square root."""
    visit = visitor.visit(scheme, "")
    formula = _facts(visit)["mainFormula"]
    assert formula, f"{_where(visit)}: no display formula with 'Attention' and 'softmax'"
    for part in ("frac", "numerator", "denominator", "sqrt", "radicand"):
        box = formula[part]
        assert box and box["width"] > 0 and box["height"] > 0, f"{part} has no box: {box}"
    numerator, denominator = formula["numerator"], formula["denominator"]
    assert numerator["bottom"] <= denominator["top"] + 1, (
        f"the fraction is not stacked: numerator {numerator}, denominator {denominator}"
    )
    assert formula["sqrt"]["width"] > formula["radicand"]["width"], (
        "the square root draws no radical sign"
    )
    assert formula["frac"]["height"] >= numerator["height"] + denominator["height"] - 1


# ---------------------------------------------------------------------------------------------
# Figures and colour schemes


def test_figures_visible_and_readable(visitor: Any, scheme: str, page_path: str) -> None:
    """Every figure is visible with a non-zero size, and every text in it (SVG labels and
    the caption) meets WCAG 2 contrast against what is painted behind it: 4.5:1, or 3:1 for
    large text (24 px, or 18.66 px bold). See page_facts.js for how colours are read."""
    visit = visitor.visit(scheme, page_path)
    facts = _facts(visit)
    assert facts["colorScheme"] == MATERIAL_SCHEMES[scheme], (
        f"{_where(visit)}: the page shows Material's scheme {facts['colorScheme']!r}"
    )
    problems = []
    for figure in facts["figures"]:
        name = f"figure {figure['index'] + 1} ({figure['label']})"
        if not figure["visible"] or not (figure["width"] > 0 and figure["height"] > 0):
            problems.append(f"{name} is not visible ({figure['width']}x{figure['height']})")
        if figure["texts"] == 0:
            problems.append(f"{name} has no text to read (no caption, no labels)")
        problems += [f"{name}: {low}" for low in figure["lowContrast"]]
    assert not problems, f"{_where(visit)}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Code blocks


def test_code_blocks_have_copy_buttons(visitor: Any, scheme: str, page_path: str) -> None:
    visit = visitor.visit(scheme, page_path)
    facts = _facts(visit)
    assert not facts["withoutCopy"], (
        f"{_where(visit)}: {len(facts['withoutCopy'])} of {facts['codeBlocks']} code blocks "
        "have no copy button:\n" + "\n".join(facts["withoutCopy"])
    )


# Pages whose code blocks still overflow, each with its owner's issue. strict=True: the
# test fails as soon as a page fits, so that its entry is removed then.
OVERFLOW_KNOWN: dict[str, str] = {}  # page path -> why its code is wider (none now)


def test_code_blocks_fit_the_text_column(
    visitor: Any, page_path: str, request: pytest.FixtureRequest
) -> None:
    """At 1280 px no code block needs horizontal scrolling (its scrollWidth equals its
    clientWidth), collapsible blocks measured open; the API reference's collapsed source
    listings are the one exception. Light mode only: the layout is the same in dark mode."""
    if page_path in OVERFLOW_KNOWN:
        request.applymarker(pytest.mark.xfail(reason=OVERFLOW_KNOWN[page_path], strict=True))
    visit = visitor.visit("light", page_path)
    facts = _facts(visit)
    assert facts["pageWidth"] >= 1200, f"{_where(visit)}: measured at {facts['pageWidth']} px"
    assert not facts["overflowing"], (
        f"{_where(visit)}: {len(facts['overflowing'])} of {facts['codeBlocks']} code blocks "
        "are wider than the text column:\n" + "\n".join(facts["overflowing"])
    )


# ---------------------------------------------------------------------------------------------
# Tags


def _front_matter_tags(source: Path) -> list[str]:
    import yaml

    text = source.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{source} has no front matter"
    return yaml.safe_load(text[4 : text.index("\n---\n", 4)]).get("tags") or []


def test_every_page_is_tagged_and_the_tags_page_lists_the_tags(site_dir: Path) -> None:
    """Every published page has `tags:` in its front matter, and the Tags page lists every
    tag that the pages use."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    pages = [
        p
        for p in sorted(docs.rglob("*.md"))
        if p.name != "_writing.md" and "snippets" not in p.relative_to(docs).parts
    ]
    untagged = [str(p.relative_to(docs)) for p in pages if not _front_matter_tags(p)]
    assert not untagged, f"pages without tags: {untagged}"
    tags_page = (site_dir / "tags" / "index.html").read_text(encoding="utf-8")
    used = {t for p in pages for t in _front_matter_tags(p)}
    missing = sorted(t for t in used if f">{html.escape(t)}<" not in tags_page)
    assert not missing, f"tags the Tags page does not list: {missing}"


# ---------------------------------------------------------------------------------------------
# Links


def test_internal_links_resolve(
    visitor: Any, site_dir: Path, base_url: str, site_url: str | None, page_path: str
) -> None:
    """Every link to this site (relative, or absolute under its site_url) reaches an existing
    page, and its #fragment an existing id there (ids as the browser has them, after the
    theme's scripts ran)."""
    visit = visitor.visit("light", page_path)
    problems = []
    for link in _facts(visit)["links"]:
        href = link["href"]
        if site_url and href.startswith(site_url):
            href = base_url + href[len(site_url) :]  # the published address, served here
        parts, base = urlsplit(href), urlsplit(base_url)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            continue  # a link out (a paper, a project), or mailto:; not followed
        if not unquote(parts.path).startswith(base.path):
            problems.append(f"{link['raw']!r} ({link['label']}): {parts.path} is outside the site")
            continue
        relative = unquote(parts.path).removeprefix(base.path)
        target = site_dir / relative
        if relative.endswith("/") or relative == "" or target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"{link['raw']!r} ({link['label']}): no page {parts.path}")
            continue
        fragment = unquote(parts.fragment)
        if not fragment or target.suffix != ".html":
            continue
        target_path = target.relative_to(site_dir).as_posix().removesuffix("index.html")
        if fragment not in _facts(visitor.visit("light", target_path))["ids"]:
            problems.append(
                f"{link['raw']!r} ({link['label']}): no id {fragment!r} on {parts.path}"
            )
    assert not problems, f"{_where(visit)}: broken links:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Accessibility


def _excluded(rule: str, target: str) -> bool:
    return any(rule == r and selector in target for r, selector, _ in AXE_EXCLUSIONS)


def _describe(node: dict[str, Any]) -> str:
    """A node of an axe violation: its selector, and the colours when axe measured them."""
    where = ", ".join(map(str, node["target"]))
    for check in node.get("any", []) + node.get("all", []) + node.get("none", []):
        data = check.get("data")
        if isinstance(data, dict) and "contrastRatio" in data:
            colours = (data.get("fgColor"), data.get("bgColor"))
            if None in colours:
                colours = (data.get("nodeColor"), data.get("parentColor"))
            return f"{where} [{colours[0]} on {colours[1]}: {data['contrastRatio']}:1]"
    return where


def test_accessibility(visitor: Any, scheme: str, page_path: str) -> None:
    """axe-core (shipped by axe-playwright-python) finds no serious or critical violation."""
    visit = visitor.visit(scheme, page_path)
    if "axe" in visit.problems:
        pytest.fail(f"{_where(visit)}: axe-core did not run: {visit.problems['axe']}")
    problems = []
    for violation in visit.axe["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        targets = [
            _describe(node)
            for node in violation["nodes"]
            if not _excluded(violation["id"], ", ".join(map(str, node["target"])))
        ]
        if targets:
            shown = "; ".join(targets[:5]) + (
                f"; ... ({len(targets)} in all)" if len(targets) > 5 else ""
            )
            problems.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']}: {shown}"
            )
    assert not problems, f"{_where(visit)}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Screenshots


def test_full_page_screenshot(visitor: Any, scheme: str, page_path: str) -> None:
    """A full-page PNG of every page and scheme, for people to look at (git-ignored)."""
    visit = visitor.visit(scheme, page_path)
    if "screenshot" in visit.problems:
        pytest.fail(f"{_where(visit)}: no screenshot: {visit.problems['screenshot']}")
    data = visit.screenshot.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{visit.screenshot} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    facts = _facts(visit)
    assert width == facts["pageWidth"] and height >= facts["pageHeight"] - 1, (
        f"{visit.screenshot} is {width}x{height}, the page {facts['pageWidth']}x"
        f"{facts['pageHeight']}: not the full page"
    )
