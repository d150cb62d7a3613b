"""The battery: every case `check` runs, with its inputs and the alternatives it can tell apart.

Sizes are small (a full run takes well under a second) and odd, and chosen so that the
alternatives of a case differ from each other and from the truth: E != Ev where the value's
head size could be mistaken for the query's, H != E so that 1/E and 1/sqrt(H·E) differ, L != S
where a causal mask could be aligned either way. The inputs are drawn from one seeded
generator, in float64, and cast to the case's dtype.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import _conventions as conv
from ._case import Alternative, Case

#: The dtypes `check` tests by default, and the names it accepts.
DTYPES = ("float16", "float32", "float64")

MASKS = (conv.MASK_POLARITY, conv.BOOL_MASK_ADDED, conv.MASK_IGNORED)
FLOAT_MASKS = (
    conv.FLOAT_MASK_BEFORE_SCALE,
    conv.FLOAT_MASK_MULTIPLIED,
    conv.FLOAT_MASK_AS_BOOL,
    conv.MASK_IGNORED,
)
CAUSAL = (
    conv.CAUSAL_BOTTOM_RIGHT,
    conv.CAUSAL_IGNORED,
    conv.CAUSAL_STRICT,
    conv.CAUSAL_REVERSED,
)
EMPTY_ROWS = (conv.MASKED_ROWS_NAN, conv.MASKED_ROWS_UNIFORM)
PRECISION = (conv.FLOAT16_OVERFLOW, conv.FLOAT16_PRECISION, conv.SOFTMAX_NO_MAX)
GRADIENTS = (conv.GRAD_NO_SCALE, conv.GRAD_NO_DELTA, conv.GRAD_MASKED_ROWS_NAN)


class _Draw:
    """Seeded inputs: `(B, H, L, E)` query, `(B, Hkv, S, E)` key, `(B, Hkv, S, Ev)` value."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def normal(self, *shape: int) -> np.ndarray:
        return self.rng.standard_normal(shape)

    def qkv(
        self, B: int, H: int, L: int, S: int, E: int, Ev: int, Hkv: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Hkv = H if Hkv is None else Hkv
        return self.normal(B, H, L, E), self.normal(B, Hkv, S, E), self.normal(B, Hkv, S, Ev)

    def bool_mask(self, *shape: int) -> np.ndarray:
        """Random, with at least one True and one False in every row (so `~mask` is too)."""
        mask = self.rng.random(shape) < 0.5
        S = shape[-1]
        on = self.rng.integers(S, size=(*shape[:-1], 1))
        off = (on + 1 + self.rng.integers(S - 1, size=on.shape)) % S
        np.put_along_axis(mask, on, True, axis=-1)
        np.put_along_axis(mask, off, False, axis=-1)
        return mask

    def float_mask(self, *shape: int) -> np.ndarray:
        """Values in [-2, 1), zero where a random bool mask is True: ALiBi-like biases."""
        values = self.rng.uniform(-2.0, 1.0, size=shape)
        return np.where(self.bool_mask(*shape), 0.0, values)

    def huge_logits(
        self, B: int, H: int, L: int, S: int, E: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each query points at its own key: a score of about 1e3 or 1e5 there, about 1 elsewhere.

        Key j is 550 times the unit vector e_j (so no score sums terms that cancel); query i
        is `a_i e_t(i)` plus noise of size 0.01, the targets t(i) distinct, with `a_i` = 5.1
        (scores about 1e3: exp overflows even in float64) in the first half of the rows and
        550 (scores about 1e5: a float16 product overflows, 65504 being its largest value)
        in the second half. Every output row is one value row, exactly.
        """
        basis = np.eye(S, E)  # (S, E): key j along axis j
        key = np.broadcast_to(550.0 * basis, (B, H, S, E)).copy()
        target = np.argsort(self.rng.random((B, H, S)), axis=-1)[..., :L]  # (B, H, L), distinct
        size = np.where(np.arange(L) < L // 2, 5.1, 550.0)  # (L,)
        query = size[:, None] * basis[target] + 0.01 * self.normal(B, H, L, E)
        return query, key, self.normal(B, H, S, E)


def _cast(case: Case, dtype: np.dtype) -> Case:
    """The case with its arrays (and a float mask) in `dtype`; a bool mask stays bool."""
    cast = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
    mask = case.attn_mask
    if mask is not None and mask.dtype != np.bool_:
        mask = mask.astype(dtype)
    return case.replace(
        query=cast(case.query),
        key=cast(case.key),
        value=cast(case.value),
        grad_output=cast(case.grad_output),
        attn_mask=mask,
    )


def convention_cases(dtypes: tuple[str, ...], seed: int) -> list[Case]:
    """One case per convention, in the widest dtype; each tests one thing.

    Every case but `plain` changes one thing from it (a scale, L != S, Ev != E, a mask,
    is_causal, grouped-query heads), so an implementation that cannot express that one thing
    loses only that case, and still gets the rest checked.
    """
    d = _Draw(seed)
    g = conv.GENERIC
    cases = [
        Case("plain", *d.qkv(2, 3, 9, 9, 8, 8), alternatives=g),
        Case("custom scale", *d.qkv(2, 3, 9, 9, 6, 6), scale=0.29, alternatives=g),
        Case("cross-attention", *d.qkv(2, 3, 7, 12, 5, 5), alternatives=g),
        Case("value head size", *d.qkv(2, 3, 8, 8, 5, 8), alternatives=g),
        Case(
            "bool mask", *d.qkv(2, 3, 8, 8, 6, 6), d.bool_mask(2, 1, 8, 8), alternatives=g + MASKS
        ),
        Case(
            "float mask",
            *d.qkv(2, 3, 8, 8, 6, 6),
            d.float_mask(3, 8, 8),
            alternatives=g + FLOAT_MASKS,
        ),
        Case("causal L = S", *d.qkv(2, 3, 9, 9, 6, 6), is_causal=True, alternatives=g + CAUSAL),
        Case("causal L < S", *d.qkv(2, 3, 5, 11, 6, 6), is_causal=True, alternatives=g + CAUSAL),
        Case("causal L > S", *d.qkv(2, 3, 11, 5, 6, 6), is_causal=True, alternatives=g + CAUSAL),
        Case(
            "fully masked bool",
            *d.qkv(2, 3, 8, 8, 6, 6),
            _with_empty_rows(d.bool_mask(2, 3, 8, 8), False),
            alternatives=g + MASKS + EMPTY_ROWS,
        ),
        Case(
            "fully masked float",
            *d.qkv(2, 3, 8, 8, 6, 6),
            _with_empty_rows(
                np.where(d.bool_mask(2, 3, 8, 8), d.float_mask(2, 3, 8, 8), -np.inf), -np.inf
            ),
            alternatives=g + FLOAT_MASKS + EMPTY_ROWS,
        ),
        Case(
            "grouped-query heads",
            *d.qkv(2, 6, 7, 7, 5, 5, Hkv=2),
            gqa=True,
            alternatives=(*g, conv.GQA_TILED),
        ),
    ]
    return [_cast(case, _widest(dtypes)) for case in cases]


def precision_cases(dtypes: tuple[str, ...], seed: int) -> list[Case]:
    """Each dtype's precision: the same inputs rounded to each dtype.

    `precision` and `single key` are the probes the precision an implementation computes in
    is estimated from (`_precision.py`). `single key` has an exact answer whatever the
    conventions (one key: weight 1, the output is the value), so an implementation with a
    wrong scale or softmax still gets its precision measured; it is left out for float16,
    whose accuracy is not estimated. `huge logits` overflows a careless softmax.
    """
    d = _Draw(seed + 2)
    precision = Case(
        "precision", *d.qkv(1, 4, 13, 33, 15, 15), alternatives=conv.GENERIC + PRECISION, probe=True
    )
    single = Case("single key", *d.qkv(2, 3, 7, 1, 6, 6), alternatives=conv.GENERIC, probe=True)
    huge = Case("huge logits", *d.huge_logits(1, 2, 6, 7, 8), alternatives=conv.GENERIC + PRECISION)
    cases = [_cast(precision, np.dtype(name)) for name in dtypes]  # the same inputs, rounded
    cases += [_cast(single, np.dtype(name)) for name in dtypes if name != "float16"]
    cases += [_cast(huge, np.dtype(name)) for name in dtypes]
    return cases


def gradient_cases(dtypes: tuple[str, ...], seed: int) -> list[Case]:
    """The backward cases, in the widest dtype, each changing one thing from `gradients`."""
    d = _Draw(seed + 1)
    g = conv.GENERIC + GRADIENTS
    cases = [
        Case(
            "gradients", *d.qkv(2, 3, 9, 9, 5, 5), grad_output=d.normal(2, 3, 9, 5), alternatives=g
        ),
        Case(
            "gradients scale",
            *d.qkv(2, 3, 9, 9, 5, 5),
            scale=0.31,
            grad_output=d.normal(2, 3, 9, 5),
            alternatives=g,
        ),
        Case(
            "gradients Ev != E",
            *d.qkv(2, 3, 9, 9, 5, 8),
            grad_output=d.normal(2, 3, 9, 8),
            alternatives=g,
        ),
        Case(
            "gradients causal",
            *d.qkv(2, 3, 5, 9, 6, 6),
            is_causal=True,
            grad_output=d.normal(2, 3, 5, 6),
            alternatives=g + CAUSAL,
        ),
        Case(
            "gradients masked",
            *d.qkv(2, 3, 9, 9, 5, 5),
            _with_empty_rows(d.bool_mask(2, 3, 9, 9), False),
            grad_output=d.normal(2, 3, 9, 5),
            alternatives=g + MASKS,
        ),
    ]
    return [_cast(case, _widest(dtypes)) for case in cases]


#: The case families, in the order of the report: functions `(dtypes, seed) -> [Case, ...]`.
#: A new family is a function here (and its alternatives, see the package's docstring).
FORWARD_FAMILIES: list[Callable[[tuple[str, ...], int], list[Case]]] = [
    convention_cases,
    precision_cases,
]
BACKWARD_FAMILIES: list[Callable[[tuple[str, ...], int], list[Case]]] = [gradient_cases]


def forward_cases(dtypes: tuple[str, ...], seed: int) -> list[Case]:
    """Every forward case: the families of `FORWARD_FAMILIES`, in order."""
    return [case for family in FORWARD_FAMILIES for case in family(dtypes, seed)]


def backward_cases(dtypes: tuple[str, ...], seed: int) -> list[Case]:
    """Every backward case: the families of `BACKWARD_FAMILIES`, in order."""
    return [case for family in BACKWARD_FAMILIES for case in family(dtypes, seed)]


def alternatives() -> dict[str, Alternative]:
    """Every alternative some case of the battery can name, by key, in the battery's order."""
    found: dict[str, Alternative] = {}
    for case in forward_cases(DTYPES, 0) + backward_cases(DTYPES, 0):
        for alt in case.alternatives:
            found.setdefault(alt.key, alt)
    return found


def _widest(dtypes: tuple[str, ...]) -> np.dtype:
    return np.dtype(max(dtypes, key=lambda name: np.dtype(name).itemsize))


def _with_empty_rows(mask: np.ndarray, fill: object) -> np.ndarray:
    """`mask` (B, H, L, S) with some rows that allow no key: (0, 1, 0), (1, 2, 3), (*, *, 5)."""
    mask = mask.copy()
    mask[0, 1, 0] = fill
    mask[1, 2, 3] = fill
    mask[:, :, 5] = fill
    return mask
