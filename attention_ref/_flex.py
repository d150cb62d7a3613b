r"""FlexAttention in NumPy: masks and scores as functions of the indices.

`flex_attention` computes

$$O = \operatorname{softmax}\bigl(\text{score\_mod}(c\, Q K^\top)
\text{ with the positions where mask\_mod is False removed}\bigr)\, V$$

where the mods (see `attention_ref.mods`) are elementwise functions of `(b, h, q_idx,
kv_idx)`. The implementations of the same formula, side by side:

- the **reference** (`reference_forward`, `reference_backward`): every score of every head in
  one `(B, H, L, S)` array, the mods applied to the whole index arrays at once. It is the
  definition, written to be read.
- the **band path** (`band_forward`), which the public functions run when the mask_mod's
  `key_range` hint narrows each block of queries to a few keys (a sliding window): one tile
  per block of queries holding every key it may see, so its softmax is exact in one pass,
  every head of the block at once (`benchmarks/bench_flex.py` compares it with
  `flash_attention` on a dense problem of as many unmasked scores).
- the package's **tile engine** (`attention_ref._tiles`, through `ModMasks`), which runs
  everything else, and every backward pass: the mask_mod evaluated on each tile with that
  tile's index arrays, **a tile whose mask is all False skipped** before any of its scores is
  computed (and the tiles outside the mod's `key_range` hint never even evaluated), the
  score_mod through the engine's score hook (`ModScore`), sinks as a key of their own
  (`engine_call`). Without mods it is exactly `flash_attention`. Memory: a few tiles, never
  $O(L \times S)$; the heads run on the engine's thread pool.

The tests run every check on every path, with tiny and odd tiles.

Sinks (gpt-oss's attention sinks) are one logit per head that joins every row's denominator
and contributes no value: $o_i = \sum_j e^{s_{ij}} v_j / (e^{\sigma_h} + \sum_j e^{s_{ij}})$.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _tiles
from ._backward import BLOCK_Q as BACKWARD_BLOCK_Q
from ._backward import _sum_to_shape
from ._checks import Prepared, as_float_array, broadcasts_into, check_positive, prepare
from ._flash import TILE_SCORES as FLASH_TILE_SCORES

#: Scores per tile of the tile engine with a mask_mod or a score_mod (which are evaluated a
#: tile and a head at a time): $2^{18}$, 1 MiB in float32, `TILE_SCORES // BLOCK_K`
#: queries by `BLOCK_K` keys.
TILE_SCORES = 2**18
BLOCK_K = 128


@dataclass(frozen=True)
class FlexCall:
    """The arguments of a flex call, checked and cast once, as every path takes them.

    `p` is the package's `Prepared` call (what the tile engine runs); q `(B, H, L, E)`,
    k `(B, H // G, S, E)`, v `(B, H // G, S, Ev)` are its arrays broadcast to the scores'
    batch and heads (read-only views, compute dtype); sinks `(H,)` or None.
    """

    p: Prepared
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    score_mod: Any
    mask_mod: Any
    sinks: np.ndarray | None

    @property
    def scale(self) -> float:
        return self.p.scale

    @property
    def group(self) -> int:
        return self.p.group

    @property
    def out_dtype(self) -> np.dtype:
        return self.p.out_dtype

    @property
    def scores_shape(self) -> tuple[int, int, int, int]:
        B, H, L, S = self.p.scores_shape
        return B, H, L, S


_NO_GRAD = object()


def prepare_flex(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    score_mod: Any,
    mask_mod: Any,
    scale: object,
    enable_gqa: bool,
    sinks: ArrayLike | None,
    grad_output: object = _NO_GRAD,
) -> FlexCall:
    """Validate the public arguments of `flex_attention` and `flex_backward` once.

    The package's own checks (`attention_ref._checks.prepare`: dtypes, shapes, scale,
    grad_output), then what only flex has: exactly 4-D inputs, callable mods, `sinks` `(H,)`.
    """
    for x, name, layout in (
        (query, "query", "(B, H, L, E)"),
        (key, "key", "(B, Hkv, S, E)"),
        (value, "value", "(B, Hkv, S, Ev)"),
    ):
        if np.ndim(x) != 4:
            raise ValueError(f"{name} must be 4-D {layout}, got shape {np.shape(x)}")
    for mod, name in ((score_mod, "score_mod"), (mask_mod, "mask_mod")):
        if mod is not None and not callable(mod):
            raise TypeError(f"{name} must be None or a callable, got {mod!r}")
    grad = {} if grad_output is _NO_GRAD else {"grad_output": grad_output}
    p = prepare(query, key, value, None, False, scale, bool(enable_gqa), **grad)  # type: ignore[arg-type]
    B, H, L, S = p.scores_shape
    sink_arr = None
    if sinks is not None:
        sink_arr = as_float_array(sinks, "sinks")
        if sink_arr.shape != (H,):
            raise ValueError(
                f"sinks must have shape (H,) = ({H},), one logit per query head of query "
                f"{p.q.shape}, got shape {sink_arr.shape}"
            )
        sink_arr = sink_arr.astype(p.q.dtype)
    Hkv = H // p.group
    q = np.broadcast_to(p.q, (B, H, L, p.q.shape[-1]))
    k = np.broadcast_to(p.k, (B, Hkv, S, p.k.shape[-1]))
    v = np.broadcast_to(p.v, (B, Hkv, S, p.v.shape[-1]))
    return FlexCall(p, q, k, v, score_mod, mask_mod, sink_arr)


# --- evaluating the mods --------------------------------------------------------------------


def eval_mask(mask_mod: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any, shape: tuple) -> np.ndarray:
    """Call `mask_mod` and check what it returns: a bool array broadcasting to `shape`."""
    result = np.asarray(mask_mod(b, h, q_idx, kv_idx))
    if result.dtype != np.bool_:
        raise TypeError(
            f"mask_mod must return a bool array (True = may attend), got dtype {result.dtype} "
            f"(shape {result.shape}); compare instead of multiplying, e.g. kv_idx <= q_idx"
        )
    if not broadcasts_into(result.shape, shape):
        raise ValueError(
            f"mask_mod returned shape {result.shape}, which does not broadcast to the block "
            f"of scores {tuple(shape)} (b, h, q_idx, kv_idx broadcast to it); a mask_mod must "
            f"be elementwise in its arguments"
        )
    return result


def eval_score(
    score_mod: Any, score: np.ndarray, b: Any, h: Any, q_idx: Any, kv_idx: Any
) -> np.ndarray:
    """Call `score_mod` and check what it returns: floats of the score's shape."""
    result = np.asarray(score_mod(score, b, h, q_idx, kv_idx))
    if result.shape != score.shape:
        raise ValueError(
            f"score_mod must return scores of the shape it was given, {score.shape}, got "
            f"shape {result.shape}; a score_mod must be elementwise"
        )
    if result.dtype.kind != "f":
        raise TypeError(
            f"score_mod must return floating-point scores, got dtype {result.dtype} "
            f"(shape {result.shape})"
        )
    return result.astype(score.dtype, copy=False)


def score_grad(call: FlexCall) -> Callable[..., Any]:
    """The `grad` attribute of the call's score_mod, or `TypeError` naming it."""
    grad = getattr(call.score_mod, "grad", None)
    if not callable(grad):
        name = getattr(call.score_mod, "__name__", repr(call.score_mod))
        raise TypeError(
            f"flex_backward needs the derivative of score_mod ({name}): give it an attribute "
            f"score_mod.grad(score, b, h, q_idx, kv_idx) = d score_mod / d score (the mods "
            f"of attention_ref.mods carry one)"
        )
    return grad


def eval_grad(grad: Any, score: np.ndarray, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> np.ndarray:
    """Call `score_mod.grad`; its result must broadcast to the score's shape."""
    result = np.asarray(grad(score, b, h, q_idx, kv_idx))
    if result.dtype.kind not in "fiu":
        raise TypeError(f"score_mod.grad must return real numbers, got dtype {result.dtype}")
    try:
        fits = np.broadcast_shapes(result.shape, score.shape) == score.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"score_mod.grad returned shape {result.shape}, which does not broadcast to the "
            f"scores' shape {score.shape}"
        )
    return result.astype(score.dtype, copy=False)


def index_arrays(
    b: range | np.ndarray, h: range | np.ndarray, i: range | np.ndarray, j: range | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four index arrays of a block of scores `(b, h, i, j)`, each 4-D, broadcasting."""
    return (
        np.asarray(b, dtype=np.intp).reshape(-1, 1, 1, 1),
        np.asarray(h, dtype=np.intp).reshape(1, -1, 1, 1),
        np.asarray(i, dtype=np.intp).reshape(1, 1, -1, 1),
        np.asarray(j, dtype=np.intp).reshape(1, 1, 1, -1),
    )


# --- the reference --------------------------------------------------------------------------


def _kv_per_head(call: FlexCall) -> tuple[np.ndarray, np.ndarray]:
    """key and value with one head per query head `(B, H, S, E)`: kv head `h // G`."""
    if call.group == 1:
        return call.k, call.v
    return np.repeat(call.k, call.group, axis=1), np.repeat(call.v, call.group, axis=1)


def reference_scores(call: FlexCall) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""Every scaled score, modded and masked: `(raw, scores, allowed)`, each `(B, H, L, S)`.

    `raw` is $c\, q \cdot k$, `scores` is `score_mod(raw)` with `-inf` where `mask_mod` is
    False, `allowed` is the mask broadcast to `(B, H, L, S)` (None without a mask_mod).
    """
    B, H, L, S = call.scores_shape
    k, _ = _kv_per_head(call)
    raw = np.einsum("bhle,bhse->bhls", call.q, k) * call.q.dtype.type(call.scale)
    idx = index_arrays(range(B), range(H), range(L), range(S))
    scores = raw if call.score_mod is None else eval_score(call.score_mod, raw.copy(), *idx)
    allowed = None
    if call.mask_mod is not None:
        allowed = np.broadcast_to(eval_mask(call.mask_mod, *idx, raw.shape), raw.shape)
        scores = np.where(allowed, scores, -np.inf)
    return raw, scores, allowed


def reference_forward(call: FlexCall) -> tuple[np.ndarray, np.ndarray]:
    """The definition: all `(B, H, L, S)` scores at once.

    Returns out `(B, H, L, Ev)` and lse `(B, H, L)`.
    """
    _, scores, _ = reference_scores(call)
    _, v = _kv_per_head(call)
    m = scores.max(axis=-1, initial=-np.inf)  # (B, H, L); -inf for S = 0
    if call.sinks is not None:
        m = np.maximum(m, call.sinks[:, None])  # the sink is one more logit of every row
    shift = np.where(m == -np.inf, 0.0, m).astype(scores.dtype)  # fully masked rows: 0
    probs = np.exp(scores - shift[..., None])  # (B, H, L, S), unnormalised
    denom = probs.sum(axis=-1)  # (B, H, L)
    if call.sinks is not None:
        denom = denom + np.exp(call.sinks[:, None] - shift)
    out = (probs @ v) / np.where(denom == 0.0, 1.0, denom)[..., None]  # (B, H, L, Ev)
    lse = shift + np.log(denom, out=np.full_like(denom, -np.inf), where=denom > 0.0)
    return out, lse


def reference_backward(
    call: FlexCall, d_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    r"""The vector-Jacobian product of `reference_forward`, over whole arrays.

    With $z = \text{score\_mod}(s)$, $P$ the softmax of the masked $z$ (sinks in the
    denominator), $dP = dO\, V^\top$ and $D_i = dO_i \cdot O_i$:
    $dZ = P \circ (dP - D)$, $dS = dZ \circ \text{score\_mod}'(s)$,
    $dQ = c\, dS\, K$, $dK = c\, dS^\top Q$, $dV = P^\top dO$, and
    $d\sigma_h = -\sum_{b, i} e^{\sigma_h - \text{lse}_{bhi}} D_{bhi}$.
    """
    B, H, L, S = call.scores_shape
    raw, scores, allowed = reference_scores(call)
    out, lse = reference_forward(call)
    k, v = _kv_per_head(call)
    safe_lse = np.where(lse == -np.inf, 0.0, lse).astype(scores.dtype)
    probs = np.exp(scores - safe_lse[..., None])  # (B, H, L, S), normalised
    delta = np.einsum("bhle,bhle->bhl", d_out, out)  # (B, H, L): D_i = dO_i . O_i
    d_probs = d_out @ np.swapaxes(v, -1, -2)  # (B, H, L, S)
    d_scores = probs * (d_probs - delta[..., None])  # d z
    if call.score_mod is not None:
        grad = score_grad(call)
        idx = index_arrays(range(B), range(H), range(L), range(S))
        d_scores = d_scores * eval_grad(grad, raw, *idx)
        if allowed is not None:  # masked positions have no gradient, whatever grad says there
            d_scores = np.where(allowed, d_scores, 0.0)
    c = call.q.dtype.type(call.scale)
    d_q = c * (d_scores @ k)  # (B, H, L, E)
    d_k = c * (np.swapaxes(d_scores, -1, -2) @ call.q)  # (B, H, S, E)
    d_v = np.swapaxes(probs, -1, -2) @ d_out  # (B, H, S, Ev)
    d_sinks = None
    if call.sinks is not None:
        p_sink = np.exp(call.sinks[:, None] - safe_lse)  # (B, H, L)
        d_sinks = -(p_sink * delta).sum(axis=(0, 2))  # (H,)
    return d_q, _fold(d_k, call.group), _fold(d_v, call.group), d_sinks


def _fold(grad: np.ndarray, group: int) -> np.ndarray:
    """`(B, H, S, E)` to `(B, Hkv, S, E)`: sum the `G` query heads sharing a kv head."""
    if group == 1:
        return grad
    B, H, S, E = grad.shape
    return grad.reshape(B, H // group, group, S, E).sum(axis=2)  # (B, Hkv, G, S, E) summed


# --- the band path: one tile per block of queries -----------------------------------------

#: Scores per tile on the band path, summed over the tile's heads: $2^{20}$ (4 MiB in float32).
BAND_TILE_SCORES = 2**20


def band_plan(
    call: FlexCall, block_q: int | None = None, forced: bool = False
) -> tuple[int, int, int] | None:
    """Queries per block, heads per tile and the most keys a block sees, `(Bq, Hc, W)`, of
    the band path; None when the call does not suit it.

    The band path needs a mask_mod whose `key_range` hint (see `attention_ref.mods`) narrows
    what a block of queries may see (a sliding window; a causal mask on a short sequence), so
    that one block's keys fit one tile of `BAND_TILE_SCORES`. A block of `Bq` queries of a
    window of `w` keys sees `w + Bq` keys, of which a query sees `w + 1`: the block is chosen
    about `w / 8` (a power of two between 16 and 256), so that at most one computed score in
    nine is masked, while the tile stays large enough for BLAS and for NumPy's per-call
    overhead (every head of the block in one call): at $w = 512$, blocks of 64 queries by 576
    keys by 8 heads. Unless `forced`, a block that sees more than half of the keys is left to
    the tile engine, which is faster there.
    """
    hint = getattr(call.mask_mod, "key_range", None)
    _, H, L, S = call.scores_shape
    if not callable(hint) or L == 0:
        return None
    if block_q is None:
        mid = L // 2
        lo, hi = _band_range(call, mid, mid + 1)
        block_q = 1 << max(4, min(8, (max(1, hi - lo) // 4).bit_length() - 1))
    bq = max(1, min(L, block_q))
    widest = max(hi - lo for lo, hi in (_band_range(call, i0, min(i0 + bq, L))
                                        for i0 in range(0, L, bq)))  # fmt: skip
    if bq * widest > BAND_TILE_SCORES or (not forced and 2 * widest > S):
        return None  # too wide for one tile, or hardly narrower than every key
    return bq, max(1, min(H, BAND_TILE_SCORES // max(1, bq * widest))), widest


def _band_range(call: FlexCall, i0: int, i1: int) -> tuple[int, int]:
    """The keys `[lo, hi)` the queries `i0:i1` may see, by the mask_mod's hint."""
    S = call.scores_shape[-1]
    lo, hi = call.mask_mod.key_range(i0, i1, S)
    lo, hi = max(0, int(lo)), min(S, int(hi))
    return lo, max(lo, hi)


#: A block whose scores are all within $\pm$`BAND_UNSHIFTED` doublings of 0 (by the
#: Cauchy-Schwarz bound; standard-normal queries and keys, E = 64, reach about 15) needs no
#: shift at all: its terms $2^s$ lie in $[2^{-60}, 2^{60}]$, normal numbers whose sums
#: cannot overflow (the engine's floor is $2^{-64}$ in float32, for the same reasons).
BAND_UNSHIFTED = 60.0
#: A block whose largest score (found by one reduction over the tile, hidden scores
#: included) is at most `BAND_CLAMPED` doublings runs unshifted too, its scores clamped below
#: at the engine's floor: the terms are at most $2^{100}$, so a row's sum stays below
#: $2^{120}$ for tiles of up to $2^{20}$ keys. Three times standard-normal inputs (E = 64)
#: reach about 60 doublings, beyond `BAND_UNSHIFTED`'s bound but well within this.
BAND_CLAMPED = 100.0


def _hidden_spans(hidden: np.ndarray) -> list[tuple[int, int]]:
    """The keys of a band tile to visit when hiding, `[(j0, j1)]`.

    `hidden` is `(1 or Hc, W, n or 1)`. The longest run of keys that every query of the
    block sees (the middle of a window) is left out.
    """
    w = hidden.shape[1]
    partial_keys = np.any(hidden, axis=(0, 2))  # (W,)
    full = np.flatnonzero(~partial_keys)  # keys every query of the block sees
    if full.size == 0:
        return [(0, w)]
    runs = np.split(full, np.flatnonzero(np.diff(full) != 1) + 1)
    run = max(runs, key=len)
    a, b = int(run[0]), int(run[-1]) + 1
    return [(j0, j1) for j0, j1 in ((0, a), (b, w)) if j1 > j0]


def _band_low_sum(dt: np.dtype, w: int) -> float:
    r"""The least row sum of a clamped band tile kept as it is: below it, a row is computed
    again with its true maximum.

    A clamped term exceeds its true value by less than $2^{\text{floor}}$, so `w` of them
    move a row's sum by less than $w\, 2^{\text{floor}}$; against a sum of at least
    $w\, 2^{\text{floor} + \text{nmant} + 7}$ that is below $2^{-(\text{nmant} + 7)}$
    relative, a hundredth of the dtype's rounding.
    """
    return w * 2.0 ** (_tiles._EXP2_FLOOR[dt] + np.finfo(dt).nmant + 7)


def _band_rows_exact(
    k_blk: np.ndarray,
    q_rows: np.ndarray,
    hid: np.ndarray | None,
    v_blk: np.ndarray,
    sink2: Any,
    floor: Any,
    o: np.ndarray,
    rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows `rows` of a band tile again, shifted by their true maximum: writes `o[rows]`
    ($\\sum_j p_{ij} v_j$) and returns their shifts and sums $\\ell_i$, `(r,)` each.

    `k_blk` `(W, E)` the tile's keys, `q_rows` `(r, E)` the rows' scaled queries, `hid`
    `(W, r)` their hidden keys or None, `v_blk` `(W, Ev)` the values, `sink2` the head's
    sink (base 2) or None.
    """
    s = k_blk @ q_rows.T  # (W, r)
    if hid is not None:
        np.copyto(s, -np.inf, where=hid)
    m = np.max(s, axis=0)  # NaN stays NaN: the formula's
    if sink2 is not None:
        m = np.maximum(m, sink2)
    m[m == -np.inf] = 0.0
    s -= m
    np.maximum(s, floor, out=s)
    np.exp2(s, out=s)
    if hid is not None:
        np.copyto(s, 0.0, where=hid)
    o[rows] = s.T @ v_blk
    return m, np.sum(s, axis=0)


def _band_kv_groups(call: FlexCall, heads: range) -> tuple[int, int] | None:
    """The kv heads `(kv0, kv1)` of the query heads `heads` when these are whole groups
    (each kv head's `G` query heads all there), else None."""
    G = call.group
    if heads.start % G or len(heads) % G:
        return None
    return heads.start // G, heads.stop // G


def _band_scores(
    call: FlexCall, b: int, heads: range, lo: int, hi: int, q_t: np.ndarray, s: np.ndarray
) -> None:
    """`s[t] = k[lo:hi] @ q_t[t].T` for each head `t` of `heads` (its kv head's keys):
    `q_t` `(Hc, n, E)`, `s` `(Hc, W, n)`. One call for whole kv groups (NumPy runs the
    products in C), one per head otherwise."""
    groups = _band_kv_groups(call, heads)
    if groups is None:
        for t, h in enumerate(heads):
            np.matmul(call.k[b, h // call.group, lo:hi], q_t[t].T, out=s[t])
        return
    hk, G, (W, n) = groups[1] - groups[0], call.group, s.shape[1:]
    k_blk = call.k[b, groups[0] : groups[1], None, lo:hi]  # (Hkv_c, 1, W, E): for G heads
    q_kv = np.swapaxes(q_t, -1, -2).reshape(hk, G, -1, n)  # (Hkv_c, G, E, n)
    np.matmul(k_blk, q_kv, out=s.reshape(hk, G, W, n))


def _band_values(
    call: FlexCall, b: int, heads: range, lo: int, hi: int, p: np.ndarray, o: np.ndarray
) -> None:
    """`o[t] = p[t].T @ v[lo:hi]` for each head `t` of `heads` (its kv head's values):
    `p` `(Hc, W, n)`, `o` `(Hc, n, Ev)`; one call for whole kv groups."""
    groups = _band_kv_groups(call, heads)
    if groups is None:
        for t, h in enumerate(heads):
            np.matmul(p[t].T, call.v[b, h // call.group, lo:hi], out=o[t])
        return
    hk, G, (W, n) = groups[1] - groups[0], call.group, p.shape[1:]
    v_blk = call.v[b, groups[0] : groups[1], None, lo:hi]  # (Hkv_c, 1, W, Ev): for G heads
    p_kv = np.swapaxes(p.reshape(hk, G, W, n), -1, -2)  # (Hkv_c, G, n, W)
    np.matmul(p_kv, v_blk, out=o.reshape(hk, G, n, -1))


def _band_task(
    call: FlexCall,
    b: int,
    hs: slice,
    starts: range,
    bq: int,
    widest: int,
    k_norm: np.ndarray,
    out: np.ndarray,
    lse: np.ndarray,
) -> None:
    r"""Blocks of queries `starts` (each `bq` long, seeing at most `widest` keys) of batch
    `b`, heads `hs`: writes out and lse.

    Each block takes every key it may see in one tile, so its softmax is exact in one
    pass, in base 2 ($c = \text{scale} \cdot \log_2 e$), with scores keys by queries
    `(Hc, W, n)` (the reductions over a row's keys then run across contiguous rows of
    queries) and the mods evaluated once for all the heads of the tile (once per shape and
    offset for a `relative` mask_mod). Three cases, per block:

    - **unshifted**, when the Cauchy-Schwarz bound $|c\, q_i| \max_j \lVert k_j \rVert$
      (`k_norm`) keeps every score of the block, hidden ones included, within
      `BAND_UNSHIFTED` doublings of 0 (standard-normal inputs, no score_mod): the terms
      $2^{s}$ need no shift; `exp2`, the hidden terms set to 0, and the products. As lean
      as the tile engine's dense tiles. The bound allows $\pm 60$ doublings: the terms then
      lie in $[2^{-60}, 2^{60}]$ and their products with values stay normal numbers, far
      from the subnormals below $2^{-126}$ and from overflow, as the engine's floor
      guarantees.
    - **clamped**, when the bound says nothing but the block's largest score (every head,
      hidden scores included: one reduction) is at most `BAND_CLAMPED` (about 3 times
      standard-normal inputs, no score_mod, sinks within `BAND_UNSHIFTED`): no
      shift either, the scores clamped below at the engine's floor, so `exp2` meets no
      subnormal. A row whose sum $\ell_i$ is too small for the clamp to be negligible
      (`_band_low_sum`: every score of the row far below 0), or whose sums are not finite
      (an overflow with large values, NaN, inf), is computed again exactly
      (`_band_rows_exact`).
    - **shifted** otherwise (larger inputs, a score_mod, NaN or inf): the hidden scores set
      to $-\infty$, each row shifted by its true maximum (with the sink), clamped below at
      the engine's floor (no subnormal, and `exp2` never sees $-\infty$), then as above.

    Only the keys with a hidden entry are visited when hiding (`_hidden_spans`); there the
    terms are multiplied by the visible entries (0 or 1, made once per tile: a clean pass,
    where `copyto` with `where=` branches per entry). $\ell_i$ is one product of a row of
    ones with the tile; the keys and values are read where they are, and the products are
    written straight into `out`. Every step takes all the heads of the tile in one NumPy
    call (the products too, for whole kv groups: `_band_scores`, `_band_values`): measured
    at L = S = 16384, window 512, 8 heads on 2 threads, the band took 160 ms so, against
    177 and 189 ms with tiles of 4 and 2 heads (`BAND_TILE_SCORES` of $2^{19}$ and
    $2^{18}$): the NumPy calls saved outweigh the cache.
    """
    dt = call.q.dtype
    L = call.scores_shape[2]
    heads = range(hs.start, hs.stop)
    hc, E = len(heads), call.q.shape[-1]
    floor = dt.type(_tiles._EXP2_FLOOR[dt])
    ceil = dt.type(_tiles._EXP2_CEIL[dt])
    log2e = dt.type(_tiles.LOG2E)
    natural = call.score_mod is not None  # the score_mod takes scores in natural units
    c = dt.type(call.scale) if natural else dt.type(call.scale) * log2e
    sink2 = None if call.sinks is None else call.sinks[hs] * log2e  # (Hc,) base 2
    sinks_within = sink2 is None or bool(np.all(np.abs(sink2) <= BAND_UNSHIFTED))
    buf = np.empty(hc * widest * bq, dtype=dt)  # the tile of scores, reused
    q_blk = np.empty((hc, bq, E), dtype=dt)
    ones = np.ones(widest, dtype=dt)  # (W,): l_i = ones @ p
    relative = getattr(call.mask_mod, "relative", False) is True  # see attention_ref.mods
    masks: dict[tuple[int, int, int], Any] = {}  # a relative mask's tiles
    for i0 in starts:
        i1 = min(i0 + bq, L)
        n = i1 - i0
        lo, hi = _band_range(call, i0, i1)
        w = hi - lo
        if w == 0:  # no key: zeros, lse -inf (or the sink)
            out[b, hs, i0:i1] = 0.0
            lse[b, hs, i0:i1] = -np.inf if call.sinks is None else call.sinks[hs, None]
            continue
        q_t = q_blk[:, :n]
        np.multiply(call.q[b, hs, i0:i1], c, out=q_t)
        s = buf[: hc * w * n].reshape(hc, w, n)  # s[h, j, i]: key lo + j, query i0 + i
        idx = partial(index_arrays, range(b, b + 1), heads, range(i0, i1), range(lo, hi))
        hidden = None
        if call.mask_mod is not None:
            key = (i0 - lo, n, w)  # what a relative mask's tile depends on
            if not relative or key not in masks:
                allowed = eval_mask(call.mask_mod, *idx(), (1, hc, n, w))
                tile = None
                if not allowed.all():  # hidden (1 or Hc, W, n), the keys to visit, their keep
                    tile_hidden = np.broadcast_to(
                        np.swapaxes(~allowed[0], -1, -2), (allowed.shape[1], w, n)
                    )
                    visit = _hidden_spans(tile_hidden)
                    keep = [(~tile_hidden[:, j0:j1]).astype(dt) for j0, j1 in visit]
                    tile = (tile_hidden, visit, keep)
                if relative:
                    masks[key] = tile
            hidden = masks[key] if relative else tile
        if natural:  # the score_mod, once for every head of the tile
            _band_scores(call, b, heads, lo, hi, q_t, s)
            z = eval_score(call.score_mod, np.swapaxes(s, -1, -2)[None], *idx())[0]
            np.multiply(np.swapaxes(z, -1, -2), log2e, out=s)
            unshifted = False
        else:  # |c q_i . k_j| <= |c q_i| max_j |k_j|: how far from 0 may the scores go?
            kn = np.max(k_norm[b, :, lo:hi], axis=1)  # (Hkv,) max |k_j| per kv head
            reach = np.sqrt(np.einsum("hie,hie->hi", q_t, q_t))  # (Hc, n) |c q_i|
            reach *= kn[np.asarray(heads) // call.group][:, None]
            unshifted = sinks_within and bool(np.all(reach <= BAND_UNSHIFTED))
        m_safe = np.zeros((hc, n), dtype=dt)  # each row's shift, base 2
        l = np.empty((hc, n), dtype=dt)  # noqa: E741
        spans: list[tuple[int, int]] = [] if hidden is None else hidden[1]
        if not natural:
            _band_scores(call, b, heads, lo, hi, q_t, s)
        # the block's largest score, NaN included, decides between clamped and shifted
        clamped = not natural and not unshifted and sinks_within
        clamped = clamped and bool(np.max(s) <= BAND_CLAMPED)
        if clamped:
            np.clip(s, floor, ceil, out=s)  # no subnormal; no score above BAND_CLAMPED
        elif not unshifted:
            if hidden is not None:  # hidden scores out of the maximum (NaN ones too)
                for j0, j1 in spans:
                    np.copyto(s[:, j0:j1], -np.inf, where=hidden[0][:, j0:j1])
            m = np.max(s, axis=1)  # (Hc, n) each row's maximum
            if sink2 is not None:
                np.maximum(m, sink2[:, None], out=m)
            m[m == -np.inf] = 0.0  # a row that sees no key: every term 0
            m_safe = m
            s -= m[:, None, :]
            np.clip(s, floor, ceil, out=s)  # hidden or negligible terms: no subnormal
        np.exp2(s, out=s)
        if hidden is not None:
            for (j0, j1), keep_s in zip(spans, hidden[2], strict=True):
                np.multiply(s[:, j0:j1], keep_s, out=s[:, j0:j1])
        o_b = out[b, hs, i0:i1]  # (Hc, n, Ev)
        _band_values(call, b, heads, lo, hi, s, o_b)  # divided by l_i below
        np.matmul(ones[:w], s, out=l)  # (Hc, n)
        low = _band_low_sum(dt, w) if clamped else 0.0
        if clamped and not (float(np.min(l)) >= low and np.isfinite(np.sum(o_b))):
            for t, h in enumerate(heads):
                o, l_t = out[b, h, i0:i1], l[t]
                redo = np.flatnonzero(~(l_t >= low) | ~np.isfinite(o).all(axis=1))
                if redo.size:
                    kv = h // call.group
                    hid = None if hidden is None else hidden[0][min(t, hidden[0].shape[0] - 1)]
                    m_safe[t, redo], l_t[redo] = _band_rows_exact(
                        call.k[b, kv, lo:hi], q_t[t, redo], None if hid is None else hid[:, redo],
                        call.v[b, kv, lo:hi], None if sink2 is None else sink2[t], floor, o, redo,
                    )  # fmt: skip
        if sink2 is not None:
            l += np.exp2(sink2[:, None] - m_safe)  # noqa: E741
        np.divide(o_b, np.where(l == 0.0, 1.0, l)[..., None], out=o_b)
        log_l = np.log2(l, out=np.full_like(l, -np.inf), where=l > 0.0)
        lse[b, hs, i0:i1] = (m_safe + log_l) / log2e


def band_forward(call: FlexCall, block_q: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The band path's forward pass: out `(B, H, L, Ev)` and lse `(B, H, L)`.

    Tasks of a few blocks of queries each, every head of a batch entry that fits the tile
    budget at once, on the tile engine's thread pool.
    """
    plan = band_plan(call, block_q, forced=True)
    if plan is None:
        raise ValueError(
            "path='band' needs a mask_mod with a key_range hint narrow enough for one tile"
        )
    bq, hc, widest = plan
    B, H, L, _ = call.scores_shape
    dt = call.q.dtype
    out = np.empty((B, H, L, call.v.shape[-1]), dtype=dt)
    lse = np.empty((B, H, L), dtype=dt)
    blocks = range(0, L, bq)
    per_task = max(1, -(-len(blocks) // 8))  # about 8 tasks per batch entry and heads
    k_norm = np.sqrt(np.einsum("bkse,bkse->bks", call.k, call.k))  # (B, Hkv, S) |k_j|
    tasks: list[Callable[[], None]] = [
        partial(_band_task, call, b, slice(h0, min(h0 + hc, H)), blocks[t : t + per_task], bq,
                widest, k_norm, out, lse)
        for b in range(B)
        for h0 in range(0, H, hc)
        for t in range(0, len(blocks), per_task)
    ]  # fmt: skip
    _tiles._run(tasks, None)
    return out, lse


# --- on the tile engine ----------------------------------------------------------------------


class ModScore(_tiles.TileScore):
    """A score_mod (and the sinks) as the tile engine's score hook, one head and tile at a time.

    With sinks the engine runs on keys shifted by one, key 0 a zero key standing for the sink
    (see `engine_call`): its score is replaced by the head's sink logit (derivative 0), and the
    score_mod sees the real keys only, with their own indices.
    """

    def __init__(self, call: FlexCall) -> None:
        self.score_mod = call.score_mod
        self.sinks = call.sinks
        self.first = 0 if call.sinks is None else 1  # the index of the first real key

    def _split(self, head: tuple[int, ...], i: np.ndarray, j: np.ndarray) -> tuple[Any, int]:
        """The index arrays of the real keys of a tile, and how many sink columns lead it."""
        b, h = head
        lead = int(np.count_nonzero(j < self.first))  # 0, or 1 for the tile with the sink
        idx = index_arrays(range(b, b + 1), range(h, h + 1), i, j[lead:] - self.first)
        return idx, lead

    def __call__(
        self, head: tuple[int, ...], i: np.ndarray, j: np.ndarray, s: np.ndarray
    ) -> np.ndarray:
        idx, lead = self._split(head, i, j)
        if self.score_mod is not None and s.shape[1] > lead:
            real = s[None, None, :, lead:]  # (1, 1, n, b'), as the index arrays
            s[:, lead:] = eval_score(self.score_mod, real.copy(), *idx)[0, 0]
        if lead:
            assert self.sinks is not None
            s[:, :lead] = self.sinks[head[-1]]
        return s

    def grad(
        self, head: tuple[int, ...], i: np.ndarray, j: np.ndarray, s: np.ndarray
    ) -> np.ndarray:
        idx, lead = self._split(head, i, j)
        g = np.ones_like(s)
        if self.score_mod is not None and s.shape[1] > lead:
            real = s[None, None, :, lead:]
            g[:, lead:] = eval_grad(score_grad_of(self.score_mod), real, *idx)[0, 0]
        g[:, :lead] = 0.0  # the sink's logit does not depend on the scores
        return g


class ModMasks(_tiles.TileMasks):
    """A mask_mod (and a score_mod, sinks) as the tile engine asks for them: one head and one
    tile at a time.

    `tile` evaluates the mask_mod on the tile's index arrays (b and h of the head, the
    tile's queries and keys); `key_range` is the mod's hint, when it has one. A score_mod or
    sinks ride in `score` (a `ModScore`); with sinks, key 0 is the sink, always visible, and
    key `j` is the mask_mod's `j - 1`.
    """

    def __init__(self, call: FlexCall) -> None:
        first = 0 if call.sinks is None else 1
        L, S = call.scores_shape[-2:]
        super().__init__(L, S + first)
        self.real_S, self.first = S, first
        self.mask_mod = call.mask_mod
        hint = getattr(call.mask_mod, "key_range", None)
        self.hint = hint if callable(hint) else None
        q_hint = getattr(call.mask_mod, "query_range", None)
        self.q_hint = q_hint if callable(q_hint) else None
        if call.score_mod is not None or call.sinks is not None:
            self.score = ModScore(call)

    def key_range(self, head: tuple[int, ...], i0: int, i1: int) -> tuple[int, int]:
        if self.hint is None:
            return 0, self.S
        lo, hi = self.hint(i0, i1, self.real_S)
        lo, hi = max(0, int(lo)), min(self.real_S, int(hi))
        if self.first:  # the sink, key 0, is seen by every query
            return 0, max(lo, hi) + 1
        return lo, max(lo, hi)

    def query_range(self, head: tuple[int, ...], j0: int, j1: int) -> tuple[int, int]:
        if self.q_hint is None or j0 < self.first:  # every query sees the sink
            return 0, self.L
        lo, hi = self.q_hint(j0 - self.first, j1 - self.first, self.L)
        lo, hi = max(0, int(lo)), min(self.L, int(hi))
        return lo, max(lo, hi)

    def tile(
        self, head: tuple[int, ...], i0: int, i1: int, j0: int, j1: int
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.mask_mod is None:
            return None, None
        lead = max(0, min(j1, self.first) - j0)  # the sink's column, when in this tile
        b, h = head
        shape = (1, 1, i1 - i0, j1 - j0 - lead)
        real = range(j0 + lead - self.first, j1 - self.first)
        idx = index_arrays(range(b, b + 1), range(h, h + 1), range(i0, i1), real)
        keep = eval_mask(self.mask_mod, *idx, shape)
        if keep.all():
            return None, None
        keep = np.broadcast_to(keep, shape)[0, 0]
        if lead:
            keep = np.concatenate([np.ones((i1 - i0, lead), dtype=bool), keep], axis=1)
        return keep, None


def score_grad_of(score_mod: Any) -> Callable[..., Any]:
    """The `grad` of a score_mod (checked by `score_grad` before any work)."""
    grad = getattr(score_mod, "grad", None)
    assert callable(grad)
    return grad


def engine_call(call: FlexCall, d_out: np.ndarray | None = None) -> Prepared:
    """The `Prepared` call the tile engine runs: the flex call's own, or, with sinks, with a
    zero key and a zero value in front (the sink's column, see `ModScore`)."""
    p = call.p
    if d_out is not None:
        p = replace(p, d_out=d_out)
    if call.sinks is None:
        return p
    *lead_k, _, E = p.k.shape
    *lead_v, _, Ev = p.v.shape
    k = np.concatenate([np.zeros((*lead_k, 1, E), dtype=p.k.dtype), p.k], axis=-2)
    v = np.concatenate([np.zeros((*lead_v, 1, Ev), dtype=p.v.dtype), p.v], axis=-2)
    B, H, L, S = p.scores_shape
    return replace(p, k=k, v=v, scores_shape=(B, H, L, S + 1))


def engine_tiles(call: FlexCall, block_q: int | None, block_k: int | None) -> tuple[int, int]:
    """Queries and keys per tile on the engine: flash_attention's without mods; with a
    mask_mod or a score_mod, `TILE_SCORES` per tile (the mods are evaluated a tile at a time,
    once per head)."""
    bk = BLOCK_K if block_k is None else block_k
    if block_q is not None:
        return block_q, bk
    if call.mask_mod is None and call.score_mod is None:
        return max(bk, FLASH_TILE_SCORES // bk), bk
    return max(1, TILE_SCORES // bk), bk


def engine_forward(
    call: FlexCall, block_q: int | None = None, block_k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The forward pass on the tile engine: out `(B, H, L, Ev)`, lse `(B, H, L)`.

    Without mods this is `flash_attention`'s call, with its tiles. A mask_mod is asked per
    tile (`ModMasks`), a score_mod through the engine's score hook (`ModScore`), and sinks
    are a key of their own in front of the others (`engine_call`).
    """
    bq, bk = engine_tiles(call, block_q, block_k)
    p = engine_call(call)
    out, lse = _tiles.forward(p, ModMasks(call), block_q=bq, block_k=bk, with_lse=True)
    assert lse is not None
    return out, lse


def engine_backward(
    call: FlexCall, d_out: np.ndarray, block_q: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    r"""The backward pass on the tile engine (d_k, d_v already summed over the groups).

    The engine's `backward_head` recomputes each block's probabilities, through the score
    hook and its derivative. With sinks, the sink's key is dropped from d_k and d_v, and
    $d\sigma_h = -\sum_{b, i} e^{\sigma_h - \text{lse}_{bhi}}\, dO_{bhi} \cdot O_{bhi}$
    needs the forward pass's output and lse.
    """
    bq = BACKWARD_BLOCK_Q if block_q is None else block_q
    p = engine_call(call, d_out=call.p.d_out)
    d_q, d_k, d_v = _tiles.backward(p, ModMasks(call), block_q=bq)
    if call.sinks is None:
        return d_q, d_k, d_v, None
    out, lse = engine_forward(call)
    delta = np.einsum("bhle,bhle->bhl", d_out, out)  # (B, H, L): D_i = dO_i . O_i
    p_sink = np.exp(call.sinks[:, None] - np.where(lse == -np.inf, 0.0, lse))  # (B, H, L)
    d_sinks = -(p_sink * delta).sum(axis=(0, 2))  # (H,)
    return d_q, d_k[..., 1:, :], d_v[..., 1:, :], d_sinks


# --- the public functions -------------------------------------------------------------------

#: The paths: "tiled" (the public functions') runs the band path when the mask_mod's hint
#: makes the blocks of queries narrow (see `band_plan`), else the tile engine; "band" and
#: "engine" force one ("band" needs a hinted mask_mod); "reference" is the reference. The
#: backward pass runs on the engine (or the reference).
PATHS = ("tiled", "band", "engine", "reference")


def flex(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    score_mod: Any = None,
    mask_mod: Any = None,
    *,
    scale: float | None = None,
    enable_gqa: bool = False,
    sinks: ArrayLike | None = None,
    return_lse: bool = False,
    path: str = "tiled",
    block_q: int | None = None,
    block_k: int | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """`flex_attention` with the path and the tile sizes chosen by argument (for the tests)."""
    call = prepare_flex(query, key, value, score_mod, mask_mod, scale, enable_gqa, sinks)
    block_q, block_k = _check_path(path, block_q, block_k, call)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # NaN/inf propagate
        if path == "reference":
            out, lse = reference_forward(call)
        elif path == "band" or (path == "tiled" and band_plan(call, block_q) is not None):
            out, lse = band_forward(call, block_q)
        else:
            out, lse = engine_forward(call, block_q, block_k)
    out = out.astype(call.out_dtype, copy=False)
    if return_lse:
        return out, lse.astype(call.out_dtype, copy=False)
    return out


def flex_grad(
    grad_output: ArrayLike,
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    score_mod: Any = None,
    mask_mod: Any = None,
    *,
    scale: float | None = None,
    enable_gqa: bool = False,
    sinks: ArrayLike | None = None,
    path: str = "tiled",
    block_q: int | None = None,
    block_k: int | None = None,
) -> tuple[np.ndarray, ...]:
    """`flex_backward` with the path and the tile sizes chosen by argument (for the tests)."""
    call = prepare_flex(
        query, key, value, score_mod, mask_mod, scale, enable_gqa, sinks, grad_output
    )
    block_q, block_k = _check_path(path, block_q, block_k, call)
    if call.score_mod is not None:
        score_grad(call)  # a score_mod without grad fails here, before any work
    d_out = call.p.d_out
    assert d_out is not None
    d_out = np.broadcast_to(d_out, (*call.scores_shape[:-1], call.v.shape[-1]))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # NaN/inf propagate
        if path == "reference":
            d_q, d_k, d_v, d_sinks = reference_backward(call, d_out)
        else:
            d_q, d_k, d_v, d_sinks = engine_backward(call, d_out, block_q)
    shapes = (call.p.q.shape, call.p.k.shape, call.p.v.shape)
    grads = tuple(
        _sum_to_shape(g, shape).astype(call.out_dtype, copy=False)
        for g, shape in zip((d_q, d_k, d_v), shapes, strict=True)
    )
    if d_sinks is None:
        return grads
    sinks_dtype = np.asarray(sinks).dtype
    return (*grads, d_sinks.astype(sinks_dtype, copy=False))


def _check_path(
    path: str, block_q: int | None, block_k: int | None, call: FlexCall
) -> tuple[int | None, int | None]:
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    bq = None if block_q is None else check_positive(block_q, "block_q")
    bk = None if block_k is None else check_positive(block_k, "block_k")
    return bq, bk


def flex_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    score_mod: Any = None,
    mask_mod: Any = None,
    *,
    scale: float | None = None,
    enable_gqa: bool = False,
    sinks: ArrayLike | None = None,
    return_lse: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Attention whose mask and score bias are functions of the indices (FlexAttention).

    $$O = \operatorname{softmax}\bigl(\text{score\_mod}(c\, Q K^\top)\bigr) V,$$

    the softmax taken over the keys where `mask_mod` is True. Causal masks of either
    alignment, sliding windows, prefix-LM, packed documents, ALiBi and soft-capping are each a
    small function (see `attention_ref.mods`), and combine with `and_masks`, `or_masks` and
    `chain`.

    The computation is tiled: the mods are evaluated on each tile of scores with that tile's
    index arrays, the online softmax of FlashAttention runs across the tiles of keys, and a
    tile whose mask is False everywhere is skipped before any of its scores is computed. The
    memory is a few tiles, never $O(L \times S)$; a sliding window of $w$ keys costs
    $O(L \times w)$.

    Shapes:
        `B` batch, `H` query heads, `Hkv` key/value heads, `L` query length, `S` key/value
        length, `E` query/key head size, `Ev` value head size.

    Parameters
    ----------
    query : array_like of shape (B, H, L, E)
        Exactly 4-D. float16, float32 or float64 (float16 is computed in float32).
    key : array_like of shape (B, Hkv, S, E)
        `Hkv = H` (or 1, broadcast) unless `enable_gqa=True`.
    value : array_like of shape (B, Hkv, S, Ev)
    score_mod : callable, optional
        `score_mod(score, b, h, q_idx, kv_idx)` returns new scores of the shape of `score`,
        the block of **scaled** scores $c\, q \cdot k$. `b, h, q_idx, kv_idx` are integer
        arrays broadcasting to that block (`h` is the query head).
    mask_mod : callable, optional
        `mask_mod(b, h, q_idx, kv_idx)` returns a bool array broadcasting to the block of
        scores, **True = may attend**.
    scale : float, optional
        The factor $c$ multiplying $Q K^\top$; `None` means $1/\sqrt{E}$.
    enable_gqa : bool, default False
        Grouped-query attention: query head `h` reads kv head `h // (H // Hkv)`.
    sinks : array_like of shape (H,), optional
        Attention sinks (gpt-oss): one logit $\sigma_h$ per query head that joins every row's
        denominator and no value,
        $o_i = \sum_j e^{s_{ij}} v_j \big/ \bigl(e^{\sigma_h} + \sum_j e^{s_{ij}}\bigr)$.
    return_lse : bool, default False
        Also return the log-sum-exp of each row of modded, masked scores (with the sink when
        given).

    Returns
    -------
    output : ndarray of shape (B, H, L, Ev)
        dtype `np.result_type(query, key, value)`.
    lse : ndarray of shape (B, H, L)
        Only when `return_lse=True`. A fully masked row has zeros as output and lse `-inf`
        (with sinks: `sink_h`).

    Raises
    ------
    TypeError
        A non-float input, a mod that is not callable, a mask_mod returning non-bool values or
        a score_mod returning non-float ones.
    ValueError
        Inputs that are not 4-D, shapes that disagree, a mask_mod result that does not
        broadcast to the block of scores, a score_mod that changes its shape, `sinks` not of
        shape `(H,)`.

    See Also
    --------
    flex_backward : the gradients.
    flash_attention : the same tiling with an array mask.

    Notes
    -----
    Equal (to float rounding) to PyTorch's `torch.nn.attention.flex_attention.flex_attention`
    with the same mods written in torch and `block_mask = create_block_mask(mask_mod, B, H, L,
    S)`; the tests check it. `flex_attention(q, k, v, mask_mod=mods.causal())` equals
    `scaled_dot_product_attention(q, k, v, is_causal=True)`.

    References
    ----------
    [He, Guessous, Liang, Zhang and Lu (2024). FlexAttention: A Programming Model for
    Generating Optimized Attention Kernels.](https://arxiv.org/abs/2412.05496)

    Examples
    --------
    Equal scores average the values the mask lets through; the first causal row is `v[0]`:

    >>> import numpy as np
    >>> from attention_ref import flex_attention, mods
    >>> q = np.zeros((1, 1, 2, 2)); k = np.ones((1, 1, 3, 2))
    >>> v = np.array([[[[1.0], [2.0], [6.0]]]])
    >>> flex_attention(q, k, v).tolist()
    [[[[3.0], [3.0]]]]
    >>> flex_attention(q, k, v, mask_mod=mods.causal()).tolist()
    [[[[1.0], [1.5]]]]

    A sink of logit 0 next to one key of score 0 takes half of the weight:

    >>> out = flex_attention(q, k[:, :, :1], v[:, :, :1], sinks=np.zeros(1))
    >>> out.tolist()
    [[[[0.5], [0.5]]]]
    """
    return flex(
        query,
        key,
        value,
        score_mod,
        mask_mod,
        scale=scale,
        enable_gqa=enable_gqa,
        sinks=sinks,
        return_lse=return_lse,
    )


def flex_backward(
    grad_output: ArrayLike,
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    score_mod: Any = None,
    mask_mod: Any = None,
    *,
    scale: float | None = None,
    enable_gqa: bool = False,
    sinks: ArrayLike | None = None,
) -> tuple[np.ndarray, ...]:
    r"""The gradients of `flex_attention`: its exact vector-Jacobian product.

    With $s = c\, Q K^\top$, $z = \text{score\_mod}(s)$, $P$ the softmax of $z$ over the
    allowed keys (and the sink), $dP = dO\, V^\top$ and $D_i = dO_i \cdot O_i$:

    $$dZ = P \circ (dP - D), \quad dS = dZ \circ \text{score\_mod}'(s),$$

    $$dQ = c\, dS\, K, \quad dK = c\, dS^\top Q, \quad dV = P^\top dO,$$

    and for a sink $d\sigma_h = -\sum_{b, i} P_{\text{sink}, bhi}\, D_{bhi}$. Computed tile by
    tile like the forward pass, skipping the same tiles.

    Parameters
    ----------
    grad_output : array_like of shape (B, H, L, Ev)
        The gradient of the loss with respect to the output.
    query, key, value, score_mod, mask_mod, scale, enable_gqa, sinks
        As `flex_attention`. The score_mod needs an attribute
        `grad(score, b, h, q_idx, kv_idx)` $= \partial\,\text{score\_mod} / \partial\,
        \text{score}$; the mods of `attention_ref.mods` carry one.

    Returns
    -------
    grad_query, grad_key, grad_value : ndarray
        Of the shapes of `query`, `key` and `value`.
    grad_sinks : ndarray of shape (H,)
        Only when `sinks` is given; in the dtype of `sinks`.

    Raises
    ------
    TypeError
        As `flex_attention`, or a score_mod without a callable `grad` (naming it).
    ValueError
        As `flex_attention`, or a `grad_output` not of the output's shape.

    Examples
    --------
    With a single key the output is `v[0]` whatever the query and the key, so they get no
    gradient, and the value gets the sum of `grad_output` over the queries:

    >>> import numpy as np
    >>> from attention_ref import flex_backward, mods
    >>> q, k = np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 2))
    >>> v = np.full((1, 1, 1, 1), 4.0)
    >>> d_out = np.array([[[[1.0], [2.0]]]])
    >>> d_q, d_k, d_v = flex_backward(d_out, q, k, v, score_mod=mods.softcap(20.0))
    >>> d_q.tolist(), d_k.tolist(), d_v.tolist()
    ([[[[0.0, 0.0], [0.0, 0.0]]]], [[[[0.0, 0.0]]]], [[[[3.0]]]])
    """
    return flex_grad(
        grad_output,
        query,
        key,
        value,
        score_mod,
        mask_mod,
        scale=scale,
        enable_gqa=enable_gqa,
        sinks=sinks,
    )
