"""Errors, tolerances, and the precision an implementation actually computes in.

The tolerance of a case follows the rule of FlashAttention's tests: an implementation's error
may be at most twice the error of the reference run in the same precision, both measured
against the reference in float64 on the same inputs. A floor is added because that error
can be zero (float64 against itself, or a case whose answer is exact in float32): 16 units in
the last place of the largest true value, in the precision the contract computes in (float32
for float16). Correct implementations that sum in another order (`flash_attention`,
PyTorch's SDPA and autograd) were measured at 5 such units at most, over 200 seeds; every
convention the battery tells apart differs by 0.01 or more.

An implementation may compute in less precision than its inputs: JAX without `jax_enable_x64`
computes float64 inputs in float32, a kernel may cast to float32 inside. Judged at float64's
tolerance, such an implementation fails every float64 case and no convention can be named.
So the precision comes first: the *probe* cases (`precision`, and `single key`, whose answer
is exact whatever the conventions) give, for each input dtype, the most precise level
(float64, float32, float16) whose tolerance the implementation's errors fit; every case of
that dtype is then judged at that level's tolerance, which is the tolerance attention_ref
itself earns when its inputs are rounded to that level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._checks import compute_dtype
from ._case import Case, Outputs, run_reference

#: The floor of every tolerance, in units in the last place (see the module's docstring).
FLOOR_ULPS = 16

#: The accuracy levels an implementation can be found to compute at, most precise first.
LEVELS = ("float64", "float32", "float16")

#: The tolerance rule, stated in every report.
RULE = (
    f"Tolerance = 2 * ref error + {FLOOR_ULPS} ulps of the largest true value, in the compute "
    "precision (float32 for float16); errors are max |output - float64 reference|, and ref "
    "error is attention_ref's own, run in the case's dtype (or at the accuracy the "
    "implementation was found to compute at)."
)


def distance(got: Sequence[np.ndarray], want: Outputs, ignore: np.ndarray | None = None) -> float:
    """The largest absolute difference; NaN against NaN and equal infinities count as equal,
    any other mismatch of NaN or infinity as `inf`. `ignore` (B, H, L): rows left out of the
    forward output."""
    worst = 0.0
    with np.errstate(invalid="ignore"):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            g = np.asarray(g, dtype=np.float64)
            diff = np.abs(g - w)
            diff[(np.isnan(g) & np.isnan(w)) | (g == w)] = 0.0
            diff[np.isnan(diff)] = np.inf
            if ignore is not None and i == 0:
                diff[np.broadcast_to(ignore, diff.shape[:-1])] = 0.0
            worst = max(worst, float(diff.max(initial=0.0)))
    return worst


def tolerance(case: Case, want: Outputs, level: str | None = None) -> tuple[float, float]:
    """`(ref_error, tolerance)` of `case` at an accuracy level (None: the case's dtype).

    `ref_error` is attention_ref's error on the case's inputs rounded to `level`, computed as
    attention_ref computes that dtype; the tolerance is twice it plus the floor.
    """
    dtype = case.dtype if level is None else np.dtype(level)
    ref_error = distance(run_reference(case, dtype), want)
    largest = max(float(np.max(np.abs(w), initial=0.0)) for w in want)
    eps = float(np.finfo(compute_dtype(dtype)).eps)
    floor = FLOOR_ULPS * eps * max(largest, 1e-3)  # 1e-3: an all-zero answer still has a floor
    return ref_error, 2 * ref_error + floor


def levels_below(dtype: str) -> tuple[str, ...]:
    """The levels an implementation given `dtype` can be found at: `dtype`, then coarser."""
    return LEVELS[LEVELS.index(dtype) :]


def fitting_level(case: Case, got: Outputs, want: Outputs) -> str | None:
    """The most precise level whose tolerance the error of `got` fits, or None (no level).

    float16 inputs are not estimated: their contract already computes in float32 and rounds
    the output to float16, whose error dominates; a float16 case fits only float16.
    """
    error = distance(got, want)
    for level in levels_below(case.dtype.name):
        if error <= tolerance(case, want, level)[1]:
            return level
    return None


def estimate(fits: dict[str, list[str | None]]) -> dict[str, str]:
    """The level of each input dtype from its probes' fitting levels.

    The coarsest level any probe needs; a probe that fits no level (its error comes from a
    convention, not from rounding) does not count; a dtype without a usable probe keeps its
    own precision.
    """
    levels = {}
    for dtype, found in fits.items():
        known = [level for level in found if level is not None]
        coarsest = max(known, key=LEVELS.index) if known else dtype
        levels[dtype] = coarsest if dtype in LEVELS else dtype
    return levels
