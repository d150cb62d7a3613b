"""Figures for the site: matplotlib drawn at build time, inlined as SVG.

Every helper returns an HTML string, a `<figure>` holding an inline `<svg>` and a
`<figcaption>`, to be printed by a markdown-exec block with `html="1"`:

```python
print(figures.heatmap(weights, row_labels=..., col_labels=..., caption="...", alt="..."))
```

The SVG is

- reproducible byte for byte: a fixed `svg.hashsalt`, no date or creator metadata, and element
  ids rewritten to a prefix derived from the figure's own content;
- light/dark aware: text, axes and ticks are drawn in a sentinel colour that is replaced by
  `currentColor`, so they take the Material theme's text colour; backgrounds are transparent;
- real text (`svg.fonttype = "none"`), in the page's font (the font family is left to CSS);
- accessible: `role="img"`, an `aria-label` and a `<title>` carry the alt text;
- explorable, for matrices of weights: `figure_html(..., cells=[Cells(ax, values, ...)])`
  embeds each panel's values (as the build computed them, `repr` of each float), its labels
  and where its cells are in the SVG, as JSON in the `<figure>`'s `data-ar-heatmap`
  attribute. `docs/assets/js/figures.js` reads it to show the query, key and weight of the cell
  under the pointer or the keyboard's focus; without JavaScript the figure is the same
  static SVG.

Colour maps are viridis or cividis (perceptually uniform, readable with colour-blindness), and
the line-colour cycle is the Okabe-Ito palette without its black and yellow.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Affine2D

from attention_ref_site.mathml import latex_to_mathml

__all__ = [
    "FOREGROUND",
    "STYLE",
    "Cells",
    "figure_html",
    "heatmap",
    "mask_figure",
    "new_figure",
    "use_style",
]

#: Drawn wherever the theme's text colour belongs, then replaced by `currentColor`.
#: A colour nobody picks by accident.
FOREGROUND = "#010203"

#: Okabe & Ito (2008), "Color Universal Design", without black and yellow, which vanish
#: on the dark and the light background respectively.
_OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7"]

#: rcParams for every figure of the site.
STYLE: dict[str, Any] = {
    # reproducible SVG with real text
    "svg.hashsalt": "attention-ref",
    "svg.fonttype": "none",
    "svg.image_inline": True,
    # transparent backgrounds: the page shows through in light and dark mode
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.edgecolor": "none",
    "savefig.transparent": True,
    "legend.facecolor": "none",
    "legend.framealpha": None,
    # the theme's text colour, via the sentinel
    "text.color": FOREGROUND,
    "axes.edgecolor": FOREGROUND,
    "axes.labelcolor": FOREGROUND,
    "axes.titlecolor": FOREGROUND,
    "xtick.color": FOREGROUND,
    "ytick.color": FOREGROUND,
    "xtick.labelcolor": FOREGROUND,
    "ytick.labelcolor": FOREGROUND,
    "legend.edgecolor": FOREGROUND,
    "legend.labelcolor": FOREGROUND,
    "grid.color": FOREGROUND,
    "grid.alpha": 0.2,
    "hatch.color": FOREGROUND,
    "patch.edgecolor": FOREGROUND,
    # colour-blind-safe colours
    "image.cmap": "viridis",
    "axes.prop_cycle": cycler(color=_OKABE_ITO),
    # modest sizes: pages stay light
    "figure.figsize": (4.8, 3.0),
    "figure.dpi": 100,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
}

_SAVE_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def use_style() -> None:
    """Apply `STYLE` to matplotlib globally (the docs' `_setup.py` calls this once)."""
    plt.rcParams.update(STYLE)


@contextmanager
def _style() -> Iterator[None]:
    with plt.rc_context(STYLE):
        yield


def new_figure(**kwargs: Any) -> tuple[Figure, Any]:
    """`plt.subplots(**kwargs)` under the site's style; returns `(fig, ax)`."""
    with _style():
        return plt.subplots(**kwargs)


# ---------------------------------------------------------------------------------------------
# SVG post-processing


_XML_PROLOGUE_RE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_METADATA_RE = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
# matplotlib's global `*{stroke-linejoin: round; stroke-linecap: butt}` would apply to the
# whole page once inlined; site.css scopes the same rule to figures.
_STYLE_RE = re.compile(r"<style[^>]*>.*?</style>\s*", re.DOTALL)
_EMPTY_DEFS_RE = re.compile(r"<defs>\s*</defs>\s*")
_FONT_FAMILY_RE = re.compile(r"font-family:[^;\"]*;?\s*")
_ID_RE = re.compile(r'\sid="([^"]+)"')
_REF_RE = re.compile(r'(url\(#|href="#)([^")]+)')
_BETWEEN_TAGS_RE = re.compile(r">\s+<")
_NEWLINES_RE = re.compile(r"\s*\n\s*")

_prefix_uses: dict[str, int] = {}


def _unique_prefix(digest: str) -> str:
    # Identical figures (same content and caption) on one page would share ids; a counter
    # keeps them apart. Builds render pages in nav order, so this is deterministic too.
    count = _prefix_uses.get(digest, 0)
    _prefix_uses[digest] = count + 1
    return f"f{digest}-" if count == 0 else f"f{digest}{count}-"


_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_G_TAG_RE = re.compile(r"<g(?:\s[^>]*)?>|</g>")


def _unwrap_bare_groups(svg: str) -> str:
    """Drop `<g>` elements without attributes, keeping their children.

    matplotlib wraps every artist in a `<g id="...">`; once the unreferenced ids are gone most
    of them carry nothing, and they were most of a figure's elements (a page's DOM size).
    """
    out, kept, position = [], [], 0
    for m in _G_TAG_RE.finditer(svg):
        out.append(svg[position : m.start()])
        position = m.end()
        tag = m.group(0)
        if tag == "</g>":
            if kept.pop():
                out.append(tag)
        elif tag == "<g>":
            kept.append(False)
        else:
            kept.append(True)
            out.append(tag)
    out.append(svg[position:])
    return "".join(out)


def _clean_svg(svg: str, *, alt: str, key: str) -> str:
    svg = _XML_PROLOGUE_RE.sub("", svg, count=1)
    svg = _METADATA_RE.sub("", svg)
    svg = _COMMENT_RE.sub("", svg)
    svg = _STYLE_RE.sub("", svg)
    svg = _EMPTY_DEFS_RE.sub("", svg)
    svg = _FONT_FAMILY_RE.sub("", svg)
    svg = re.sub(re.escape(FOREGROUND), "currentColor", svg, flags=re.IGNORECASE)
    svg = _NEWLINES_RE.sub(" ", svg)
    svg = _BETWEEN_TAGS_RE.sub("><", svg).strip()

    # Keep only the ids something refers to, prefixed so that figures never collide.
    referenced = {m.group(2) for m in _REF_RE.finditer(svg)}
    digest = hashlib.sha256((key + svg).encode()).hexdigest()[:8]
    prefix = _unique_prefix(digest)

    def _rename_id(m: re.Match[str]) -> str:
        return f' id="{prefix}{m.group(1)}"' if m.group(1) in referenced else ""

    svg = _ID_RE.sub(_rename_id, svg)
    svg = _REF_RE.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)
    svg = _unwrap_bare_groups(svg)

    label = html.escape(alt, quote=True)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" class="ar-svg" ', 1)
    head_end = svg.index(">") + 1
    return f"{svg[:head_end]}<title>{html.escape(alt)}</title>{svg[head_end:]}"


_CAPTION_MATH_RE = re.compile(r"(?<![\\$])\$(?![\s$])((?:[^$\\]|\\.)+?)(?<!\s)\$(?![\d$])")
_CAPTION_CODE_RE = re.compile(r"`([^`]+)`")


def _caption_html(caption: str) -> str:
    """Escape a caption, turning `$...$` into MathML and backticks into `<code>`."""
    parts = []
    position = 0
    for m in _CAPTION_MATH_RE.finditer(caption):
        parts.append(html.escape(caption[position : m.start()]))
        parts.append(latex_to_mathml(m.group(1), display=False))
        position = m.end()
    parts.append(html.escape(caption[position:]))
    text = "".join(parts).replace("\\$", "$")
    return _CAPTION_CODE_RE.sub(r"<code>\1</code>", text)


@dataclass(frozen=True)
class Cells:
    """One matrix drawn on `ax` as cells centred on integer coordinates, row 0 first.

    Passed to `figure_html` (`cells=[...]`), it makes the figure explorable: the values,
    labels and the cells' place in the SVG go into the page, for `docs/assets/js/figures.js`.
    The cells span `x` from -0.5 to `S - 0.5` and `y` from -0.5 to `L - 0.5` in data
    coordinates, as `imshow` and the site's `pcolormesh` heatmaps draw them.
    """

    ax: Any
    values: Any  # array_like (L, S); NaN cells are reported as blank
    row_labels: Sequence[Any] | None = None
    col_labels: Sequence[Any] | None = None
    row_name: str = "query"
    col_name: str = "key"
    value_name: str = "weight"
    title: str = ""


_CELLS_GID = "ar-cells-"
_CELLS_RE = re.compile(
    r'<g id="ar-cells-(\d+)">\s*<path d="M ([-\d.e]+) ([-\d.e]+)\s+L [-\d.e]+ [-\d.e]+\s+'
    r'L ([-\d.e]+) ([-\d.e]+)\s+[^"]*"[^>]*/>\s*</g>\s*'
)


def _mark_cells(cells: Sequence[Cells]) -> list[dict[str, Any]]:
    """Add an invisible rectangle over each panel's cells (found again in the SVG)."""
    panels = []
    for k, panel in enumerate(cells):
        values = np.asarray(panel.values, dtype=float)
        if values.ndim != 2:
            raise ValueError(f"Cells needs a 2-D matrix, got shape {values.shape}")
        rows, cols = values.shape
        marker = plt.Rectangle(
            (-0.5, -0.5),
            cols,
            rows,
            fill=False,
            linewidth=0.0,
            edgecolor="none",
            gid=f"{_CELLS_GID}{k}",
            transform=panel.ax.transData,
        )
        panel.ax.add_artist(marker)
        panels.append(
            {
                "title": panel.title,
                "row": panel.row_name,
                "col": panel.col_name,
                "value": panel.value_name,
                "rows": _labels(panel.row_labels, rows),
                "cols": _labels(panel.col_labels, cols),
                # the build's numbers, exactly: the shortest repr that reads back the float
                "v": [[repr(float(x)) if np.isfinite(x) else None for x in r] for r in values],
            }
        )
    return panels


def _take_cells(svg: str, panels: list[dict[str, Any]]) -> tuple[str, str]:
    """Remove the marker rectangles; return the SVG and the figure's JSON data."""
    found = {}
    for m in _CELLS_RE.finditer(svg):
        # first vertex: the corner of cell (0, 0); third: the far corner of cell (L-1, S-1)
        found[int(m.group(1))] = [float(m.group(i)) for i in (2, 3, 4, 5)]
    if sorted(found) != list(range(len(panels))):
        raise RuntimeError(f"cells markers not found in the SVG: {sorted(found)}")
    for k, panel in enumerate(panels):
        panel["box"] = found[k]
    svg = _CELLS_RE.sub("", svg)
    return svg, json.dumps({"panels": panels}, ensure_ascii=False, separators=(",", ":"))


def figure_html(fig: Figure, *, caption: str, alt: str, cells: Sequence[Cells] = ()) -> str:
    """Render a matplotlib figure as an HTML `<figure>` with inline SVG, and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; drawn under `STYLE` (see `new_figure` and `use_style`) it follows the
        theme. Anything drawn in `FOREGROUND` becomes `currentColor`.
    caption : str
        Visible caption. Plain text; `$...$` becomes math and backticks code.
    alt : str
        Text alternative for screen readers: what the figure shows, not its caption again.
    cells : sequence of Cells
        The matrices of weights the figure draws, one per panel: embedded so that a reader
        can point at (or move the keyboard focus to) a cell and read its labels and value.

    Returns
    -------
    str
        `<figure class="ar-figure"><svg role="img" ...>...</svg><figcaption>...</figcaption>`
        and the closing `</figure>`.
    """
    if not caption.strip() or not alt.strip():
        plt.close(fig)
        raise ValueError("every figure needs a caption and alt text")
    buffer = io.StringIO()
    try:
        panels = _mark_cells(cells)
        with _style():
            fig.savefig(buffer, format="svg", metadata=_SAVE_METADATA)
    finally:
        plt.close(fig)
    svg, attributes = buffer.getvalue(), ""
    if panels:
        svg, data = _take_cells(svg, panels)
        # single quotes around JSON: no &quot; for every one of its double quotes
        escaped = html.escape(data, quote=False).replace("'", "&#39;")
        attributes = f" data-ar-heatmap='{escaped}'"
    svg = _clean_svg(svg, alt=alt, key=caption + "\0" + alt)
    return (
        f'<figure class="ar-figure"{attributes}>{svg}'
        f"<figcaption>{_caption_html(caption)}</figcaption></figure>"
    )


# ---------------------------------------------------------------------------------------------
# Ready-made figures


def _text_colour_on(rgb: tuple[float, float, float]) -> str:
    """Black or white, whichever contrasts more with the cell colour (WCAG luminance)."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # contrast with black (L + 0.05) / 0.05 versus with white 1.05 / (L + 0.05)
    return "#000000" if (luminance + 0.05) ** 2 > 0.05 * 1.05 else "#ffffff"


def _labels(labels: Sequence[Any] | None, n: int) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    labels = [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(f"expected {n} labels, got {len(labels)}")
    return labels


def _matrix_axes(
    shape: tuple[int, int], cell: float, *, extra_width: float = 0.0
) -> tuple[Figure, Any]:
    rows, cols = shape
    width = min(max(cols * cell + 1.2 + extra_width, 2.4), 7.0)
    height = min(max(rows * cell + 1.0, 1.8), 7.0)
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    return fig, ax


def heatmap(
    matrix: Any,
    *,
    row_labels: Sequence[Any] | None = None,
    col_labels: Sequence[Any] | None = None,
    caption: str,
    alt: str,
    annotate: bool = True,
    fmt: str = "{:.2f}",
    cmap: str = "viridis",
    vmin: float | None = 0.0,
    vmax: float | None = None,
    xlabel: str = "key",
    ylabel: str = "query",
    colorbar: bool = False,
    value_name: str = "weight",
) -> str:
    """A matrix as coloured cells, e.g. attention weights (rows: queries, columns: keys).

    Parameters
    ----------
    matrix : array_like of shape (L, S)
        The values; NaN and inf cells are left empty.
    row_labels, col_labels : sequence, optional
        Tick labels (tokens, positions); default `0 .. n-1`.
    caption, alt : str
        See `figure_html`.
    annotate : bool
        Print each value in its cell, in black or white, whichever contrasts more.
    fmt : str
        Format of the printed values.
    cmap : {"viridis", "cividis"}
        A colour-blind-safe colour map.
    vmin, vmax : float, optional
        Colour scale limits. The default, 0 to the largest value, suits weights; give
        `vmax=1.0` to compare several figures of probabilities, `vmin=None` for signed data.
    xlabel, ylabel : str
        Axis titles.
    colorbar : bool
        Add a colour bar.
    value_name : str
        What a cell holds, as the figure's readout names it ("weight", "score").

    Returns
    -------
    str
        The HTML `<figure>`.
    """
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {values.shape}")
    if cmap not in ("viridis", "cividis"):
        raise ValueError(f"use a colour-blind-safe colour map (viridis, cividis), not {cmap!r}")
    rows, cols = values.shape
    rlabels, clabels = _labels(row_labels, rows), _labels(col_labels, cols)
    with _style():
        fig, ax = _matrix_axes(values.shape, 0.55, extra_width=0.8 if colorbar else 0.0)
        mesh = ax.pcolormesh(
            np.arange(cols + 1) - 0.5,
            np.arange(rows + 1) - 0.5,
            np.ma.masked_invalid(values),
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            edgecolors="face",
            linewidth=0.0,
        )
        ax.set_xticks(range(cols), clabels, rotation=90 if max(map(len, clabels)) > 3 else 0)
        ax.set_yticks(range(rows), rlabels)
        ax.set_xlabel(xlabel, labelpad=6)
        ax.set_ylabel(ylabel, labelpad=6)
        if annotate:
            size = 9 if max(rows, cols) <= 8 else 7
            for (i, j), value in np.ndenumerate(values):
                if not np.isfinite(value):
                    continue
                rgb = to_rgb(mesh.cmap(mesh.norm(value)))
                ax.text(
                    j,
                    i,
                    fmt.format(value),
                    ha="center",
                    va="center",
                    fontsize=size,
                    color=_text_colour_on(rgb),
                )
        if colorbar:
            fig.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04).outline.set_visible(False)
        cells = Cells(ax, values, rlabels, clabels, ylabel, xlabel, value_name)
        return figure_html(fig, caption=caption, alt=alt, cells=[cells])


def mask_figure(
    mask: Any,
    *,
    row_labels: Sequence[Any] | None = None,
    col_labels: Sequence[Any] | None = None,
    caption: str,
    alt: str,
    true_label: str = "may attend (True)",
    false_label: str = "masked (False)",
    xlabel: str = "key",
    ylabel: str = "query",
) -> str:
    """A boolean mask: filled cells are `True` (may attend), empty outlined cells `False`.

    Filled versus empty is read without colour; the fill is cividis' light end, which
    stands out on both the light and the dark page.

    Parameters
    ----------
    mask : array_like of bool, shape (L, S)
        The mask, True = may attend (the convention of the whole package).
    row_labels, col_labels : sequence, optional
        Tick labels; default `0 .. n-1`.
    caption, alt : str
        See `figure_html`.
    true_label, false_label : str
        Legend entries.
    xlabel, ylabel : str
        Axis titles.

    Returns
    -------
    str
        The HTML `<figure>`.
    """
    values = np.asarray(mask)
    if values.dtype != bool or values.ndim != 2:
        raise ValueError(f"mask_figure needs a 2-D bool array, got {values.dtype} {values.shape}")
    rows, cols = values.shape
    rlabels, clabels = _labels(row_labels, rows), _labels(col_labels, cols)
    fill = plt.get_cmap("cividis")(0.85)
    with _style():
        fig, ax = _matrix_axes(values.shape, 0.4)
        # All the cells of one kind are one compound path: one SVG element, not one per cell
        # (a 32 by 32 grid of tiles was a thousand elements of the page's DOM).
        for allowed in (True, False):
            cells = [
                MplPath.unit_rectangle().transformed(
                    Affine2D().scale(0.9).translate(j - 0.45, i - 0.45)
                )
                for i, j in zip(*np.nonzero(values == allowed), strict=True)
            ]
            if cells:
                ax.add_patch(
                    PathPatch(
                        MplPath.make_compound_path(*cells),
                        facecolor=fill if allowed else "none",
                        edgecolor=fill if allowed else FOREGROUND,
                        linewidth=0.8,
                        alpha=1.0 if allowed else 0.5,
                    )
                )
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_xticks(range(cols), clabels, rotation=90 if max(map(len, clabels)) > 3 else 0)
        ax.set_yticks(range(rows), rlabels)
        ax.set_xlabel(xlabel, labelpad=6)
        ax.set_ylabel(ylabel, labelpad=6)
        ax.legend(
            handles=[
                Patch(facecolor=fill, edgecolor=fill, label=true_label),
                Patch(facecolor="none", edgecolor=FOREGROUND, label=false_label),
            ],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.02),
            ncol=2,
            frameon=False,
            fontsize=8,
            handlelength=1.0,
        )
        return figure_html(fig, caption=caption, alt=alt)
