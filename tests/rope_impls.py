"""Rotary embeddings for the RoPE conformance tests: one correct, written independently of
attention_ref (complex multiplication on the pairs), and one per bug `rope_check` must name.

All take attention_ref's convention: fn(x, positions, *, base, rotary_dim, interleaved).
"""

from __future__ import annotations

import numpy as np


def _rope(x, positions, base, rotary_dim, interleaved, *, pos_shift=0.0, exponent_dim=None,
          dtype=np.float64, angle_dtype=np.float64, ignore_positions=False):  # fmt: skip
    x = np.asarray(x)
    L, E = x.shape[-2:]
    R = E if rotary_dim is None else rotary_dim
    pos = np.arange(L) if positions is None or ignore_positions else np.asarray(positions)
    n = R if exponent_dim is None else exponent_dim
    inv_freq = (1.0 / base ** (np.arange(0, R, 2, dtype=np.float64) / n)).astype(angle_dtype)
    angles = (pos.astype(angle_dtype) + angle_dtype(pos_shift))[:, None] * inv_freq  # (L, R/2)
    rot = np.exp(1j * angles.astype(np.float64)).astype(
        np.complex64 if dtype == np.float32 else np.complex128
    )
    xr = x[..., :R].astype(dtype)
    if interleaved:
        z = xr[..., 0::2] + 1j * xr[..., 1::2]
    else:
        z = xr[..., : R // 2] + 1j * xr[..., R // 2 :]
    z = z * rot
    out = x.astype(dtype).copy()
    if interleaved:
        out[..., 0:R:2], out[..., 1:R:2] = z.real, z.imag
    else:
        out[..., : R // 2], out[..., R // 2 : R] = z.real, z.imag
    return out.astype(np.float64)


def correct(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, rotary_dim, interleaved)


def always_half_split(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, rotary_dim, False)


def always_interleaved(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, rotary_dim, True)


def ignores_base(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, 10000.0, rotary_dim, interleaved)


def ignores_rotary_dim(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, None, interleaved)


def exponent_uses_e(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, rotary_dim, interleaved, exponent_dim=np.shape(x)[-1])


def counts_from_one(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, rotary_dim, interleaved, pos_shift=1.0)


def ignores_positions(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, rotary_dim, interleaved, ignore_positions=True)


def float32_angles(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    # Hugging Face style: inv_freq and positions in float32, their product in float32
    return _rope(x, positions, base, rotary_dim, interleaved, angle_dtype=np.float32)


def float32_everything(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(
        x, positions, base, rotary_dim, interleaved, angle_dtype=np.float32, dtype=np.float32
    )


def half_split_and_from_one(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    return _rope(x, positions, base, rotary_dim, False, pos_shift=1.0)


def in_place(x, positions=None, *, base=10000.0, rotary_dim=None, interleaved=False):
    x[...] = _rope(x, positions, base, rotary_dim, interleaved)
    return x


def layout_only(x, positions=None):
    # no keywords at all: the GPT-NeoX default and nothing else
    return _rope(x, positions, 10000.0, None, False)
