"""The site's social (Open Graph) image, drawn at build time: the title beside attention weights.

A PNG of 1200 × 630 pixels, the size link previews expect, referenced by every page's
`og:image` and `twitter:image` (overrides/main.html). It replaces the seed article's cover, a
third-party placeholder URL. The heatmap shows real output of `attention_ref`: the causal
attention weights of a small seeded example.

Reproducible byte for byte: no PNG text chunk (matplotlib's "Software" is removed), no time
chunk, the DejaVu Sans font that matplotlib ships, rendering settings pinned against a
matplotlibrc, and a seeded generator for the data.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure

import attention_ref as ar

__all__ = ["ALT", "HEIGHT", "WIDTH", "cover_png"]

WIDTH, HEIGHT = 1200, 630
_DPI = 100

#: Alt text of the image (og:image:alt, twitter:image:alt).
ALT = (
    "The article's title beside a heatmap of causal attention weights computed by attention_ref: "
    "each row is a query, each column a key, and only keys up to the query's position are lit."
)

_BACKGROUND = "#1a1f4e"  # a deep indigo, darker than the theme's header
_TEXT = "#ffffff"
_MUTED = "#c5cae9"  # Material indigo 100: readable on the background


def _weights(n: int = 8) -> np.ndarray:
    """Causal attention weights (L = S = n) of a seeded example, from attention_ref."""
    rng = np.random.default_rng(20240320)
    q = rng.normal(size=(n, 16))
    k = q + 0.5 * rng.normal(size=(n, 16))  # keys near their own query: a visible diagonal
    v = rng.normal(size=(n, 4))
    _, probs = ar.scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    return probs


def cover_png(title: str, subtitle: str, footer: str) -> bytes:
    """The PNG bytes of the cover: `title` (wrapped), `subtitle` and `footer`, and the heatmap."""
    style = {
        "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
        "text.color": _TEXT,
        # pinned to matplotlib's defaults, so that a matplotlibrc cannot change the pixels
        "text.antialiased": True,
        "text.hinting": "force_autohint",
        "image.interpolation": "nearest",
        "savefig.bbox": "standard",  # never "tight": the image must stay 1200 × 630
    }
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(WIDTH / _DPI, HEIGHT / _DPI), dpi=_DPI, facecolor=_BACKGROUND)
        title_lines = textwrap.wrap(title, width=18)
        fig.text(
            0.06,
            0.87,
            "\n".join(title_lines),
            fontsize=40 if len(title_lines) <= 4 else 32,
            fontweight="bold",
            va="top",
            linespacing=1.1,
        )
        fig.text(
            0.06,
            0.34,
            "\n".join(textwrap.wrap(subtitle, width=40)),
            fontsize=19,
            color=_MUTED,
            va="top",
            linespacing=1.35,
        )
        fig.text(0.06, 0.08, footer, fontsize=19, color=_TEXT, fontweight="bold", va="bottom")

        side = 0.74 * HEIGHT  # the heatmap's side, in pixels
        ax = fig.add_axes((0.60, 0.15, side / WIDTH, side / HEIGHT))
        weights = _weights()
        ax.imshow(
            np.ma.masked_equal(weights, 0.0),
            cmap="viridis",
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_facecolor("#262c63")  # the masked (future) keys: darker than the lit cells
        ax.set_xlabel("keys", color=_MUTED, fontsize=16)
        ax.set_ylabel("queries", color=_MUTED, fontsize=16)

        buffer = io.BytesIO()
        fig.savefig(
            buffer,
            format="png",
            dpi=_DPI,
            facecolor=_BACKGROUND,
            metadata={"Software": None},
            pil_kwargs={"optimize": True},
        )
    return buffer.getvalue()
