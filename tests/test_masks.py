"""causal_mask and padding_mask: closed forms (True = may attend / a real token).

Oracle: ``np.tril(np.ones((L, S), bool))`` (top-left aligned, as PyTorch's SDPA) and the
comparison ``arange(max_len) < lengths[:, None]``. Bad arguments are in test_bad_inputs.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from attention_ref import causal_mask, padding_mask


@pytest.mark.parametrize(
    ("L", "S"), [(1, 1), (5, 5), (3, 7), (7, 3), (13, 97), (97, 13), (1, 9), (9, 1), (0, 4)]
)
def test_causal_mask_is_top_left_tril(L, S):
    mask = causal_mask(L, S)
    assert mask.dtype == np.bool_
    assert mask.shape == (L, S)
    np.testing.assert_array_equal(mask, np.tril(np.ones((L, S), dtype=bool)))


def test_causal_mask_explicit_rectangle():
    # Query i may attend keys j <= i, whatever S is.
    expected = np.array(
        [
            [True, False, False, False, False],
            [True, True, False, False, False],
            [True, True, True, False, False],
        ]
    )
    np.testing.assert_array_equal(causal_mask(3, 5), expected)
    np.testing.assert_array_equal(causal_mask(5, 3), np.tril(np.ones((5, 3), dtype=bool)))


@pytest.mark.parametrize("L", [0, 1, 4, 13])
def test_causal_mask_S_defaults_to_L(L):
    np.testing.assert_array_equal(causal_mask(L), causal_mask(L, L))
    assert causal_mask(L).shape == (L, L)
    np.testing.assert_array_equal(causal_mask(L, S=None), causal_mask(L, L))


def test_causal_mask_accepts_numpy_integers():
    np.testing.assert_array_equal(causal_mask(np.int64(3), np.int32(4)), causal_mask(3, 4))


def test_padding_mask_closed_form():
    mask = padding_mask([2, 3], 4)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, [[True, True, False, False], [True, True, True, False]])


@pytest.mark.parametrize(
    "lengths", [[0, 7, 3], np.array([5, 1, 7, 2]), (4,), np.array([0], dtype=np.int32)]
)
def test_padding_mask_matches_comparison(lengths):
    max_len = 7
    mask = padding_mask(lengths, max_len)
    expected = np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]
    assert mask.shape == (len(lengths), max_len)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, expected)


def test_padding_mask_lengths_equal_to_max_len_are_all_true():
    np.testing.assert_array_equal(padding_mask([3, 3], 3), np.ones((2, 3), dtype=bool))


def test_padding_mask_does_not_mutate_lengths():
    lengths = np.array([2, 0, 5])
    padding_mask(lengths, 5)
    np.testing.assert_array_equal(lengths, [2, 0, 5])
