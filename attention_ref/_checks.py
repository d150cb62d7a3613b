"""Validation at the public boundary: dtypes, shapes and masks.

Every public function of `attention_ref` sends its arguments through the helpers here, so a
bad input fails in one place with one kind of message: the argument's name, its shape or
dtype, and what was expected. Nothing past this module checks again.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import SupportsIndex, cast

import numpy as np
from numpy.typing import ArrayLike

#: The floating-point dtypes the package accepts. Anything else is a `TypeError`.
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x: object, name: str) -> np.ndarray:
    """Return `x` as an ndarray of float16, float32 or float64, without copying.

    Integer, bool, complex, object and extended-precision inputs raise `TypeError` naming
    `name`: silently casting them would hide a bug in the caller (an integer token id passed
    where an embedding was meant, for instance).
    """
    arr = np.asarray(x)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a floating-point array (float16, float32 or float64), "
            f"got dtype {arr.dtype} (shape {arr.shape})"
        )
    return arr


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype arithmetic is done in: float16 is computed in float32, the rest as is."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def check_min_ndim(arr: np.ndarray, name: str, ndim: int, layout: str) -> None:
    """Raise `ValueError` unless `arr` has at least `ndim` dimensions."""
    if arr.ndim < ndim:
        raise ValueError(
            f"{name} must have at least {ndim} dimensions {layout}, got shape {arr.shape}"
        )


def broadcast_leading(shapes: dict[str, tuple[int, ...]], ndim_tail: int) -> tuple[int, ...]:
    """Broadcast the leading dims (all but the last `ndim_tail`) of the named shapes."""
    try:
        return np.broadcast_shapes(*(s[: len(s) - ndim_tail] for s in shapes.values()))
    except ValueError:
        listed = ", ".join(f"{n} {s}" for n, s in shapes.items())
        raise ValueError(
            f"the leading (batch and head) dimensions of {listed} do not broadcast"
        ) from None


def check_qkv(
    query: np.ndarray, key: np.ndarray, value: np.ndarray, enable_gqa: bool
) -> tuple[tuple[int, ...], int]:
    """Check query `(..., H, L, E)`, key `(..., Hkv, S, E)` and value `(..., Hkv, S, Ev)`.

    Returns the shape of the scores `(..., H, L, S)` and the group size `G = H // Hkv` (1 when
    `enable_gqa` is false, in which case the head dims broadcast like any leading dim).
    """
    check_min_ndim(query, "query", 2, "(..., L, E)")
    check_min_ndim(key, "key", 2, "(..., S, E)")
    check_min_ndim(value, "value", 2, "(..., S, Ev)")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            "query and key must have the same head size E (last dim): "
            f"got query of shape {query.shape} and key of shape {key.shape}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            "key and value must have the same length S (dim -2): "
            f"got key of shape {key.shape} and value of shape {value.shape}"
        )
    L, S = query.shape[-2], key.shape[-2]
    shapes = {"query": query.shape, "key": key.shape, "value": value.shape}
    if not enable_gqa:
        try:
            return (*broadcast_leading(shapes, 2), L, S), 1
        except ValueError as error:
            raise ValueError(f"{error}{_gqa_hint(query, key, value)}") from None

    for name, arr in (("query", query), ("key", key), ("value", value)):
        check_min_ndim(arr, name, 3, "(..., H, L, E) with enable_gqa=True")
    H, Hkv = query.shape[-3], key.shape[-3]
    if value.shape[-3] != Hkv:
        raise ValueError(
            "key and value must have the same number of heads Hkv (dim -3): "
            f"got key of shape {key.shape} and value of shape {value.shape}"
        )
    if H % Hkv != 0:
        raise ValueError(
            "enable_gqa=True needs the query heads H to be a multiple of the key/value heads "
            f"Hkv (dim -3): got query of shape {query.shape} (H={H}) and key of shape "
            f"{key.shape} (Hkv={Hkv})"
        )
    return (*broadcast_leading(shapes, 3), H, L, S), H // Hkv


def _gqa_hint(query: np.ndarray, key: np.ndarray, value: np.ndarray) -> str:
    """The end of the leading-dims error when the shapes are grouped-query attention's."""
    if min(query.ndim, key.ndim, value.ndim) < 3:
        return ""
    H, Hkv = query.shape[-3], key.shape[-3]
    if value.shape[-3] != Hkv or Hkv < 2 or H <= Hkv or H % Hkv:
        return ""
    try:
        np.broadcast_shapes(query.shape[:-3], key.shape[:-3], value.shape[:-3])
    except ValueError:
        return ""  # the batch dims do not broadcast either: enable_gqa would not help
    return (
        f"; query has H={H} heads and key and value Hkv={Hkv} (dim -3), and {H} is a "
        f"multiple of {Hkv}: for grouped-query attention pass enable_gqa=True"
    )


def _padding_hint(shape: tuple[int, ...], scores_shape: tuple[int, ...], name: str) -> str:
    """The end of the mask-shape error when the mask looks like a `(B, S)` padding mask."""
    ndim = len(scores_shape)
    if len(shape) != 2 or ndim < 3 or shape != (scores_shape[0], scores_shape[-1]):
        return ""
    index = "[:, " + "None, " * (ndim - 2) + ":]"  # (B, S) -> (B, 1, ..., 1, S)
    fixed = (shape[0], *(1,) * (ndim - 2), shape[1])
    hint = (
        f"; if it is a (B, S) padding mask (one entry per key of each sequence), pass "
        f"{name}={name}{index}, of shape {fixed}"
    )
    if ndim == 4:
        hint += ", or build it with padding_mask(lengths, S, as_attn_mask=True)"
    return hint


def broadcasts_into(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of `shape` broadcasts to `target` without enlarging it."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def check_mask(mask: object, scores_shape: tuple[int, ...], name: str = "attn_mask") -> np.ndarray:
    """Check a bool or float mask against the scores' shape; return it as an ndarray.

    A bool mask means True = may attend; a float mask is added to the scores. Integer masks
    (0/1 arrays included) are a `TypeError`: their polarity is ambiguous across libraries. The
    mask must broadcast to `scores_shape` without enlarging it.
    """
    arr = np.asarray(mask)
    if arr.dtype != np.bool_ and arr.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be bool (True = may attend) or floating point (added to the "
            f"scores), got dtype {arr.dtype} (shape {arr.shape}); for a 0/1 array write "
            f"{name}.astype(bool)"
        )
    if not broadcasts_into(arr.shape, scores_shape):
        raise ValueError(
            f"{name} of shape {arr.shape} does not broadcast to the scores' shape "
            f"{tuple(scores_shape)} (..., H, L, S) without enlarging it"
            f"{_padding_hint(arr.shape, tuple(scores_shape), name)}"
        )
    return arr


def check_flag(flag: object, name: str) -> None:
    """A flag is a bool (Python's or NumPy's): a truthy string or array would silently mean
    True, and an int hides a mixed-up argument."""
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be a bool (True or False), got {flag!r} of type {type(flag).__name__}"
        )


def check_causal_args(attn_mask: object, is_causal: bool) -> None:
    """`is_causal` is a bool; passing both a mask and `is_causal=True` is ambiguous: refuse it,
    as PyTorch does."""
    check_flag(is_causal, "is_causal")
    if attn_mask is not None and is_causal:
        raise ValueError(
            "pass either attn_mask or is_causal=True, not both "
            "(for a causal mask combined with another, pass attn_mask=causal_mask(L, S) & mask)"
        )


def check_scale(scale: object) -> float | None:
    """`scale` is None (meaning 1/sqrt(E)) or a real number."""
    if scale is None:
        return None
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.number)):
        raise TypeError(f"scale must be None or a real number, got {scale!r}")
    if isinstance(scale, (complex, np.complexfloating)):
        raise TypeError(f"scale must be None or a real number, got {scale!r}")
    return float(scale)


def check_int(n: object, name: str, *, minimum: int | None = None) -> int:
    """A Python or NumPy integer (not a bool, not a float), at least `minimum` if given."""
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {n!r}")
    try:
        value = operator.index(cast(SupportsIndex, n))  # rejects floats; accepts np.int64
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {n!r}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_size(n: object, name: str) -> int:
    """A non-negative integer size (a Python int or NumPy integer)."""
    value = check_int(n, name)
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_positive(n: object, name: str) -> int:
    """A positive integer (embedding sizes, head counts)."""
    value = check_size(n, name)
    if value == 0:
        raise ValueError(f"{name} must be positive, got 0")
    return value


def check_last_dim(arr: np.ndarray, name: str, expected: int, what: str) -> None:
    """Raise `ValueError` unless `arr.shape[-1] == expected`."""
    if arr.shape[-1] != expected:
        raise ValueError(f"{name} must have last dim {what}={expected}, got shape {arr.shape}")


#: `prepare`'s default for `grad_output`: a forward call (None is a bad grad_output).
_FORWARD = object()


@dataclass(frozen=True)
class Prepared:
    """One call of an attention function, checked and resolved: what the kernels receive.

    Built only by `prepare`; nothing past it validates or resolves again. The arrays are in
    the compute dtype (float16 becomes float32) and are never written to.

    Shapes:
        q `(..., H, L, E)`, k `(..., Hkv, S, E)`, v `(..., Hkv, S, Ev)`, mask broadcastable
        to `scores_shape` `(..., H, L, S)` without enlarging it, d_out `(..., H, L, Ev)`.
    """

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    mask: np.ndarray | None  # bool (True = may attend) or float (added), as given
    is_causal: bool
    scale: float  # resolved: 1/sqrt(E) when the caller passed None
    group: int  # G = H // Hkv; 1 without grouped-query attention
    scores_shape: tuple[int, ...]  # (..., H, L, S)
    out_dtype: np.dtype  # np.result_type of the inputs (and of grad_output)
    d_out: np.ndarray | None = None  # grad_output, for the backward pass only

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The output's shape `(..., H, L, Ev)`."""
        return (*self.scores_shape[:-1], self.v.shape[-1])


def prepare(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None,
    is_causal: bool,
    scale: float | None,
    enable_gqa: bool,
    *,
    grad_output: object = _FORWARD,
) -> Prepared:
    """Check the public arguments of the attention functions; resolve and cast them once.

    Every check is one of the helpers above, so a bad argument fails here with their
    message. With `grad_output` (the backward pass) it must have the output's shape, and
    its dtype joins the others in the output dtype.
    """
    q = as_float_array(query, "query")
    k = as_float_array(key, "key")
    v = as_float_array(value, "value")
    check_causal_args(attn_mask, is_causal)
    resolved = check_scale(scale)
    check_flag(enable_gqa, "enable_gqa")
    scores_shape, group = check_qkv(q, k, v, bool(enable_gqa))
    mask = None if attn_mask is None else check_mask(attn_mask, scores_shape, "attn_mask")
    arrays = [q, k, v]
    if grad_output is not _FORWARD:
        d_out = as_float_array(grad_output, "grad_output")
        out_shape = (*scores_shape[:-1], v.shape[-1])
        if d_out.shape != out_shape:
            raise ValueError(
                f"grad_output must have the shape of the attention output (..., H, L, Ev) = "
                f"{out_shape} (from query {q.shape}, key {k.shape}, value {v.shape}), "
                f"got shape {d_out.shape}"
            )
        arrays.append(d_out)
    out_dtype = np.result_type(*arrays)
    cdt = compute_dtype(out_dtype)
    cast = [a.astype(cdt, copy=False) for a in arrays]
    return Prepared(
        q=cast[0],
        k=cast[1],
        v=cast[2],
        mask=mask,
        is_causal=bool(is_causal),
        scale=1.0 / math.sqrt(q.shape[-1]) if resolved is None else resolved,
        group=group,
        scores_shape=tuple(scores_shape),
        out_dtype=out_dtype,
        d_out=cast[3] if grad_output is not _FORWARD else None,
    )
