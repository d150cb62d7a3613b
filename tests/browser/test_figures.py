"""Explorable figures in a real Chromium: the heatmaps' readout (pointer and keyboard), the
row and column highlight, the stepped diagrams and the head view.

What the readout says is compared with the numbers the build embedded in the page (the
`data-ar-heatmap` JSON that attention_ref_site.figures writes from the executed example's
array), and those with the values the build printed into the SVG's cells: the script only
looks numbers up, so the figure, its data and its readout agree.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.browser

# Pages with heatmaps drawn by figures.heatmap, training.plots.heatmaps and a custom figure
# (multi-head) that passes its own Cells.
HEATMAP_PAGES = ["self-attention/", "multi-head/", "learned-translation/", "formula/", ""]


def _clean(tab: Any) -> None:
    assert not tab.traffic.off_host, f"requests to other hosts: {tab.traffic.off_host}"
    assert not tab.traffic.page_errors, f"uncaught errors: {tab.traffic.page_errors}"
    assert not tab.traffic.console_errors, f"console errors: {tab.traffic.console_errors}"


def _expected(panel: dict[str, Any], i: int, j: int) -> str:
    value = panel["v"][i][j]
    title = f"{panel['title']}: " if panel["title"] else ""
    return (
        f"{title}{panel['row']} \u201c{panel['rows'][i]}\u201d, "
        f"{panel['col']} \u201c{panel['cols'][j]}\u201d, "
        f"{panel['value']} {'none (blank cell)' if value is None else value}"
    )


def _cell_centre(figure: Any, panel: dict[str, Any], i: int, j: int) -> tuple[float, float]:
    """The cell's centre in the page's CSS pixels, from the box the build embedded."""
    x0, y0, x1, y1 = panel["box"]
    x = x0 + (j + 0.5) * (x1 - x0) / len(panel["cols"])
    y = y0 + (i + 0.5) * (y1 - y0) / len(panel["rows"])
    return figure.locator("svg").first.evaluate(
        "(svg, [x, y]) => { const p = new DOMPoint(x, y).matrixTransform(svg.getScreenCTM());"
        " return [p.x, p.y]; }",
        [x, y],
    )


@pytest.mark.parametrize("path", HEATMAP_PAGES)
def test_heatmap_readout(new_tab: Any, path: str, scheme: str) -> None:  # light and dark
    tab = new_tab(scheme)
    tab.goto(path)
    page = tab.page
    figures = page.locator("figure[data-ar-heatmap]")
    assert figures.count() > 0, f"no explorable heatmap on {path!r}"
    for n in range(figures.count()):
        figure = figures.nth(n)
        data = json.loads(figure.get_attribute("data-ar-heatmap"))
        panels = data["panels"]
        readout = figure.locator(".ar-readout")
        svg = figure.locator("svg").first
        assert svg.get_attribute("tabindex") == "0"
        # the embedded numbers are the drawn ones: each annotated cell prints its value
        texts = set(svg.locator("text").all_text_contents())
        annotated = [float(v) for p in panels for r in p["v"] for v in r if v is not None]
        if any(f"{v:.2f}" in texts for v in annotated):
            shown = [v for v in annotated if v >= 0.005]  # plots.heatmaps leaves ~0 blank
            missing = [v for v in shown if f"{v:.2f}" not in texts]
            assert not missing, f"figure {n} of {path!r}: values not drawn: {missing[:5]}"

        # keyboard: focus starts on the first cell, arrows move, End goes to the last column
        figure.evaluate(
            "(f) => { for (let d = f.closest('details'); d; "
            "d = d.parentElement.closest('details')) d.open = true; }"
        )
        figure.scroll_into_view_if_needed()
        svg.focus()
        assert readout.text_content() == _expected(panels[0], 0, 0)
        rows, cols = len(panels[0]["rows"]), len(panels[0]["cols"])
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowRight")
        assert readout.text_content() == _expected(panels[0], min(1, rows - 1), min(1, cols - 1))
        page.keyboard.press("End")
        assert readout.text_content() == _expected(panels[0], min(1, rows - 1), cols - 1)
        if len(panels) > 1:  # right of the last column: the next panel's first column
            page.keyboard.press("ArrowRight")
            assert readout.text_content() == _expected(panels[1], min(1, rows - 1), 0)

        # the row, then the column, outlined: the band spans the panel's row or column
        page.keyboard.press("r")
        assert (
            figure.locator("button", has_text="Highlight row").get_attribute("aria-pressed")
            == "true"
        )
        band = figure.locator(".ar-hl__band")
        assert band.get_attribute("display") is None
        x0, y0, x1, y1 = panels[-1 if len(panels) > 1 else 0]["box"]
        assert float(band.get_attribute("width")) == pytest.approx(abs(x1 - x0), rel=1e-6)
        figure.locator("button", has_text="Highlight column").click()
        assert float(band.get_attribute("height")) == pytest.approx(abs(y1 - y0), rel=1e-6)
        figure.locator("button", has_text="Highlight column").click()
        assert band.get_attribute("display") == "none"

        # pointer: the largest weight of the last panel, then the first cell of the first
        last = panels[-1]
        finite = [
            (float(v), i, j)
            for i, r in enumerate(last["v"])
            for j, v in enumerate(r)
            if v is not None
        ]
        _, i, j = max(finite)
        page.mouse.move(*_cell_centre(figure, last, i, j))
        assert readout.text_content() == _expected(last, i, j)
        page.mouse.move(*_cell_centre(figure, panels[0], 0, 0))
        assert readout.text_content() == _expected(panels[0], 0, 0)
    _clean(tab)


def test_heatmap_without_javascript_is_the_static_figure(new_tab: Any) -> None:
    tab = new_tab("light", java_script_enabled=False)
    tab.goto("self-attention/")
    page = tab.page
    figure = page.locator("figure[data-ar-heatmap]").first
    assert figure.locator("svg rect, svg path").count() > 0
    assert figure.locator(".ar-readout").count() == 0  # nothing half-built
    assert figure.locator("svg").first.get_attribute("tabindex") is None
    _clean(tab)


def _visible_frames(container: Any) -> list[int]:
    return container.evaluate(
        "(c) => [...c.querySelectorAll('.ar-frame')].flatMap((f, n) => f.hidden ? [] : [n])"
    )


def test_stepped_frames_with_buttons(new_tab: Any) -> None:
    tab = new_tab("dark")
    tab.goto("flash/")
    page = tab.page
    frames = page.locator(".ar-frames").first
    titles = frames.locator(".ar-frame").evaluate_all(
        "(fs) => fs.map((f) => f.getAttribute('data-ar-title'))"
    )
    assert len(titles) == 3
    assert _visible_frames(frames) == [0]
    status = frames.locator(".ar-frames__status")
    previous = frames.locator("button", has_text="Previous")
    assert previous.is_disabled()
    next_button = frames.locator("button", has_text="Next")
    next_button.focus()
    page.keyboard.press("Enter")  # the keyboard works the buttons
    assert _visible_frames(frames) == [1]
    assert status.text_content() == f"Block 2 of 3: {titles[1]}"
    page.keyboard.press("Enter")
    assert _visible_frames(frames) == [2] and next_button.is_disabled()
    # the frame's figure is the build's: its alt text names the loop's state after block 2
    alt = frames.locator(".ar-frame").nth(2).locator("svg").get_attribute("aria-label")
    assert "block 2 is outlined" in alt
    _clean(tab)


def test_scale_slider(new_tab: Any) -> None:
    tab = new_tab("light")
    tab.goto("scaling/")
    page = tab.page
    frames = page.locator(".ar-frames").first
    start = int(frames.get_attribute("data-ar-start"))
    assert _visible_frames(frames) == [start]
    slider = frames.locator("input[type=range]")
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert _visible_frames(frames) == [start + 1]
    title = frames.locator(".ar-frame").nth(start + 1).get_attribute("data-ar-title")
    assert slider.get_attribute("aria-valuetext") == title
    page.keyboard.press("End")
    last = frames.locator(".ar-frame").count() - 1
    assert _visible_frames(frames) == [last]
    assert "scale 1/1," in frames.locator(".ar-frames__status").text_content()
    _clean(tab)


def test_frames_without_javascript_are_all_shown(new_tab: Any) -> None:
    tab = new_tab("light", java_script_enabled=False)
    tab.goto("flash/")
    frames = tab.page.locator(".ar-frames").first
    assert _visible_frames(frames) == [0, 1, 2]
    assert all(f.is_visible() for f in frames.locator(".ar-frame").all())
    _clean(tab)


@pytest.mark.parametrize("path", ["learned-heads/", "learned-translation/"])
def test_head_view(new_tab: Any, path: str) -> None:
    tab = new_tab("light")
    tab.goto(path)
    page = tab.page
    figure = page.locator("figure[data-ar-headview]").first
    data = json.loads(figure.get_attribute("data-ar-headview"))
    svg = figure.locator("svg").first
    readout = figure.locator(".ar-readout")
    lines = svg.locator("path[data-h]")
    visible = "(ls) => ls.filter((l) => l.getAttribute('display') !== 'none').map((l) => "
    visible += "[Number(l.getAttribute('data-h')), Number(l.getAttribute('data-i'))])"
    total = lines.count()
    assert len(lines.evaluate_all(visible)) == total  # every line, until a token is chosen
    figure.scroll_into_view_if_needed()
    svg.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # query 1
    shown = lines.evaluate_all(visible)
    assert shown and all(i == 1 for _, i in shown)
    assert readout.text_content() == "; ".join(t[1] for t in data["text"])
    if len(data["heads"]) > 1:
        figure.locator("button", has_text=data["heads"][1]).click()
        shown = lines.evaluate_all(visible)
        assert shown and all((h, i) == (1, 1) for h, i in shown)
        assert readout.text_content() == data["text"][1][1]
    # pointing at the first query token chooses it
    box = svg.locator("text.ar-hv-q").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert all(i == 0 for _, i in lines.evaluate_all(visible))
    svg.focus()  # the head button had the focus
    page.keyboard.press("Escape")
    assert readout.text_content().startswith("Point at a token")
    _clean(tab)


def test_code_in_a_closed_block_is_highlighted_when_opened(new_tab: Any) -> None:
    tab = new_tab("light")
    tab.goto("")
    page = tab.page
    details = page.locator(".md-typeset details:not([open])").filter(
        has=page.locator("template.ar-code")
    )
    assert details.count() > 0, "no deferred listing in the article's closed blocks"
    # a fixed element: the locator would move on to the next closed block once this one opens
    block = details.first.element_handle()
    code = block.query_selector("pre > code")
    plain = code.text_content()
    assert plain.strip() and code.query_selector("span") is None  # plain text while closed
    block.query_selector("summary").click()
    page.wait_for_function("(c) => c.querySelector('span') !== null", arg=code)
    assert code.text_content() == plain  # the same characters, now highlighted
    assert block.query_selector("template.ar-code") is None
    _clean(tab)


def test_code_far_below_is_highlighted_when_scrolled_to(new_tab: Any) -> None:
    """A listing out of view loads as plain text and gets its spans once it is scrolled to."""
    tab = new_tab("light")
    tab.goto("reference/attention/")
    page = tab.page
    # the last listing still waiting that is not in a closed block (the source listings are)
    pre = page.evaluate_handle(
        "() => [...document.querySelectorAll('.md-typeset pre')].filter((p) =>"
        " p.querySelector(':scope > template.ar-code') && !p.closest('details:not([open])')"
        ").pop() || null"
    ).as_element()
    assert pre is not None, "every listing was highlighted at once"
    assert pre.evaluate("(p) => p.getBoundingClientRect().top > 2 * innerHeight")  # far below
    code = pre.query_selector("code")
    plain = code.text_content()
    assert plain.strip() and code.query_selector("span") is None
    page.mouse.move(640, 400)
    for _ in range(200):  # scroll down as a reader does (objects render as they near the screen)
        if pre.evaluate("(p) => p.getBoundingClientRect().top < innerHeight"):
            break
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(20)
    page.wait_for_function("(c) => c.querySelector('span') !== null", arg=code)
    assert code.text_content() == plain  # the same characters, now highlighted
    assert pre.query_selector("template.ar-code") is None
    _clean(tab)


@pytest.mark.parametrize("anchor", ["attention_ref.KVCache.update", "attention_ref.KVCache.length"])
def test_a_link_to_a_member_lands_on_it(new_tab: Any, anchor: str) -> None:
    """A method's heading sits inside its class's documentation, which renders only as it
    nears the screen (site.css: content-visibility): the link still lands on the heading."""
    tab = new_tab("light")
    tab.goto(f"reference/generation/#{anchor}")
    page = tab.page
    landed = (
        "(id) => { const r = document.getElementById(id).getBoundingClientRect();"
        " return r.top >= 0 && r.top < 150; }"
    )
    page.wait_for_function(landed, arg=anchor, timeout=5_000)
    page.wait_for_timeout(500)  # and stays there
    assert page.evaluate(landed, anchor), page.evaluate(
        "(id) => document.getElementById(id).getBoundingClientRect().top", anchor
    )
    _clean(tab)


def test_an_old_api_address_leads_to_the_objects_page(new_tab: Any) -> None:
    """0.2's API reference was one page; its addresses (reference/#attention_ref.KVCache)
    are in readers' bookmarks and other sites' links."""
    tab = new_tab("light")
    tab.goto("reference/#attention_ref.KVCache")
    page = tab.page
    page.wait_for_url("**/reference/generation/#attention_ref.KVCache")
    assert page.locator("[id='attention_ref.KVCache']").count() == 1
    _clean(tab)
