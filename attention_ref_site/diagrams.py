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
frame is in the page (all but the first shown in a `<noscript>`, text until it is needed);
`docs/assets/js/figures.js` shows one at a time with buttons or a slider, and without
JavaScript all of them are shown in order.
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
    "block_table",
    "blocks_frame",
    "cell_grid",
    "flow",
    "frames",
    "head_view",
    "mask_grid",
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


def _svg_root(body: str, height: float, alt: str) -> str:
    """The `<svg>` element of a diagram: `WIDTH` wide, `height` high, `alt` as its name."""
    return (
        f'<svg role="img" aria-label="{html.escape(alt, quote=True)}" '
        'class="ar-svg ar-diagram-svg" '
        f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_num(height)}" '
        f'viewBox="0 0 {WIDTH} {_num(height)}" font-size="{FONT}" fill="currentColor">'
        f"<title>{html.escape(alt)}</title>{body}</svg>"
    )


def _figure(svg: str, caption: str) -> str:
    """A diagram's `<svg>` in its `<figure>`, with its caption."""
    return (
        f'<figure class="ar-figure ar-diagram">{svg}'
        f"<figcaption>{_caption_html(caption)}</figcaption></figure>"
    )


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
    return _svg_root("".join(parts), total_h, alt)


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
    return _figure(svg, caption)


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
    if not 0 <= start < len(figures):
        raise ValueError(f"start must index one of the {len(figures)} frames, got {start}")
    if any("<noscript" in f for f in figures):
        raise ValueError("a frame cannot hold a <noscript> (frames are wrapped in one)")
    # Only the first frame shown is in the DOM: the others wait in a <noscript>, whose content
    # a browser running scripts keeps as text (figures.js parses a frame when it is shown),
    # and that a browser without scripts shows, in order. Eight frames of a slider were
    # several hundred elements of the page.
    items = "".join(
        f'<div class="ar-frame" data-ar-title="{html.escape(t, quote=True)}">'
        f"{f if n == start else f'<noscript>{f}</noscript>'}</div>"
        for n, (f, t) in enumerate(zip(figures, titles, strict=True))
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
    svg = _svg_root("".join(parts), height, alt)
    return _figure(svg, caption)


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
    svg = _svg_root("".join(parts), total, alt)
    return _figure(svg, caption)


# cividis' light end, as figures.mask_figure: it stands out on both the light and the dark page
MASK_FILL = "#{:02x}{:02x}{:02x}".format(
    *(round(255 * c) for c in plt.get_cmap("cividis")(0.85)[:3])
)
# What a cell of a `cell_grid` can be: the SVG attributes of its path (and legend swatch).
# Filled, outlined and dashed read without colour.
CELL_KINDS: dict[str, dict[str, str]] = {
    "may attend": {"fill": MASK_FILL, "stroke": MASK_FILL},
    "masked": {"fill": "none", "stroke": "currentColor", "stroke-opacity": "0.45"},
    "read from the cache": {"fill": MASK_FILL, "stroke": MASK_FILL},
    "computed in this step": {"fill": ROLE_COLOURS["query"], "stroke": "currentColor"},
    "not computed": {
        "fill": "none",
        "stroke": "currentColor",
        "stroke-opacity": "0.4",
        "stroke-dasharray": "2 2",
    },
}


def _attributes(attributes: dict[str, str]) -> str:
    return "".join(f' {name}="{value}"' for name, value in attributes.items())


def cell_grid(
    panels: Sequence[tuple[str, Any]],
    *,
    kinds: Sequence[str],
    caption: str,
    alt: str,
    columns: int = 2,
    note: str = "rows: queries \u2193   columns: keys \u2192",
) -> str:
    """Small grids side by side, each cell drawn as one of `kinds` (keys of `CELL_KINDS`).

    Each panel is `(title, codes)`, `codes` a 2-D integer array whose values index `kinds`
    (a bool mask is `kinds[0]` for False and `kinds[1]` for True). All the cells of one kind
    in a panel are one `<path>`: the DOM stays small however large the grid. A legend names
    the kinds; `note` says what rows and columns are.
    """
    if not caption.strip() or not alt.strip():
        raise ValueError("every figure needs a caption and alt text")
    unknown = [k for k in kinds if k not in CELL_KINDS]
    if unknown or not panels:
        raise ValueError(f"cell_grid needs panels and kinds from {list(CELL_KINDS)}, got {unknown}")
    grids = [np.asarray(codes).astype(int) for _, codes in panels]
    for (title, _), g in zip(panels, grids, strict=True):
        if g.ndim != 2 or g.min() < 0 or g.max() >= len(kinds):
            raise ValueError(
                f"panel {title!r}: codes must be 2-D with values in 0..{len(kinds) - 1}, "
                f"got shape {g.shape}"
            )
    columns = max(1, min(columns, len(panels)))
    pad = 10.0
    panel_w = (WIDTH - pad * (columns - 1)) / columns
    cell = min(14.0, min(panel_w / g.shape[1] for g in grids))
    title_lines = max(title.count("\n") + 1 for title, _ in panels)
    title_h = 15.0 * title_lines + 2
    # each line of panels is as tall as its tallest grid
    heights = [
        title_h + cell * max(g.shape[0] for g in grids[r : r + columns])
        for r in range(0, len(grids), columns)
    ]
    parts = [f'<text x="0" y="12" font-size="{FONT - 1}">{html.escape(note)}</text>']
    top = 22.0
    for n, ((title, _), g) in enumerate(zip(panels, grids, strict=True)):
        x0 = (n % columns) * (panel_w + pad)
        y0 = top + sum(heights[: n // columns]) + pad * (n // columns)
        for k, line in enumerate(title.split("\n")):
            parts.append(
                f'<text x="{_num(x0)}" y="{_num(y0 + 12 + 15 * k)}" font-size="{FONT - 1}">'
                f"{html.escape(line)}</text>"
            )
        gy = y0 + title_h
        for code, kind in enumerate(kinds):
            cells = np.argwhere(g == code)
            if not len(cells):
                continue
            side = _num(cell - 2)
            d = "".join(
                f"M{_num(x0 + j * cell + 1)} {_num(gy + i * cell + 1)}h{side}v{side}h-{side}z"
                for i, j in cells
            )
            parts.append(f'<path d="{d}"{_attributes(CELL_KINDS[kind])} stroke-width="1"/>')
    y = top + sum(heights) + pad * len(heights) + 4
    x = 0.0
    for kind in kinds:
        width = 18 + 6.5 * len(kind)
        if x + width > WIDTH:
            x, y = 0.0, y + 18
        parts.append(
            f'<rect x="{_num(x + 1)}" y="{_num(y)}" width="11" height="11"'
            f"{_attributes(CELL_KINDS[kind])}/>"
            f'<text x="{_num(x + 17)}" y="{_num(y + 10)}" font-size="{FONT - 1}">'
            f"{html.escape(kind)}</text>"
        )
        x += width + 12
    total = y + 16
    svg = _svg_root("".join(parts), total, alt)
    return _figure(svg, caption)


def mask_grid(
    panels: Sequence[tuple[str, Any]], *, caption: str, alt: str, columns: int = 2
) -> str:
    """Boolean masks (True = may attend) as a `cell_grid`: filled cells may attend, outlined
    cells are masked. Filled versus outlined reads without colour."""
    bools = []
    for title, mask in panels:
        m = np.asarray(mask)
        if m.dtype != bool or m.ndim != 2:
            raise ValueError(f"mask {title!r} must be a 2-D bool array, got {m.dtype} {m.shape}")
        bools.append((title, m))
    return cell_grid(
        bools, kinds=["masked", "may attend"], caption=caption, alt=alt, columns=columns
    )


def block_table(
    block_tables: Any,
    seq_lens: Any,
    *,
    block_size: int,
    num_blocks: int,
    caption: str,
    alt: str,
    pad: int = -1,
) -> str:
    """Paged attention's block tables and the pool of blocks they point into (vLLM's layout).

    Top: one row per sequence, its block ids in order (`pad` entries drawn as "pad"), in the
    sequence's colour. Bottom: the pool, each block's slots filled in the colour of the
    sequence whose tokens they hold (a block two sequences share: each slot half one colour,
    half the other); unused slots are outlined. All from the arrays: `block_tables`
    (N, max_blocks), `seq_lens` (N,).
    """
    if not caption.strip() or not alt.strip():
        raise ValueError("every figure needs a caption and alt text")
    tables, lens = np.asarray(block_tables), np.asarray(seq_lens)
    if tables.ndim != 2 or lens.shape != tables.shape[:1]:
        raise ValueError(
            f"block_tables (N, max_blocks) and seq_lens (N,) must agree, got {tables.shape} "
            f"and {lens.shape}"
        )
    N, max_blocks = tables.shape
    if N > len(HEAD_COLOURS):
        raise ValueError(f"at most {len(HEAD_COLOURS)} sequences can be told apart, got {N}")
    inks = {"#0072B2": "#fff", "#D55E00": "#000"}  # text on a block: 4.5:1 or better
    used = -(-lens // block_size)  # (N,) blocks each sequence reads
    owners: dict[int, list[int]] = {}  # block id -> the sequences that read it
    for n in range(N):
        for b in range(int(used[n])):
            owners.setdefault(int(tables[n, b]), []).append(n)
    parts = [f'<text x="0" y="12" font-size="{FONT - 1}">block_tables: blocks in order</text>']
    label_w, box = 104.0, min(40.0, (WIDTH - 104.0) / max_blocks)
    y = 20.0
    for n in range(N):
        colour = HEAD_COLOURS[n]
        parts.append(
            f'<text x="0" y="{_num(y + 15)}" font-size="{FONT - 1}">'
            f"seq {n} ({int(lens[n])} tokens)</text>"
        )
        for b in range(max_blocks):
            x = label_w + b * box
            read = b < used[n]
            style = (
                f'fill="{colour}" stroke="currentColor"'
                if read
                else 'fill="none" stroke="currentColor" stroke-opacity="0.4"'
            )
            text_fill = inks.get(colour, "#000") if read else "currentColor"
            value = str(int(tables[n, b])) if read else ("pad" if tables[n, b] == pad else "?")
            parts.append(
                f'<rect x="{_num(x + 1)}" y="{_num(y)}" width="{_num(box - 2)}" height="20" '
                f'{style}/><text x="{_num(x + box / 2)}" y="{_num(y + 14)}" '
                f'text-anchor="middle" font-size="{FONT - 1}" fill="{text_fill}">{value}</text>'
            )
        y += 24
    y += 14
    parts.append(
        f'<text x="0" y="{_num(y)}" font-size="{FONT - 1}">the pool: {num_blocks} blocks of '
        f"{block_size} slots</text>"
    )
    per_row = max(1, int((WIDTH + 8) // (block_size * 12 + 8)))
    slot = 12.0
    fills: dict[str, list[str]] = {}  # colour -> path data of its (half) slots
    empty: list[str] = []
    y += 8
    for block in range(num_blocks):
        x0 = (block % per_row) * (block_size * slot + 8)
        y0 = y + (block // per_row) * 34 + 14
        parts.append(
            f'<text x="{_num(x0 + block_size * slot / 2)}" y="{_num(y0 - 3)}" '
            f'text-anchor="middle" font-size="{FONT - 2}">{block}</text>'
        )
        users = owners.get(block, [])
        for s in range(block_size):
            x = x0 + s * slot
            holders = [n for n in users if list(tables[n]).index(block) * block_size + s < lens[n]]
            if not holders:
                empty.append(f"M{_num(x + 1)} {_num(y0)}h10v10h-10z")
                continue
            part = 10 / len(holders)
            for k, n in enumerate(holders):
                fills.setdefault(HEAD_COLOURS[n], []).append(
                    f"M{_num(x + 1)} {_num(y0 + k * part)}h10v{_num(part)}h-10z"
                )
    for colour, d in fills.items():
        parts.append(f'<path d="{"".join(d)}" fill="{colour}"/>')
    if empty:
        parts.append(
            f'<path d="{"".join(empty)}" fill="none" stroke="currentColor" stroke-opacity="0.45"/>'
        )
    total = y + (-(-num_blocks // per_row)) * 34 + 6
    svg = _svg_root("".join(parts), total, alt)
    return _figure(svg, caption)


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
    body = f'<g fill="none">{"".join(lines)}</g>{"".join(tokens)}'
    svg = _svg_root(body, height, alt)
    return (
        f"<figure class=\"ar-figure ar-diagram ar-headview\" data-ar-headview='{escaped}'>{svg}"
        f"<figcaption>{_caption_html(caption)}</figcaption></figure>"
    )
