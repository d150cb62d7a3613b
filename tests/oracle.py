"""Slow, obviously-correct oracles for the attention_ref test suite.

Everything here is written with plain Python loops over ``b, h, i, j`` and ``math.exp`` on
float64 scalars, so that it shares no code path (no einsum, no matmul, no vectorised softmax)
with the package under test. Sums use ``math.fsum``, which is correctly rounded, so the oracle's
own error is a few ulps and the fast paths' float64 error dominates any comparison.

Nothing here imports ``attention_ref``: the multi-head oracle takes the module's parameters
as plain arrays.

Shapes (the package legend): ``B`` batch or any leading dims, ``H`` query heads, ``Hkv``
key/value heads, ``G = H // Hkv``, ``L`` query length, ``S`` key length, ``E`` query/key
size, ``Ev`` value size, ``D`` model width.
"""

from __future__ import annotations

import math

import numpy as np

NEG_INF = -math.inf

# Tolerances for comparing a float64 fast path with these oracles.
# The oracle is correctly rounded up to a few ulps (fsum). A vectorised float64 implementation
# rounds each product and partial sum: its error in a score is O(E * eps64 * |q||k|), which the
# softmax turns into a relative error of the same size in the weights, and the weighted sum over
# S keys adds O(S * eps64 * max|v|). With the suite's sizes (E, S <= ~100, |x| <= ~4) that is
# <= ~1e-13, so rtol 1e-12 leaves a margin of ~10 while still catching any real mistake
# (a wrong scale, mask or head mapping changes results at the 1e-2 level). The atol of the same
# size covers entries that are near 0 by cancellation, where only the absolute error is small.
RTOL_F64 = 1e-12
ATOL_F64 = 1e-12


def _f64(x):
    """A float64 copy of ``x`` (never a view of the caller's array)."""
    return np.array(x, dtype=np.float64, copy=True)


def softmax_row(scores):
    """Softmax of a list of Python floats; ``-inf`` entries get 0.

    A row whose entries are all ``-inf`` gives all zeros (the package's documented choice).
    NaN anywhere gives NaN everywhere (``exp(nan) = nan`` poisons the denominator).
    """
    finite_or_posinf = [s for s in scores if not math.isnan(s) and s != NEG_INF]
    if not finite_or_posinf and not any(math.isnan(s) for s in scores):
        return [0.0] * len(scores)
    # The largest non-NaN score; s - m <= 0 for every non-NaN s, so math.exp never overflows.
    m = max(finite_or_posinf) if finite_or_posinf else 0.0
    exps = [0.0 if s == NEG_INF else math.exp(s - m) for s in scores]
    total = math.fsum(exps)
    return [e / total for e in exps]


def softmax(x, axis=-1):
    """Softmax along ``axis`` by loops over every 1-D slice."""
    x = _f64(x)
    moved = np.moveaxis(x, axis, -1)
    out = np.empty_like(moved)
    for idx in np.ndindex(moved.shape[:-1]):
        out[idx] = softmax_row([float(s) for s in moved[idx]])
    return np.moveaxis(out, -1, axis)


def _dot(a, b):
    return math.fsum(float(x) * float(y) for x, y in zip(a, b, strict=True))


def _masked_scores(raw, mask_row, causal_i):
    """Apply a mask row (bool, float or None) and a causal limit to a list of raw scores."""
    scores = []
    for j, s in enumerate(raw):
        if causal_i is not None and j > causal_i:
            scores.append(NEG_INF)
            continue
        if mask_row is None:
            scores.append(s)
        elif mask_row.dtype == np.bool_:
            scores.append(s if bool(mask_row[j]) else NEG_INF)
        else:
            scores.append(s + float(mask_row[j]))
    return scores


def _weighted_sum(weights, value):
    """``sum_j weights[j] * value[j, :]`` for value of shape (S, Ev)."""
    S, Ev = value.shape
    return [math.fsum(weights[j] * float(value[j, e]) for j in range(S)) for e in range(Ev)]


def sdpa(query, key, value, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """Scaled dot-product attention by loops. Returns ``(out, weights)`` in float64.

    query (..., L, E), key (..., S, E), value (..., S, Ev); leading dims broadcast.
    With ``enable_gqa`` the heads are dim -3: query (..., H, L, E), key/value (..., Hkv, S, E)
    and query head ``h`` reads kv head ``h // (H // Hkv)`` (``repeat_interleave``).
    ``attn_mask``: bool (True = may attend) or float (added to the scores), broadcastable to
    the scores' shape (..., H, L, S). ``is_causal``: query ``i`` sees keys ``j <= i``
    (``tril(ones(L, S))``, top-left aligned). ``scale=None`` is ``1/sqrt(E)``.
    out (..., L, Ev), weights (..., H, L, S). A row with every key masked gives zeros.
    """
    q, k, v = _f64(query), _f64(key), _f64(value)
    L, E = q.shape[-2:]
    S = k.shape[-2]
    Ev = v.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(E)
    if enable_gqa:
        H, Hkv = q.shape[-3], k.shape[-3]
        assert v.shape[-3] == Hkv and H % Hkv == 0
        G = H // Hkv
        batch = np.broadcast_shapes(q.shape[:-3], k.shape[:-3], v.shape[:-3])
        q = np.broadcast_to(q, (*batch, H, L, E))
        k = np.broadcast_to(k, (*batch, Hkv, S, E))
        v = np.broadcast_to(v, (*batch, Hkv, S, Ev))
        lead = (*batch, H)
    else:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        q = np.broadcast_to(q, (*lead, L, E))
        k = np.broadcast_to(k, (*lead, S, E))
        v = np.broadcast_to(v, (*lead, S, Ev))
    mask = None
    if attn_mask is not None:
        mask = np.asarray(attn_mask)
        mask = np.broadcast_to(mask if mask.dtype == np.bool_ else _f64(mask), (*lead, L, S))

    out = np.zeros((*lead, L, Ev))
    weights = np.zeros((*lead, L, S))
    for idx in np.ndindex(lead):  # b (and h) flattened
        kv_idx = (*idx[:-1], idx[-1] // G) if enable_gqa else idx
        qb, kb, vb = q[idx], k[kv_idx], v[kv_idx]
        for i in range(L):
            raw = [scale * _dot(qb[i], kb[j]) for j in range(S)]
            mask_row = None if mask is None else mask[idx][i]
            scores = _masked_scores(raw, mask_row, i if is_causal else None)
            w = softmax_row(scores)
            weights[idx][i] = w
            out[idx][i] = _weighted_sum(w, vb)
    return out, weights


def _linear(x, w, b):
    """``x @ w + b`` by loops; x (N, Din), w (Din, Dout), b (Dout,) or None."""
    N, Din = x.shape
    Dout = w.shape[1]
    y = np.empty((N, Dout))
    for n in range(N):
        for o in range(Dout):
            acc = math.fsum(float(x[n, d]) * float(w[d, o]) for d in range(Din))
            y[n, o] = acc + (0.0 if b is None else float(b[o]))
    return y


def multihead(
    query, key, value, params, num_heads, num_kv_heads=None, attn_mask=None, is_causal=False
):
    """Multi-head attention by loops. Returns ``(out (B, L, D), weights (B, H, L, S))``.

    query (B, L, D), key (B, S, kdim), value (B, S, vdim). ``params`` maps ``w_q, b_q, w_k,
    b_k, w_v, b_v, w_o, b_o`` to arrays (biases may be None) in the contract's layout,
    ``Q = X @ w_q + b_q``. Query head ``h`` owns columns ``[h*hd, (h+1)*hd)`` of ``w_q`` and
    rows ``[h*hd, (h+1)*hd)`` of ``w_o``; kv head ``g`` owns columns ``[g*hd, (g+1)*hd)`` of
    ``w_k`` and ``w_v``; query head ``h`` reads kv head ``h // (H // Hkv)``.
    ``attn_mask`` broadcasts to (B, H, L, S).
    """
    x_q, x_k, x_v = _f64(query), _f64(key), _f64(value)
    p = {name: (None if a is None else _f64(a)) for name, a in params.items()}
    H = num_heads
    Hkv = H if num_kv_heads is None else num_kv_heads
    G = H // Hkv
    B, L, D = x_q.shape
    S = x_k.shape[1]
    hd = D // H
    scale = 1.0 / math.sqrt(hd)
    mask = None
    if attn_mask is not None:
        mask = np.asarray(attn_mask)
        mask = np.broadcast_to(mask if mask.dtype == np.bool_ else _f64(mask), (B, H, L, S))

    out = np.zeros((B, L, D))
    weights = np.zeros((B, H, L, S))
    for b in range(B):
        Q = _linear(x_q[b], p["w_q"], p["b_q"])  # (L, D)
        K = _linear(x_k[b], p["w_k"], p["b_k"])  # (S, Hkv * hd)
        V = _linear(x_v[b], p["w_v"], p["b_v"])  # (S, Hkv * hd)
        concat = np.zeros((L, D))
        for h in range(H):
            g = h // G
            qh = Q[:, h * hd : (h + 1) * hd]
            kh = K[:, g * hd : (g + 1) * hd]
            vh = V[:, g * hd : (g + 1) * hd]
            for i in range(L):
                raw = [scale * _dot(qh[i], kh[j]) for j in range(S)]
                mask_row = None if mask is None else mask[b, h, i]
                w = softmax_row(_masked_scores(raw, mask_row, i if is_causal else None))
                weights[b, h, i] = w
                concat[i, h * hd : (h + 1) * hd] = _weighted_sum(w, vh)
        out[b] = _linear(concat, p["w_o"], p["b_o"])
    return out, weights


def additive(query, key, value, w_query, w_key, v, mask=None):
    """Bahdanau additive attention by loops. Returns ``(out (..., L, Ev), weights (..., L, S))``.

    ``scores[i, j] = sum_a v[a] * tanh((query[i] @ w_query)[a] + (key[j] @ w_key)[a])``; no
    scaling. ``mask``: bool (True = may attend) or float (added), broadcastable to (..., L, S).
    """
    q, k, val = _f64(query), _f64(key), _f64(value)
    wq, wk, va = _f64(w_query), _f64(w_key), _f64(v)
    L, Dq = q.shape[-2:]
    S, Dk = k.shape[-2:]
    Ev = val.shape[-1]
    A = va.shape[0]
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], val.shape[:-2])
    q = np.broadcast_to(q, (*lead, L, Dq))
    k = np.broadcast_to(k, (*lead, S, Dk))
    val = np.broadcast_to(val, (*lead, S, Ev))
    if mask is not None:
        mask = np.asarray(mask)
        mask = np.broadcast_to(mask if mask.dtype == np.bool_ else _f64(mask), (*lead, L, S))

    out = np.zeros((*lead, L, Ev))
    weights = np.zeros((*lead, L, S))
    for idx in np.ndindex(lead):
        qb, kb, vb = q[idx], k[idx], val[idx]
        pq = [[_dot(qb[i], wq[:, a]) for a in range(A)] for i in range(L)]
        pk = [[_dot(kb[j], wk[:, a]) for a in range(A)] for j in range(S)]
        for i in range(L):
            raw = [
                math.fsum(float(va[a]) * math.tanh(pq[i][a] + pk[j][a]) for a in range(A))
                for j in range(S)
            ]
            mask_row = None if mask is None else mask[idx][i]
            w = softmax_row(_masked_scores(raw, mask_row, None))
            weights[idx][i] = w
            out[idx][i] = _weighted_sum(w, vb)
    return out, weights


def flex(
    query, key, value, score_mod=None, mask_mod=None, scale=None, enable_gqa=False, sinks=None
):
    """FlexAttention by loops. Returns ``(out (B, H, L, Ev), lse (B, H, L))`` in float64.

    query (B, H, L, E), key/value (B, Hkv, S, .); query head ``h`` reads kv head
    ``h // (H // Hkv)`` (``Hkv = H`` without ``enable_gqa``; B of size 1 broadcasts). The mods
    are called once per score with Python ints: ``score_mod(score, b, h, i, j)`` with a Python
    float score, ``mask_mod(b, h, i, j)`` returning a truth value. ``sinks`` (H,): one more
    logit per row of head ``h`` in the denominator, with no value. A row with no allowed key
    gives zeros and lse ``-inf`` (``sinks[h]`` with sinks).
    """
    q, k, v = _f64(query), _f64(key), _f64(value)
    B = max(q.shape[0], k.shape[0], v.shape[0])
    H, L, E = q.shape[1:]
    Hkv, S = k.shape[1:3]
    Ev = v.shape[-1]
    G = H // Hkv if enable_gqa else 1
    if scale is None:
        scale = 1.0 / math.sqrt(E)
    out = np.zeros((B, H, L, Ev))
    lse = np.zeros((B, H, L))
    for b in range(B):
        qb, kb, vb = q[min(b, q.shape[0] - 1)], k[min(b, k.shape[0] - 1)], v[min(b, v.shape[0] - 1)]
        for h in range(H):
            g = h // G if enable_gqa else min(h, Hkv - 1)
            for i in range(L):
                scores = []
                for j in range(S):
                    if mask_mod is not None and not bool(mask_mod(b, h, i, j)):
                        scores.append(NEG_INF)
                        continue
                    s = scale * _dot(qb[h, i], kb[g, j])
                    if score_mod is not None:
                        s = float(score_mod(s, b, h, i, j))
                    scores.append(s)
                row = scores if sinks is None else [*scores, float(sinks[h])]
                w = softmax_row(row)
                finite = [s for s in row if s != NEG_INF]
                if not finite:
                    lse[b, h, i] = NEG_INF
                else:
                    m = max(finite)
                    lse[b, h, i] = m + math.log(math.fsum(math.exp(s - m) for s in finite))
                out[b, h, i] = _weighted_sum(w[:S], vb[g])
    return out, lse
