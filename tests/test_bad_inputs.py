"""One table of bad inputs: each row, the call, the exception type and a message regex.

The regexes require what the contract requires (the argument names, and the shapes as Python
prints tuples) and nothing more: each part may appear anywhere in the message, in any order.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import attention_ref
from attention_ref import (
    MultiHeadAttention,
    additive_attention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)


def mentions(*parts):
    """A regex that matches when every part occurs somewhere in the message (any order).

    Parts that are tuples are shapes, written as ``str(tuple)``; strings are whole words.
    """
    pieces = []
    for part in parts:
        if isinstance(part, tuple):
            pieces.append(re.escape(str(part)))
        else:
            pieces.append(r"\b" + re.escape(part) + r"\b")
    return "(?s)" + "".join(f"(?=.*{p})" for p in pieces)


def a(*shape, dtype=np.float64):
    """A deterministic array of the given shape and dtype."""
    return (np.arange(int(np.prod(shape))).reshape(shape) % 3 + 1).astype(dtype)


def sdpa(q, k, v, **kw):
    return scaled_dot_product_attention(q, k, v, **kw)


def flash(q, k, v, **kw):
    # Looked up at call time, so that a missing function fails its rows only.
    return attention_ref.flash_attention(q, k, v, **kw)


def backward(q, k, v, **kw):
    q = np.asarray(q)
    v = np.asarray(v)
    grad = np.ones((*np.broadcast_shapes(q.shape[:-2], v.shape[:-2]), q.shape[-2], v.shape[-1]))
    return attention_ref.sdpa_backward(grad, q, k, v, **kw)


def additive(q, k, v, **kw):
    return additive_attention(q, k, v, a(q.shape[-1], 6), a(k.shape[-1], 6), a(6), **kw)


def mha_call(x, **kw):
    return MultiHeadAttention(12, 3, rng=0)(x, **kw)


# Shapes are chosen so that every shape in a row is distinct: a message that prints the wrong
# argument's shape does not match.
Q, K, V = (2, 3, 4), (2, 5, 4), (2, 5, 6)  # L=3, S=5, E=4, Ev=6; scores (2, 3, 5)

# fmt: off
CASES = [
    # --- scaled dot-product attention: shapes -----------------------------------------------
    ("E mismatch", lambda: sdpa(a(2, 3, 4), a(2, 5, 3), a(2, 5, 3)),
     ValueError, mentions("query", (2, 3, 4), "key", (2, 5, 3))),
    ("S mismatch", lambda: sdpa(a(2, 3, 4), a(2, 5, 4), a(2, 6, 4)),
     ValueError, mentions("key", (2, 5, 4), "value", (2, 6, 4))),
    ("leading dims of query and key", lambda: sdpa(a(2, 3, 4), a(3, 5, 4), a(3, 5, 6)),
     ValueError, mentions("query", (2, 3, 4), "key", (3, 5, 4))),
    ("leading dims of value", lambda: sdpa(a(2, 3, 4), a(2, 5, 4), a(3, 5, 6)),
     ValueError, mentions("value", (3, 5, 6))),
    ("query 1-D", lambda: sdpa(a(4), a(5, 4), a(5, 6)),
     ValueError, mentions("query", (4,))),
    ("key 1-D", lambda: sdpa(a(3, 4), a(4), a(5, 6)),
     ValueError, mentions("key", (4,))),
    ("value 1-D", lambda: sdpa(a(3, 4), a(5, 4), a(5)),
     ValueError, mentions("value", (5,))),
    ("query 0-D", lambda: sdpa(np.float64(1.0), a(5, 4), a(5, 6)),
     ValueError, mentions("query", ())),
    # --- masks: shape -----------------------------------------------------------------------
    ("mask wrong S", lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.ones((3, 4), bool)),
     ValueError, mentions("attn_mask", (3, 4))),
    ("mask wrong L", lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.zeros((4, 5))),
     ValueError, mentions("attn_mask", (4, 5))),
    ("mask enlarges scores",
     lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.ones((7, 2, 3, 5), bool)),
     ValueError, mentions("attn_mask", (7, 2, 3, 5))),
    ("mask enlarges a size-1 dim",
     lambda: sdpa(a(1, 3, 4), a(1, 5, 4), a(1, 5, 6), attn_mask=np.zeros((2, 3, 5))),
     ValueError, mentions("attn_mask", (2, 3, 5))),
    ("mask bad batch", lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.ones((4, 1, 5), bool)),
     ValueError, mentions("attn_mask", (4, 1, 5))),
    # --- masks: dtype -----------------------------------------------------------------------
    ("int64 0/1 mask", lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.ones((3, 5), np.int64)),
     TypeError, mentions("attn_mask", "int64")),
    ("uint8 mask", lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.ones((3, 5), np.uint8)),
     TypeError, mentions("attn_mask", "uint8")),
    ("int32 mask", lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.zeros((3, 5), np.int32)),
     TypeError, mentions("attn_mask", "int32")),
    ("mask and is_causal",
     lambda: sdpa(a(*Q), a(*K), a(*V), attn_mask=np.ones((3, 5), bool), is_causal=True),
     ValueError, mentions("attn_mask", "is_causal")),
    # --- grouped-query attention ------------------------------------------------------------
    ("GQA heads not divisible",
     lambda: sdpa(a(1, 3, 4, 8), a(1, 2, 5, 8), a(1, 2, 5, 8), enable_gqa=True),
     ValueError, mentions("query", (1, 3, 4, 8), "key", (1, 2, 5, 8))),
    ("GQA more kv heads than query heads",
     lambda: sdpa(a(1, 2, 4, 8), a(1, 4, 5, 8), a(1, 4, 5, 8), enable_gqa=True),
     ValueError, mentions("query", (1, 2, 4, 8), "key", (1, 4, 5, 8))),
    # --- input dtypes -----------------------------------------------------------------------
    ("int query", lambda: sdpa(a(*Q, dtype=np.int64), a(*K), a(*V)),
     TypeError, mentions("query", "int64")),
    ("bool key", lambda: sdpa(a(*Q), a(*K, dtype=bool), a(*V)),
     TypeError, mentions("key", "bool")),
    ("complex value", lambda: sdpa(a(*Q), a(*K), a(*V, dtype=np.complex128)),
     TypeError, mentions("value", "complex128")),
    ("object query", lambda: sdpa(a(*Q, dtype=object), a(*K), a(*V)),
     TypeError, mentions("query", "object")),
    ("uint8 value", lambda: sdpa(a(*Q), a(*K), a(*V, dtype=np.uint8)),
     TypeError, mentions("value", "uint8")),
    # --- flash_attention and sdpa_backward follow the same conventions -------------------------
    ("flash: E mismatch", lambda: flash(a(2, 3, 4), a(2, 5, 3), a(2, 5, 3)),
     ValueError, mentions("query", (2, 3, 4), "key", (2, 5, 3))),
    ("flash: S mismatch", lambda: flash(a(2, 3, 4), a(2, 5, 4), a(2, 6, 4)),
     ValueError, mentions("key", (2, 5, 4), "value", (2, 6, 4))),
    ("flash: int mask", lambda: flash(a(*Q), a(*K), a(*V), attn_mask=np.ones((3, 5), np.int64)),
     TypeError, mentions("attn_mask", "int64")),
    ("flash: mask shape", lambda: flash(a(*Q), a(*K), a(*V), attn_mask=np.ones((3, 4), bool)),
     ValueError, mentions("attn_mask", (3, 4))),
    ("flash: mask and is_causal",
     lambda: flash(a(*Q), a(*K), a(*V), attn_mask=np.zeros((3, 5)), is_causal=True),
     ValueError, mentions("attn_mask", "is_causal")),
    ("flash: int key", lambda: flash(a(*Q), a(*K, dtype=np.int32), a(*V)),
     TypeError, mentions("key", "int32")),
    ("backward: E mismatch", lambda: backward(a(2, 3, 4), a(2, 5, 3), a(2, 5, 3)),
     ValueError, mentions("query", (2, 3, 4), "key", (2, 5, 3))),
    ("backward: int mask",
     lambda: backward(a(*Q), a(*K), a(*V), attn_mask=np.ones((3, 5), np.int64)),
     TypeError, mentions("attn_mask", "int64")),
    # --- additive attention: the mask argument is `mask` ----------------------------------------
    ("additive: mask shape", lambda: additive(a(*Q), a(*K), a(*V), mask=np.ones((3, 4), bool)),
     ValueError, mentions("mask", (3, 4))),
    ("additive: int mask", lambda: additive(a(*Q), a(*K), a(*V), mask=np.ones((3, 5), np.int64)),
     TypeError, mentions("mask", "int64")),
    ("additive: S mismatch", lambda: additive(a(2, 3, 4), a(2, 5, 4), a(2, 6, 4)),
     ValueError, mentions("key", (2, 5, 4), "value", (2, 6, 4))),
    ("additive: int query", lambda: additive(a(*Q, dtype=np.int64), a(*K), a(*V)),
     TypeError, mentions("query", "int64")),
    ("additive: w_query shape",
     lambda: additive_attention(a(*Q), a(*K), a(*V), a(5, 6), a(4, 6), a(6)),
     ValueError, mentions("w_query", (5, 6))),
    ("additive: w_key shape",
     lambda: additive_attention(a(*Q), a(*K), a(*V), a(4, 6), a(4, 7), a(6)),
     ValueError, mentions("w_key", (4, 7))),
    ("additive: v not 1-D",
     lambda: additive_attention(a(*Q), a(*K), a(*V), a(4, 6), a(4, 6), a(6, 1)),
     ValueError, mentions("v", (6, 1))),
    # --- GQA: key and value must agree on Hkv --------------------------------------------------
    ("GQA key/value heads differ",
     lambda: sdpa(a(1, 4, 3, 8), a(1, 2, 5, 8), a(1, 1, 5, 8), enable_gqa=True),
     ValueError, mentions("key", (1, 2, 5, 8), "value", (1, 1, 5, 8))),
    ("GQA query 2-D", lambda: sdpa(a(3, 8), a(2, 5, 8), a(2, 5, 8), enable_gqa=True),
     ValueError, mentions("query", (3, 8))),
    # --- scale -------------------------------------------------------------------------------
    ("scale a string", lambda: sdpa(a(*Q), a(*K), a(*V), scale="0.5"),
     TypeError, mentions("scale")),
    ("scale complex", lambda: sdpa(a(*Q), a(*K), a(*V), scale=1j),
     TypeError, mentions("scale")),
    # --- MultiHeadAttention -----------------------------------------------------------------
    ("embed_dim % num_heads", lambda: MultiHeadAttention(10, 3),
     ValueError, mentions("embed_dim", "num_heads")),
    ("num_heads % num_kv_heads", lambda: MultiHeadAttention(12, 4, num_kv_heads=3),
     ValueError, mentions("num_heads", "num_kv_heads")),
    ("query width != embed_dim", lambda: mha_call(a(2, 5, 10)),
     ValueError, mentions("query", (2, 5, 10))),
    ("unbatched query width != embed_dim", lambda: mha_call(a(5, 10)),
     ValueError, mentions("query", (5, 10))),
    ("mha: int mask", lambda: mha_call(a(2, 5, 12), attn_mask=np.ones((5, 5), np.int64)),
     TypeError, mentions("attn_mask", "int64")),
    ("mha: mask shape", lambda: mha_call(a(2, 5, 12), attn_mask=np.ones((5, 4), bool)),
     ValueError, mentions("attn_mask", (5, 4))),
    ("mha: mask and is_causal",
     lambda: mha_call(a(2, 5, 12), attn_mask=np.ones((5, 5), bool), is_causal=True),
     ValueError, mentions("attn_mask", "is_causal")),
    # --- the traps of tests/test_edges.py: the message says what to write ---------------------
    ("(B, S) padding mask as attn_mask",
     lambda: sdpa(a(3, 2, 4, 6), a(3, 2, 5, 6), a(3, 2, 5, 6), attn_mask=np.ones((3, 5), bool)),
     ValueError, mentions("attn_mask", (3, 5), (3, 1, 1, 5), "as_attn_mask")),
    ("mha: (B, S) padding mask as attn_mask",
     lambda: mha_call(a(2, 5, 12), key=a(2, 7, 12), attn_mask=np.ones((2, 7), bool)),
     ValueError, mentions("attn_mask", (2, 7), (2, 1, 1, 7))),
    ("8 query heads, 2 kv heads, no enable_gqa",
     lambda: sdpa(a(1, 8, 3, 4), a(1, 2, 5, 4), a(1, 2, 5, 6)),
     ValueError, mentions("query", (1, 8, 3, 4), "key", (1, 2, 5, 4), "enable_gqa")),
    ("flash: 8 query heads, 2 kv heads, no enable_gqa",
     lambda: flash(a(1, 8, 3, 4), a(1, 2, 5, 4), a(1, 2, 5, 6)),
     ValueError, mentions("query", (1, 8, 3, 4), "key", (1, 2, 5, 4), "enable_gqa")),
    ("is_causal a string", lambda: sdpa(a(*Q), a(*K), a(*V), is_causal="yes"),
     TypeError, mentions("is_causal", "yes")),
    ("is_causal an int", lambda: sdpa(a(*Q), a(*K), a(*V), is_causal=1),
     TypeError, mentions("is_causal", "int")),
    ("flash: is_causal a string", lambda: flash(a(*Q), a(*K), a(*V), is_causal="yes"),
     TypeError, mentions("is_causal", "yes")),
    ("backward: is_causal a string", lambda: backward(a(*Q), a(*K), a(*V), is_causal="yes"),
     TypeError, mentions("is_causal", "yes")),
    ("mha: is_causal a string", lambda: mha_call(a(2, 5, 12), is_causal="yes"),
     TypeError, mentions("is_causal", "yes")),
    ("enable_gqa a string",
     lambda: sdpa(a(1, 8, 3, 4), a(1, 2, 5, 4), a(1, 2, 5, 6), enable_gqa="yes"),
     TypeError, mentions("enable_gqa", "yes")),
    ("flash: enable_gqa an int",
     lambda: flash(a(1, 8, 3, 4), a(1, 2, 5, 4), a(1, 2, 5, 6), enable_gqa=1),
     TypeError, mentions("enable_gqa", "int")),
    ("backward: enable_gqa None",
     lambda: attention_ref.sdpa_backward(
         a(1, 8, 3, 6), a(1, 8, 3, 4), a(1, 2, 5, 4), a(1, 2, 5, 6), enable_gqa=None),
     TypeError, mentions("enable_gqa", "None")),
    ("mha: key_padding_mask",
     lambda: mha_call(a(2, 5, 12), key_padding_mask=np.zeros((2, 5), bool)),
     TypeError, mentions("key_padding_mask", (2, 5), "attn_mask", "as_attn_mask")),
    ("padding_mask as_attn_mask a string", lambda: padding_mask([1, 2], 3, as_attn_mask="yes"),
     TypeError, mentions("as_attn_mask")),
    # --- softmax: the dtype rule holds everywhere --------------------------------------------
    ("softmax int", lambda: softmax(np.array([0, 1])),
     TypeError, mentions("x", "int64")),
    ("softmax complex", lambda: softmax(np.array([0j, 1j])),
     TypeError, mentions("x", "complex128")),
    ("mha: embed_dim 0", lambda: MultiHeadAttention(0, 1),
     ValueError, mentions("embed_dim")),
    ("mha: query 4-D", lambda: mha_call(a(1, 2, 5, 12)),
     ValueError, mentions("query", (1, 2, 5, 12))),
    ("mha: batched query, unbatched key", lambda: mha_call(a(2, 5, 12), key=a(7, 12)),
     ValueError, mentions("query", (2, 5, 12), "key", (7, 12))),
    ("mha: key width != kdim", lambda: mha_call(a(2, 5, 12), key=a(2, 7, 11)),
     ValueError, mentions("key", (2, 7, 11))),
    ("mha: key and value S differ",
     lambda: mha_call(a(2, 5, 12), key=a(2, 7, 12), value=a(2, 6, 12)),
     ValueError, mentions("key", (2, 7, 12), "value", (2, 6, 12))),
    ("mha: query and key batch differ", lambda: mha_call(a(2, 5, 12), key=a(3, 7, 12)),
     ValueError, mentions("query", (2, 5, 12), "key", (3, 7, 12))),
    ("softmax 0-D", lambda: softmax(np.float64(1.0)),
     ValueError, mentions("x", ())),
    ("softmax axis out of range", lambda: softmax(a(2, 3), axis=2),
     ValueError, mentions("axis")),
    # --- mask helpers -----------------------------------------------------------------------
    ("causal_mask negative L", lambda: causal_mask(-1),
     ValueError, mentions("L")),
    ("causal_mask negative S", lambda: causal_mask(3, -2),
     ValueError, mentions("S")),
    ("padding_mask lengths > max_len", lambda: padding_mask([2, 5], 4),
     ValueError, mentions("lengths", "max_len")),
    ("padding_mask negative max_len", lambda: padding_mask([0], -1),
     ValueError, mentions("max_len")),
    ("causal_mask float L", lambda: causal_mask(2.5),
     TypeError, mentions("L")),
    ("padding_mask float lengths", lambda: padding_mask([1.0, 2.0], 3),
     TypeError, mentions("lengths")),
    ("padding_mask 2-D lengths", lambda: padding_mask([[1, 2]], 3),
     ValueError, mentions("lengths", (1, 2))),
    ("padding_mask negative lengths", lambda: padding_mask([-1, 2], 3),
     ValueError, mentions("lengths")),
    # --- positions ------------------------------------------------------------------------
    ("rope: odd rotary_dim", lambda: attention_ref.rotary_embedding(a(2, 3, 8), rotary_dim=5),
     ValueError, mentions("rotary_dim", (2, 3, 8))),
    ("rope: rotary_dim > E", lambda: attention_ref.rotary_embedding(a(2, 3, 8), rotary_dim=10),
     ValueError, mentions("rotary_dim", (2, 3, 8))),
    ("rope: rotary_dim 0", lambda: attention_ref.rotary_embedding(a(2, 3, 8), rotary_dim=0),
     ValueError, mentions("rotary_dim", (2, 3, 8))),
    ("rope: rotary_dim float", lambda: attention_ref.rotary_embedding(a(3, 8), rotary_dim=4.0),
     TypeError, mentions("rotary_dim")),
    ("rope: odd E, rotary_dim default", lambda: attention_ref.rotary_embedding(a(2, 3, 7)),
     ValueError, mentions("rotary_dim", (2, 3, 7))),
    ("rope: positions wrong L",
     lambda: attention_ref.rotary_embedding(a(2, 3, 8), positions=np.arange(4)),
     ValueError, mentions("positions", (4,), (2, 3, 8))),
    ("rope: positions enlarge x",
     lambda: attention_ref.rotary_embedding(a(3, 8), positions=np.zeros((2, 3), np.int64)),
     ValueError, mentions("positions", (2, 3), (3, 8))),
    ("rope: bool positions",
     lambda: attention_ref.rotary_embedding(a(3, 8), positions=np.ones(3, bool)),
     TypeError, mentions("positions", "bool")),
    ("rope: complex positions",
     lambda: attention_ref.rotary_embedding(a(3, 8), positions=np.ones(3, complex)),
     TypeError, mentions("positions", "complex128")),
    ("rope: base 0", lambda: attention_ref.rotary_embedding(a(3, 8), base=0.0),
     ValueError, mentions("base")),
    ("rope: base negative", lambda: attention_ref.rotary_embedding(a(3, 8), base=-10000),
     ValueError, mentions("base")),
    ("rope: base nan", lambda: attention_ref.rotary_embedding(a(3, 8), base=float("nan")),
     ValueError, mentions("base")),
    ("rope: base a string", lambda: attention_ref.rotary_embedding(a(3, 8), base="1e4"),
     TypeError, mentions("base")),
    ("rope: int x", lambda: attention_ref.rotary_embedding(a(3, 8, dtype=np.int64)),
     TypeError, mentions("x", "int64")),
    ("rope: x 1-D", lambda: attention_ref.rotary_embedding(a(8)),
     ValueError, mentions("x", (8,))),
    ("sinusoidal: odd D", lambda: attention_ref.sinusoidal_positions(4, 7),
     ValueError, mentions("D")),
    ("sinusoidal: negative L", lambda: attention_ref.sinusoidal_positions(-1, 8),
     ValueError, mentions("L")),
    ("sinusoidal: float L", lambda: attention_ref.sinusoidal_positions(4.0, 8),
     TypeError, mentions("L")),
    ("sinusoidal: base 0", lambda: attention_ref.sinusoidal_positions(4, 8, base=0),
     ValueError, mentions("base")),
    ("alibi: 0 heads", lambda: attention_ref.alibi_slopes(0),
     ValueError, mentions("num_heads")),
    ("alibi: negative heads", lambda: attention_ref.alibi_slopes(-4),
     ValueError, mentions("num_heads")),
    ("alibi: float heads", lambda: attention_ref.alibi_slopes(8.0),
     TypeError, mentions("num_heads")),
    ("alibi: bool heads", lambda: attention_ref.alibi_slopes(True),
     TypeError, mentions("num_heads")),
]
# fmt: on


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_mentions_helper():
    # The helper itself: order-free, shapes literal, names whole words.
    assert re.search(mentions("key", (2, 5)), "shape (2, 5) of key")
    assert not re.search(mentions("key", (2, 5)), "shape (2, 5) of keys")
    assert not re.search(mentions("key", (2, 5)), "key has shape (2, 5, 1)")
    assert not re.search(mentions("mask", (3, 4)), "attn_mask (3, 4)")
    assert not re.search(mentions("query", (2, 5)), "key (2, 5)")
