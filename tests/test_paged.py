"""paged_attention equals gathering each sequence's blocks and calling SDPA on them.

The oracle: each sequence's keys and values, kept contiguous when the pool was filled
(`PagedExample.keys`/`values`), fed to `scaled_dot_product_attention` (itself checked against
the loop oracle in `tests/test_sdpa.py`). The pools are shuffled, shared by several
sequences, have spare blocks, partially filled last blocks and a shared prefix block, and
every slot no sequence owns holds NaN, so reading one would show.

Tolerance: the same sums in float64 in a different order (chunks of blocks, then the
division), so a few ulps; `RTOL` = 1e-12 as in `tests/oracle.py`. float32 and float16 are
compared with the float64 result at their own precision.
"""

from __future__ import annotations

import numpy as np
import pytest

import attention_ref as ar
from attention_ref import _paged
from attention_ref_site.generation import block_table_example, paged_example

RTOL = ATOL = 1e-12


def contiguous(query, example, scale=None):
    """Each sequence's query over its own contiguous keys and values: (N, H, Ev)."""
    rows = []
    for n in range(len(example.seq_lens)):
        q = query[n][:, None, :]  # (H, 1, E)
        out = ar.scaled_dot_product_attention(
            q, example.keys[n], example.values[n], enable_gqa=True, scale=scale
        )  # (H, 1, Ev); zeros when S = 0 (nothing to attend to)
        rows.append(out[:, 0])
    return np.stack(rows)


@pytest.mark.parametrize(("H", "Hkv"), [(4, 4), (6, 2), (6, 1), (6, 3)])
@pytest.mark.parametrize("block_size", [1, 3, 4, 16])
def test_equals_contiguous_sdpa(rng, H, Hkv, block_size):
    lens = [17, 20, 1, 9, 16, 7, 4]  # partial last blocks, exact multiples, a single token
    ex = paged_example(rng, lens, block_size=block_size, kv_heads=Hkv, shared_blocks=1)
    query = rng.standard_normal((len(lens), H, 8))
    out = ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    assert out.shape == (len(lens), H, 6)
    assert not np.isnan(out).any()  # no unused (NaN) slot was read
    np.testing.assert_allclose(out, contiguous(query, ex), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("chunk_tokens", [1, 5, 8, 1000])
def test_chunks_of_blocks_change_nothing(rng, monkeypatch, chunk_tokens):
    """Chunks smaller than a block, not a multiple of it, and larger than any sequence."""
    monkeypatch.setattr(_paged, "CHUNK_TOKENS", chunk_tokens)
    ex = paged_example(rng, [37, 20, 2], block_size=4, kv_heads=2, shared_blocks=2)
    query = rng.standard_normal((3, 4, 8))
    out = ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    np.testing.assert_allclose(out, contiguous(query, ex), rtol=RTOL, atol=ATOL)


def test_shared_prefix_block_is_read_by_both(rng):
    ex = paged_example(rng, [8, 10], block_size=4, kv_heads=1, shared_blocks=2)
    assert ex.block_tables[0, :2].tolist() == ex.block_tables[1, :2].tolist()
    query = rng.standard_normal((2, 2, 8))
    out = ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    np.testing.assert_allclose(out, contiguous(query, ex), rtol=RTOL, atol=ATOL)


def test_zero_length_gives_zeros_and_padding_is_ignored(rng):
    ex = paged_example(rng, [0, 5, 0], block_size=2, kv_heads=2, pad=10**6)
    query = rng.standard_normal((3, 2, 8))
    out = ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    assert out[0].tolist() == out[2].tolist() == np.zeros((2, 6)).tolist()
    np.testing.assert_allclose(out, contiguous(query, ex), rtol=RTOL, atol=ATOL)


def test_scale(rng):
    ex = paged_example(rng, [6, 3], block_size=4)
    query = rng.standard_normal((2, 2, 8))
    args = (query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    np.testing.assert_allclose(
        ar.paged_attention(*args, scale=0.3), contiguous(query, ex, 0.3), rtol=RTOL, atol=ATOL
    )
    # scale=0: equal weights, the mean of the values
    np.testing.assert_allclose(
        ar.paged_attention(*args, scale=0.0)[1], ex.values[1].mean(axis=1), rtol=RTOL
    )


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float32, 2e-5), (np.float16, 5e-3)])
def test_low_precision(rng, dtype, rtol):
    """float16 is computed in float32 (its result within float16's rounding of float64's),
    and the output keeps the input dtype."""
    ex = paged_example(rng, [11, 5], block_size=4, dtype=dtype)
    query = rng.standard_normal((2, 4, 8)).astype(dtype)
    out = ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    assert out.dtype == dtype
    ex64 = [k.astype(np.float64) for k in ex.keys], [v.astype(np.float64) for v in ex.values]
    ex.keys, ex.values = ex64
    np.testing.assert_allclose(out, contiguous(query.astype(np.float64), ex), rtol=rtol, atol=rtol)


def test_inputs_are_not_modified(rng):
    ex = paged_example(rng, [6, 3], block_size=4)
    query = rng.standard_normal((2, 2, 8))
    before = [a.copy() for a in (query, ex.key_cache, ex.value_cache, ex.block_tables)]
    ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    after = (query, ex.key_cache, ex.value_cache, ex.block_tables)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Bad input


def _args(**change):
    """Valid arguments: 2 sequences of 5 and 3 tokens in a pool of 4 blocks of 2 slots."""
    args = {
        "query": np.zeros((2, 4, 8)),
        "key_cache": np.zeros((4, 2, 2, 8)),
        "value_cache": np.zeros((4, 2, 2, 6)),
        "block_tables": np.array([[0, 3, 1], [2, 1, 0]]),
        "seq_lens": np.array([5, 3]),
    }
    return args | change


BAD = [
    ("block id too large", {"block_tables": np.array([[0, 3, 4], [2, 1, 0]])}, ValueError,
     r"block_tables\[0, 2\] = 4 is not a block id.*num_blocks = 4"),
    ("negative block id", {"block_tables": np.array([[0, 3, 1], [-1, 1, 0]])}, ValueError,
     r"block_tables\[1, 0\] = -1 is not a block id"),
    ("seq_lens beyond capacity", {"seq_lens": np.array([5, 7])}, ValueError,
     r"seq_lens\[1\] = 7 is more than block_tables can hold: 3 blocks.*block_size 2.*= 6"),
    ("negative length", {"seq_lens": np.array([-1, 3])}, ValueError,
     r"seq_lens must be non-negative: seq_lens\[0\] = -1"),
    ("float block_tables", {"block_tables": np.zeros((2, 3))}, TypeError,
     r"block_tables must be an integer array"),
    ("bool seq_lens", {"seq_lens": np.array([True, False])}, TypeError,
     r"seq_lens must be an integer array"),
    ("1-D block_tables", {"block_tables": np.array([0, 1, 2])}, ValueError,
     r"block_tables must have shape \(N, max_blocks\), got shape \(3,\)"),
    ("N of block_tables", {"block_tables": np.array([[0, 3, 1]])}, ValueError,
     r"one row per query.*block_tables of shape \(1, 3\)"),
    ("N of seq_lens", {"seq_lens": np.array([5, 3, 1])}, ValueError,
     r"seq_lens of shape \(3,\)"),
    ("H not a multiple of Hkv", {"query": np.zeros((2, 3, 8))}, ValueError,
     r"multiple of the key/value heads Hkv.*\(H=3\).*\(Hkv=2\)"),
    ("E differs", {"query": np.zeros((2, 4, 5))}, ValueError,
     r"same head size E.*query of shape \(2, 4, 5\).*key_cache of shape \(4, 2, 2, 8\)"),
    ("value pool differs", {"value_cache": np.zeros((5, 2, 2, 6))}, ValueError,
     r"same \(num_blocks, block_size, Hkv\).*value_cache of shape \(5, 2, 2, 6\)"),
    ("3-D key_cache", {"key_cache": np.zeros((4, 2, 8))}, ValueError,
     r"key_cache must have shape \(num_blocks, block_size, Hkv, E\), got shape \(4, 2, 8\)"),
    ("2-D query", {"query": np.zeros((2, 8))}, ValueError,
     r"query must have shape \(N, H, E\)"),
    ("int query", {"query": np.zeros((2, 4, 8), dtype=int)}, TypeError,
     r"query must be a floating-point array"),
    ("bad scale", {"scale": "big"}, TypeError, r"scale must be None or a real number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error", "match"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_input(change, error, match):
    args = _args(**change)
    with pytest.raises(error, match=match):
        ar.paged_attention(**args)


def test_valid_arguments_of_the_bad_input_table():
    """The table above changes one argument of a call that works."""
    assert ar.paged_attention(**_args()).shape == (2, 4, 6)


def test_padding_past_the_last_block_may_be_anything():
    # sequence 1 has 3 tokens: blocks 0 and 1 of its row are read, the third is padding
    args = _args(block_tables=np.array([[0, 3, 1], [2, 1, 99]]))
    assert ar.paged_attention(**args).shape == (2, 4, 6)


def test_the_example_drawn_on_the_paged_attention_page(rng):
    """The page draws this pool's block table; here it is checked like the random ones."""
    ex = block_table_example()
    assert ex.block_tables[0, 0] == ex.block_tables[1, 0]  # the shared prefix block
    query = rng.standard_normal((4, 4, 8))
    out = ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    assert not np.isnan(out).any()
    np.testing.assert_allclose(out, contiguous(query, ex), rtol=RTOL, atol=ATOL)


def test_large_scores_float32(rng):
    """Scores spread over hundreds (trained models' norms): the weights too small to be
    normal float32 numbers are dropped, which changes nothing at float32's precision."""
    ex = paged_example(rng, [40, 23], block_size=4, dtype=np.float32)
    ex.key_cache *= 12.0
    query = (12.0 * rng.standard_normal((2, 4, 8))).astype(np.float32)
    out = ar.paged_attention(query, ex.key_cache, ex.value_cache, ex.block_tables, ex.seq_lens)
    ex.keys = [12.0 * k.astype(np.float64) for k in ex.keys]
    ex.values = [v.astype(np.float64) for v in ex.values]
    np.testing.assert_allclose(out, contiguous(query.astype(np.float64), ex), rtol=1e-4, atol=1e-5)
