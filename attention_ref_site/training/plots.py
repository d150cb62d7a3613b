"""Figures for the trained-model pages: weight matrices side by side, in the site's style.

`attention_ref_site.figures.heatmap` draws one matrix per figure; these pages compare two or
three (learned against true, head against head), so they share one figure and one colour
scale. The output is `figure_html`'s: inline SVG that follows the theme, with caption and alt.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb

from attention_ref_site.figures import Cells, figure_html, new_figure

#: The widest figure, in inches, that the page shows without scaling it down (the text column
#: is about 750 CSS pixels; figures are drawn at 96 pixels per inch).
MAX_WIDTH = 7.4
MAX_CELL = 0.42  # inches: 7 by 7 weights, two panels, values printed at 7 points
MIN_ANNOTATED_CELL = 0.25  # inches: below this, "0.97" in 6 points no longer fits


def _ink_on(rgb: tuple[float, float, float]) -> str:
    """Black on light cells, white on dark ones (relative luminance above or below ~0.18)."""
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18 else "#ffffff"


def heatmaps(
    matrices: Sequence[np.ndarray],
    *,
    titles: Sequence[str],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    caption: str,
    alt: str,
    xlabel: str = "key",
    ylabel: str = "query",
    annotate: bool = True,
    fmt: str = "{:.2f}",
    max_width: float = MAX_WIDTH,
) -> str:
    """Matrices of weights in [0, 1], side by side, on one viridis scale from 0 to 1.

    NaN cells (e.g. the masked half of a causal matrix) are left blank. The rows are labelled
    on the first panel only; every panel has its own title. The cells shrink until the
    figure fits `max_width` inches (by default the page's text column) at its natural
    size; values are printed in the cells (`annotate`) only while the cells can hold them.
    """
    arrays = [np.asarray(m, dtype=float) for m in matrices]
    rows, cols = arrays[0].shape
    assert all(a.shape == (rows, cols) for a in arrays), "the matrices must have one shape"
    n = len(arrays)
    cell = min(MAX_CELL, (max_width - 1.0 - 0.3 * n) / (n * cols))  # inches
    annotate = annotate and cell >= MIN_ANNOTATED_CELL
    fig, axes = new_figure(ncols=n, figsize=(n * (cols * cell + 0.3) + 1.0, rows * cell + 1.5))
    axes = np.atleast_1d(axes)
    cmap = plt.get_cmap("viridis")
    for i, (ax, values, title) in enumerate(zip(axes, arrays, titles, strict=True)):
        ax.pcolormesh(
            np.arange(cols + 1) - 0.5,
            np.arange(rows + 1) - 0.5,
            np.ma.masked_invalid(values),
            cmap=cmap,
            vmin=0.0,
            vmax=1.0,
            edgecolors="face",
            linewidth=0.0,
        )
        ax.set_aspect("equal")
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(length=0)
        ax.set_xticks(range(cols), col_labels, rotation=90, fontsize=8)
        ax.set_yticks(range(rows), row_labels if i == 0 else [""] * rows, fontsize=8)
        ax.set_xlabel(xlabel, labelpad=6, fontsize=9)
        if i == 0:
            ax.set_ylabel(ylabel, labelpad=6, fontsize=9)
        ax.set_title(title, fontsize=10, pad=4, y=-0.02, va="top")
        if annotate:
            for (r, c), value in np.ndenumerate(values):
                if np.isfinite(value) and value >= 0.005:
                    colour = _ink_on(to_rgb(cmap(value)))
                    ax.text(
                        c,
                        r,
                        fmt.format(value),
                        ha="center",
                        va="center",
                        fontsize=7 if cell >= 0.35 else 6,
                        color=colour,
                    )
    fig.tight_layout()
    cells = [
        Cells(ax, values, row_labels, col_labels, ylabel, xlabel, "weight", title)
        for ax, values, title in zip(axes, arrays, titles, strict=True)
    ]
    return figure_html(fig, caption=caption, alt=alt, cells=cells)
