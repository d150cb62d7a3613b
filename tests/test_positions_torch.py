"""RoPE against the two published formulas, written in torch here (not imported from a library).

1. Rotate-half with cos/sin caches, as GPT-NeoX and Hugging Face Transformers write it:
   `inv_freq = 1 / base ** (arange(0, R, 2) / R)`, `emb = cat(freqs, freqs)`,
   `q * cos + rotate_half(q) * sin` with `rotate_half(x) = cat(-x2, x1)`, applied to the
   first R features (GPT-NeoX's partial rotary).
2. The complex-multiplication form of Meta's Llama: `freqs_cis = polar(1, outer(t, freqs))`,
   consecutive pairs viewed as complex numbers, `view_as_real(x_complex * freqs_cis)`.

Both run in float64 (complex128), so they agree with attention_ref to float64 rounding: the
tolerance RTOL 1e-12 covers angles up to ~1e3 rad (see tests/test_positions.py).

torch is optional; CI installs it and sets ATTENTION_REF_REQUIRE_TORCH=1, and then a missing
torch fails here instead of skipping.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from attention_ref import rotary_embedding

try:
    import torch
except ImportError:
    if os.environ.get("ATTENTION_REF_REQUIRE_TORCH") == "1":
        raise
    pytest.skip(
        "torch is not installed: the PyTorch cross-check is optional (pip install torch==2.13.0)",
        allow_module_level=True,
    )

RTOL = 1e-12
ATOL = 1e-12


def neox_rope(x, positions, base=10000.0, rotary_dim=None):
    """GPT-NeoX / Hugging Face: rotate_half with cos/sin caches, in torch float64."""
    x = torch.from_numpy(x)
    R = x.shape[-1] if rotary_dim is None else rotary_dim
    inv_freq = 1.0 / (base ** (torch.arange(0, R, 2, dtype=torch.float64) / R))
    t = torch.as_tensor(positions, dtype=torch.float64)
    freqs = t[..., None] * inv_freq  # (..., L, R/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (..., L, R)
    cos, sin = emb.cos(), emb.sin()

    def rotate_half(u):
        u1, u2 = u[..., : u.shape[-1] // 2], u[..., u.shape[-1] // 2 :]
        return torch.cat((-u2, u1), dim=-1)

    x_rot, x_pass = x[..., :R], x[..., R:]
    x_rot = x_rot * cos + rotate_half(x_rot) * sin
    return torch.cat((x_rot, x_pass), dim=-1).numpy()


def llama_rope(x, positions, base=10000.0):
    """Meta's Llama: precompute_freqs_cis and apply_rotary_emb, in complex128."""
    x = torch.from_numpy(x)
    E = x.shape[-1]
    freqs = 1.0 / (base ** (torch.arange(0, E, 2, dtype=torch.float64)[: E // 2] / E))
    t = torch.as_tensor(positions, dtype=torch.float64)
    freqs_cis = torch.polar(torch.ones_like(t[..., None] * freqs), t[..., None] * freqs)
    x_complex = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(x_complex * freqs_cis).flatten(-2).numpy()


@pytest.mark.parametrize("base", [10000.0, 500000.0])
@pytest.mark.parametrize(("E", "R"), [(8, 8), (16, 4), (10, 6)])
def test_neox_rotate_half(rng, base, E, R):
    x = rng.normal(size=(2, 3, 9, E))  # (B, H, L, E)
    pos = rng.integers(0, 2000, size=9)
    np.testing.assert_allclose(
        rotary_embedding(x, pos, base=base, rotary_dim=R),
        neox_rope(x, pos, base=base, rotary_dim=R),
        rtol=RTOL,
        atol=ATOL,
    )


@pytest.mark.parametrize("base", [10000.0, 500000.0])
@pytest.mark.parametrize("E", [2, 8, 64])
def test_llama_complex(rng, base, E):
    x = rng.normal(size=(2, 9, 3, E)).transpose(
        0, 2, 1, 3
    )  # Llama's (B, L, H, E) viewed as (B, H, L, E)
    pos = np.arange(9) + 37  # a decoding offset, as Llama's start_pos
    np.testing.assert_allclose(
        rotary_embedding(x, pos, base=base, interleaved=True),
        llama_rope(np.ascontiguousarray(x), pos, base=base),
        rtol=RTOL,
        atol=ATOL,
    )


def test_the_two_forms_differ_on_the_same_input(rng):
    # The porting trap, in torch: the same x through the two published forms disagrees,
    # and the permutation of the features reconciles them.
    x = rng.normal(size=(5, 8))
    pos = np.arange(5)
    assert not np.allclose(neox_rope(x, pos), llama_rope(x, pos))
    perm = np.concatenate([np.arange(0, 8, 2), np.arange(1, 8, 2)])
    np.testing.assert_allclose(neox_rope(x[:, perm], pos), llama_rope(x, pos)[:, perm], atol=1e-12)


def test_float16_and_float32_match_torch_in_float32(rng):
    # torch in float32 with float64 angles, cast: both within a few float32 ulps of float64
    x = rng.normal(size=(4, 6, 16))
    pos = np.arange(6) * 17
    ref = neox_rope(x, pos)
    for dtype, tol in ((np.float32, 8 * 2**-24), (np.float16, 8 * 2**-11)):
        got = rotary_embedding(x.astype(dtype), pos)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref, rtol=0, atol=tol * 4 * np.abs(x).max())
