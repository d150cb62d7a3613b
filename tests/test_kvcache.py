"""KVCache: decoding with the cache equals attention over the whole sequence, row for row.

The oracle is `scaled_dot_product_attention` over the whole sequence with an explicit mask
(causal, sliding window, StreamingLLM), which `tests/test_sdpa.py` checks against the loop
oracle. What these tests check is the cache: which keys it returns, in which order, at which
positions, and that it never changes what it returned.

Tolerance. Decoding row t against the cache and row t of the full computation are the same
sums in float64, but BLAS multiplies a (1, E) row and an (S, E) block by different kernels,
so the last bits differ; the difference is a few ulps of the scores, which the softmax and
the weighted sum carry to ~1e-15 relative. `RTOL` = 1e-12 leaves a wide margin and still
catches a wrong key, position or mask (those change results at ~1e-2). The cache's own
contents are compared exactly.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import attention_ref as ar
from attention_ref_site.generation import ToyDecoder

RTOL = ATOL = 1e-12
HEADS = [(4, 4), (4, 2), (4, 1)]  # (H, Hkv): MHA, GQA, MQA
HEAD_IDS = ["MHA", "GQA", "MQA"]


def sequence(rng, H, Hkv, S, E=8, Ev=6, B=2, dtype=np.float64):
    q = rng.standard_normal((B, H, S, E)).astype(dtype)
    k = rng.standard_normal((B, Hkv, S, E)).astype(dtype)
    v = rng.standard_normal((B, Hkv, S, Ev)).astype(dtype)
    return q, k, v


def rope(x, positions):
    """The package's RoPE (GPT-NeoX half-split pairs), row t of `x` at `positions[t]`."""
    return ar.rotary_embedding(x, positions)


def full(q, k, v, mask=None):
    """Attention over the whole sequence: causal, or the given (S, S) mask."""
    if mask is None:
        return ar.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    return ar.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)


def sliding_with_sinks(S, W, n):
    """The StreamingLLM mask (S, S), written directly: query i may attend key j iff j <= i
    and (j is one of the last W positions up to i, i.e. i - W < j, or j < n). With n = 0 it
    is FlashAttention's window_size=(W - 1, 0): mods.sliding_window(W - 1, 0) & causal."""
    mask = np.zeros((S, S), dtype=bool)
    for i in range(S):
        for j in range(S):
            mask[i, j] = j <= i and (i - W < j or j < n)
    return mask


# ---------------------------------------------------------------------------------------------
# Unbounded: token by token, and chunked prefill


@pytest.mark.parametrize(("H", "Hkv"), HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("use_rope", [False, True], ids=["no-rope", "rope"])
def test_decoding_token_by_token_equals_full_causal(rng, H, Hkv, use_rope):
    S = 13
    q, k, v = sequence(rng, H, Hkv, S)
    if use_rope:  # the whole sequence, each row at its position: the oracle's inputs
        q_full, k_full = rope(q, np.arange(S)), rope(k, np.arange(S))
    else:
        q_full, k_full = q, k
    expected = full(q_full, k_full, v)  # (B, H, S, Ev)
    cache = ar.KVCache()
    for t in range(S):
        q_t, k_t = q[:, :, t : t + 1], k[:, :, t : t + 1]  # (B, H or Hkv, 1, E)
        if use_rope:  # as a decoder does: the new token rotated at its absolute position
            at = [cache.length]
            q_t, k_t = rope(q_t, at), rope(k_t, at)
        keys, values = cache.update(k_t, v[:, :, t : t + 1])
        assert cache.length == t + 1
        assert cache.positions.tolist() == list(range(t + 1))
        np.testing.assert_array_equal(keys, k_full[:, :, : t + 1])  # the rows appended
        np.testing.assert_array_equal(values, v[:, :, : t + 1])
        row = ar.scaled_dot_product_attention(q_t, keys, values, enable_gqa=True)
        np.testing.assert_allclose(row[:, :, 0], expected[:, :, t], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("H", "Hkv"), HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize("use_rope", [False, True], ids=["no-rope", "rope"])
@pytest.mark.parametrize("chunks", [[5, 1, 7, 3], [1, 15], [16], [3, 3, 3, 3, 4]])
def test_chunked_prefill_equals_full_causal(rng, H, Hkv, use_rope, chunks):
    S = sum(chunks)
    q, k, v = sequence(rng, H, Hkv, S)
    q_full, k_full = (rope(q, np.arange(S)), rope(k, np.arange(S))) if use_rope else (q, k)
    expected = full(q_full, k_full, v)  # each row rotated at its position, all at once
    cache = ar.KVCache()
    start = 0
    for T in chunks:
        rows = slice(start, start + T)
        q_c, k_c = q[:, :, rows], k[:, :, rows]
        if use_rope:  # as a decoder does: the chunk rotated at its absolute positions
            at = cache.length + np.arange(T)
            q_c, k_c = rope(q_c, at), rope(k_c, at)
        keys, values = cache.update(k_c, v[:, :, rows])
        S_now = keys.shape[2]
        assert S_now == start + T == cache.length
        np.testing.assert_array_equal(keys, k_full[:, :, :S_now])
        # bottom-right causal alignment: chunk row i sees key j iff j <= S - T + i
        mask = np.tril(np.ones((T, S_now), dtype=bool), k=S_now - T)
        assert mask.tolist() == [[j <= S_now - T + i for j in range(S_now)] for i in range(T)]
        out = ar.scaled_dot_product_attention(q_c, keys, values, attn_mask=mask, enable_gqa=True)
        np.testing.assert_allclose(out, expected[:, :, rows], rtol=RTOL, atol=ATOL)
        start += T


def test_top_left_alignment_would_be_wrong(rng):
    """The check above can fail: the top-left mask (is_causal) on a chunk is not the rows
    of full causal attention."""
    q, k, v = sequence(rng, 2, 2, 8)
    cache = ar.KVCache()
    cache.update(k[:, :, :5], v[:, :, :5])
    keys, values = cache.update(k[:, :, 5:], v[:, :, 5:])
    wrong = ar.scaled_dot_product_attention(q[:, :, 5:], keys, values, is_causal=True)
    assert not np.allclose(wrong, full(q, k, v)[:, :, 5:])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_is_kept(rng, dtype):
    _, k, v = sequence(rng, 2, 1, 5, dtype=dtype)
    cache = ar.KVCache()
    keys, values = cache.update(k, v)
    assert keys.dtype == values.dtype == dtype
    np.testing.assert_array_equal(keys, k)


def test_empty_cache_and_empty_update(rng):
    cache = ar.KVCache()
    assert cache.length == 0 and cache.positions.tolist() == []
    assert cache.positions.dtype == np.int64
    _, k, v = sequence(rng, 2, 2, 4)
    keys, _ = cache.update(k[:, :, :0], v[:, :, :0])
    assert keys.shape == (2, 2, 0, 8) and cache.length == 0
    keys, _ = cache.update(k, v)
    np.testing.assert_array_equal(keys, k)


# ---------------------------------------------------------------------------------------------
# Windows and sinks


@pytest.mark.parametrize(("H", "Hkv"), HEADS, ids=HEAD_IDS)
@pytest.mark.parametrize(("W", "n"), [(1, 0), (4, 0), (4, 2), (3, 1), (20, 2), (5, 5)])
def test_window_decoding_equals_sliding_window_mask(rng, H, Hkv, W, n):
    S = 17
    q, k, v = sequence(rng, H, Hkv, S)
    q, k = rope(q, np.arange(S)), rope(k, np.arange(S))
    expected = full(q, k, v, sliding_with_sinks(S, W, n))
    cache = ar.KVCache(window=W, sink_tokens=n)
    for t in range(S):
        keys, values = cache.update(k[:, :, t : t + 1], v[:, :, t : t + 1])
        pos = cache.positions
        want = [j for j in range(t + 1) if j < n or t - W < j]  # sinks, then the last W
        assert pos.tolist() == want
        np.testing.assert_array_equal(keys, k[:, :, pos])
        np.testing.assert_array_equal(values, v[:, :, pos])
        row = ar.scaled_dot_product_attention(q[:, :, t : t + 1], keys, values, enable_gqa=True)
        np.testing.assert_allclose(row[:, :, 0], expected[:, :, t], rtol=RTOL, atol=ATOL)


def test_window_without_sinks_drops_the_first_tokens(rng):
    """With sinks and without them the results differ once the window has slid: the test
    above can tell them apart."""
    S, W = 12, 4
    q, k, v = sequence(rng, 2, 2, S)
    with_sinks = full(q, k, v, sliding_with_sinks(S, W, 2))
    without = full(q, k, v, sliding_with_sinks(S, W, 0))
    assert np.allclose(with_sinks[:, :, :W], without[:, :, :W])  # nothing dropped yet
    assert not np.allclose(with_sinks[:, :, -1], without[:, :, -1])


@pytest.mark.parametrize("chunks", [[10], [3, 9, 1, 1, 6], [1] * 25, [2, 30], [7, 7, 7, 7]])
@pytest.mark.parametrize(("W", "n"), [(4, 0), (4, 3), (1, 1), (6, 10)])
def test_window_chunks_keep_the_sinks_and_the_last_w(rng, chunks, W, n):
    """Whatever the chunk sizes (larger than the window, crossing the sinks, many small
    ones that force the buffer to compact), the cache returns positions 0..n-1 and the last
    W, with the keys and values appended at those positions."""
    S = sum(chunks)
    _, k, v = sequence(rng, 2, 2, S)
    cache = ar.KVCache(window=W, sink_tokens=n)
    start = 0
    for T in chunks:
        keys, values = cache.update(k[:, :, start : start + T], v[:, :, start : start + T])
        start += T
        want = sorted(set(range(min(n, start))) | set(range(max(0, start - W), start)))
        assert cache.positions.tolist() == want and cache.length == start
        np.testing.assert_array_equal(keys, k[:, :, want])
        np.testing.assert_array_equal(values, v[:, :, want])
        # bounded: never grows with the length (room for two windows, or a larger chunk)
        assert cache._k.shape[2] <= n + max(2 * W, W + max(chunks))


# ---------------------------------------------------------------------------------------------
# What was returned: views; without sinks they never change, with sinks they last one step


@pytest.mark.parametrize("window", [None, 3, 7])
def test_returned_arrays_never_change_without_sinks(rng, window):
    """Unbounded or a window without sinks: a caller holding the keys of step t sees the same
    values at every later step, across the reallocations."""
    S = 200
    _, k, v = sequence(rng, 2, 1, S)
    cache = ar.KVCache(window=window)
    held = []
    for t in range(S):
        keys, values = cache.update(k[:, :, t : t + 1], v[:, :, t : t + 1])
        held.append((keys, values, keys.copy(), values.copy()))
    for keys, values, keys0, values0 in held:
        np.testing.assert_array_equal(keys, keys0)
        np.testing.assert_array_equal(values, values0)
    if window is not None:  # views into a few buffers, not a copy per step
        assert len({id(keys.base) for keys, *_ in held}) < S // window


def test_window_without_sinks_returns_views_with_amortised_copies():
    """A window without sinks reallocates once every W or more tokens, each time copying
    at most W rows: O(1) per token, not a copy of the window per token."""
    W = 50
    cache = ar.KVCache(window=W)
    one = np.zeros((1, 1, 1, 2))
    buffers = set()
    for _ in range(1000):
        keys, _ = cache.update(one, one)
        buffers.add(id(keys.base))
        del keys
    assert cache._k.shape[2] == 2 * W
    assert len(buffers) <= 1000 // W + 1


def row_offset(view, buffer):
    """The row (dim 2) of `buffer` where `view` starts."""
    assert np.shares_memory(view, buffer)
    delta = view.__array_interface__["data"][0] - buffer.__array_interface__["data"][0]
    assert delta % buffer.strides[2] == 0
    return delta // buffer.strides[2]


@pytest.mark.parametrize(("W", "n"), [(50, 4), (7, 2), (1, 1), (3, 5)])
def test_sinks_return_views_of_one_buffer_moved_once_per_window(W, n):
    """With sinks, no copy of the n + W rows per token: every update returns a view of the
    same buffer of n + 2 W rows, each one row further on than the last, except for one move
    back to the front at most every W tokens (the amortised O(n + T) of the docstring).
    Returning new arrays (np.concatenate of the sinks and the window) fails this test."""
    cache = ar.KVCache(window=W, sink_tokens=n)
    steps = 1000
    pos = np.arange(steps, dtype=float).reshape(1, 1, steps, 1)  # key = its position
    offsets, previous = [], None
    for t in range(steps):
        keys, values = cache.update(pos[:, :, t : t + 1], -pos[:, :, t : t + 1])
        assert keys.base is cache._k and values.base is cache._v  # the cache's own storage
        assert cache._k.shape[2] == n + 2 * W
        if previous is not None:
            assert np.shares_memory(previous, keys)  # consecutive steps: the same rows
        np.testing.assert_array_equal(keys[0, 0, :, 0], cache.positions)  # correct now
        offsets.append(row_offset(keys, cache._k))
        previous = keys
    sliding = np.array(offsets[n + W - 1 :])  # from the step that fills the window
    moved = np.flatnonzero(np.diff(sliding) != 1) + 1  # steps where the view did not slide
    assert np.all(sliding[moved] == 0)  # ... because the rows kept moved to the front
    assert len(moved) >= 1  # the test sees the move it bounds
    assert np.all(np.diff(moved) >= W)  # at most one move per W tokens
    assert len(moved) <= steps // W + 1


@pytest.mark.parametrize(("W", "n"), [(3, 1), (4, 2), (2, 3)])
def test_sinks_view_is_valid_until_the_next_update(rng, W, n):
    """As documented: with sinks, the next update may overwrite the previous step's view in
    place (the sinks' new copy lands on the rows the previous window began with); a
    `.copy()` taken before it keeps the step's keys. Without sinks nothing is overwritten
    (test_returned_arrays_never_change_without_sinks)."""
    S = 40
    _, k, v = sequence(rng, 2, 1, S)
    cache = ar.KVCache(window=W, sink_tokens=n)
    slid = 0
    previous = None
    for t in range(S):
        keys, values = cache.update(k[:, :, t : t + 1], v[:, :, t : t + 1])
        pos = cache.positions
        np.testing.assert_array_equal(keys, k[:, :, pos])  # valid when returned
        np.testing.assert_array_equal(values, v[:, :, pos])
        if previous is not None:
            old_keys, old_copy, old_pos = previous
            np.testing.assert_array_equal(old_copy, k[:, :, old_pos])  # the copy is kept
            if t > n + W and row_offset(keys, cache._k) == row_offset(old_keys, cache._k) + 1:
                # the window slid by one row: the sinks were copied one row further on,
                # over the previous view's first window row
                assert not np.array_equal(old_keys, old_copy)
                np.testing.assert_array_equal(old_keys[:, :, 1 : n + 1], k[:, :, :n])
                slid += 1
        previous = (keys, keys.copy(), pos)
    assert slid >= (S - n - W) // 2  # most steps slide; the others move to the front


def test_returned_arrays_are_read_only(rng):
    _, k, v = sequence(rng, 2, 2, 4)
    for cache in (ar.KVCache(), ar.KVCache(window=2, sink_tokens=1)):
        keys, values = cache.update(k, v)
        with pytest.raises(ValueError, match="read-only"):
            keys[0, 0, 0, 0] = 1.0
        with pytest.raises(ValueError, match="read-only"):
            values[...] = 0.0


def test_inputs_are_copied_not_referenced(rng):
    _, k, v = sequence(rng, 1, 1, 3)
    k0 = k.copy()
    cache = ar.KVCache()
    cache.update(k, v)
    k[...] = 0.0  # the caller reuses its buffer
    keys, _ = cache.update(k[:, :, :1], v[:, :, :1])
    np.testing.assert_array_equal(keys[:, :, :3], k0)


def test_capacity_doubles():
    """Amortised O(T): the buffer is reallocated O(log S) times, each time at least twice
    as large, so the rows copied over S appends total less than 2 S."""
    cache = ar.KVCache()
    one = np.zeros((1, 1, 1, 2))
    capacities = []
    for _ in range(1000):
        cache.update(one, one)
        capacities.append(cache._k.shape[2])
    grown = sorted(set(capacities))
    assert all(b >= 2 * a for a, b in itertools.pairwise(grown))
    assert len(grown) <= 8  # 16, 32, ..., 1024
    assert sum(grown[:-1]) < 2 * 1000  # rows copied by the reallocations


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors, and the cache left as it was

BAD_UPDATES = [
    # (description, key shape, value shape, key dtype, value dtype, error, message regex)
    (
        "T of value",
        (2, 2, 3, 8),
        (2, 2, 4, 6),
        "f8",
        "f8",
        ValueError,
        r"T.*key of shape \(2, 2, 3, 8\).*value of shape \(2, 2, 4, 6\)",
    ),
    (
        "B changes",
        (3, 2, 1, 8),
        (3, 2, 1, 6),
        "f8",
        "f8",
        ValueError,
        r"key of shape \(3, 2, 1, 8\).*\(B, Hkv, E\) = \(2, 2, 8\)",
    ),
    (
        "Hkv changes",
        (2, 1, 1, 8),
        (2, 1, 1, 6),
        "f8",
        "f8",
        ValueError,
        r"key of shape \(2, 1, 1, 8\).*cannot change",
    ),
    (
        "E changes",
        (2, 2, 1, 4),
        (2, 2, 1, 6),
        "f8",
        "f8",
        ValueError,
        r"key of shape \(2, 2, 1, 4\)",
    ),
    (
        "Ev changes",
        (2, 2, 1, 8),
        (2, 2, 1, 5),
        "f8",
        "f8",
        ValueError,
        r"value of shape \(2, 2, 1, 5\).*\(B, Hkv, Ev\) = \(2, 2, 6\)",
    ),
    (
        "B of value",
        (2, 2, 1, 8),
        (1, 2, 1, 6),
        "f8",
        "f8",
        ValueError,
        r"same batch size B and heads Hkv",
    ),
    (
        "3-D key",
        (2, 1, 8),
        (2, 2, 1, 6),
        "f8",
        "f8",
        ValueError,
        r"key must have shape \(B, Hkv, T, E\).*got shape \(2, 1, 8\)",
    ),
    (
        "5-D value",
        (2, 2, 1, 8),
        (1, 2, 2, 1, 6),
        "f8",
        "f8",
        ValueError,
        r"value must have shape \(B, Hkv, T, Ev\)",
    ),
    (
        "key dtype changes",
        (2, 2, 1, 8),
        (2, 2, 1, 6),
        "f4",
        "f8",
        TypeError,
        r"key has dtype float32.*holds float64",
    ),
    (
        "value dtype changes",
        (2, 2, 1, 8),
        (2, 2, 1, 6),
        "f8",
        "f2",
        TypeError,
        r"value has dtype float16.*holds float64",
    ),
    (
        "int key",
        (2, 2, 1, 8),
        (2, 2, 1, 6),
        "i8",
        "f8",
        TypeError,
        r"key must be a floating-point array",
    ),
]


@pytest.mark.parametrize("window", [None, 4])
@pytest.mark.parametrize(
    ("k_shape", "v_shape", "k_dtype", "v_dtype", "error", "match"),
    [case[1:] for case in BAD_UPDATES],
    ids=[case[0] for case in BAD_UPDATES],
)
def test_bad_update_raises_and_leaves_the_cache(
    rng, window, k_shape, v_shape, k_dtype, v_dtype, error, match
):
    _, k, v = sequence(rng, 2, 2, 9)  # B=2, Hkv=2, E=8, Ev=6
    cache = ar.KVCache(window=window, sink_tokens=1 if window else 0)
    cache.update(k[:, :, :5], v[:, :, :5])
    state = ("_k", "_v", "_sink_k", "_sink_v")  # buffers, and the sinks' master copy
    before = {name: None if getattr(cache, name) is None else getattr(cache, name).copy()
              for name in state}  # fmt: skip
    counters = (cache.length, cache.positions.tolist(), cache._start, cache._end)
    with pytest.raises(error, match=match):
        cache.update(np.ones(k_shape, dtype=k_dtype), np.ones(v_shape, dtype=v_dtype))
    assert (cache.length, cache.positions.tolist(), cache._start, cache._end) == counters
    for name in state:
        if before[name] is None:
            assert getattr(cache, name) is None
        else:
            np.testing.assert_array_equal(getattr(cache, name), before[name])
    # and it carries on exactly as if the bad update had never been made
    keys, values = cache.update(k[:, :, 5:], v[:, :, 5:])
    pos = cache.positions
    np.testing.assert_array_equal(keys, k[:, :, pos])
    np.testing.assert_array_equal(values, v[:, :, pos])


def test_first_update_failing_leaves_the_cache_empty():
    cache = ar.KVCache()
    with pytest.raises(ValueError, match="T"):
        cache.update(np.ones((1, 1, 2, 4)), np.ones((1, 1, 3, 4)))
    assert cache.length == 0
    keys, _ = cache.update(np.ones((3, 1, 1, 5)), np.ones((3, 1, 1, 2)))  # any shape still
    assert keys.shape == (3, 1, 1, 5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"window": 0}, ValueError, "window must be at least 1, got 0"),
        ({"window": -3}, ValueError, "window must be at least 1"),
        ({"window": 2.5}, TypeError, "window must be an integer"),
        ({"window": True}, TypeError, "window must be an integer"),
        ({"window": 4, "sink_tokens": -1}, ValueError, "sink_tokens must be at least 0"),
        ({"window": 4, "sink_tokens": 1.0}, TypeError, "sink_tokens must be an integer"),
        ({"sink_tokens": 4}, ValueError, "sink_tokens=4 needs a window"),
    ],
)
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        ar.KVCache(**kwargs)


def test_window_accepts_numpy_integers():
    cache = ar.KVCache(window=np.int64(3), sink_tokens=np.int32(1))
    assert (cache.window, cache.sink_tokens) == (3, 1)


# ---------------------------------------------------------------------------------------------
# A multi-layer decoder generates the same tokens with and without the cache


@pytest.mark.parametrize(
    ("heads", "kv_heads", "use_rope"),
    [(4, 4, True), (4, 2, True), (4, 1, True), (4, 2, False)],
    ids=["MHA-rope", "GQA-rope", "MQA-rope", "GQA-no-rope"],
)
def test_toy_decoder_generates_the_same_tokens(heads, kv_heads, use_rope):
    model = ToyDecoder(heads=heads, kv_heads=kv_heads, use_rope=use_rope, seed=heads + kv_heads)
    prompt = np.random.default_rng(1).integers(0, model.vocab, size=(2, 5))
    cached = model.generate(prompt, 20, use_cache=True)
    recomputed = model.generate(prompt, 20, use_cache=False)
    np.testing.assert_array_equal(cached, recomputed)
    assert len(set(cached[0, 5:].tolist())) > 1  # not a degenerate repetition of one token
    # and the logits of every position agree, not only their argmax
    caches = model.new_caches()
    step_logits = [model.forward(cached[:, :5], caches)]
    step_logits += [model.forward(cached[:, t : t + 1], caches) for t in range(5, 25)]
    np.testing.assert_allclose(
        np.concatenate(step_logits, axis=1), model.forward(cached), rtol=1e-10, atol=1e-10
    )


def test_toy_decoder_with_a_window_and_sinks():
    """Windowed decoding, one token at a time through every layer, equals recomputing the
    whole sequence with the StreamingLLM mask at each step."""
    model = ToyDecoder(seed=3)
    prompt = np.random.default_rng(2).integers(0, model.vocab, size=(2, 4))
    for window, sinks in [(3, 0), (4, 2)]:
        cached = model.generate(prompt, 16, window=window, sink_tokens=sinks)
        recomputed = model.generate(prompt, 16, use_cache=False, window=window, sink_tokens=sinks)
        np.testing.assert_array_equal(cached, recomputed)
    # the window matters for this model: unbounded attention generates other tokens
    assert not np.array_equal(model.generate(prompt, 16), cached)


# ---------------------------------------------------------------------------------------------
# The same, stated with flex_attention and attention_ref.mods (issue 14's variants)


@pytest.mark.parametrize(("H", "Hkv"), HEADS, ids=HEAD_IDS)
def test_chunked_prefill_equals_flex_causal_with_offset(rng, H, Hkv):
    """Chunk rows with mods.causal(offset=S - T), the bottom-right alignment, are the rows of
    flex_attention with mods.causal() over the whole sequence."""
    chunks = [4, 1, 6, 2]
    S = sum(chunks)
    q, k, v = sequence(rng, H, Hkv, S)
    q, k = rope(q, np.arange(S)), rope(k, np.arange(S))
    expected = ar.flex_attention(q, k, v, mask_mod=ar.mods.causal(), enable_gqa=True)
    cache = ar.KVCache()
    start = 0
    for T in chunks:
        rows = slice(start, start + T)
        keys, values = cache.update(k[:, :, rows], v[:, :, rows])
        S_now = keys.shape[2]
        out = ar.flex_attention(
            q[:, :, rows], keys, values, mask_mod=ar.mods.causal(S_now - T), enable_gqa=True
        )
        np.testing.assert_allclose(out, expected[:, :, rows], rtol=RTOL, atol=ATOL)
        start += T


@pytest.mark.parametrize(("W", "n"), [(1, 0), (4, 0), (4, 2), (6, 1)])
def test_window_decoding_equals_flex_sliding_window(rng, W, n):
    """window=W is mods.sliding_window(W - 1, 0): the last W positions, the query's own
    included; with n sinks, or-ed with the first n positions (and causal)."""
    S = 15
    q, k, v = sequence(rng, 4, 2, S)
    mask_mod = ar.mods.sliding_window(W - 1, 0)
    if n:
        mask_mod = ar.mods.and_masks(
            ar.mods.causal(), ar.mods.or_masks(mask_mod, lambda b, h, q_idx, kv_idx: kv_idx < n)
        )
    expected = ar.flex_attention(q, k, v, mask_mod=mask_mod, enable_gqa=True)
    np.testing.assert_allclose(  # the mask written out by hand agrees
        expected, full(q, k, v, sliding_with_sinks(S, W, n)), rtol=RTOL, atol=ATOL
    )
    cache = ar.KVCache(window=W, sink_tokens=n)
    for t in range(S):
        keys, values = cache.update(k[:, :, t : t + 1], v[:, :, t : t + 1])
        row = ar.flex_attention(q[:, :, t : t + 1], keys, values, enable_gqa=True)
        np.testing.assert_allclose(row[:, :, 0], expected[:, :, t], rtol=RTOL, atol=ATOL)
