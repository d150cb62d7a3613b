"""Positions: rotary_embedding, sinusoidal_positions, alibi_slopes.

Oracles:

- Closed forms: a rotation by a known angle written out with `math.cos`/`math.sin`; the
  sinusoidal table written entry by entry from the paper's formula in a loop; the ALiBi
  slopes of 8 heads as the paper lists them (1/2 ... 1/256), and of other head counts from
  the paper's rule, re-implemented here recursively as the paper's code does it.
- A slow loop implementation of RoPE (every row, every pair, `math.cos`), in float64.
- Properties with Hypothesis: RoPE's relative property, norms, the layout permutation, the
  pass-through of features past rotary_dim, and sinusoidal PE[p + k] = PE[p] M_k.

Tolerances: float64 results are compared at RTOL_F64 = 1e-12 (relative) / ATOL_F64 = 1e-12;
an angle of magnitude a has a float64 rounding of ~a * 1e-16, and the sines and cosines add a
few ulps, so angles up to 1e3 stay below 1e-12. Where positions reach 1e4 (the relative
property) the tolerance scales with the largest angle.
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attention_ref
from attention_ref import alibi_slopes, rotary_embedding, sinusoidal_positions

RTOL_F64 = 1e-12
ATOL_F64 = 1e-12
EPS64 = np.finfo(np.float64).eps


def loop_rope(x, positions, base=10000.0, rotary_dim=None, interleaved=False):
    """The oracle: every row and every pair by hand, `math.cos`/`math.sin`, float64."""
    x = np.asarray(x, dtype=np.float64)
    *lead, L, E = x.shape
    R = E if rotary_dim is None else rotary_dim
    pos = np.broadcast_to(np.asarray(positions, dtype=np.float64), (*lead, L))
    out = x.copy()
    for idx in np.ndindex(*lead, L):
        m = float(pos[idx])
        for i in range(R // 2):
            theta = base ** (-2.0 * i / R)
            a_idx, b_idx = (2 * i, 2 * i + 1) if interleaved else (i, i + R // 2)
            a, b = x[(*idx, a_idx)], x[(*idx, b_idx)]
            c, s = math.cos(m * theta), math.sin(m * theta)
            out[(*idx, a_idx)] = a * c - b * s
            out[(*idx, b_idx)] = b * c + a * s
    return out


def half_from_interleaved(R, E):
    """perm with x_half = x_interleaved[..., perm]: pair i's (2i, 2i+1) go to (i, i + R/2)."""
    return np.concatenate([np.arange(0, R, 2), np.arange(1, R, 2), np.arange(R, E)])


def _close(actual, expected, rtol=RTOL_F64, atol=ATOL_F64):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# --- exports --------------------------------------------------------------------------------


def test_exported():
    for name in ("rotary_embedding", "sinusoidal_positions", "alibi_slopes"):
        assert name in attention_ref.__all__
        assert callable(getattr(attention_ref, name))


# --- rotary_embedding: closed forms ---------------------------------------------------------


@pytest.mark.parametrize("interleaved", [False, True])
def test_rotation_by_a_known_angle(interleaved):
    # E = 4, R = 4: theta = (1, 1/100). Position 3 rotates pair 0 by 3 rad, pair 1 by 0.03.
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    y = rotary_embedding(x, [3], interleaved=interleaved)
    pairs = [(0, 1), (2, 3)] if interleaved else [(0, 2), (1, 3)]
    for (ia, ib), angle in zip(pairs, [3.0, 0.03], strict=True):
        a, b = x[0, ia], x[0, ib]
        _close(y[0, ia], a * math.cos(angle) - b * math.sin(angle))
        _close(y[0, ib], b * math.cos(angle) + a * math.sin(angle))


def test_quarter_turn():
    # pair 0 at position pi/2 (a float position): (1, 0) -> (0, 1) exactly up to rounding
    y = rotary_embedding(np.array([[1.0, 0.0]]), [math.pi / 2])
    _close(y, [[0.0, 1.0]], atol=1e-15)


def test_position_zero_is_identity_and_default_positions_are_arange(rng):
    x = rng.normal(size=(2, 3, 5, 8))
    y = rotary_embedding(x)
    assert np.array_equal(y[..., 0, :], x[..., 0, :])
    _close(y, rotary_embedding(x, np.arange(5)))
    _close(y, loop_rope(x, np.arange(5)))


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize(("E", "R"), [(8, 8), (10, 6), (6, 2)])
@pytest.mark.parametrize("base", [10000.0, 500000.0, 10.0])
def test_against_loop_oracle(rng, interleaved, E, R, base):
    x = rng.normal(size=(2, 7, E))
    pos = rng.integers(0, 1000, size=(2, 7))
    _close(
        rotary_embedding(x, pos, base=base, rotary_dim=R, interleaved=interleaved),
        loop_rope(x, pos, base=base, rotary_dim=R, interleaved=interleaved),
    )


def test_position_broadcasting(rng):
    x = rng.normal(size=(2, 3, 4, 6))  # (B, H, L, E)
    for pos in (np.arange(4) + 7, rng.integers(0, 50, size=(2, 1, 4)), 5, np.float32(2.5)):
        _close(rotary_embedding(x, pos), loop_rope(x, pos))


def test_integer_dtypes_of_positions_agree(rng):
    x = rng.normal(size=(5, 4))
    ref = rotary_embedding(x, np.arange(5, dtype=np.float64) + 100)
    for dtype in (np.int8, np.int32, np.uint16, np.int64, np.float32):
        assert np.array_equal(rotary_embedding(x, (np.arange(5) + 100).astype(dtype)), ref)


def test_angles_are_float64_at_large_positions(rng):
    # At position 2**20 + p an angle computed in float32 is off by up to ~0.06 rad; in float64
    # by ~1e-10. The oracle computes in float64 with math.cos.
    x = rng.normal(size=(4, 16))
    pos = 2**20 + np.arange(4)
    _close(rotary_embedding(x, pos), loop_rope(x, pos), rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtypes(rng, dtype):
    x64 = rng.normal(size=(3, 6, 8))
    x = x64.astype(dtype)
    y = rotary_embedding(x, rng.integers(0, 100, size=6))
    assert y.dtype == dtype and y.shape == x.shape
    # the error is the input's own rounding: a few ulps of its dtype
    pos = np.arange(6) * 13
    ref = loop_rope(x.astype(np.float64), pos)
    tol = 8 * np.finfo(dtype).eps * np.abs(x64).max()
    np.testing.assert_allclose(rotary_embedding(x, pos).astype(np.float64), ref, atol=tol, rtol=0)


def test_inputs_not_mutated(rng):
    x = rng.normal(size=(2, 4, 6))
    pos = np.arange(4) + 3
    x0, pos0 = x.copy(), pos.copy()
    for interleaved in (False, True):
        rotary_embedding(x, pos, rotary_dim=4, interleaved=interleaved)
    assert np.array_equal(x, x0) and np.array_equal(pos, pos0)
    x16 = x.astype(np.float16)
    x16_0 = x16.copy()
    rotary_embedding(x16)
    assert np.array_equal(x16, x16_0)


def test_nan_propagates():
    x = np.array([[1.0, np.nan, 2.0, 3.0]])
    y = rotary_embedding(x, [1])
    # half-split pairs (0, 2) and (1, 3): the NaN reaches its partner, and only it
    assert np.isnan(y[0, [1, 3]]).all() and np.isfinite(y[0, [0, 2]]).all()


# --- rotary_embedding: properties -----------------------------------------------------------

EVEN = st.integers(1, 6).map(lambda n: 2 * n)
FLOATS = st.floats(-3, 3, allow_nan=False, allow_subnormal=False)


@st.composite
def rope_case(draw):
    E = draw(EVEN)
    R = draw(st.integers(1, E // 2)) * 2
    L = draw(st.integers(1, 5))
    x = draw(hnp.arrays(np.float64, (L, E), elements=FLOATS))
    base = draw(st.sampled_from([10.0, 10000.0, 500000.0, 1.5]))
    return x, R, base


@settings(max_examples=60, deadline=None)
@given(case=rope_case(), m=st.integers(-10_000, 10_000), n=st.integers(-10_000, 10_000),
       shift=st.integers(-10_000, 10_000), interleaved=st.booleans())  # fmt: skip
def test_scores_depend_only_on_relative_position(case, m, n, shift, interleaved):
    x, R, base = case
    q, k = x, x[::-1] + 0.5
    kw = dict(base=base, rotary_dim=R, interleaved=interleaved)
    s1 = (
        rotary_embedding(q, np.full(len(q), m), **kw)
        @ rotary_embedding(k, np.full(len(k), n), **kw).T
    )
    s2 = (
        rotary_embedding(q, np.full(len(q), m + shift), **kw)
        @ rotary_embedding(k, np.full(len(k), n + shift), **kw).T
    )
    # the angles reach 2e4 rad: their rounding is ~2e4 * eps64 per angle, times |q||k|
    scale = np.linalg.norm(q, axis=-1)[:, None] * np.linalg.norm(k, axis=-1)[None, :]
    np.testing.assert_allclose(s1, s2, rtol=0, atol=64 * 2e4 * EPS64 * (scale.max() + 1))


@settings(max_examples=60, deadline=None)
@given(case=rope_case(), pos=st.integers(-(10**6), 10**6), interleaved=st.booleans())
def test_norms_preserved(case, pos, interleaved):
    x, R, base = case
    y = rotary_embedding(x, np.full(len(x), pos), base=base, rotary_dim=R, interleaved=interleaved)
    _close(
        np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), atol=1e-12 * (1 + np.abs(x).max())
    )
    # and pair by pair, since each pair is rotated on its own
    pairs = (0, 1) if interleaved else (0, R // 2)
    _close(np.hypot(y[:, pairs[0]], y[:, pairs[1]]), np.hypot(x[:, pairs[0]], x[:, pairs[1]]),
           atol=1e-12 * (1 + np.abs(x).max()))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(case=rope_case(), pos=st.lists(st.integers(-5000, 5000), min_size=5, max_size=5))
def test_layouts_related_by_a_fixed_permutation(case, pos):
    x, R, base = case
    E = x.shape[-1]
    positions = np.array(pos[: len(x)])
    perm = half_from_interleaved(R, E)
    kw = dict(base=base, rotary_dim=R)
    inter = rotary_embedding(x, positions, interleaved=True, **kw)
    half = rotary_embedding(x[:, perm], positions, interleaved=False, **kw)
    _close(half, inter[:, perm], atol=1e-12 * (1 + np.abs(x).max()))
    inv = np.argsort(perm)
    _close(half[:, inv], inter, atol=1e-12 * (1 + np.abs(x).max()))


@settings(max_examples=60, deadline=None)
@given(case=rope_case(), pos=st.integers(0, 10**5), interleaved=st.booleans())
def test_features_past_rotary_dim_untouched(case, pos, interleaved):
    x, R, base = case
    y = rotary_embedding(x, np.full(len(x), pos), base=base, rotary_dim=R, interleaved=interleaved)
    assert np.array_equal(y[:, R:], x[:, R:])
    # and the rotated part is RoPE of the first R features alone
    alone = rotary_embedding(x[:, :R], np.full(len(x), pos), base=base, interleaved=interleaved)
    _close(y[:, :R], alone, atol=0)


def test_inverse_rotation_is_negative_positions(rng):
    x = rng.normal(size=(2, 6, 8))
    pos = rng.integers(0, 1000, size=6)
    _close(rotary_embedding(rotary_embedding(x, pos), -pos), x, atol=1e-12)


# --- sinusoidal_positions ---------------------------------------------------------------------


def test_sinusoidal_loop_oracle():
    L, D, base = 7, 10, 10000.0
    pe = sinusoidal_positions(L, D, base=base)
    assert pe.shape == (L, D) and pe.dtype == np.float64
    for p in range(L):
        for i in range(D // 2):
            angle = p / base ** (2 * i / D)
            _close(pe[p, 2 * i], math.sin(angle))
            _close(pe[p, 2 * i + 1], math.cos(angle))


def test_sinusoidal_closed_forms():
    assert sinusoidal_positions(1, 6)[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    _close(sinusoidal_positions(4, 2)[:, 0], np.sin(np.arange(4.0)))
    assert sinusoidal_positions(0, 4).shape == (0, 4)
    _close(sinusoidal_positions(3, 4, base=100.0)[2, 2], math.sin(2 / 10.0))


def _shift_matrix(k, D, base=10000.0):
    """M_k with PE[p + k] = PE[p] @ M_k: a block-diagonal rotation, independent of p."""
    M = np.zeros((D, D))
    for i in range(D // 2):
        w = base ** (-2 * i / D)
        c, s = math.cos(k * w), math.sin(k * w)
        # (sin(a + b), cos(a + b)) = (sin a cos b + cos a sin b, cos a cos b - sin a sin b)
        M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
    return M


@settings(max_examples=40, deadline=None)
@given(D=EVEN, k=st.integers(-50, 50))
def test_sinusoidal_shift_is_a_fixed_linear_map(D, k):
    pe = sinusoidal_positions(200, D)
    M = _shift_matrix(k, D)
    p = np.arange(max(0, -k), 200 - max(0, k))
    _close(pe[p + k], pe[p] @ M, atol=1e-12)
    # and M_k is found from the data alone by least squares, whatever p is used to fit it
    fit, *_ = np.linalg.lstsq(pe[p], pe[p + k], rcond=None)
    _close(pe[p + k], pe[p] @ fit, atol=1e-9)


def test_sinusoidal_is_rope_of_a_constant():
    # (0, 1) rotated by a is (-sin a, cos a): the interleaved RoPE of (0, 1, 0, 1, ...) at
    # position p holds PE[p]'s cosines, and its sines negated. The same frequencies.
    L, D = 5, 8
    y = rotary_embedding(np.tile([0.0, 1.0], (L, D // 2)), interleaved=True)
    pe = sinusoidal_positions(L, D)
    _close(y[:, 0::2], -pe[:, 0::2])
    _close(y[:, 1::2], pe[:, 1::2])


# --- alibi_slopes -----------------------------------------------------------------------------


def paper_slopes(n):
    """The paper's get_slopes, re-implemented as it is written (recursive, products)."""

    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + paper_slopes(2 * closest)[0::2][: n - closest]


def test_alibi_8_heads_as_the_paper_lists_them():
    # Press et al. (2022), section 3: "for a model with 8 heads, the slopes that we used are
    # the geometric sequence 1/2^1, 1/2^2, ..., 1/2^8"
    assert alibi_slopes(8).tolist() == [1 / 2**h for h in range(1, 9)]


def test_alibi_16_heads_as_the_paper_lists_them():
    # "for models that require 16 heads, ... 1/2^0.5, 1/2^1, 1/2^1.5, ..., 1/2^8"
    _close(alibi_slopes(16), [2 ** (-0.5 * h) for h in range(1, 17)], rtol=1e-15, atol=0)


def test_alibi_12_heads_from_the_rule():
    # 8 heads' slopes 2^-1 .. 2^-8, then every other slope of the 16-head set: 2^-0.5,
    # 2^-1.5, 2^-2.5, 2^-3.5
    expected = [2.0**-h for h in range(1, 9)] + [2**-0.5, 2**-1.5, 2**-2.5, 2**-3.5]
    _close(alibi_slopes(12), expected, rtol=1e-15, atol=0)
    _close(alibi_slopes(12), paper_slopes(12), rtol=1e-14, atol=0)


@pytest.mark.parametrize("n", [*range(1, 34), 40, 48, 64, 96, 100, 128])
def test_alibi_matches_the_papers_code(n):
    slopes = alibi_slopes(n)
    assert slopes.shape == (n,) and slopes.dtype == np.float64
    # the paper multiplies (start * ratio**i), we exponentiate: a few ulps apart
    _close(slopes, paper_slopes(n), rtol=1e-14, atol=0)
    assert ((slopes > 0) & (slopes < 1)).all()
    assert len(set(slopes.tolist())) == n  # every head its own slope


def test_alibi_numpy_integer():
    assert alibi_slopes(np.int64(4)).tolist() == [0.25, 0.0625, 0.015625, 0.00390625]
