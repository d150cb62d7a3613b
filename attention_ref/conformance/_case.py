"""One case of the battery, and the alternative conventions that could explain a wrong answer.

A `Case` holds the arrays and the keyword arguments one call passes, plus the `Alternative`s
that could explain a wrong answer (emulated in `_conventions.py`). The truth is the case's
reference (attention_ref's `scaled_dot_product_attention` or `sdpa_backward`) run in float64 on
the case's inputs (`truth`); the same run in the case's own dtype (`run_reference`) measures
how much error that precision costs, which sets the tolerance.

This module imports nothing else of the kit: `_conventions.py`, `_battery.py` and `_check.py`
import it, never the other way round.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .._backward import sdpa_backward
from .._sdpa import scaled_dot_product_attention

#: Outputs are compared as a tuple of arrays: `(out,)` for the forward pass,
#: `(d_q, d_k, d_v)` for the backward pass.
Outputs = tuple[np.ndarray, ...]

#: An emulation's answer: the outputs, and the query rows `(B, H, L)` to leave out (or None).
Prediction = tuple[Outputs, "np.ndarray | None"]


@dataclass(frozen=True)
class Alternative:
    """A convention other than attention_ref's, and how to recognise an implementation of it.

    `key` is the stable identifier a report names (`"mask-polarity"`), `diagnosis` the
    sentence that explains it (and how to adapt), `short` the phrase the report's first
    sentence uses. `predict(case)` emulates the convention (None when it does not apply to the
    case). The implementation matches when its output is close to the prediction (see
    `_check.py`), or, when `matches` is given, when `matches(case, outputs, tolerance)` says so.
    """

    key: str
    diagnosis: str
    predict: Callable[[Case], Prediction | None] | None = None
    matches: Callable[[Case, Outputs, float], bool] | None = None
    short: str = ""

    @property
    def summary(self) -> str:
        """The short phrase, or the diagnosis up to its first colon."""
        return self.short or self.diagnosis.split(":")[0]


@dataclass(frozen=True)
class Case:
    """The arguments of one call, in the calling convention `fn(query, key, value, ...)`.

    `grad_output` is set for a backward case, which calls
    `backward(grad_output, query, key, value, ...)` instead. `gqa` marks the grouped-query
    case: key and value have fewer heads than the query. `extra` holds keyword arguments of a
    case family that attention_ref's SDPA does not take (passed to the implementation as they
    are); such a family gives its own `reference`, called like the implementation on float64
    arrays. `probe` marks the cases whose errors estimate the precision an implementation
    computes in (their answers do not depend on the conventions the other cases check).
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
    extra: Mapping[str, object] = field(default_factory=dict)
    reference: Callable[..., object] | None = None
    probe: bool = False

    @property
    def dtype(self) -> np.dtype:
        return self.query.dtype

    @property
    def backward(self) -> bool:
        return self.grad_output is not None

    @property
    def default_scale(self) -> float:
        """$1/\\sqrt{E}$, the scale when none is given."""
        return 1.0 / math.sqrt(self.query.shape[-1])

    @property
    def resolved_scale(self) -> float:
        """The scale the call uses: the given one (even 0.0), else the default."""
        return self.default_scale if self.scale is None else self.scale

    def replace(self, **changes: Any) -> Case:
        """The same case with some arguments changed (how most alternatives are emulated)."""
        return dataclasses.replace(self, **changes)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The positional arguments: `(query, key, value)`, after `grad_output` if backward."""
        qkv = (self.query, self.key, self.value)
        return (self.grad_output, *qkv) if self.grad_output is not None else qkv

    def array_names(self) -> tuple[str, ...]:
        """The names of `arrays()`."""
        return ("grad_output", "query", "key", "value")[4 - len(self.arrays()) :]

    def keywords(self) -> dict[str, object]:
        """The keyword arguments that differ from their defaults (only those are passed)."""
        kwargs: dict[str, object] = {}
        if self.attn_mask is not None:
            kwargs["attn_mask"] = self.attn_mask
        if self.is_causal:
            kwargs["is_causal"] = True
        if self.scale is not None:
            kwargs["scale"] = self.scale
        kwargs.update(self.extra)
        return kwargs

    def needs(self) -> tuple[str, ...]:
        """What the case asks of an implementation beyond plain attention, in words.

        An implementation that raises on a case that needs something is reported as not
        supporting it ("unsupported"), not as failing; one that raises on a case that needs
        nothing (`plain`, the precision cases) has an error.
        """
        q, k, v = self.query, self.key, self.value
        needs = []
        if self.attn_mask is not None:
            kind = "bool" if self.attn_mask.dtype == np.bool_ else "float"
            needs.append(f"a {kind} attn_mask {self.attn_mask.shape}")
        if self.is_causal:
            needs.append("is_causal")
        if self.scale is not None:
            needs.append("a scale")
        needs += [f"{name}={value!r}" for name, value in self.extra.items()]
        if self.gqa:
            needs.append(f"grouped-query heads (H={q.shape[-3]}, Hkv={k.shape[-3]})")
        if v.shape[-1] != q.shape[-1]:
            needs.append(f"Ev != E (Ev={v.shape[-1]}, E={q.shape[-1]})")
        if k.shape[-2] != q.shape[-2]:
            needs.append(f"L != S (L={q.shape[-2]}, S={k.shape[-2]})")
        return tuple(needs)

    def describe(self) -> str:
        """The call in words: shapes and keyword arguments."""
        parts = [f"{n} {a.shape}" for n, a in zip(self.array_names(), self.arrays(), strict=True)]
        if self.attn_mask is not None:
            parts.append(f"attn_mask {self.attn_mask.dtype} {self.attn_mask.shape}")
        if self.is_causal:
            parts.append("is_causal=True")
        if self.scale is not None:
            parts.append(f"scale={self.scale:g}")
        parts += [f"{name}={value!r}" for name, value in self.extra.items()]
        if self.gqa:
            parts.append("grouped-query heads")
        return ", ".join(parts)


def run_reference(case: Case, dtype: np.dtype | type | None = None) -> Outputs:
    """The case's reference on its inputs cast to `dtype` (None: the case's own dtype).

    A float mask is cast with the arrays; a bool mask stays bool.
    """
    arrays: tuple[Any, ...] = case.arrays()
    kwargs: dict[str, Any] = case.keywords()
    if dtype is not None:
        arrays = tuple(a.astype(dtype) for a in arrays)
        mask = case.attn_mask
        if mask is not None and mask.dtype != np.bool_:
            kwargs["attn_mask"] = mask.astype(dtype)
    if case.reference is not None:
        result = case.reference(*arrays, **kwargs)
        return tuple(cast(Any, result)) if case.backward else (np.asarray(result),)
    if case.gqa:
        kwargs["enable_gqa"] = True
    if case.backward:
        return tuple(sdpa_backward(*arrays, **kwargs))
    return (cast(np.ndarray, scaled_dot_product_attention(*arrays, **kwargs)),)


def truth(case: Case) -> Outputs:
    """The float64 answer: the reference on the case's inputs, cast exactly to float64."""
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
