"""The site's figure helpers: explorable heatmaps' embedded data and the build-time diagrams.

The browser side (what a reader sees when pointing at a cell) is tested in
tests/browser/test_figures.py; here, that what the build embeds is the array it was given.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from attention_ref_site import diagrams, figures

DATA_RE = re.compile(r"data-ar-heatmap='([^']*)'")


def _data(figure: str) -> dict:
    return json.loads(html.unescape(DATA_RE.search(figure).group(1)))


def test_heatmap_embeds_the_exact_values_labels_and_cell_box() -> None:
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(5), size=3)  # (3, 5): no value has a short repr
    weights[1, 2] = np.nan
    out = figures.heatmap(
        weights,
        row_labels=["a", "b'c", "d"],
        col_labels=list("vwxyz"),
        caption="c",
        alt="a",
        value_name="weight",
    )
    (panel,) = _data(out)["panels"]
    assert panel["rows"] == ["a", "b'c", "d"] and panel["cols"] == list("vwxyz")
    assert (panel["row"], panel["col"], panel["value"]) == ("query", "key", "weight")
    for i in range(3):
        for j in range(5):
            v = panel["v"][i][j]
            if np.isnan(weights[i, j]):
                assert v is None
            else:
                assert float(v) == weights[i, j]  # the float itself, not a rounding
    x0, y0, x1, y1 = panel["box"]
    assert x1 > x0 and y1 > y0  # row 0 at the top-left corner of the box
    assert "ar-cells" not in out  # the marker rectangle is gone from the SVG
    viewbox = [float(v) for v in re.search(r'viewBox="([^"]+)"', out).group(1).split()]
    assert 0 <= x0 < x1 <= viewbox[2] and 0 <= y0 < y1 <= viewbox[3]


def test_cells_of_several_panels_keep_their_order() -> None:
    fig, axes = figures.new_figure(ncols=2)
    a, b = np.eye(3), np.full((3, 3), 1 / 3)
    for ax, m in zip(axes, (a, b), strict=True):
        ax.imshow(m)
    out = figures.figure_html(
        fig,
        caption="c",
        alt="a",
        cells=[figures.Cells(ax, m, title=t) for ax, m, t in zip(axes, (a, b), "AB", strict=True)],
    )
    first, second = _data(out)["panels"]
    assert (first["title"], second["title"]) == ("A", "B")
    assert first["v"][0] == ["1.0", "0.0", "0.0"] and float(second["v"][0][0]) == 1 / 3
    assert first["box"][0] < second["box"][0]  # left panel first


def test_figure_without_cells_has_no_data() -> None:
    fig, ax = figures.new_figure()
    ax.plot([0, 1], [0, 1])
    assert "data-ar-heatmap" not in figures.figure_html(fig, caption="c", alt="a")


def test_flow_draws_the_arrays_shapes_and_changes_with_them() -> None:
    x, q = np.zeros((5, 8)), np.zeros((5, 4))
    nodes = [diagrams.Node("x", "X", x, row=0), diagrams.Node("q", "Q", q, row=1)]
    out = diagrams.flow(nodes, [diagrams.Edge("x", "q", "\u00d7 W_q")], caption="c", alt="a")
    assert "5 \u00d7 8" in out and "5 \u00d7 4" in out and 'aria-label="a"' in out
    bigger = [diagrams.Node("x", "X", np.zeros((6, 8)), row=0), nodes[1]]
    assert diagrams.flow(bigger, [], caption="c", alt="a") != out
    with pytest.raises(ValueError, match="unknown node"):
        diagrams.flow(nodes, [diagrams.Edge("x", "nope")], caption="c", alt="a")
    with pytest.raises(ValueError, match="caption and alt"):
        diagrams.flow(nodes, [], caption="c", alt=" ")


def test_flow_heat_colours_each_cell_by_its_value() -> None:
    w = np.array([[0.0, 1.0], [0.5, 0.5]])
    out = diagrams.flow([diagrams.Node("w", "weights", w, heat=True)], [], caption="c", alt="a")
    fills = re.findall(r'fill="(#[0-9a-f]{6})"', out)
    assert fills[:4] == ["#440154", "#fde725", "#21918c", "#21918c"]  # viridis 0, 1, .5, .5


def test_frames_keeps_every_frame_in_order() -> None:
    out = diagrams.frames(["<p>1</p>", "<p>2</p>"], titles=["one", "two"], start=1)
    assert out.index("<p>1</p>") < out.index("<p>2</p>")
    assert 'data-ar-start="1"' in out and out.count('class="ar-frame"') == 2
    # the frame shown first is in the DOM; the other waits in a <noscript> (text to a browser
    # running scripts, shown by one that runs none)
    assert "<noscript><p>1</p></noscript>" in out and "<noscript><p>2</p>" not in out
    with pytest.raises(ValueError):
        diagrams.frames(["<p>1</p>"], titles=[])


def test_mask_grid_draws_each_kind_of_cell_as_one_path() -> None:
    causal = np.tril(np.ones((3, 4), bool))
    window = np.eye(4, dtype=bool)
    out = diagrams.mask_grid([("causal", causal), ("diagonal", window)], caption="c", alt="a")
    paths = re.findall(r'<path d="([^"]*)" fill="([^"]*)"', out)
    # per panel: the masked cells (outlined), then the cells that may attend (filled)
    assert [fill for _, fill in paths] == ["none", diagrams.MASK_FILL] * 2
    assert [d.count("M") for d, _ in paths] == [12 - 6, 6, 16 - 4, 4]
    assert 'aria-label="a"' in out and "may attend" in out and "masked" in out
    # the cell (i, j) sits at column j, row i: the first filled cell of "causal" is (0, 0)
    first = re.match(r"M([\d.]+) ([\d.]+)", paths[1][0]).groups()
    later = re.findall(r"M([\d.]+) ([\d.]+)", paths[1][0])[-1]  # (2, 2)
    assert float(later[0]) > float(first[0]) and float(later[1]) > float(first[1])
    assert diagrams.mask_grid([("c", ~causal)], caption="c", alt="a") != diagrams.mask_grid(
        [("c", causal)], caption="c", alt="a"
    )
    with pytest.raises(ValueError, match=r"2-D bool array, got int64 \(3, 4\)"):
        diagrams.mask_grid([("m", causal.astype(np.int64))], caption="c", alt="a")
    with pytest.raises(ValueError, match="caption and alt"):
        diagrams.mask_grid([("m", causal)], caption="", alt="a")


def test_cell_grid_checks_its_codes_and_kinds() -> None:
    codes = np.array([[0, 1, 2]])
    kinds = ["not computed", "read from the cache", "computed in this step"]
    out = diagrams.cell_grid([("step", codes)], kinds=kinds, caption="c", alt="a")
    assert out.count("<path") == 3 and all(k in out for k in kinds)
    with pytest.raises(ValueError, match=r"values in 0..1, got shape \(1, 3\)"):
        diagrams.cell_grid([("step", codes)], kinds=kinds[:2], caption="c", alt="a")
    with pytest.raises(ValueError, match="kinds from"):
        diagrams.cell_grid([("step", codes)], kinds=["blue"], caption="c", alt="a")


def test_block_table_draws_the_tables_and_who_fills_each_slot() -> None:
    # seq 0: 6 tokens in blocks 2, 0; seq 1: shares block 2, then 3 tokens in block 1
    tables = np.array([[2, 0, -1], [2, 1, -1]])
    out = diagrams.block_table(tables, [6, 7], block_size=4, num_blocks=4, caption="c", alt="a")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", out)
    assert texts[:5] == ["block_tables: blocks in order", "seq 0 (6 tokens)", "2", "0", "pad"]
    blue, vermillion = diagrams.HEAD_COLOURS[:2]
    slots = {c: d.count("M") for d, c in re.findall(r'<path d="([^"]*)" fill="(#\w+)"', out)}
    # block 2 (4 slots) holds both sequences' first tokens: a half slot of each colour
    assert slots == {blue: 4 + 2, vermillion: 4 + 3}
    empty = re.search(r'<path d="([^"]*)" fill="none"', out).group(1)
    assert empty.count("M") == 2 + 1 + 4  # the ends of blocks 0 and 1, all of block 3
    with pytest.raises(ValueError, match=r"must agree, got \(2, 3\) and \(3,\)"):
        diagrams.block_table(tables, [6, 7, 1], block_size=4, num_blocks=4, caption="c", alt="a")


def test_mask_figure_draws_each_kind_of_cell_as_one_path() -> None:
    out = figures.mask_figure(np.tril(np.ones((32, 32), bool)), caption="c", alt="a")
    assert out.count("<path") < 20  # two compound paths, the legend's and the axes' own


def test_head_view_draws_one_line_per_weight_above_the_threshold() -> None:
    w = np.array([[[0.9, 0.1, 0.0], [0.005, 0.5, 0.495]]])  # (1, 2, 3)
    out = diagrams.head_view(
        w, queries=["a", "b"], keys=["x", "y", "z"], heads=["h"], caption="c", alt="a"
    )
    assert out.count("<path data-h=") == 4  # 0.0 and 0.005 are below 0.01
    data = json.loads(html.unescape(re.search(r"data-ar-headview='([^']*)'", out).group(1)))
    assert data["text"][0][1] == "h, query \u201cb\u201d looks at \u201cy\u201d 0.500, " + (
        "\u201cz\u201d 0.495, \u201cx\u201d 0.005"
    )
    with pytest.raises(ValueError, match="shape"):
        diagrams.head_view(w[0], queries=["a"], keys=["x"], heads=["h"], caption="c", alt="a")


def test_lazy_code_keeps_the_text_of_every_listing() -> None:
    from attention_ref_site.lazy_code import defer_code

    block = (
        '<div class="highlight"><pre><span></span><code><span class="n">a</span>'
        '<span class="o">&lt;</span> <span class="s">"&amp;"</span>\n</code></pre></div>'
    )
    for html_in in (block, f"<details class='example'><summary>s</summary>{block}</details>"):
        out = defer_code(html_in)
        plain = out.split("<code>")[1].split("</code>")[0]
        assert plain == 'a&lt; "&amp;"\n'  # the characters, still escaped
        assert '<template class="ar-code" data-search-exclude><span class="n">a</span>' in out
        assert "</template></pre></div>" in out
        assert out.endswith(html_in[html_in.index("</pre></div>") + len("</pre></div>") :])
    unhighlighted = "<pre><span></span><code>plain\n</code></pre>"
    assert defer_code(unhighlighted) == unhighlighted  # nothing to defer
    # mkdocstrings' source listing: numbers plain for good, the code deferred
    table = (
        '<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv"><pre>'
        '<span></span><span class="normal"> 9</span>\n<span class="normal">10</span></pre>'
        '</div></td><td class="code"><div><pre><span></span><code><span class="k">if</span> x'
        "\n</code></pre></div></td></tr></table>"
    )
    out = defer_code(table)
    assert '<div class="linenodiv"><pre class="ar-plain"> 9\n10</pre>' in out
    template = '<template class="ar-code" data-search-exclude><span class="k">if</span>'
    assert f"<code>if x\n</code>{template}" in out
    # a source listing (the only listings with line numbers) is left out of search
    assert '<table class="highlighttable" data-search-exclude>' in out
