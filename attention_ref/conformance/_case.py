"""One case of the battery: its inputs, and the reference's answer to them.

A `Case` holds the arrays and the keyword arguments one call passes, plus the alternative
conventions that could explain a wrong answer (`_conventions.py`). The truth is attention_ref
run in float64 on the case's inputs (`truth`); the same run in the case's own dtype
(`reference`) measures how much error that precision costs, which sets the tolerance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._backward import sdpa_backward
from .._sdpa import scaled_dot_product_attention

if TYPE_CHECKING:
    from ._conventions import Alternative

#: Outputs are compared as a tuple of arrays: `(out,)` for the forward pass,
#: `(d_q, d_k, d_v)` for the backward pass.
Outputs = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Case:
    """The arguments of one call, in the calling convention `fn(query, key, value, ...)`.

    `grad_output` is set for a backward case, which calls
    `backward(grad_output, query, key, value, ...)` instead. `gqa` marks the grouped-query
    case: key and value have fewer heads than the query.
    """

    name: str
    query: np.ndarray  # (B, H, L, E)
    key: np.ndarray  # (B, Hkv, S, E)
    value: np.ndarray  # (B, Hkv, S, Ev)
    attn_mask: np.ndarray | None = None  # broadcastable to (B, H, L, S)
    is_causal: bool = False
    scale: float | None = None
    gqa: bool = False
    grad_output: np.ndarray | None = None  # (B, H, L, Ev), backward cases only
    alternatives: tuple[Alternative, ...] = ()

    @property
    def dtype(self) -> np.dtype:
        return self.query.dtype

    @property
    def backward(self) -> bool:
        return self.grad_output is not None

    def replace(self, **changes: object) -> Case:
        """The same case with some arguments changed (how most alternatives are emulated)."""
        return dataclasses.replace(self, **changes)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The positional arguments: `(query, key, value)`, after `grad_output` if backward."""
        qkv = (self.query, self.key, self.value)
        return (self.grad_output, *qkv) if self.grad_output is not None else qkv

    def keywords(self) -> dict[str, object]:
        """The keyword arguments that differ from their defaults (only those are passed)."""
        kwargs: dict[str, object] = {}
        if self.attn_mask is not None:
            kwargs["attn_mask"] = self.attn_mask
        if self.is_causal:
            kwargs["is_causal"] = True
        if self.scale is not None:
            kwargs["scale"] = self.scale
        return kwargs

    def describe(self) -> str:
        """The call in words: shapes and keyword arguments."""
        names = ("grad_output", "query", "key", "value")[4 - len(self.arrays()) :]
        parts = [f"{n} {a.shape}" for n, a in zip(names, self.arrays(), strict=True)]
        if self.attn_mask is not None:
            parts.append(f"attn_mask {self.attn_mask.dtype} {self.attn_mask.shape}")
        if self.is_causal:
            parts.append("is_causal=True")
        if self.scale is not None:
            parts.append(f"scale={self.scale:g}")
        if self.gqa:
            parts.append("grouped-query heads")
        return ", ".join(parts)


def run_reference(case: Case, dtype: np.dtype | type | None = None) -> Outputs:
    """attention_ref on the case's inputs cast to `dtype` (None: the case's own dtype)."""
    arrays = case.arrays()
    if dtype is not None:
        arrays = tuple(a.astype(dtype) for a in arrays)
    kwargs = case.keywords()
    if case.gqa:
        kwargs["enable_gqa"] = True
    if case.backward:
        return tuple(sdpa_backward(*arrays, **kwargs))
    return (scaled_dot_product_attention(*arrays, **kwargs),)


def truth(case: Case) -> Outputs:
    """The float64 answer: attention_ref on the case's inputs, cast exactly to float64."""
    return run_reference(case, np.float64)


def empty_rows(case: Case) -> np.ndarray | None:
    """The query rows `(B, H, L)` with no key to attend to under the case's mask, or None."""
    mask = case.attn_mask
    if mask is None:
        return None
    if mask.dtype == np.bool_:
        empty = ~mask.any(axis=-1)
    else:
        empty = np.isneginf(mask).all(axis=-1)
    shape = (*case.query.shape[:-3], case.query.shape[-3], case.query.shape[-2])
    return np.broadcast_to(empty, shape)
