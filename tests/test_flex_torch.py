"""flex_attention against PyTorch's FlexAttention, and flex_backward against torch autograd.

PyTorch is an optional, independent oracle (skipped when not installed; CI installs it and
tests/test_readme.py fails there if it is missing). Everything runs in float64 on both sides,
so the float64 tolerances of oracle.py apply: the two differ only in the order of roundings.

- Forward: `torch.nn.attention.flex_attention.flex_attention` runs eagerly on the CPU in torch
  2.13 (an unfused implementation; its warning is silenced here). Every built-in mod is written
  once in torch (below, by hand) and once with `attention_ref.mods`, with
  `block_mask = create_block_mask(mask_mod, B, H, L, S, device="cpu")`.
- Sinks: torch's flex has none; the check is a softmax with an extra sink column, in torch.
- Backward: flex has no CPU backward in torch 2.13, so `flex_backward` is checked against
  torch autograd through the same computation written out in torch (scores, score_mod, mask,
  sink column, softmax, product).
- The site's PyTorch example (docs/snippets/flex-attention/window_torch.py, shown but not run
  on the page) is run here exactly as written.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64

from attention_ref import flex_attention, flex_backward, mods

torch = pytest.importorskip(
    "torch",
    reason="torch is not installed: the PyTorch cross-check is optional "
    "(pip install torch==2.13.0)",
)
from torch.nn.attention import flex_attention as torch_flex  # noqa: E402

SNIPPETS = Path(__file__).resolve().parents[1] / "docs" / "snippets" / "flex-attention"

B, H, L, S, E, Ev = 2, 4, 37, 53, 8, 5  # L != S, neither a multiple of torch's 128 blocks
DOCS_Q = np.repeat([0, 1, 2, 3], [10, 10, 7, 10])  # (L,)
DOCS_KV = np.repeat([0, 1, 2, 3], [14, 13, 16, 10])  # (S,)
SLOPES = np.array([0.5, 0.25, 0.125, 0.0625])


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL_F64, atol=ATOL_F64)


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def _torch_flex(q, k, v, score_mod=None, mask_mod=None, **kwargs):
    """torch's flex_attention, eager on the CPU: (out, lse) as NumPy."""
    Bq, Hq, Lq, _ = q.shape
    Sk = k.shape[2]
    block_mask = None
    if mask_mod is not None:
        block_mask = torch_flex.create_block_mask(mask_mod, Bq, Hq, Lq, Sk, device="cpu")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*without torch.compile.*", category=UserWarning)
        out, aux = torch_flex.flex_attention(
            _t(q), _t(k), _t(v), score_mod=score_mod, block_mask=block_mask,
            return_aux=torch_flex.AuxRequest(lse=True), **kwargs,
        )  # fmt: skip
    return out.numpy(), aux.lse.numpy()


# The mods written once in torch, by hand: name -> (torch mask_mod, torch score_mod,
# attention_ref mask_mod, attention_ref score_mod).
_slopes_t = _t(SLOPES)
_docs_q, _docs_kv = _t(DOCS_Q), _t(DOCS_KV)
CASES = {
    "causal": (lambda b, h, q, kv: kv <= q, None, mods.causal(), None),
    "causal-bottom-right": (lambda b, h, q, kv: kv <= q + (S - L), None, mods.causal(S - L), None),
    "window": (
        lambda b, h, q, kv: (kv >= q - 5) & (kv <= q), None, mods.sliding_window(5), None,
    ),
    "window-two-sided": (
        lambda b, h, q, kv: (q - kv <= 3) & (kv - q <= 7), None, mods.sliding_window(3, 7), None,
    ),
    "prefix-lm": (lambda b, h, q, kv: (kv < 6) | (kv <= q), None, mods.prefix_lm(6), None),
    "document": (
        lambda b, h, q, kv: _docs_q[q] == _docs_kv[kv], None, mods.document(DOCS_Q, DOCS_KV), None,
    ),
    "and-masks": (
        torch_flex.and_masks(
            lambda b, h, q, kv: kv <= q + (S - L), lambda b, h, q, kv: _docs_q[q] == _docs_kv[kv]
        ),
        None,
        mods.and_masks(mods.causal(S - L), mods.document(DOCS_Q, DOCS_KV)),
        None,
    ),
    "or-masks": (
        torch_flex.or_masks(
            lambda b, h, q, kv: (kv >= q - 2) & (kv <= q), lambda b, h, q, kv: (kv < 4) | (kv <= q)
        ),
        None,
        mods.or_masks(mods.sliding_window(2), mods.prefix_lm(4)),
        None,
    ),
    "alibi": (
        lambda b, h, q, kv: kv <= q + (S - L),
        lambda score, b, h, q, kv: score + _slopes_t[h] * (kv - q),
        mods.causal(S - L),
        mods.alibi(SLOPES),
    ),
    "softcap": (
        None, lambda score, b, h, q, kv: 1.5 * torch.tanh(score / 1.5), None, mods.softcap(1.5)
    ),
    "chain": (
        lambda b, h, q, kv: (kv >= q - 5) & (kv <= q),
        lambda score, b, h, q, kv: 2.0 * torch.tanh((score + _slopes_t[h] * (kv - q)) / 2.0),
        mods.sliding_window(5),
        mods.chain(mods.alibi(SLOPES), mods.softcap(2.0)),
    ),
}  # fmt: skip


@pytest.fixture
def qkv(rng):
    # Norms a few times a standard normal's, as in trained models, so the soft cap bites.
    q = 3.0 * rng.normal(size=(B, H, L, E))
    k = 3.0 * rng.normal(size=(B, H, S, E))
    return q, k, rng.normal(size=(B, H, S, Ev))


@pytest.mark.parametrize("name", list(CASES))
def test_forward_matches_torch_flex(qkv, name):
    t_mask, t_score, mask_mod, score_mod = CASES[name]
    want_out, want_lse = _torch_flex(*qkv, score_mod=t_score, mask_mod=t_mask)
    out, lse = flex_attention(*qkv, score_mod, mask_mod, return_lse=True)
    _close(out, want_out)
    _close(lse, want_lse)


def test_gqa_and_scale_match_torch_flex(rng):
    q = rng.normal(size=(1, 4, 20, 6))
    k, v = rng.normal(size=(1, 2, 30, 6)), rng.normal(size=(1, 2, 30, 3))
    want, want_lse = _torch_flex(
        q, k, v, lambda score, b, h, q_, kv: score + _slopes_t[h] * (kv - q_),
        lambda b, h, q_, kv: (kv <= q_ + 10) & (kv >= q_ - h), scale=0.7, enable_gqa=True,
    )  # fmt: skip
    head_window = lambda b, h, q_idx, kv_idx: (kv_idx <= q_idx + 10) & (kv_idx >= q_idx - h)  # noqa: E731
    out, lse = flex_attention(q, k, v, mods.alibi(SLOPES), head_window, scale=0.7, enable_gqa=True,
                              return_lse=True)  # fmt: skip
    _close(out, want)
    _close(lse, want_lse)


def test_fully_masked_rows_match_torch_flex(qkv):
    """Both give zeros and lse -inf for a query with no key (here, rows L - 5 and on)."""
    want_out, want_lse = _torch_flex(*qkv, mask_mod=lambda b, h, q, kv: q < L - 5)
    out, lse = flex_attention(
        *qkv, mask_mod=lambda b, h, q_idx, kv_idx: q_idx < L - 5, return_lse=True
    )
    assert np.all(want_out[:, :, -5:] == 0) and np.all(want_lse[:, :, -5:] == -np.inf)
    _close(out, want_out)
    np.testing.assert_array_equal(lse[:, :, -5:], want_lse[:, :, -5:])
    _close(lse[:, :, :-5], want_lse[:, :, :-5])


# --- the computation written out in torch, for sinks and the backward pass -------------------


def _torch_written_out(q, k, v, t_score, t_mask, sinks, scale):
    """softmax(score_mod(scale q k^T) masked, with a sink column) @ v, differentiable."""
    Hq, Lq, Sk = q.shape[1], q.shape[2], k.shape[2]
    scores = scale * q @ k.transpose(-1, -2)  # (B, H, L, S)
    b = torch.arange(q.shape[0]).view(-1, 1, 1, 1)
    h = torch.arange(Hq).view(1, -1, 1, 1)
    qi = torch.arange(Lq).view(1, 1, -1, 1)
    ki = torch.arange(Sk).view(1, 1, 1, -1)
    if t_score is not None:
        scores = t_score(scores, b, h, qi, ki)
    if t_mask is not None:
        scores = scores.masked_fill(~t_mask(b, h, qi, ki), -math.inf)
    if sinks is not None:
        column = sinks.view(1, -1, 1, 1).expand(scores.shape[0], Hq, Lq, 1)
        scores = torch.cat([scores, column], dim=-1)  # one more logit per row, no value
    probs = torch.softmax(scores, dim=-1)[..., :Sk]
    return probs @ v


@pytest.mark.parametrize("name", ["window", "document", "causal-bottom-right"])
def test_sinks_match_a_softmax_with_a_sink_column(qkv, name):
    t_mask, _, mask_mod, _ = CASES[name]
    sinks = np.array([0.0, 1.0, -2.0, 5.0])
    with torch.no_grad():
        want = _torch_written_out(*map(_t, qkv), None, t_mask, _t(sinks), 1 / math.sqrt(E)).numpy()
    _close(flex_attention(*qkv, mask_mod=mask_mod, sinks=sinks), want)


@pytest.mark.parametrize("name", ["causal", "window", "and-masks", "alibi", "softcap", "chain"])
@pytest.mark.parametrize("with_sinks", [False, True])
def test_backward_matches_torch_autograd(qkv, rng, name, with_sinks):
    t_mask, t_score, mask_mod, score_mod = CASES[name]
    sinks = rng.normal(size=H) if with_sinks else None
    tensors = [_t(x).requires_grad_() for x in (*qkv, *([sinks] if with_sinks else []))]
    out = _torch_written_out(*tensors[:3], t_score, t_mask, tensors[3] if with_sinks else None,
                             1 / math.sqrt(E))  # fmt: skip
    d_out = rng.normal(size=out.shape)
    out.backward(_t(d_out))
    grads = flex_backward(d_out, *qkv, score_mod, mask_mod, sinks=sinks)
    assert len(grads) == len(tensors)
    for got, t in zip(grads, tensors, strict=True):
        _close(got, t.grad.numpy())


def test_site_example_runs_as_written(rng):
    """The PyTorch block of the page, run exactly, equals the NumPy block of the page."""
    q, k, v = (
        rng.normal(size=(1, 2, 16, 8)),
        rng.normal(size=(1, 2, 16, 8)),
        rng.normal(size=(1, 2, 16, 8)),
    )
    numpy_ns = {"np": np, "ar": __import__("attention_ref"), "q": q, "k": k, "v": v}
    exec((SNIPPETS / "window_numpy.py").read_text(), numpy_ns)
    torch_ns = {"q": q, "k": k, "v": v}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*without torch.compile.*", category=UserWarning)
        exec((SNIPPETS / "window_torch.py").read_text(), torch_ns)
    _close(numpy_ns["out"], torch_ns["out"].numpy())
    # and the two mods are the same functions, token for token, but for the array library
    source = {n: (SNIPPETS / n).read_text() for n in ("window_numpy.py", "window_torch.py")}
    for fn in ("def local_window", "def soft_cap"):
        np_src = source["window_numpy.py"].split(fn)[1].split("\n\n")[0]
        torch_src = source["window_torch.py"].split(fn)[1].split("\n\n")[0]
        assert np_src.replace("np.", "torch.") == torch_src


@pytest.mark.parametrize("scale", [10.0, 30.0])
@pytest.mark.parametrize("name", ["alibi", "softcap", "chain"])
@pytest.mark.parametrize("dense", [False, True], ids=["band", "engine"])
def test_large_scores_match_torch(rng, scale, name, dense):
    """Queries and keys 10 and 30 times standard normal (scaled scores in the hundreds and
    thousands): the score hook keeps the shift safe, forward and backward, on the band path
    (a window) and on the engine (no mask, or a causal one). float64 on both sides, so the
    tolerance is float64's relative to the scores' size (|s| up to ~5000 here: a rounding of
    one score moves a weight by ~1e-12)."""
    t_mask, t_score, mask_mod, score_mod = CASES[name]
    if dense:
        t_mask, mask_mod = (None, None) if name != "alibi" else (t_mask, mask_mod)
    q = scale * rng.normal(size=(B, H, L, E))
    k = scale * rng.normal(size=(B, H, S, E))
    v = rng.normal(size=(B, H, S, Ev))
    want_out, want_lse = _torch_flex(q, k, v, score_mod=t_score, mask_mod=t_mask)
    out, lse = flex_attention(q, k, v, score_mod, mask_mod, return_lse=True)
    tol = {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(out, want_out, **tol)
    np.testing.assert_allclose(lse, want_lse, **tol)
    tensors = [_t(x).requires_grad_() for x in (q, k, v)]
    out_t = _torch_written_out(*tensors, t_score, t_mask, None, 1 / math.sqrt(E))
    d_out = rng.normal(size=out_t.shape)
    out_t.backward(_t(d_out))
    for got, t in zip(flex_backward(d_out, q, k, v, score_mod, mask_mod), tensors, strict=True):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-8, atol=1e-8 * scale)
