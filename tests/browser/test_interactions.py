"""What a reader does on the site: switch light and dark, search, copy code, open and close
the collapsible blocks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

PALETTE_LABEL = 'form[data-md-component="palette"] label:not([hidden])'
SEARCH_INPUT = "input.md-search__input"
SEARCH_LINKS = "a.md-search-result__link"


def _clean(tab: Any) -> None:
    assert not tab.traffic.off_host, f"requests to other hosts: {tab.traffic.off_host}"
    assert not tab.traffic.page_errors, f"uncaught errors: {tab.traffic.page_errors}"
    assert not tab.traffic.console_errors, f"console errors: {tab.traffic.console_errors}"


def _scheme(page: Any) -> str:
    return page.evaluate("document.body.getAttribute('data-md-color-scheme')")


def _background(page: Any) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_palette_toggle_switches_scheme(new_tab: Any) -> None:
    tab = new_tab("light")
    tab.goto("")
    page = tab.page
    assert _scheme(page) == "default"
    light = _background(page)
    page.locator(PALETTE_LABEL).click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    dark = _background(page)
    assert dark != light, f"the scheme changed but the background stayed {light}"
    # the choice is remembered on the next page
    tab.goto("masks/")
    assert _scheme(page) == "slate"
    page.locator(PALETTE_LABEL).click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")
    assert _background(page) == light
    _clean(tab)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("multi-head", "multi-head/"),  # the multi-head page
        ("sqrt", "scaling/"),  # the scaling explanation
        ("scaling", "scaling/"),
    ],
)
def test_search_finds(new_tab: Any, base_url: str, query: str, expected: str) -> None:
    tab = new_tab("light")
    tab.goto("")
    page = tab.page
    page.locator(SEARCH_INPUT).click()
    page.locator(SEARCH_INPUT).press_sequentially(query, delay=20)
    wanted = urlsplit(base_url + expected).path
    found = (
        "(wanted) => [...document.querySelectorAll('" + SEARCH_LINKS + "')]"
        ".some((a) => new URL(a.href).pathname === wanted)"
    )
    try:
        page.wait_for_function(found, arg=wanted)
    except Exception:
        results = page.locator(SEARCH_LINKS).evaluate_all("(links) => links.map((a) => a.href)")
        pytest.fail(f"searching {query!r} did not list {expected!r}; it listed {results}")
    _clean(tab)


def test_search_index_loads_when_a_reader_reaches_for_search(new_tab: Any) -> None:
    """The search index (~150 KB gzipped) is not fetched with the page but when search is
    wanted (overrides/partials/search-on-demand.html); the keyboard shortcut still finds."""
    tab = new_tab("light")
    page = tab.page
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))
    tab.goto("masks/")
    tab.settle()
    page.wait_for_timeout(500)
    assert not [u for u in fetched if "search_index" in u], "the index loaded with the page"
    page.keyboard.press("/")  # Material's shortcut: focus the search field
    page.keyboard.type("causal", delay=20)
    page.wait_for_function(
        "document.querySelectorAll('" + SEARCH_LINKS + "').length > 0", timeout=15_000
    )
    assert [u for u in fetched if u.endswith("/search/search_index.json")]
    _clean(tab)


def test_search_result_highlights_its_terms(new_tab: Any) -> None:
    """A search result's link carries `?h=` (search.highlight): the page it opens loads the
    index at once and marks the terms."""
    tab = new_tab("light")
    tab.goto("masks/?h=causal")
    tab.page.wait_for_function("document.querySelectorAll('.md-content mark').length > 0")
    _clean(tab)


def test_copy_button_copies_the_code(new_tab: Any, base_url: str) -> None:
    tab = new_tab("light", permissions=["clipboard-read", "clipboard-write"])
    tab.goto("formula/")  # the article's code blocks are inside closed expansions
    page = tab.page
    block = page.locator(".md-typeset pre:has(> code)").first
    expected = block.locator("> code").inner_text()
    block.hover()
    block.locator("button[data-clipboard-target]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == expected.strip()
    _clean(tab)


# ---------------------------------------------------------------------------------------------
# Collapsible blocks (pymdownx.details): the article's expansions, the long listings

DETAILS = ".md-typeset details"


def _states(page: Any) -> list[tuple[str, bool]]:
    return page.locator(DETAILS).evaluate_all(
        "(all) => all.map((d) => [d.querySelector('summary').textContent.trim(), d.open])"
    )


def _wait_open(page: Any, index: int, is_open: bool) -> None:
    page.wait_for_function(
        "([sel, i, want]) => document.querySelectorAll(sel)[i].open === want",
        arg=[DETAILS, index, is_open],
    )


def test_article_reads_straight_through(new_tab: Any) -> None:
    """The article's expansions start closed (the seed's text reads without interruption),
    except the last one, "where to go next", which starts open; none of the seed's headings
    is inside one."""
    tab = new_tab("light")
    tab.goto("")
    page = tab.page
    expansions = [
        (name, is_open) for name, is_open in _states(page) if name.startswith("Expansion")
    ]
    assert len(expansions) == 8, expansions
    assert [is_open for _, is_open in expansions] == [False] * 7 + [True], expansions
    assert expansions[-1][0] == "Expansion: where to go next"
    headings = page.locator(".md-typeset h2").evaluate_all(
        "(hs) => hs.filter((h) => h.closest('details')).map((h) => h.textContent)"
    )
    assert not headings, f"headings inside collapsed blocks: {headings}"
    _clean(tab)


@pytest.mark.parametrize(
    ("path", "summary"),
    [
        ("", "Expansion: a weighted sum, by hand"),
        ("learned-heads/", "The backward pass"),
    ],
)
def test_collapsible_block_opens_and_closes(new_tab: Any, path: str, summary: str) -> None:
    """A closed block hides its code; a click on its title opens it and a second click
    closes it; from the keyboard its title is in the tab order, and Enter and Space toggle
    it."""
    tab = new_tab("light")
    tab.goto(path)
    page = tab.page
    names = [name for name, _ in _states(page)]
    index = next(i for i, name in enumerate(names) if name.startswith(summary))
    block = page.locator(DETAILS).nth(index)
    title = block.locator("> summary")
    code = block.locator("pre > code").first
    assert not block.evaluate("(d) => d.open") and not code.is_visible()

    title.click()
    _wait_open(page, index, True)
    code.wait_for(state="visible")
    assert code.bounding_box()["height"] > 0
    title.click()
    _wait_open(page, index, False)
    code.wait_for(state="hidden")

    assert title.evaluate("(s) => s.tabIndex") >= 0, "the title is not in the tab order"
    title.focus()
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    page.keyboard.press("Enter")
    _wait_open(page, index, True)
    code.wait_for(state="visible")
    page.keyboard.press("Space")
    _wait_open(page, index, False)
    code.wait_for(state="hidden")
    _clean(tab)


def test_tab_reaches_the_first_expansion(new_tab: Any) -> None:
    """Tabbing through the article reaches the first expansion's title (it is not skipped,
    and nothing before it traps the focus)."""
    tab = new_tab("light")
    tab.goto("")
    page = tab.page
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate(
            "document.activeElement.tagName === 'SUMMARY' && "
            "document.activeElement.textContent.trim().startsWith('Expansion')"
        ):
            break
    else:
        pytest.fail("200 presses of Tab never reached an expansion's title")
    page.keyboard.press("Enter")
    _wait_open(page, 0, True)
    _clean(tab)
