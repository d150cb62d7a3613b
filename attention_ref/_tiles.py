r"""The tile engine: the one tiled forward and backward pass behind every fast path.

`scaled_dot_product_attention` (when the weights are not asked for), `flash_attention` and
`sdpa_backward` all run here; they differ only in their tile sizes and in what they return.
The readable references (`attend` in `_sdpa.py`, `online_softmax_attention` in `_flash.py`,
`backward_plain` in `_backward.py`) do not: they are short and self-contained, written to be
read, and the tests compare this engine with them.

**Plugging in a mask or a score function.** A path describes its mask as a `TileMasks`:
an object the engine asks, for one head `head` (the index of the scores' leading dims
`(..., H)`, e.g. `(b, h)`), about the rectangle of queries `i0:i1` by keys `j0:j1` it is
about to compute:

- `tile(head, i0, i1, j0, j1)` returns `(keep, bias)`: `keep` a bool array `(i1 - i0,
  j1 - j0)`, True = may attend, or None (every key visible); `bias` a float array of the
  same shape added to the **scaled** scores (natural units, as a float `attn_mask`), or None.
  A tile whose `keep` is all False is skipped: neither product is computed.
- `key_range(head, i0, i1)` returns the keys `[lo, hi)` the queries `i0:i1` may see at all
  (default: all `S`); keys outside are never read. Causal: `[0, i1)`; a sliding window
  makes it `O(window)`.
- `query_range(head, j0, j1)` returns the queries `[lo, hi)` that may see any key of
  `j0:j1` (default: all `L`); the others are left out of that tile's products. Causal:
  `[j0, L)`, which halves the work of the tiles on the diagonal.

The backward pass asks the same object (with `j0:j1` the block's whole key range), so a
mask written once is applied identically forward and backward. Its optional attributes
`bias_min`, `bias_max` and `bias_may_hide` tell the engine what to expect of the biases (the
defaults assume nothing, which costs a clamp and a search for $-\infty$ per tile).

**The score hook.** A score function that is not a bias (a soft-cap, $c \tanh(s / c)$, or
any `score_mod` of `flex_attention`) is the attribute `score` of the `TileMasks`, a
`TileScore` (None by default: the hot loops then do exactly what they did without it). When
it is set, `forward_head` (and `_move_shift`, for the rows it computes again) hands each
tile's scores to it in natural units, $c\, q_i \cdot k_j$: the tile holds
$c \log_2 e\, q_i \cdot k_j - m_i$ (base 2, with the shift riding in the augmented
column), so `_apply_score` adds the column back, converts, calls the function and writes
$\log_2 e\, z_{ij} - m_i$ in place. The tile's `keep` is folded into a bias of $0$ and
$-\infty$, so the rest of the tile runs as under a float mask with unknown bounds: both
clamps on, $-\infty$ searched. That keeps the shift's guarantees for any function: the
first tile's true maximum (of $z$) sets the shift, a $z$ far above it moves it or has its
row computed again (with the hook), and no exponent reaches `exp2` below the floor.
`backward_head` asks for $\partial z / \partial s$ as well and multiplies the gradient of
the scores by it (0 where hidden). `attention_ref._flex` plugs `flex_attention`'s score_mods
in this way.
`_ArrayMask` (a bool or float `attn_mask`) and `_CausalMask` (`is_causal`, and a
bottom-right offset) are the two built in; a `mask_mod` evaluated on the tile's index
arrays is a third of a few lines.

**The shift, safe for every input.** The softmax is unchanged by a shift $m_i$ of row $i$;
in base 2 ($p_{ij} = 2^{c\,q_i \cdot k_j - m_i}$, $c = \text{scale} \cdot \log_2 e$, since
NumPy's `exp2` is about twice as fast as `exp` in float32) the engine keeps, per query row:

- a shift $m_i$ that rides in the first product: the query tile carries a column $-m_i$ and
  the key tile a column of ones, $[c\,q_i, -m_i] \cdot [k_j, 1] = c\,q_i \cdot k_j - m_i$;
- $\ell_i$ and $\sum_j p_{ij} v_j$ from one product with $[V, 1]$.

$m_i$ is set to the true maximum of the first tile in which row $i$ sees a key (one search
per row, not per tile), so that tile's largest term is $2^0 = 1$ and $\ell_i \ge 1$ from
then on. Later tiles are not searched: a score above the shift shows in the tile's row sum,
which the $[V, 1]$ column gives for free. A row whose tile sum exceeds $2^{\text{TAU}}$
moves its shift up by $\lfloor \log_2 \text{sum} \rfloor$ and rescales what it has summed
by that power of two (exact in floating point; `TAU = 32`, so the sums carried from tile
to tile stay below $2^{32}$ times the number of tiles, far from overflow for values below
$2^{70}$); a row whose tile sum passed `_RESCALE_UP_TO` ($2^{120}$ in float32: a score
about 120 doublings above its shift), overflowed or is NaN has that tile computed again,
for that row only, shifted by its true maximum. NaN and inf in the inputs reach the
output that way, as the formula gives, and without a RuntimeWarning (the engine runs under
`np.errstate`). Nothing falls back wholesale. Measured at $L = S = 2048$, 8 heads,
float32, tiles of 2048 by 256: with standard-normal queries and keys no row moves its
shift; at 3 times that, 6 of the 131 072 (row, tile) pairs move; at 10 times, 17 699 move
and 2 635 are computed again. (Searching each later tile for its rows' maxima, once a row had
been computed again, saved no time: at $L = S = 4096$, 8 heads on 2 threads, 10 times
standard-normal inputs, 260 ms either way with tiles of 1024 by 256, 206 against 220 ms
without the search with tiles of 2048 by 512.)

**No subnormals.** Below the shift, a term $2^x$ with $x < -126$ (float32; $-1022$ in
float64) is subnormal, and x86 arithmetic on subnormals is slow: measured on this machine
class, `exp2` over a float32 tile 30% of whose results are subnormal, zero or $-\infty$
took 13 to 90 times as long as over normal results, and the matrix product with such a
tile 8 times as long. Large inputs give such terms: with queries and keys 10 times standard
normal ($E = 64$) the scores' spread is about 150 doublings (97% of a row's terms are below
$2^{-64}$ of its largest). So the exponents are clamped below at `_EXP2_FLOOR` before
`exp2`: $-64$ in float32, so that even the products $p_{ij} v_{je}$ stay normal for
$|v| > 2^{-62}$ (at $2^{-120}$ the $P V$ product still ran twice as slowly, from products
with small values); $-200$ in float64. A clamped term is at most $2^{-64}$ next to
$\ell_i \ge 2^{-8}$ (after a rescale the shift may pass the maximum by $\log_2$ of the
tile's width), so $S$ of them change a result by at most $S \cdot 2^{-56}$ relative, below
float32's rounding ($2^{-24}$) for $S < 2^{32}$ (float64: $S \cdot 2^{-192}$ against
$2^{-53}$). Without the clamp, the tiled pass at 10 times standard-normal inputs took 4.4
times as long. The clamp is skipped when the Cauchy-Schwarz bound $|c| \max_i \lVert q_i \rVert
\max_j \lVert k_j \rVert$ over the tile's queries and keys, with the least and greatest
shift of its rows, shows that no score of the tile can fall below the floor
(standard-normal inputs): one test of a few numbers per tile (the key norms are computed
once per head). Masked scores are never set to $-\infty$ before `exp2` (`exp2`
of $-\infty$ is as slow as of a subnormal): their terms are set to 0 after it.

**Threads.** NumPy's elementwise passes (`exp2`, the clamp, the masks) run on one core
while BLAS uses them all. With `threadpoolctl` installed (the optional extra `fast`), the
heads run on a pool of one thread per CPU (at most 8) with BLAS held at one thread: NumPy
releases the GIL in its ufuncs and matrix products, so everything runs in parallel, and no
product is split across threads (tiles are too small for that to pay). Measured on 2 busy
cores, $L = S = 2048$, 8 heads, float32: 0.33 s on the pool, 2.3 s one head after the
other with two-thread BLAS. Without threadpoolctl the heads run in turn. `threadpoolctl`
sets BLAS's threads for the whole process while a call runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np

from ._checks import Prepared

#: $\log_2 e = 1 / \ln 2$: the engine computes $e^x$ as $2^{x \log_2 e}$.
LOG2E = 1.0 / math.log(2.0)

#: A row moves its shift (and rescales its sums) when a tile's sum of terms exceeds
#: $2^{\text{TAU}}$: a score at least `TAU - log2(block_k)` doublings above the shift.
TAU = 32.0

#: The lowest exponent given to `exp2`, per compute dtype: $2^{-64}$ and $2^{-200}$ are
#: normal numbers (the smallest are $2^{-126}$ and $2^{-1022}$), and `exp2` is fast on them.
_EXP2_FLOOR = {np.dtype(np.float32): -64.0, np.dtype(np.float64): -200.0}

#: The highest exponent given to `exp2` in the forward pass: `exp2` is as slow on overflow
#: as on subnormals, and scores hidden by a mask may be far above the shift. A visible score
#: clamped here gives a tile sum of at least $2^{124}$ (float32), past `_RESCALE_UP_TO`, so
#: its row is computed again exactly.
_EXP2_CEIL = {np.dtype(np.float32): 124.0, np.dtype(np.float64): 1020.0}

#: Above this tile sum, or with inf or NaN in the row of `p [V, 1]` (an overflow of
#: $\sum_j p_{ij} v_j$), a row of the tile is computed again rather than rescaled.
_RESCALE_UP_TO = {np.dtype(np.float32): 2.0**120, np.dtype(np.float64): 2.0**1016}

Head = tuple[int, ...]


class TileMasks:
    """What a path masks, asked one tile at a time (see the module docstring).

    The base class masks nothing. `L` and `S` are the query and key lengths.
    """

    #: What the engine may assume of the biases `tile` returns: all finite ones lie in
    #: `[bias_min, bias_max]` (so that, with the scores' own bounds, a clamp can be skipped;
    #: `bias_min` matters only when no bias hides, and may then be -inf), and none is -inf
    #: unless `bias_may_hide` (else each tile is searched for -inf). The defaults assume
    #: nothing; a subclass that knows better says so.
    bias_min: float = -math.inf
    bias_max: float = math.inf
    bias_may_hide: bool = True
    #: A function of the scores applied in every tile (a `TileScore`), or None: see the
    #: module docstring, "The score hook".
    score: TileScore | None = None

    def __init__(self, L: int, S: int) -> None:
        self.L, self.S = L, S

    def key_range(self, head: Head, i0: int, i1: int) -> tuple[int, int]:
        """Keys `[lo, hi)` that any of the queries `i0:i1` may see."""
        return 0, self.S

    def query_range(self, head: Head, j0: int, j1: int) -> tuple[int, int]:
        """Queries `[lo, hi)` that may see any of the keys `j0:j1`."""
        return 0, self.L

    def tile(
        self, head: Head, i0: int, i1: int, j0: int, j1: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """`(keep, bias)` for queries `i0:i1` by keys `j0:j1`; None means no effect."""
        return None, None


#: Bytes of causal tile masks kept per call: the forward pass's diagonal tiles (640 KiB at
#: the default tiles) fit; the backward pass's blocks of every key grow with S and are made
#: anew beyond this.
_CAUSAL_TILES_KEPT = 4 * 2**20


class _CausalMask(TileMasks):
    """Query $i$ sees key $j$ when $j \\le i + \\text{offset}$: `offset=0` is `is_causal`
    (top-left, PyTorch's SDPA), `offset=S - L` bottom-right (FlashAttention >= 2.1)."""

    def __init__(self, L: int, S: int, offset: int = 0) -> None:
        super().__init__(L, S)
        self.offset = offset
        # A diagonal tile's mask depends only on its shape and diagonal: the same few for
        # every head and query block (with the engine's query_range, four shapes for a
        # 1024 x 256 tiling). Made once per call, read-only, shared by the heads' threads.
        self._tiles: dict[tuple[int, int, int], np.ndarray] = {}

    def key_range(self, head: Head, i0: int, i1: int) -> tuple[int, int]:
        return 0, max(0, min(self.S, i1 + self.offset))

    def query_range(self, head: Head, j0: int, j1: int) -> tuple[int, int]:
        return max(0, min(self.L, j0 - self.offset)), self.L

    def tile(
        self, head: Head, i0: int, i1: int, j0: int, j1: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if j1 - 1 <= i0 + self.offset:  # below the diagonal: every key visible
            return None, None
        shape = (i1 - i0, j1 - j0, i0 + self.offset - j0)
        keep = self._tiles.get(shape)
        if keep is None:
            keep = np.tri(*shape, dtype=bool)
            keep.flags.writeable = False
            kept = sum(tile.nbytes for tile in self._tiles.values())
            if kept + keep.nbytes <= _CAUSAL_TILES_KEPT:  # else made anew each time
                self._tiles[shape] = keep
        return keep, None


class _ArrayMask(TileMasks):
    """A checked `attn_mask` broadcast to the scores `(..., H, L, S)`: bool or float."""

    def __init__(self, mask: np.ndarray, scores_shape: tuple[int, ...]) -> None:
        super().__init__(*scores_shape[-2:])
        self.mask = np.broadcast_to(mask, scores_shape)  # a read-only view
        self.is_bool = mask.dtype == np.bool_
        if not self.is_bool:  # one look at the whole mask, once per call, instead of per tile
            lo, hi = float(np.min(mask, initial=np.inf)), float(np.max(mask, initial=-np.inf))
            if math.isnan(lo) or math.isnan(hi):  # NaN entries: bounds of the others
                finite = np.isfinite(mask)
                lo = float(np.min(mask, initial=np.inf, where=finite | (mask == -np.inf)))
                hi = float(np.max(mask, initial=-np.inf, where=finite))
            # lo = -inf says that some entry hides its score; then bias_min is not used.
            # (Two plain reductions: on an (8, 4096, 4096) float32 mask of N(0, 1) entries,
            # 69 ms, where a comparison and reductions with `where=` took 335 ms; with 10%
            # of -inf, 94 against 1197 ms.)
            self.bias_may_hide = lo == -math.inf
            self.bias_min, self.bias_max = lo, hi

    def tile(
        self, head: Head, i0: int, i1: int, j0: int, j1: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        block = self.mask[head][i0:i1, j0:j1]
        return (block, None) if self.is_bool else (None, block)


def tile_masks(p: Prepared) -> TileMasks:
    """The `TileMasks` of a prepared call: its `is_causal` or its `attn_mask`, or none."""
    L, S = p.scores_shape[-2:]
    if p.is_causal:
        return _CausalMask(L, S)
    if p.mask is not None:
        return _ArrayMask(p.mask, p.scores_shape)
    return TileMasks(L, S)


# --- the score hook: a function of the scores, applied per tile ----------------------------


class TileScore:
    r"""A function of the scores that the engine applies in every tile (see the module
    docstring, "The score hook"). The base class is the identity.

    Both methods take `head`, the query indices `i` `(n,)` and key indices `j` `(b,)` of a
    tile (int arrays) and its **scaled** scores `s` `(n, b)` in natural units, $c\, q_i
    \cdot k_j$ (a fresh array the method may overwrite), and return an array of `s`'s shape.
    """

    def __call__(self, head: Head, i: np.ndarray, j: np.ndarray, s: np.ndarray) -> np.ndarray:
        r"""The new scores $z = f(s)$, natural units; $-\infty$ hides a score."""
        return s

    def grad(self, head: Head, i: np.ndarray, j: np.ndarray, s: np.ndarray) -> np.ndarray:
        r"""The derivative $\partial z / \partial s$ (the backward pass asks for it)."""
        return np.ones_like(s)


def _apply_score(
    masks: TileMasks,
    head: Head,
    i0: int | np.ndarray,
    j0: int,
    s: np.ndarray,
    shift_col: np.ndarray | None,
    keep: np.ndarray | None,
    bias: np.ndarray | None,
    *,
    transpose: bool = False,
    with_grad: bool = False,
) -> tuple[None, np.ndarray, np.ndarray | None]:
    r"""Apply `masks.score` to a tile of scores `s` in place; return `(None, bias, grad)`.

    `s` holds the engine's base-2 scores, `(n, b)` ($c\, q_i \cdot k_j$ plus the query
    tile's shift column `shift_col` `(n,)`, $-m_i$; None in the backward pass, which has no
    shift), or `(b, n)` with `transpose=True`. `i0` is the tile's first query (or the query
    indices of its rows). The score function gets the scores in natural units and its result
    replaces them (shifted again). `keep` is folded into the returned bias as $-\infty$
    (`_apply_tile_mask` takes one or the other), so that the caller's clamps and its search
    for hidden scores run as for a float mask: the new scores have no Cauchy-Schwarz bound.
    `grad` is $\partial z / \partial s$ `(n, b)` when `with_grad`, else None.
    """
    score = masks.score
    assert score is not None
    view = s.T if transpose else s  # (n, b): queries by keys
    n, b = view.shape
    i = np.arange(i0, i0 + n) if isinstance(i0, (int, np.integer)) else np.asarray(i0)
    j = np.arange(j0, j0 + b)
    natural = view if shift_col is None else view - shift_col[:, None]
    natural = natural * s.dtype.type(1.0 / LOG2E)  # (n, b) c q_i . k_j, a fresh array
    grad = None
    if with_grad:  # a writable (n, b) array: the caller zeroes its hidden entries
        grad = np.array(np.broadcast_to(score.grad(head, i, j, natural.copy()), (n, b)), s.dtype)
    z = np.asarray(score(head, i, j, natural), dtype=s.dtype)
    np.multiply(z, LOG2E, out=view, dtype=s.dtype)
    if shift_col is not None:
        view += shift_col[:, None]
    zero, hide = s.dtype.type(0.0), s.dtype.type(-np.inf)
    extra = np.zeros((1, 1), dtype=s.dtype) if keep is None else np.where(keep, zero, hide)
    return None, extra if bias is None else bias + extra, grad


# --- the elementwise steps, shared by the forward and the backward pass ---------------------


class _Scratch:
    """Flat buffers for masking a tile, allocated on first use (a path without a mask, or
    with a bool one, never pays for the float buffer: flash's memory stays O(L block))."""

    def __init__(self, size: int, dtype: np.dtype, floats: np.ndarray | None = None) -> None:
        self.size, self.dtype = size, dtype
        self._floats: np.ndarray | None = floats
        self._bools: np.ndarray | None = None

    def floats(self, n: int) -> np.ndarray:
        if self._floats is None:
            self._floats = np.empty(self.size, dtype=self.dtype)
        return self._floats[:n]

    def bools(self, n: int) -> np.ndarray:
        if self._bools is None:
            self._bools = np.empty(self.size, dtype=bool)
        return self._bools[:n]


def _apply_tile_mask(
    s: np.ndarray,
    keep: np.ndarray | None,
    bias: np.ndarray | None,
    scratch: _Scratch,
    *,
    transpose: bool = False,
    may_hide: bool = True,
) -> np.ndarray | None:
    """Add a tile's bias to the scores `s` (base 2, in place); return its hidden entries.

    `keep` and `bias` are `(n, b)`; `s` is `(n, b)`, or `(b, n)` with `transpose=True` (the
    backward pass's keys-by-queries layout). Returns a bool array of the entries whose term
    must be 0 (`~keep`, or a bias of $-\\infty$, looked for only if `may_hide`), or None
    when there are none. `scratch` lends the buffers, allocated on first use.
    """
    if bias is not None:
        b2 = scratch.floats(s.size).reshape(s.shape)
        np.multiply(bias.T if transpose else bias, LOG2E, out=b2, dtype=s.dtype)
        s += b2
        if not may_hide:  # the caller knows that no bias is -inf
            return None
        hidden = np.equal(b2, -np.inf, out=scratch.bools(s.size).reshape(s.shape))
        return hidden if hidden.any() else None
    if keep is not None:
        hidden = scratch.bools(s.size).reshape(s.shape)
        return np.logical_not(keep.T if transpose else keep, out=hidden)
    return None


def _exp2_(
    s: np.ndarray,
    hidden: np.ndarray | None,
    floor: float | None,
    ceil: float | None = None,
    *,
    exact: bool = True,
    keep: np.ndarray | None = None,
) -> None:
    r"""`s = 2**clip(s, floor, ceil)` in place, with the hidden entries 0 (None: no bound).

    With `exact=False` the terms are multiplied by the visible entries, `keep` if given
    (`~hidden`), else `hidden` inverted in place (so no longer usable), and no array is
    allocated per tile. On an irregular mask this is 10 to 20 times as fast as `copyto` with
    `where=` (a 1024 x 256 float32 tile: 55 us against 0.5 to 1.3 ms); on a causal tile the
    two cost about the same (55 and 37 us). That leaves NaN where a hidden score was NaN or
    $+\infty$ (inputs with inf or NaN): the forward pass finds such rows by their sums and
    computes them again exactly (`_move_shift`).
    """
    if floor is not None or ceil is not None:  # clip with both bounds: NumPy's fast loop
        lo = -np.inf if floor is None else floor  # (np.maximum with a scalar took 1.8 times
        hi = np.inf if ceil is None else ceil  # as long on a 1024 x 256 float32 tile)
        np.clip(s, lo, hi, out=s)
    np.exp2(s, out=s)
    if hidden is not None and exact:
        np.copyto(s, 0.0, where=hidden)
    elif hidden is not None:
        np.multiply(s, np.logical_not(hidden, out=hidden) if keep is None else keep, out=s)


def _shift_range(m: np.ndarray) -> tuple[float, float]:
    """The least and greatest finite shift of `m` (0 for a row with none yet, -inf)."""
    with np.errstate(invalid="ignore"):
        finite = np.where(m == -np.inf, 0.0, m)
    return float(np.min(finite)), float(np.max(finite))


def _row_max(s: np.ndarray) -> np.ndarray:
    """The maximum of each row of `s` (n, b), NaN if the row has one.

    Gathering at `argmax` is faster than `max` along rows this short, and keeps NaN
    (`argmax` finds it).
    """
    return s[np.arange(s.shape[0]), np.argmax(s, axis=1)]


# --- the forward pass ------------------------------------------------------------------------


def forward_head(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    masks: TileMasks,
    head: Head,
    *,
    scale: float,
    block_q: int,
    block_k: int,
    out: np.ndarray,
    lse: np.ndarray | None = None,
    kv_per_head: bool = True,
) -> None:
    r"""The forward pass for one head: q (L, E), k (S, E), v (S, Ev) in the compute dtype.

    Writes `out` (L, Ev) and, if given, `lse` (L,) (natural log; $-\infty$ for a row that
    sees no key). Queries `block_q` and keys `block_k` at a time; see the module docstring.
    `kv_per_head`: build `[K, 1]` and `[V, 1]` once for the head ($S (E + E_v + 2)$ numbers,
    the faster way), else once per tile (memory $O(\text{block\_k}\,E)$: flash's promise
    of $O(L \cdot \text{block\_size})$ extra memory).
    """
    L, E = q.shape
    S, Ev = v.shape
    dt = out.dtype
    if L == 0:
        return
    c = dt.type(scale * LOG2E)  # scores in base-2 units
    floor, ceil = _EXP2_FLOOR[dt], _EXP2_CEIL[dt]
    Bq, Bk = max(1, min(L, block_q)), max(1, min(S, block_k))
    rows = S if kv_per_head else Bk
    k1 = np.empty((rows, E + 1), dtype=dt)  # (S or Bk, E + 1): [K, 1], or a tile of it
    v1 = np.empty((rows, Ev + 1), dtype=dt)  # (S or Bk, Ev + 1): [V, 1]
    k1[:, E] = 1.0
    v1[:, Ev] = 1.0
    if kv_per_head:
        k1[:, :E] = k
        v1[:, :Ev] = v
    k_norm = np.sqrt(np.einsum("se,se->s", k, k))  # (S,) |k_j|, for the bounds below
    q1 = np.empty((Bq, E + 1), dtype=dt)  # (Bq, E + 1): [c q_i, -m_i]
    tile = np.empty(Bq * Bk, dtype=dt)  # the one buffer of scores, reused for every tile
    scratch = _Scratch(Bq * Bk, dt)  # a float mask's tile (base 2), the hidden entries
    o = np.empty((Bq, Ev + 1), dtype=dt)  # one tile's p [V, 1]
    acc_l = np.empty((Bq, Ev + 1), dtype=dt)  # [sum_j p_ij v_j, l_i] so far
    # What a tile's bias may add to the scores' bounds (base 2), for the clamp decision below
    bias_lo = -math.inf if masks.bias_may_hide else min(0.0, masks.bias_min * LOG2E)
    bias_hi = max(0.0, masks.bias_max * LOG2E)

    for i0 in range(0, L, Bq):
        i1 = min(i0 + Bq, L)
        n = i1 - i0
        q_t = q1[:n]
        np.multiply(q[i0:i1], c, out=q_t[:, :E])
        q_t[:, E] = 0.0  # the shift -m_i, 0 while row i has seen no key
        q_hi = float(np.sqrt(np.max(np.einsum("ie,ie->i", q_t[:, :E], q_t[:, :E]))))  # |c q|
        m = np.full(n, -np.inf, dtype=dt)  # m_i; -inf: no key seen yet ("fresh")
        m_lo = m_hi = 0.0  # the least and greatest shift of the block's rows (0: none yet)
        fresh = n
        acc = acc_l[:n]
        acc.fill(0.0)
        j_lo, j_hi = masks.key_range(head, i0, i1)
        for j0 in range(j_lo, j_hi, Bk):
            j1 = min(j0 + Bk, j_hi)
            b = j1 - j0
            r_lo, r_hi = masks.query_range(head, j0, j1)
            r0, r1 = max(r_lo, i0) - i0, min(r_hi, i1) - i0  # this block's rows of the tile
            if r1 <= r0:
                continue
            keep, bias = masks.tile(head, i0 + r0, i0 + r1, j0, j1)
            if keep is not None and not keep.any():
                continue  # nothing to attend to in this tile
            nr = r1 - r0
            if kv_per_head:
                k_t, v_t = k1[j0:j1], v1[j0:j1]  # (b, E + 1), (b, Ev + 1): views
            else:
                k_t, v_t = k1[:b], v1[:b]  # this tile's keys and values, copied
                k_t[:, :E] = k[j0:j1]
                v_t[:, :Ev] = v[j0:j1]
            s = tile[: nr * b].reshape(nr, b)  # s[i, j]: query i0 + r0 + i, key j0 + j
            np.matmul(q_t[r0:r1], k_t.T, out=s)  # c q_i . k_j - m_i
            if masks.score is not None:  # the score hook: scores replaced, keep in the bias
                shift_col = q_t[r0:r1, E]
                keep, bias, _ = _apply_score(masks, head, i0 + r0, j0, s, shift_col, keep, bias)
            hidden = _apply_tile_mask(s, keep, bias, scratch, may_hide=masks.bias_may_hide)
            m_t = m[r0:r1]  # a view: updates reach m
            unseen = None
            if fresh:
                new = m_t == -np.inf
                if new.any():  # shift these rows by their true maximum in this tile
                    if hidden is not None:
                        np.copyto(s, -np.inf, where=hidden)
                    d = np.where(new, _row_max(s), 0.0).astype(dt, copy=False)
                    unseen = np.flatnonzero(d == -np.inf)  # rows that see no key here
                    d[unseen] = 0.0
                    s -= d[:, None]
                    if hidden is not None:  # back to a finite number (zeroed after exp2):
                        np.copyto(s, 0.0, where=hidden)  # exp2(-inf) is slow
                    m_t[new] = d[new]
                    m_t[unseen] = -np.inf
                    fresh -= int(np.count_nonzero(new)) - unseen.size
                    q_t[r0:r1, E] = -np.where(m_t == -np.inf, 0.0, m_t)
                    m_lo, m_hi = _shift_range(m)
            # Bounds on the tile's scores (Cauchy-Schwarz, over the whole block: one test per
            # tile): clamp only where they may pass the floor (slow exp2 and subnormal terms)
            # or the ceiling (slow exp2 of an overflow; a visible score that reaches it shows
            # as a row sum past _RESCALE_UP_TO, and its row is computed again; a hidden one is
            # zeroed anyway). |c q_i . k_j| <= q_hi max_j |k_j|, and the shifts lie in
            # [m_lo, m_hi]; a bias moves the scores by bias_lo .. bias_hi.
            reach = q_hi * float(k_norm[j0:j1].max())
            lo, hi = (bias_lo, bias_hi) if bias is not None else (0.0, 0.0)
            floor_t = None if -reach - m_hi + lo >= floor else floor
            ceil_t = None if reach - m_lo + hi <= ceil else ceil
            _exp2_(s, hidden, floor_t, ceil_t, exact=False, keep=keep if bias is None else None)
            if unseen is not None and unseen.size:
                s[unseen] = 0.0  # rows with every key of the tile hidden: no term
            o_t = o[:nr]
            np.matmul(s, v_t, out=o_t)  # [sum_j p_ij v_j, sum_j p_ij]
            if not o_t[:, Ev].max() <= 2.0**TAU:  # a score above the shift, inf or NaN
                tile_at = (masks, head, i0 + r0, j0, j1)
                _move_shift(q_t, r0, k_t, v_t, tile_at, o_t, acc, m, floor)
                m_hi = max(m_hi, float(np.fmax.reduce(m[r0:r1])))  # shifts only move up
            acc[r0:r1] += o_t

        l = acc[:, Ev]  # l_i, the papers' name  # noqa: E741
        np.divide(acc[:, :Ev], np.where(l == 0.0, 1.0, l)[:, None], out=out[i0:i1])
        if lse is not None:  # ln 2 * (m_i + log2 l_i); -inf for a row that saw no key
            log_l = np.log2(l, out=np.full(n, -np.inf, dtype=dt), where=l > 0.0)
            np.multiply(m + log_l, dt.type(1.0 / LOG2E), out=lse[i0:i1])


def _move_shift(
    q_t: np.ndarray,
    r0: int,
    k_t: np.ndarray,
    v_t: np.ndarray,
    tile_at: tuple[TileMasks, Head, int, int, int],
    o_t: np.ndarray,
    acc: np.ndarray,
    m: np.ndarray,
    floor: float,
) -> None:
    """Rows of a tile whose sum exceeded $2^{TAU}$: move their shift up, rescale their sums.

    `q_t` `[c q, -m]`, `acc` and `m` are the query block's; `o_t` the tile's `p [V, 1]`,
    whose row `r` is the block's row `r0 + r`; `tile_at` `(masks, head, i, j0, j1)` says
    where the tile is: its row 0 is query `i`, its keys `j0:j1`. A sum up to
    `_RESCALE_UP_TO` (for its dtype) moves the shift by
    $e = \\lfloor \\log_2 \\text{sum} \\rfloor$ and multiplies the tile's terms and the
    sums so far by $2^{-e}$ (exact). A larger sum, an overflow or a NaN has its row of the
    tile computed again, shifted by its maximum.
    """
    E, Ev = q_t.shape[1] - 1, v_t.shape[1] - 1
    dt = o_t.dtype
    big = np.flatnonzero(~(o_t[:, Ev] <= 2.0**TAU))  # (r,) the tile's rows that move: few
    o_big = o_t[big]  # (r, Ev + 1), a copy, written back below
    big_sum = o_big[:, Ev]
    # (r,) overflow, a score at the ceiling, or NaN (in the row sum, or in the values' columns)
    redo = ~(big_sum <= _RESCALE_UP_TO[dt]) | ~np.isfinite(o_big).all(axis=1)
    # e_i = floor(log2 sum): sum = mantissa 2^x, mantissa in [0.5, 1), so e_i = x - 1
    shift = (np.frexp(big_sum)[1] - 1).astype(dt)  # (r,)
    shift[redo] = 0.0
    factor = np.ldexp(np.ones(len(big), dtype=dt), -shift.astype(np.int32))  # (r,) exact
    o_big *= factor[:, None]
    if redo.any():
        rows = big[redo]
        s = q_t[r0 + rows] @ k_t.T  # (r', b): these rows of the tile again, c q . k - m
        masks, head, i, j0, j1 = tile_at
        keep, bias = masks.tile(head, i, i + len(o_t), j0, j1)  # the tile's, then its rows
        if masks.score is not None:  # the score hook on these rows; keep and bias as the tile's
            rows_keep = None if keep is None else keep[rows]
            rows_bias = None if bias is None else bias[rows]
            shift_col = q_t[r0 + rows, E]
            _, rows_bias, _ = _apply_score(
                masks, head, i + rows, j0, s, shift_col, rows_keep, rows_bias
            )
            keep, bias = None, np.zeros((len(o_t), s.shape[1]), dtype=s.dtype)
            bias[rows] = rows_bias
        hidden = None if keep is None else ~keep[rows]
        if bias is not None:
            s += bias[rows] * LOG2E
            hidden = bias[rows] == -np.inf
        if hidden is not None:
            np.copyto(s, -np.inf, where=hidden)
        d = _row_max(s)  # finite; or inf or NaN from the inputs, and the row stays so
        s -= d[:, None]
        _exp2_(s, hidden, floor)
        o_big[redo] = s @ v_t  # relative to the new shift: not rescaled
        shift[redo] = d
        factor[redo] = np.exp2(-d)  # what the sums so far are multiplied by
    o_t[big] = o_big
    acc[r0 + big] *= factor[:, None]
    m_big = m[r0 + big] + shift
    m[r0 + big] = m_big
    q_t[r0 + big, E] = -np.where(m_big == -np.inf, 0.0, m_big)  # 0: no key seen yet


# --- the backward pass -----------------------------------------------------------------------


def backward_head(
    d_out: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    masks: TileMasks,
    head: Head,
    *,
    scale: float,
    block_q: int,
    d_q: np.ndarray,
    d_k: np.ndarray,
    d_v: np.ndarray,
) -> None:
    r"""The backward pass for one head, a block of `block_q` query rows at a time.

    d_out (L, Ev), q (L, E), k (S, E), v (S, Ev). Writes `d_q` (L, E) and adds this head's
    contribution to `d_k` (S, E) and `d_v` (S, Ev) (kv heads shared under GQA accumulate).

    Each block takes all the keys it may see (`masks.key_range`) at once, keys by queries,
    so the forward scores are recomputed with each row's true maximum (no rescaling), then
    clamped and exponentiated as in `forward_head`. The normalisation is never applied to
    the $S \times n$ block: with $g_i = dO_i / \ell_i$ and $\delta_i' = \delta_i / \ell_i$,
    $\partial s_{ij} = p_{ij}\,(g_i \cdot v_j - \delta_i')$ and $dV = p^\top g$.
    """
    L, E = q.shape
    S, Ev = v.shape
    dt = d_q.dtype
    c = dt.type(scale * LOG2E)
    floor = _EXP2_FLOOR[dt]
    v1 = np.empty((S, Ev + 1), dtype=dt)  # (S, Ev + 1): [V, 1]
    v1[:, :Ev] = v
    v1[:, Ev] = 1.0
    Bq = max(1, min(L, block_q))
    q_blk = np.empty((Bq, E), dtype=dt)
    k_norm = np.sqrt(np.einsum("se,se->s", k, k))  # (S,) |k_j|, for the clamp's test
    buf_p = np.empty(S * Bq, dtype=dt)  # p, keys by queries
    buf_dp = np.empty(S * Bq, dtype=dt)  # dp, then the gradient of the scores
    scratch = _Scratch(S * Bq, dt, floats=buf_dp)  # dp is free while the mask is applied

    for i0 in range(0, L, Bq):
        i1 = min(i0 + Bq, L)
        n = i1 - i0
        j0, j1 = masks.key_range(head, i0, i1)
        keep, bias = masks.tile(head, i0, i1, j0, j1) if j1 > j0 else (None, None)
        if j1 <= j0 or (keep is not None and not keep.any()):
            d_q[i0:i1] = 0.0  # no key visible: every gradient of these rows is 0
            continue
        b = j1 - j0
        p = buf_p[: b * n].reshape(b, n)
        np.multiply(q[i0:i1], c, out=q_blk[:n])
        np.matmul(k[j0:j1], q_blk[:n].T, out=p)  # p[j, i] = c k_j . q_i
        if masks.score is not None:  # the score hook (and its derivative, used below)
            keep, bias, d_score = _apply_score(
                masks, head, i0, j0, p, None, keep, bias, transpose=True, with_grad=True
            )
        hidden = _apply_tile_mask(
            p, keep, bias, scratch, transpose=True, may_hide=masks.bias_may_hide
        )
        if hidden is not None:
            np.copyto(p, -np.inf, where=hidden)
        m = np.max(p, axis=0)  # (n,) each row's true maximum
        m[m == -np.inf] = 0.0  # rows that see no key: p = 0, every gradient 0
        p -= m
        # With no mask on the block, p_ij = c q_i . k_j - m_i >= -2 |c q_i| max_j |k_j|
        # (Cauchy-Schwarz, as m_i >= -|c q_i| max_j |k_j|): no clamp needed when that stays
        # above the floor. (A bias moves the bounds; a hidden score is -inf here, slow in exp2.)
        reach = float(np.max(np.einsum("ie,ie->i", q_blk[:n], q_blk[:n]), initial=0.0))
        safe = keep is None and bias is None
        safe = safe and 2.0 * math.sqrt(reach) * float(k_norm[j0:j1].max()) <= -floor
        _exp2_(p, hidden, None if safe else floor)
        o = np.matmul(p.T, v1[j0:j1])  # (n, Ev + 1): [sum_j p_ij v_j, l_i]
        row_sum = o[:, Ev]  # (n,) l_i
        row_sum[row_sum == 0.0] = 1.0  # rows that see no key: p = 0 already
        g = d_out[i0:i1] / row_sum[:, None]  # (n, Ev): dO_i / l_i
        out = o[:, :Ev] / row_sum[:, None]  # (n, Ev): O_i
        delta = np.einsum("ie,ie->i", d_out[i0:i1], out) / row_sum  # (n,) rowsum(dO O) / l_i

        dp = buf_dp[: b * n].reshape(b, n)
        np.matmul(v[j0:j1], g.T, out=dp)  # dp[j, i] = v_j . dO_i / l_i
        dp -= delta
        dp *= p  # the gradient of the scores s_ij (transposed): P * (dP - delta)
        if masks.score is not None:  # through the score function: dZ * dz/ds, 0 where hidden
            assert d_score is not None
            d_score_t = d_score.T  # (b, n), as dp
            if hidden is not None:
                np.copyto(d_score_t, 0.0, where=hidden)
            dp *= d_score_t
        np.matmul(dp.T, k[j0:j1], out=d_q[i0:i1])
        d_q[i0:i1] *= dt.type(scale)
        d_k[j0:j1] += (dp @ q[i0:i1]) * dt.type(scale)
        d_v[j0:j1] += p @ g


# --- the drivers: every head of a prepared call -----------------------------------------------


def heads(p: Prepared) -> Iterator[tuple[Head, Head]]:
    """Every head of the scores `(..., H, L, S)`: yield `(idx, kv_idx)`.

    `idx` indexes the leading dims `(..., H)` of the scores (and of query, mask and output,
    broadcast to them); `kv_idx` indexes key and value broadcast to `(..., Hkv)`: the same
    index, with head `h` read from kv head `h // G` under grouped-query attention.
    """
    for idx in np.ndindex(*p.scores_shape[:-2]):
        yield idx, ((*idx[:-1], idx[-1] // p.group) if p.group > 1 else idx)


def head_views(p: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read-only views of q, k, v broadcast to the scores' leading dims, indexed per head.

    query to `(..., H, L, E)`; key and value to the same dims with `Hkv = H // G` heads. No
    data is copied.
    """
    lead = p.scores_shape[:-2]
    lead_kv = (*lead[:-1], lead[-1] // p.group) if p.group > 1 else lead
    q = np.broadcast_to(p.q, (*lead, *p.q.shape[-2:]))
    k = np.broadcast_to(p.k, (*lead_kv, *p.k.shape[-2:]))
    v = np.broadcast_to(p.v, (*lead_kv, *p.v.shape[-2:]))
    return q, k, v


def _silenced(task: Callable[[], None]) -> None:
    """Run one task with NumPy's floating-point warnings off.

    Inside the engine an overflow is detected and handled (see `_move_shift`), and inf or
    NaN in the inputs reach the output as the formula gives, which the docstrings promise;
    a warning would only alarm. (`np.errstate` is per thread, hence per task.)
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        task()


def _blas_controller() -> Any:
    """threadpoolctl's controller of the BLAS thread pools, or None without threadpoolctl."""
    global _CONTROLLER
    if _CONTROLLER is False:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER = None
        else:
            _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


_CONTROLLER: Any = False  # not looked up yet


def default_workers() -> int:
    """Threads for the per-head tasks: the CPUs this process may use (at most 8), when
    threadpoolctl can hold BLAS at one thread meanwhile; else 1 (BLAS's own threads)."""
    if _blas_controller() is None:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def _run(tasks: list[Callable[[], None]], workers: int | None) -> None:
    """Run the tasks (each writes its own part of the outputs), on `workers` threads.

    With more than one worker, BLAS is held at one thread meanwhile (threadpoolctl): NumPy
    releases the GIL in its ufuncs and matrix products, so the heads run in parallel,
    elementwise passes included, where otherwise only BLAS would use the second core.
    """
    workers = default_workers() if workers is None else workers
    workers = min(workers, len(tasks))
    controller = _blas_controller() if workers > 1 else None
    if controller is None:
        for task in tasks:
            _silenced(task)
        return
    with controller.limit(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(_silenced, task) for task in tasks]:
            future.result()  # re-raises a task's exception


def forward(
    p: Prepared,
    masks: TileMasks | None = None,
    *,
    block_q: int,
    block_k: int,
    with_lse: bool = False,
    workers: int | None = None,
    kv_per_head: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Attention of a prepared call, tile by tile: out `(..., H, L, Ev)` and lse `(..., H, L)`.

    Both in the compute dtype; lse is None unless `with_lse`. `masks` defaults to the call's
    own (`tile_masks(p)`).
    """
    masks = tile_masks(p) if masks is None else masks
    q, k, v = head_views(p)
    out = np.empty(p.out_shape, dtype=p.q.dtype)  # (..., H, L, Ev)
    lse = np.empty(p.scores_shape[:-1], dtype=p.q.dtype) if with_lse else None  # (..., H, L)

    def task(idx: Head, kv: Head) -> None:
        forward_head(
            q[idx],
            k[kv],
            v[kv],
            masks,
            idx,
            scale=p.scale,
            block_q=block_q,
            block_k=block_k,
            out=out[idx],
            lse=None if lse is None else lse[idx],
            kv_per_head=kv_per_head,
        )

    _run([partial(task, idx, kv) for idx, kv in heads(p)], workers)
    return out, lse


def backward(
    p: Prepared,
    masks: TileMasks | None = None,
    *,
    block_q: int,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of a prepared call (with `d_out`), one head and query block at a time.

    Returns d_q `(..., H, L, E)`, d_k `(..., Hkv, S, E)`, d_v `(..., Hkv, S, Ev)` over the
    broadcast leading dims, in the compute dtype; summing them to the inputs' shapes is the
    caller's.
    """
    assert p.d_out is not None
    masks = tile_masks(p) if masks is None else masks
    q, k, v = head_views(p)
    d_out = p.d_out
    d_q = np.empty(q.shape, dtype=p.q.dtype)  # (..., H, L, E)
    d_k = np.zeros(k.shape, dtype=p.q.dtype)  # (..., Hkv, S, E), summed over groups
    d_v = np.zeros(v.shape, dtype=p.q.dtype)  # (..., Hkv, S, Ev)
    by_kv: dict[Head, list[Head]] = {}  # the query heads of each kv head: one task each,
    for idx, kv in heads(p):  # since they add to the same d_k and d_v
        by_kv.setdefault(kv, []).append(idx)

    def task(kv: Head, idxs: list[Head]) -> None:
        for idx in idxs:
            backward_head(
                d_out[idx],
                q[idx],
                k[kv],
                v[kv],
                masks,
                idx,
                scale=p.scale,
                block_q=block_q,
                d_q=d_q[idx],
                d_k=d_k[kv],
                d_v=d_v[kv],
            )

    _run([partial(task, kv, idxs) for kv, idxs in by_kv.items()], workers)
    return d_q, d_k, d_v
