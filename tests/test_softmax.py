"""softmax: closed forms, the loop oracle, -inf slices, overflow, dtypes, no mutation.

Oracles: closed forms (``softmax([0, 1]) == [1, e] / (1 + e)``, SciPy's own test) and
``oracle.softmax`` (loops with ``math.exp`` and ``math.fsum``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64
from oracle import softmax as softmax_oracle

from attention_ref import softmax

# Closed forms are exact in real arithmetic; a float64 softmax of two or three entries
# rounds a handful of times (exp, sum, divide), so a few ulps: SciPy tests these at 1e-13.
RTOL_CLOSED_FORM = 1e-13

# For float16/float32 input the result is compared with the float64 oracle applied to the
# same (exactly representable) input values. float32: a few roundings (exp, a sum of <= 13
# terms, a division), so 8 * eps32 with margin. float16 is computed in float32 and cast back
# (the contract), so its error is one final rounding, at most half an ulp = eps16 / 2 relative,
# plus the float32 error (< 1e-7 absolute for values <= 1) that ATOL_SMALL_DTYPES covers along
# with half the float16 subnormal spacing (3e-8).
RTOL_BY_DTYPE = {
    np.float16: float(np.finfo(np.float16).eps) / 2,
    np.float32: 8 * float(np.finfo(np.float32).eps),
    np.float64: RTOL_F64,
}
ATOL_SMALL_DTYPES = 1e-7


def test_two_point_closed_form():
    out = softmax(np.array([0.0, 1.0]))
    expected = np.array([1.0, math.e]) / (1.0 + math.e)
    np.testing.assert_allclose(out, expected, rtol=RTOL_CLOSED_FORM, atol=0)


def test_three_point_closed_form():
    # exp(log 2) = 2 and exp(log 3) = 3, so the weights are [1, 2, 3] / 6.
    out = softmax(np.array([0.0, math.log(2.0), math.log(3.0)]))
    np.testing.assert_allclose(out, [1 / 6, 2 / 6, 3 / 6], rtol=RTOL_CLOSED_FORM, atol=0)


def test_equal_entries_are_uniform():
    out = softmax(np.full((2, 7), 3.25))
    np.testing.assert_allclose(out, np.full((2, 7), 1 / 7), rtol=RTOL_CLOSED_FORM, atol=0)


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -2, -3])
def test_matches_loop_oracle_along_each_axis(rng, axis):
    x = rng.normal(scale=3.0, size=(3, 5, 7))
    out = softmax(x, axis=axis)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, softmax_oracle(x, axis=axis), rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(out.sum(axis=axis), 1.0, rtol=RTOL_F64)


def test_default_axis_is_last(rng):
    x = rng.normal(size=(4, 13))
    np.testing.assert_array_equal(softmax(x), softmax(x, axis=-1))


def test_all_minus_inf_slice_gives_zeros_not_nan():
    x = np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 0.0]])
    out = softmax(x)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 0.0], [0.5, 0.0, 0.5]])


def test_all_minus_inf_slice_along_axis_0():
    x = np.array([[-np.inf, 1.0], [-np.inf, 1.0]])
    out = softmax(x, axis=0)
    np.testing.assert_array_equal(out, [[0.0, 0.5], [0.0, 0.5]])


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([1e308, 1e308], [0.5, 0.5]),
        ([1000.0, 0.0], [1.0, 0.0]),  # exp(-1000) underflows to 0
        ([-1e308, 0.0], [0.0, 1.0]),
        ([1e4, 1e4 - math.log(3.0)], [0.75, 0.25]),
    ],
)
def test_huge_values_stay_finite(x, expected):
    out = softmax(np.array(x))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=0)


def test_shift_invariance(rng):
    x = rng.normal(size=(5, 9))
    np.testing.assert_allclose(softmax(x + 700.0), softmax(x), rtol=1e-12, atol=1e-15)


def test_nan_propagates_to_its_slice():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    out = softmax(x)
    assert np.isnan(out[0]).all()
    assert np.isfinite(out[1]).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_preserved_and_accurate(rng, dtype):
    x = rng.normal(scale=2.0, size=(4, 13)).astype(dtype)
    out = softmax(x)
    assert out.dtype == dtype
    expected = softmax_oracle(x.astype(np.float64))
    np.testing.assert_allclose(
        out.astype(np.float64), expected, rtol=RTOL_BY_DTYPE[dtype], atol=ATOL_SMALL_DTYPES
    )


def test_float16_large_values_do_not_overflow():
    # 60000 is near float16's max (65504); exp in float16 would overflow.
    x = np.array([60000.0, 60000.0, 0.0], dtype=np.float16)
    out = softmax(x)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.array([0.5, 0.5, 0.0], dtype=np.float16))


def test_input_not_mutated(rng):
    x = rng.normal(size=(3, 7))
    x[1, 2] = -np.inf
    before = x.copy()
    softmax(x)
    np.testing.assert_array_equal(x, before)


def test_read_only_input_accepted(rng):
    x = rng.normal(size=(3, 7))
    x.flags.writeable = False
    out = softmax(x)
    np.testing.assert_allclose(out, softmax_oracle(x), rtol=RTOL_F64, atol=ATOL_F64)


def test_empty_axis_gives_empty_result():
    out = softmax(np.zeros((3, 0)))
    assert out.shape == (3, 0)
    assert out.dtype == np.float64
