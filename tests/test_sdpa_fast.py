"""The tiled path of scaled_dot_product_attention: the choice of path, precision, no mutation.

Its agreement with the loop oracle, on every tiling and at every input scale, is in
test_paths.py (the ``impl`` fixture); this file holds what is particular to the choice between
the paths and to reduced precision. Oracle: the loop oracle ``oracle.sdpa``; float32 and
float16 by the flash-attention rule (at most twice the error of a plain float32 computation
against the float64 oracle, plus one float32 ulp at 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import FORWARD_PATHS, normal
from oracle import ATOL_F64, RTOL_F64
from oracle import sdpa as sdpa_oracle

from attention_ref import scaled_dot_product_attention
from attention_ref._sdpa import FAST_MIN_SCORES, choose_path

FLOOR_F32 = float(np.finfo(np.float32).eps)


def test_the_path_is_chosen_by_size_and_weights():
    L = math.isqrt(FAST_MIN_SCORES)  # just large enough
    assert choose_path(L, L) == "tiled"
    assert choose_path(L - 1, L) == "plain"  # one query fewer
    assert choose_path(L, L, return_weights=True) == "plain"  # the weights: plain only


def test_public_function_agrees_on_both_sides_of_the_switch(rng):
    L = math.isqrt(FAST_MIN_SCORES)
    q, k, v = (normal(rng, (2, 2, L, 4)) for _ in range(3))
    mask = rng.random((L, L)) < 0.8
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask)  # tiled
    out_plain, _ = scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    np.testing.assert_allclose(out, out_plain, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("path", ["tiled-7x5", "tiled-default", "flash-7"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_reduced_precision_on_the_tiled_paths(rng, path, dtype):
    q, k, v = (normal(rng, (2, 2, n, 8), dtype) for n in (64, 96, 96))
    out = FORWARD_PATHS[path](q, k, v)
    assert out.dtype == dtype
    expected, _ = sdpa_oracle(q, k, v)
    err = np.abs(out.astype(np.float64) - expected).max()
    scale = np.float32(1 / math.sqrt(8))
    q32, k32, v32 = (a.astype(np.float32) for a in (q, k, v))
    scores = (q32 @ np.swapaxes(k32, -1, -2)) * scale  # the plain float32 reference
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    plain = ((probs / probs.sum(-1, keepdims=True)) @ v32).astype(dtype)
    err_plain = np.abs(plain.astype(np.float64) - expected).max()
    assert err <= 2 * err_plain + FLOOR_F32, (err, err_plain)


@pytest.mark.parametrize("path", ["tiled-7x5", "tiled-default", "flash-7"])
def test_inputs_not_mutated_and_read_only_accepted(rng, path):
    q, k, v = (normal(rng, (2, 3, n, 5)) for n in (64, 80, 80))
    fmask = rng.normal(size=(64, 80))
    bmask = rng.random((2, 1, 64, 80)) < 0.5
    arrays = (q, k, v, fmask, bmask)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    run = FORWARD_PATHS[path]
    run(q, k, v, attn_mask=fmask)
    run(q, k, v, attn_mask=bmask, scale=0.3)
    run(q, k, v, is_causal=True)
    for after, before in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("path", ["tiled-1x1", "tiled-7x5", "tiled-default"])
def test_huge_logits(rng, path):
    q = normal(rng, (2, 7, 4), scale=80.0)
    k = normal(rng, (2, 13, 4), scale=80.0)
    v = normal(rng, (2, 13, 3))
    out = FORWARD_PATHS[path](q, k, v)
    expected, _ = sdpa_oracle(q, k, v)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9)  # as RTOL_HUGE in test_sdpa
