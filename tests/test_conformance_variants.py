"""check_variant: correct implementations conform; each broken one gets exactly its diagnosis.

The implementations here are written from scratch in NumPy (scores, mask, softmax, product),
the way a port would be, not with attention_ref: a correct one for each variant, and for
each known mistake a copy with exactly that mistake. Each broken one must be diagnosed with
that mistake and no other (the conventions are far apart on the check's inputs).
"""

from __future__ import annotations

import numpy as np
import pytest

from attention_ref.conformance import check_variant

SLOPES = 2.0 ** (-8.0 * np.arange(1, 5) / 4)
SINKS = np.array([0.0, 1.0, -1.0, 2.0])


def attend(q, k, v, allowed=None, bias=None, cap=None, cap_before_scale=False, sinks=None,
           sink_in_numerator=False, dtype=np.float64):  # fmt: skip
    """Attention written out: q (B, H, L, E), k, v (B, H, S, E); allowed (L, S) bool."""
    q, k, v = (a.astype(dtype) for a in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1])
    raw = np.einsum("bhle,bhse->bhls", q, k)
    if cap is not None and cap_before_scale:
        s = scale * cap * np.tanh(raw / cap)
    elif cap is not None:
        s = cap * np.tanh(scale * raw / cap)
    else:
        s = scale * raw
    if bias is not None:
        s = s + bias
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    if sinks is not None:
        m = np.maximum(m, sinks[:, None, None])
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - m)
    denom = p.sum(axis=-1, keepdims=True)
    num = p @ v
    if sinks is not None:
        e_sink = np.exp(sinks[:, None, None] - m)
        denom = denom + e_sink
        if sink_in_numerator:
            num = num + e_sink
    return num / np.where(denom == 0, 1, denom)


def _grid(q, k):
    L, S = q.shape[-2], k.shape[-2]
    return np.arange(L)[:, None], np.arange(S)[None, :], S - L


def causal_impl(alignment="top-left", strict=False, none=False):
    def fn(q, k, v):
        i, j, d = _grid(q, k)
        off = d if alignment == "bottom-right" else 0
        allowed = None if none else (j < i + off if strict else j <= i + off)
        return attend(q, k, v, allowed)

    return fn


def window_impl(left, right=0, alignment="top-left", keep_w=False, extra=False, none=False):
    def fn(q, k, v):
        i, j, d = _grid(q, k)
        pos = i + (d if alignment == "bottom-right" else 0)
        lo = pos - left + (1 if keep_w else 0) - (1 if extra else 0)
        allowed = None if none else (j >= lo) & (j <= pos + right)
        return attend(q, k, v, allowed)

    return fn


def alibi_impl(slopes, sign=1.0, causal=True):
    def fn(q, k, v):
        i, j, _ = _grid(q, k)
        bias = sign * slopes[:, None, None] * (j - i)  # (H, L, S)
        return attend(q, k, v, (j <= i) if causal else None, bias=bias)

    return fn


CASES = [
    # (name, fn, variant, params, expected matches: () means conforms)
    ("causal", causal_impl(), "causal", {}, ()),
    ("causal-br", causal_impl("bottom-right"), "causal", {"alignment": "bottom-right"}, ()),
    ("causal: top-left for bottom-right", causal_impl("top-left"), "causal",
     {"alignment": "bottom-right"}, ("causal-top-left",)),
    ("causal: bottom-right for top-left", causal_impl("bottom-right"), "causal", {},
     ("causal-bottom-right",)),
    ("causal: strict", causal_impl(strict=True), "causal", {}, ("causal-strict",)),
    ("causal: none", causal_impl(none=True), "causal", {}, ("causal-none",)),
    ("window", window_impl(4), "sliding_window", {"window": 4}, ()),
    ("window two-sided ok", window_impl(3, 2), "sliding_window", {"window": 3, "right": 2}, ()),
    ("window br ok", window_impl(4, alignment="bottom-right"), "sliding_window",
     {"window": 4, "alignment": "bottom-right"}, ()),
    ("window: w keys", window_impl(4, keep_w=True), "sliding_window", {"window": 4},
     ("window-w-keys",)),
    ("window: w + 2 keys", window_impl(4, extra=True), "sliding_window", {"window": 4},
     ("window-w-plus-2",)),
    ("window: FlashAttention alignment", window_impl(4, alignment="bottom-right"),
     "sliding_window", {"window": 4}, ("window-bottom-right",)),
    ("window: JAX int", window_impl(4, 4), "sliding_window", {"window": 4},
     ("window-two-sided",)),
    ("window: none", window_impl(4, none=True), "sliding_window", {"window": 4},
     ("window-none",)),
    ("softcap", lambda q, k, v: attend(q, k, v, cap=5.0), "softcap", {"cap": 5.0}, ()),
    ("softcap float32", lambda q, k, v: attend(q, k, v, cap=5.0, dtype=np.float32), "softcap",
     {"cap": 5.0}, ()),
    ("softcap: before the scale", lambda q, k, v: attend(q, k, v, cap=5.0, cap_before_scale=True),
     "softcap", {"cap": 5.0}, ("softcap-before-scale",)),
    ("softcap: none", lambda q, k, v: attend(q, k, v), "softcap", {"cap": 5.0},
     ("softcap-none",)),
    ("alibi", alibi_impl(SLOPES), "alibi", {}, ()),
    ("alibi: sign", alibi_impl(SLOPES, sign=-1.0), "alibi", {}, ("alibi-sign",)),
    ("alibi: slope order", alibi_impl(SLOPES[::-1]), "alibi", {}, ("alibi-slope-order",)),
    ("alibi: none", alibi_impl(np.zeros(4)), "alibi", {}, ("alibi-none",)),
    ("sinks", lambda q, k, v: attend(q, k, v, sinks=SINKS), "sinks", {}, ()),
    ("sinks: numerator", lambda q, k, v: attend(q, k, v, sinks=SINKS, sink_in_numerator=True),
     "sinks", {}, ("sink-in-numerator",)),
    ("sinks: ignored", lambda q, k, v: attend(q, k, v), "sinks", {}, ("sinks-ignored",)),
]  # fmt: skip


@pytest.mark.parametrize(("fn", "variant", "params", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_diagnosis(fn, variant, params, expected):
    report = check_variant(fn, variant, **params)
    assert report.ok == (expected == ()), str(report)
    assert report.matches == expected, str(report)
    if expected:
        assert report.diagnosis and "no known convention" not in report.diagnosis
        assert report.error > 10 * report.tolerance  # the mistakes are far from the truth
    else:
        assert report.diagnosis == "" and report.error <= report.tolerance


def test_unknown_mistake():
    report = check_variant(lambda q, k, v: attend(q, k, v, cap=2.0), "softcap", cap=5.0)
    assert not report.ok and report.matches == ()
    assert report.diagnosis == "no known convention matches"
    assert "differs" in str(report)


def test_bad_output():
    report = check_variant(lambda q, k, v: np.full((2, 4, 12, 16), np.nan), "causal")
    assert not report.ok and report.error == np.inf
    report = check_variant(lambda q, k, v: q[..., :3], "causal")
    assert not report.ok and report.error == np.inf


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"variant": "rope"}, ValueError, "variant must be one of"),
    ({"variant": "causal", "alignment": "left"}, ValueError, "alignment must be one of"),
    ({"variant": "sliding_window"}, ValueError, "needs window="),
    ({"variant": "sliding_window", "window": -1}, ValueError, "must be non-negative"),
    ({"variant": "softcap"}, ValueError, "needs cap="),
    ({"variant": "alibi", "slopes": [1.0, 2.0]}, ValueError, "slopes must be 4 real numbers"),
    ({"variant": "sinks", "sinks": np.zeros(3)}, ValueError, "sinks must be 4 real numbers"),
])  # fmt: skip
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        check_variant(lambda q, k, v: q, **kwargs)
