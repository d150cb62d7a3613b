"""The traps a new user falls into, each reproduced and given the better behaviour.

- A `(B, S)` padding mask passed as `attn_mask` without `[:, None, None, :]`: when `B != L`
  the error says exactly what to write, and what it says works; when `B == L` nothing can
  detect it, so `padding_mask(..., as_attn_mask=True)` builds the right shape and the masks
  page shows the difference.
- 8 query heads with 2 key/value heads and no `enable_gqa`: the error suggests the flag.
- `is_causal="yes"` (any non-bool) on every entry point: `TypeError` naming it.
- `MultiHeadAttention(..., key_padding_mask=...)`: refused, with the `attn_mask` to pass
  instead; that `attn_mask` is checked against torch's `nn.MultiheadAttention` (optional).

Oracle: the loop implementation of tests/oracle.py (float64, `RTOL_F64`), and PyTorch when
installed (the same tolerance: both compute in float64 and differ only in rounding order).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64
from oracle import multihead as mha_oracle
from oracle import sdpa as sdpa_oracle

from attention_ref import (
    MultiHeadAttention,
    flash_attention,
    padding_mask,
    scaled_dot_product_attention,
    sdpa_backward,
)


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL_F64, atol=ATOL_F64)


def _suggested(message: str, name: str) -> str:
    """The expression after `name=` in an error message (up to the next ',' or ';')."""
    m = re.search(rf"\b{name}=(.+?)(?:, of shape|, or |; |$)", message)
    assert m, f"the message suggests no {name}=...: {message}"
    return m.group(1)


# --- a (B, S) padding mask passed as attn_mask ------------------------------------------------


def test_padding_mask_default_shape_is_the_contracts():
    assert padding_mask([2, 3], 4).shape == (2, 4)
    assert padding_mask(np.array([], dtype=int), 4).shape == (0, 4)


def test_padding_mask_as_attn_mask():
    lengths = [3, 0, 5]
    mask = padding_mask(lengths, 5, as_attn_mask=True)
    assert mask.shape == (3, 1, 1, 5) and mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, padding_mask(lengths, 5)[:, None, None, :])
    np.testing.assert_array_equal(
        padding_mask(lengths, 5, as_attn_mask=np.True_), mask
    )  # a NumPy bool is a bool


def test_padding_mask_as_attn_mask_must_be_bool():
    with pytest.raises(TypeError, match="as_attn_mask"):
        padding_mask([1], 2, as_attn_mask="yes")


def test_bs_mask_error_says_what_to_write_and_it_works(rng):
    B, H, L, S, E = 3, 2, 4, 6, 5  # B != L: the (B, S) mask does not broadcast
    q, k, v = (
        rng.normal(size=(B, H, L, E)),
        rng.normal(size=(B, H, S, E)),
        rng.normal(size=(B, H, S, E)),
    )
    lengths = [6, 2, 4]
    attn_mask = padding_mask(lengths, S)  # (B, S): the trap
    with pytest.raises(ValueError, match=re.escape("attn_mask[:, None, None, :]")) as info:
        scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    message = str(info.value)
    assert "(3, 1, 1, 6)" in message and "as_attn_mask=True" in message
    fixed = eval(_suggested(message, "attn_mask"), {"attn_mask": attn_mask})
    out = scaled_dot_product_attention(q, k, v, attn_mask=fixed)
    _close(
        out,
        scaled_dot_product_attention(
            q, k, v, attn_mask=padding_mask(lengths, S, as_attn_mask=True)
        ),
    )
    for b, n in enumerate(lengths):  # each sequence alone, without its padding
        _close(out[b], sdpa_oracle(q[b], k[b, :, :n], v[b, :, :n])[0])


def test_bs_mask_hint_for_three_dim_scores(rng):
    # Scores (B, L, S) without heads: the reshape is [:, None, :], and the (B, 1, 1, S) helper
    # would not fit, so it is not suggested.
    q, k, v = rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 6, 5)), rng.normal(size=(3, 6, 2))
    attn_mask = padding_mask([6, 1, 3], 6)
    with pytest.raises(ValueError, match=re.escape("attn_mask=attn_mask[:, None, :]")) as info:
        scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    assert "as_attn_mask" not in str(info.value)
    fixed = eval(_suggested(str(info.value), "attn_mask"), {"attn_mask": attn_mask})
    _close(
        scaled_dot_product_attention(q, k, v, attn_mask=fixed),
        sdpa_oracle(q, k, v, attn_mask=fixed)[0],
    )


@pytest.mark.parametrize("call", ["sdpa", "flash", "backward", "mha"])
def test_bs_mask_hint_on_every_entry_point(call):
    x = np.ones((3, 2, 4, 6))  # (B, H, L, E)
    mask = np.ones((3, 4 if call == "mha" else 5), bool)  # (B, S), B != L
    key = np.ones((3, 2, 5, 6))
    calls = {
        "sdpa": lambda: scaled_dot_product_attention(x, key, key, attn_mask=mask),
        "flash": lambda: flash_attention(x, key, key, attn_mask=mask),
        "backward": lambda: sdpa_backward(x, x, key, key, attn_mask=mask),
        "mha": lambda: MultiHeadAttention(6, 2, rng=0)(np.ones((3, 4, 6)), attn_mask=mask),
    }
    with pytest.raises(ValueError, match=re.escape("attn_mask[:, None, None, :]")):
        calls[call]()


def test_bs_mask_no_hint_when_it_is_not_a_padding_mask():
    q = np.ones((3, 2, 4, 5))
    with pytest.raises(ValueError) as info:
        scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 4), bool))  # (H, S)?
    assert "None" not in str(info.value)


def test_bs_mask_with_b_equal_l_is_silently_an_ls_mask(rng):
    # The trap that cannot be detected: B == L, so (B, S) broadcasts as (L, S). The result is
    # a different (wrong) attention; the helper gives the right one.
    B = L = S = 4
    q, k, v = (rng.normal(size=(B, 2, L, 3)) for _ in range(3))
    lengths = [4, 1, 2, 3]
    wrong = scaled_dot_product_attention(q, k, v, attn_mask=padding_mask(lengths, S))
    right = scaled_dot_product_attention(
        q, k, v, attn_mask=padding_mask(lengths, S, as_attn_mask=True)
    )
    for b, n in enumerate(lengths):
        _close(right[b], sdpa_oracle(q[b], k[b, :, :n], v[b, :, :n])[0])
    # what the wrong call computed: query i of every sequence masked with sequence i's lengths
    _close(wrong, sdpa_oracle(q, k, v, attn_mask=padding_mask(lengths, S))[0])
    assert np.abs(wrong - right).max() > 0.1


# --- grouped-query attention without the flag -------------------------------------------------


def test_gqa_without_flag_suggests_it(rng):
    q, k, v = (
        rng.normal(size=(2, 8, 3, 4)),
        rng.normal(size=(2, 2, 5, 4)),
        rng.normal(size=(2, 2, 5, 6)),
    )
    with pytest.raises(ValueError, match=r"enable_gqa=True") as info:
        scaled_dot_product_attention(q, k, v)
    message = str(info.value)
    assert "H=8" in message and "Hkv=2" in message
    assert str(q.shape) in message and str(k.shape) in message
    _close(
        scaled_dot_product_attention(q, k, v, enable_gqa=True),
        sdpa_oracle(q, k, v, enable_gqa=True)[0],
    )


@pytest.mark.parametrize("call", [flash_attention, lambda q, k, v: sdpa_backward(q, q, k, v)])
def test_gqa_hint_on_flash_and_backward(call):
    q, kv = np.ones((2, 8, 3, 4)), np.ones((2, 2, 3, 4))
    with pytest.raises(ValueError, match=r"enable_gqa=True"):
        call(q, kv, kv)


@pytest.mark.parametrize(
    ("q_shape", "kv_shape"),
    [
        ((2, 3, 3, 4), (2, 2, 5, 4)),  # 3 is not a multiple of 2: GQA would not help
        ((2, 8, 3, 4), (3, 2, 5, 4)),  # the batch dims do not broadcast either
        ((8, 3, 4), (2, 3, 5, 4)),  # more key dims: dim -3 of key is not its heads
        ((2, 0, 3, 4), (2, 2, 5, 4)),  # no query heads at all
    ],
)
def test_gqa_hint_only_when_the_flag_would_help(q_shape, kv_shape):
    with pytest.raises(ValueError) as info:
        scaled_dot_product_attention(np.ones(q_shape), np.ones(kv_shape), np.ones(kv_shape))
    assert "enable_gqa" not in str(info.value)


def test_gqa_hint_not_for_unbatched_shapes():
    # query without heads, key and value with different batch dims: nothing to do with GQA
    with pytest.raises(ValueError) as info:
        scaled_dot_product_attention(np.ones((3, 4)), np.ones((2, 5, 4)), np.ones((3, 5, 6)))
    assert "enable_gqa" not in str(info.value)


# --- is_causal must be a bool -----------------------------------------------------------------

ENTRY_POINTS = {
    "scaled_dot_product_attention": lambda x, c: scaled_dot_product_attention(x, x, x, is_causal=c),
    "flash_attention": lambda x, c: flash_attention(x, x, x, is_causal=c),
    "sdpa_backward": lambda x, c: sdpa_backward(x, x, x, x, is_causal=c),
    "MultiHeadAttention": lambda x, c: MultiHeadAttention(4, 2, rng=0)(x[0], is_causal=c)[0],
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("value", ["yes", "False", 1, 0, None, 1.0, np.array(True), [True]])
def test_is_causal_not_a_bool(entry, value):
    # "False" and [True] are truthy, 0 and None falsy: none of them may pass silently.
    x = np.ones((2, 3, 4))
    with pytest.raises(TypeError, match=r"\bis_causal\b") as info:
        ENTRY_POINTS[entry](x, value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_is_causal_numpy_bool_is_a_bool(entry, rng):
    x = rng.normal(size=(2, 3, 4))
    for flag in (True, False):
        np.testing.assert_array_equal(
            ENTRY_POINTS[entry](x, np.bool_(flag)), ENTRY_POINTS[entry](x, flag)
        )


# --- MultiHeadAttention(key_padding_mask=...) -------------------------------------------------


def _mha_oracle(mha, x, memory, mask):
    names = ("w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o")
    params = {name: getattr(mha, name) for name in names}
    return mha_oracle(x, memory, memory, params, mha.num_heads, attn_mask=mask)


def test_key_padding_mask_is_refused_with_what_to_write(rng):
    mha = MultiHeadAttention(12, 3, rng=rng)
    mha.b_o[...] = rng.normal(size=12)
    x, memory = rng.normal(size=(2, 5, 12)), rng.normal(size=(2, 7, 12))
    key_padding_mask = np.arange(7) >= np.array([[7], [3]])  # PyTorch's: True = padding
    with pytest.raises(TypeError, match=r"\bkey_padding_mask\b") as info:
        mha(x, memory, key_padding_mask=key_padding_mask)
    message = str(info.value)
    assert "attn_mask=~key_padding_mask[:, None, None, :]" in message
    assert "padding_mask(lengths, S, as_attn_mask=True)" in message
    fixed = eval(_suggested(message, "attn_mask"), {"key_padding_mask": key_padding_mask})
    out, weights = mha(x, memory, attn_mask=fixed, need_weights=True)
    assert np.all(weights[1, :, 3:] == 0)  # no weight on sequence 1's padding
    from_lengths, _ = mha(x, memory, attn_mask=padding_mask([7, 3], 7, as_attn_mask=True))
    _close(out, from_lengths)


def test_key_padding_mask_none_is_accepted(rng):
    mha = MultiHeadAttention(4, 2, rng=0)
    x = rng.normal(size=(2, 3, 4))
    np.testing.assert_array_equal(mha(x, key_padding_mask=None)[0], mha(x)[0])


@pytest.fixture
def torch():
    return pytest.importorskip(
        "torch",
        reason="torch is not installed: the PyTorch cross-check is optional "
        "(pip install torch==2.13.0)",
    )


def _torch_pair(torch, rng, D, H):
    """attention_ref's module with random biases, and torch's with the same parameters."""
    ours = MultiHeadAttention(D, H, rng=rng)
    for name in ("b_q", "b_k", "b_v", "b_o"):
        getattr(ours, name)[...] = rng.normal(size=getattr(ours, name).shape)
    theirs = torch.nn.MultiheadAttention(D, H, batch_first=True, dtype=torch.float64).eval()
    with torch.no_grad():
        packed = np.concatenate([ours.w_q.T, ours.w_k.T, ours.w_v.T], axis=0)  # (3D, D)
        theirs.in_proj_weight.copy_(torch.from_numpy(packed))
        theirs.in_proj_bias.copy_(torch.from_numpy(np.concatenate([ours.b_q, ours.b_k, ours.b_v])))
        theirs.out_proj.weight.copy_(torch.from_numpy(np.ascontiguousarray(ours.w_o.T)))
        theirs.out_proj.bias.copy_(torch.from_numpy(ours.b_o))
    return ours, theirs


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kpm_kind", ["bool", "float"])
@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
def test_key_padding_mask_suggestion_matches_torch(torch, rng, batched, kpm_kind, mask_kind):
    """Following the message gives what torch computes with key_padding_mask."""
    ours, theirs = _torch_pair(torch, rng, 12, 3)
    B, L, S = 2, 5, 7
    x, memory = rng.normal(size=(B, L, 12)), rng.normal(size=(B, S, 12))
    pad = np.arange(S) >= np.array([[S], [3]])  # (B, S), torch's polarity: True = padding
    kpm = pad if kpm_kind == "bool" else np.where(pad, -np.inf, rng.normal(size=(B, S)))
    allowed = rng.random((L, S)) < 0.7  # (L, S), this package's polarity
    allowed[:, 0] = True  # no row fully masked: torch would give NaN there
    attn_mask = {
        None: None,
        "bool": allowed,
        "float": np.where(allowed, rng.normal(size=(L, S)), -np.inf),
    }[mask_kind]
    torch_attn_mask = {None: None, "bool": ~allowed, "float": attn_mask}[mask_kind]
    if not batched:
        x, memory, kpm = x[1], memory[1], kpm[1]

    with pytest.raises(TypeError, match=r"\bkey_padding_mask\b") as info:
        ours(x, memory, attn_mask=attn_mask, key_padding_mask=kpm)
    expression = _suggested(str(info.value), "attn_mask")
    fixed = eval(expression, {"np": np, "key_padding_mask": kpm, "attn_mask": attn_mask})
    out, weights = ours(x, memory, attn_mask=fixed, need_weights=True, average_attn_weights=False)

    t = torch.from_numpy
    with torch.no_grad(), warnings.catch_warnings():
        # torch deprecates a bool key_padding_mask with a float attn_mask (still supported)
        warnings.filterwarnings("ignore", "Support for mismatched", UserWarning)
        out_t, weights_t = theirs(
            t(x),
            t(memory),
            t(memory),
            key_padding_mask=t(kpm),
            attn_mask=None if torch_attn_mask is None else t(torch_attn_mask),
            need_weights=True,
            average_attn_weights=False,
        )
    _close(out, out_t.numpy())
    _close(weights, weights_t.numpy())
    # and the loop oracle agrees (the same parameters, the converted mask)
    if batched:
        _close(out, _mha_oracle(ours, x, memory, np.broadcast_to(fixed, (B, 3, L, S)))[0])
