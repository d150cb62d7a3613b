"""Diagrams of the computation, drawn at build time from the executed examples' arrays.

A diagram is a flow of arrays: each `Node` is one array of the example (its shape gives the
size of the drawn block and the printed shape; `heat=True` colours the block with the array's
own values, e.g. the weights), placed in a row and a column of a grid, and each `Edge` is an
arrow with an optional label (the operation). `flow` returns an HTML `<figure>` with an
inline SVG, so a changed example changes its diagram:

```python
print(diagrams.flow(
    [Node("x", "X", x, row=0, col=0.5), Node("q", "Q = X W_q", q, row=1, col=0.5)],
    [Edge("x", "q", "× W_q")],
    caption="...", alt="...",
))
```

The SVG is hand-written (no matplotlib): text and lines in `currentColor`, the theme's text
colour, light and dark; blocks tinted with the Okabe-Ito colours at low opacity; drawn at
`WIDTH` = 340 CSS pixels, the text column of a 390-pixel phone, so it is never scaled down
there. Reproducible: no ids, numbers printed with fixed precision. `role="img"`, an
`aria-label` and a `<title>` carry the alt text.

`frames(...)` wraps several figures as the steps of one stepped figure (`ar-frames`): every
frame is in the page; `docs/assets/js/figures.js` shows one at a time with buttons or a
slider, and without JavaScript all of them are shown in order.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from attention_ref_site.figures import _caption_html

__all__ = [
    "WIDTH",
    "Edge",
    "Node",
    "bars",
    "blocks_frame",
    "flow",
    "frames",
    "head_view",
    "shape_text",
]

WIDTH = 340  # CSS pixels: the text column of a 390-pixel-wide phone
FONT = 12  # px
ROLE_COLOURS = {  # Okabe-Ito, as the line plots of the site
    "input": "#0072B2",
    "query": "#E69F00",
    "key": "#009E73",
    "value": "#D55E00",
    "weights": "#56B4E9",
    "output": "#CC79A7",
}
_LABEL_H = 16  # height of the label line above a block
_SHAPE_H = 15  # height of the shape line below a block
_GAP = 34  # vertical room for the arrows between rows
_MAX_BLOCK_W, _MAX_BLOCK_H = 96, 60
_MAX_CELL = 10


@dataclass(frozen=True)
class Node:
    """One array in the diagram.

    Parameters
    ----------
    key : str
        Name for the edges.
    label : str
        Shown above the block; `_x` or `_{xy}` is a subscript (`W_q`).
    array : array_like, optional
        Its last two axes give the block's rows and columns; its shape is printed below.
    row : int
        Row of the grid, from the top.
    col : float
        Centre of the block, as a fraction of the width (0.5 is the middle).
    role : str
        A key of `ROLE_COLOURS` (the tint of the block).
    heat : bool
        Colour the cells with the values of the last two axes (viridis, 0 to the maximum).
    dims : str
        Names of the axes, printed before the sizes, e.g. "L × D".
    """

    key: str
    label: str
    array: Any = None
    row: int = 0
    col: float = 0.5
    role: str = "input"
    heat: bool = False
    dims: str = ""


@dataclass(frozen=True)
class Edge:
    """An arrow from one node to another, with an optional label (the operation)."""

    source: str
    target: str
    label: str = ""


def shape_text(shape: Sequence[int]) -> str:
    """`(5, 8)` -> "5 × 8"."""
    return " \u00d7 ".join(str(int(n)) for n in shape)


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _rich(text: str) -> str:
    """Escape `text` for SVG, turning `_x` and `_{xy}` into subscripts."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "_" and i + 1 < len(text):
            if text[i + 1] == "{":
                end = text.index("}", i)
                sub, i = text[i + 2 : end], end + 1
            else:
                sub, i = text[i + 1], i + 2
            out.append(
                f'<tspan baseline-shift="sub" font-size="{FONT - 3}">{html.escape(sub)}</tspan>'
            )
        else:
            out.append(html.escape(text[i]))
            i += 1
    return "".join(out)


@dataclass
class _Placed:
    node: Node
    x: float  # block's left
    y: float  # block's top
    w: float
    h: float
    rows: int
    cols: int

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


def _block_size(array: Any) -> tuple[float, float, int, int]:
    if array is None:
        return 60.0, 14.0, 0, 0
    values = np.asarray(array)
    rows, cols = (values.shape[-2], values.shape[-1]) if values.ndim >= 2 else (1, values.shape[-1])
    cell = min(_MAX_CELL, _MAX_BLOCK_W / cols, _MAX_BLOCK_H / rows)
    return cols * cell, rows * cell, rows, cols


def _viridis(values: np.ndarray) -> list[list[str]]:
    top = float(np.nanmax(values)) or 1.0
    cmap = plt.get_cmap("viridis")
    return [
        ["#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in cmap(v / top)[:3])) for v in row]
        for row in values
    ]


def _draw_block(p: _Placed) -> list[str]:
    node, parts = p.node, []
    colour = ROLE_COLOURS.get(node.role, ROLE_COLOURS["input"])
    x, y, w, h = (_num(v) for v in (p.x, p.y, p.w, p.h))
    parts.append(
        f'<text x="{_num(p.cx)}" y="{_num(p.y - 5)}" text-anchor="middle">'
        f"{_rich(node.label)}</text>"
    )
    if node.heat and node.array is not None:
        values = np.asarray(node.array, dtype=float).reshape(p.rows, p.cols)
        colours = _viridis(values)
        cw, ch = p.w / p.cols, p.h / p.rows
        for i in range(p.rows):
            for j in range(p.cols):
                parts.append(
                    f'<rect x="{_num(p.x + j * cw)}" y="{_num(p.y + i * ch)}" '
                    f'width="{_num(cw + 0.3)}" height="{_num(ch + 0.3)}" fill="{colours[i][j]}"/>'
                )
        parts.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" '
            'stroke="currentColor" stroke-width="1"/>'
        )
    else:
        parts.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{colour}" fill-opacity="0.35" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
        if p.rows and p.cols and p.rows * p.cols <= 200:  # faint grid: one line per row/column
            lines = []
            for i in range(1, p.rows):
                yy = _num(p.y + i * p.h / p.rows)
                lines.append(f"M{x} {yy}H{_num(p.x + p.w)}")
            for j in range(1, p.cols):
                xx = _num(p.x + j * p.w / p.cols)
                lines.append(f"M{xx} {y}V{_num(p.y + p.h)}")
            if lines:
                parts.append(
                    f'<path d="{"".join(lines)}" stroke="currentColor" stroke-opacity="0.25" '
                    'stroke-width="0.5" fill="none"/>'
                )
    if node.array is not None:
        shape = shape_text(np.shape(node.array))
        text = f"{node.dims} = {shape}" if node.dims else shape
        parts.append(
            f'<text x="{_num(p.cx)}" y="{_num(p.y + p.h + 12)}" text-anchor="middle" '
            f'font-size="{FONT - 1}" fill-opacity="0.8">{_rich(text)}</text>'
        )
    return parts


def _draw_edge(a: _Placed, b: _Placed, label: str) -> list[str]:
    x1, y1 = a.cx, a.y + a.h + (_SHAPE_H if a.node.array is not None else 2)
    # arrive on the target's label line, spread by where the arrow comes from
    x2 = b.cx + max(-b.w / 3, min(b.w / 3, (a.cx - b.cx) * 0.25))
    y2 = b.y - _LABEL_H - 1
    parts = [
        f'<path d="M{_num(x1)} {_num(y1)}L{_num(x2)} {_num(y2 - 5)}" stroke="currentColor" '
        'stroke-width="1.2" fill="none"/>'
    ]
    # arrowhead along the segment's direction
    dx, dy = x2 - x1, y2 - 5 - y1
    n = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / n, dy / n
    tip = (x2, y2)
    base = (x2 - 6 * ux, y2 - 6 * uy)
    left = (base[0] - 3.5 * uy, base[1] + 3.5 * ux)
    right = (base[0] + 3.5 * uy, base[1] - 3.5 * ux)
    points = " ".join(f"{_num(px)},{_num(py)}" for px, py in (tip, left, right))
    parts.append(f'<polygon points="{points}" fill="currentColor"/>')
    if label:
        mx, my = x1 + 0.55 * (x2 - x1), y1 + 0.55 * (y2 - y1)
        anchor = "start" if x2 >= x1 else "end"
        offset = 4 if x2 >= x1 else -4
        lift = 4.0
        if abs(x2 - x1) < 2:
            anchor, offset = "start", 5
        elif abs(x2 - x1) > abs(y2 - y1):  # a shallow arrow: the label above it, centred
            anchor, offset, lift = "middle", 0, -6.0
        parts.append(
            f'<text x="{_num(mx + offset)}" y="{_num(my + lift)}" text-anchor="{anchor}" '
            f'font-size="{FONT - 1}" font-style="italic">{_rich(label)}</text>'
        )
    return parts


def _svg(nodes: Sequence[Node], edges: Sequence[Edge], alt: str) -> str:
    keys = [n.key for n in nodes]
    if len(set(keys)) != len(keys):
        raise ValueError(f"node keys must be unique: {keys}")
    by_row: dict[int, list[Node]] = {}
    for n in nodes:
        by_row.setdefault(n.row, []).append(n)
    placed: dict[str, _Placed] = {}
    y = 4.0
    for r in sorted(by_row):
        sizes = {n.key: _block_size(n.array) for n in by_row[r]}
        top = y + _LABEL_H
        for n in by_row[r]:
            w, h, rows, cols = sizes[n.key]
            cx = min(max(n.col * WIDTH, w / 2 + 2), WIDTH - w / 2 - 2)
            placed[n.key] = _Placed(n, cx - w / 2, top, w, h, rows, cols)
        height = max(h for _, h, _, _ in sizes.values())
        y = top + height + _SHAPE_H + _GAP
    total_h = y - _GAP + 2
    parts = []
    for e in edges:
        if e.source not in placed or e.target not in placed:
            raise ValueError(f"edge {e.source!r} -> {e.target!r}: unknown node")
        parts += _draw_edge(placed[e.source], placed[e.target], e.label)
    for p in placed.values():
        parts += _draw_block(p)
    label = html.escape(alt, quote=True)
    return (
        f'<svg role="img" aria-label="{label}" class="ar-svg ar-diagram-svg" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_num(total_h)}" '
        f'viewBox="0 0 {WIDTH} {_num(total_h)}" font-size="{FONT}" fill="currentColor">'
        f"<title>{html.escape(alt)}</title>{''.join(parts)}</svg>"
    )


def flow(nodes: Sequence[Node], edges: Sequence[Edge], *, caption: str, alt: str) -> str:
    """A diagram of arrays and the operations between them, as an HTML `<figure>`.

    Parameters
    ----------
    nodes : sequence of Node
        The arrays, each placed in a row and a column.
    edges : sequence of Edge
        Arrows from node to node (drawn from the bottom of one to the top of the other).
    caption : str
        Shown under the figure (`$...$` math, backticks code).
    alt : str
        What the diagram shows, for a reader who cannot see it.

    Returns
    -------
    str
        `<figure class="ar-figure ar-diagram">` with the inline SVG and the caption.
    """
    if not caption.strip() or not alt.strip():
        raise ValueError("every figure needs a caption and alt text")
    svg = _svg(nodes, edges, alt)
    return (
        f'<figure class="ar-figure ar-diagram">{svg}'
        f"<figcaption>{_caption_html(caption)}</figcaption></figure>"
    )


def frames(
    figures: Sequence[str],
    *,
    titles: Sequence[str],
    label: str = "Step",
    control: str = "buttons",
    start: int = 0,
) -> str:
    """Several figures (HTML strings) as the steps of one stepped figure.

    Every frame is in the page, in order; with JavaScript one is shown at a time, with
    "Previous" and "Next" buttons (`control="buttons"`) or a slider (`control="slider"`), and
    an announcement of the step's title. `start` is the frame shown first.
    """
    if len(figures) != len(titles) or not figures:
        raise ValueError("frames needs one title per figure, and at least one figure")
    if control not in ("buttons", "slider"):
        raise ValueError(f"control is 'buttons' or 'slider', not {control!r}")
    items = "".join(
        f'<div class="ar-frame" data-ar-title="{html.escape(t, quote=True)}">{f}</div>'
        for f, t in zip(figures, titles, strict=True)
    )
    return (
        f'<div class="ar-frames" data-ar-control="{control}" '
        f'data-ar-label="{html.escape(label, quote=True)}" data-ar-start="{int(start)}">'
        f"{items}</div>"
    )


def blocks_frame(
    values: Sequence[float],
    *,
    labels: Sequence[str],
    block: int,
    current: int,
    lines: Sequence[str],
    caption: str,
    alt: str,
) -> str:
    """One step of a blocked computation over a row of values (e.g. one query's scores).

    The values are drawn as a row of cells with their numbers, grouped in blocks of `block`:
    blocks before `current` are filled (already read), block `current` is outlined thick (read
    now), the later ones are dashed (not read yet). `lines` (the running state after this
    step, as the build computed it) are printed under the row.
    """
    n = len(values)
    if len(labels) != n:
        raise ValueError(f"expected {n} labels, got {len(labels)}")
    if not caption.strip() or not alt.strip():
        raise ValueError("every figure needs a caption and alt text")
    gap = 8.0
    blocks = -(-n // block)
    cell = min(44.0, (WIDTH - 8 - gap * (blocks - 1)) / n)
    colour = ROLE_COLOURS["key"]
    parts = []
    y0 = 18.0
    for j, (value, label) in enumerate(zip(values, labels, strict=True)):
        b = j // block
        x = 4 + j * cell + b * gap
        parts.append(
            f'<text x="{_num(x + cell / 2)}" y="{_num(y0 - 5)}" text-anchor="middle" '
            f'font-size="{FONT - 1}">{_rich(label)}</text>'
        )
        if b < current:
            style = f'fill="{colour}" fill-opacity="0.35" stroke="{colour}" stroke-width="1"'
        elif b == current:
            style = f'fill="{colour}" fill-opacity="0.3" stroke="currentColor" stroke-width="2.5"'
        else:
            style = 'fill="none" stroke="currentColor" stroke-opacity="0.6" stroke-dasharray="3 2"'
        parts.append(
            f'<rect x="{_num(x + 1)}" y="{_num(y0)}" width="{_num(cell - 2)}" '
            f'height="{_num(cell * 0.7)}" {style}/>'
        )
        parts.append(
            f'<text x="{_num(x + cell / 2)}" y="{_num(y0 + cell * 0.35 + 4)}" '
            f'text-anchor="middle">{html.escape(f"{value:g}")}</text>'
        )
    bx = 4 + current * block * cell + current * gap
    bw = min(block, n - current * block) * cell
    y = y0 + cell * 0.7 + 14
    parts.append(
        f'<text x="{_num(bx + bw / 2)}" y="{_num(y)}" text-anchor="middle" '
        f'font-size="{FONT - 1}" font-weight="bold">block {current}</text>'
    )
    y += 8
    for line in lines:
        y += 17
        parts.append(f'<text x="4" y="{_num(y)}">{_rich(line)}</text>')
    height = y + 6
    label = html.escape(alt, quote=True)
    svg = (
        f'<svg role="img" aria-label="{label}" class="ar-svg ar-diagram-svg" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_num(height)}" '
        f'viewBox="0 0 {WIDTH} {_num(height)}" font-size="{FONT}" fill="currentColor">'
        f"<title>{html.escape(alt)}</title>{''.join(parts)}</svg>"
    )
    return (
        f'<figure class="ar-figure ar-diagram">{svg}'
        f"<figcaption>{_caption_html(caption)}</figcaption></figure>"
    )


def bars(
    values: Sequence[float],
    *,
    labels: Sequence[str],
    lines: Sequence[str],
    caption: str,
    alt: str,
    vmax: float = 1.0,
    height: float = 110.0,
) -> str:
    """Values in [0, vmax] as vertical bars (e.g. one query's weights), with a few lines of
    text (the build's numbers) underneath. Small: one rectangle per value."""
    n = len(values)
    if len(labels) != n:
        raise ValueError(f"expected {n} labels, got {len(labels)}")
    if not caption.strip() or not alt.strip():
        raise ValueError("every figure needs a caption and alt text")
    left, top = 30.0, 8.0
    step = (WIDTH - left - 4) / n
    base = top + height
    colour = ROLE_COLOURS["weights"]
    parts = []
    for tick in (0.0, 0.5, 1.0):
        y = base - tick / vmax * height
        parts.append(
            f'<path d="M{_num(left)} {_num(y)}H{WIDTH - 4}" stroke="currentColor" '
            f'stroke-opacity="{0.8 if tick == 0 else 0.25}" stroke-width="1"/>'
            f'<text x="{_num(left - 4)}" y="{_num(y + 4)}" text-anchor="end" '
            f'font-size="{FONT - 2}">{tick:g}</text>'
        )
    for j, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = max(0.0, min(float(value), vmax)) / vmax * height
        x = left + j * step
        parts.append(
            f'<rect x="{_num(x + 1)}" y="{_num(base - h)}" width="{_num(step - 2)}" '
            f'height="{_num(h)}" fill="{colour}" stroke="currentColor" stroke-width="0.6"/>'
        )
        if n <= 16:
            parts.append(
                f'<text x="{_num(x + step / 2)}" y="{_num(base + 12)}" text-anchor="middle" '
                f'font-size="{FONT - 3}">{html.escape(label)}</text>'
            )
    y = base + 14
    for line in lines:
        y += 17
        parts.append(f'<text x="4" y="{_num(y)}">{_rich(line)}</text>')
    total = y + 6
    label = html.escape(alt, quote=True)
    svg = (
        f'<svg role="img" aria-label="{label}" class="ar-svg ar-diagram-svg" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_num(total)}" '
        f'viewBox="0 0 {WIDTH} {_num(total)}" font-size="{FONT}" fill="currentColor">'
        f"<title>{html.escape(alt)}</title>{''.join(parts)}</svg>"
    )
    return (
        f'<figure class="ar-figure ar-diagram">{svg}'
        f"<figcaption>{_caption_html(caption)}</figcaption></figure>"
    )


HEAD_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


def head_view(
    weights: Any,
    *,
    queries: Sequence[str],
    keys: Sequence[str],
    heads: Sequence[str],
    caption: str,
    alt: str,
    query_name: str = "query",
    threshold: float = 0.01,
) -> str:
    """Attention as lines between two columns of tokens, one colour per head (bertviz's view).

    Queries on the left, keys on the right; a line from query `i` to key `j` for each head,
    as opaque and as thick as the weight (weights below `threshold` are not drawn). Without
    JavaScript every line of every head is shown. With `docs/assets/js/figures.js` the reader
    picks one head or all, and a query token (pointer, or focus and the arrow keys): only its
    lines stay, and a live region reads the build's weights of that token, largest first.

    Parameters
    ----------
    weights : array_like, shape (H, L, S)
        Each head's weights; NaN where a query may not look.
    queries, keys : sequence of str
        The L query and S key tokens.
    heads : sequence of str
        The H heads' names.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 3 or w.shape[1:] != (len(queries), len(keys)) or w.shape[0] != len(heads):
        raise ValueError(
            f"head_view needs weights of shape (H, L, S) = ({len(heads)}, {len(queries)}, "
            f"{len(keys)}), got {w.shape}"
        )
    if not caption.strip() or not alt.strip():
        raise ValueError("every figure needs a caption and alt text")
    H, L, S = w.shape
    step = 18.0
    top = 8.0
    left_x, right_x = WIDTH * 0.33, WIDTH * 0.67
    height = top + max(L, S) * step + 4

    def y_of(i: int, n: int) -> float:
        return top + (i + 0.5) * step + (max(L, S) - n) * step / 2

    lines = []
    for h in range(H):
        colour = HEAD_COLOURS[h % len(HEAD_COLOURS)]
        for i in range(L):
            for j in range(S):
                value = w[h, i, j]
                if not np.isfinite(value) or value < threshold:
                    continue
                lines.append(
                    f'<path data-h="{h}" data-i="{i}" d="M{_num(left_x + 4)} '
                    f'{_num(y_of(i, L))}L{_num(right_x - 4)} {_num(y_of(j, S))}" '
                    f'stroke="{colour}" stroke-opacity="{value:.3f}" '
                    f'stroke-width="{_num(0.8 + 3 * value)}"/>'
                )
    tokens = [
        f'<text class="ar-hv-q" data-i="{i}" x="{_num(left_x - 4)}" y="{_num(y_of(i, L) + 4)}" '
        f'text-anchor="end">{html.escape(t)}</text>'
        for i, t in enumerate(queries)
    ] + [
        f'<text x="{_num(right_x + 4)}" y="{_num(y_of(j, S) + 4)}">{html.escape(t)}</text>'
        for j, t in enumerate(keys)
    ]
    # The readouts, written by the build: for each head and query, the keys by weight.
    texts = []
    for h in range(H):
        per_query = []
        for i in range(L):
            row = w[h, i]
            order = [
                j
                for j in np.argsort(-np.nan_to_num(row, nan=-1.0), kind="stable")
                if np.isfinite(row[j])
            ][:3]
            best = ", ".join(f"\u201c{keys[j]}\u201d {row[j]:.3f}" for j in order)
            per_query.append(f"{heads[h]}, {query_name} \u201c{queries[i]}\u201d looks at {best}")
        texts.append(per_query)
    data = json.dumps(
        {"heads": list(heads), "text": texts}, ensure_ascii=False, separators=(",", ":")
    )
    escaped = html.escape(data, quote=False).replace("'", "&#39;")
    label = html.escape(alt, quote=True)
    svg = (
        f'<svg role="img" aria-label="{label}" class="ar-svg ar-diagram-svg" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_num(height)}" '
        f'viewBox="0 0 {WIDTH} {_num(height)}" font-size="{FONT}" fill="currentColor">'
        f'<title>{html.escape(alt)}</title><g fill="none">{"".join(lines)}</g>'
        f"{''.join(tokens)}</svg>"
    )
    return (
        f"<figure class=\"ar-figure ar-diagram ar-headview\" data-ar-headview='{escaped}'>{svg}"
        f"<figcaption>{_caption_html(caption)}</figcaption></figure>"
    )
