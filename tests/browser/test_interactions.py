"""What a reader does on the site: switch light and dark, search, copy code."""

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


def test_copy_button_copies_the_code(new_tab: Any, base_url: str) -> None:
    tab = new_tab("light", permissions=["clipboard-read", "clipboard-write"])
    tab.goto("")
    page = tab.page
    block = page.locator(".md-typeset pre:has(> code)").first
    expected = block.locator("> code").inner_text()
    block.hover()
    block.locator("button[data-clipboard-target]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == expected.strip()
    _clean(tab)
