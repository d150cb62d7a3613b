"""Running the battery: call the implementation on each case, measure, diagnose.

The tolerance of a case follows the rule of FlashAttention's tests: an implementation's error
may be at most twice the error of the reference run in the same precision, both measured
against the reference in float64 on the same inputs. A floor is added because that error
can be zero (float64 against itself, or a case whose answer is exact in float32): 16 units in
the last place of the largest true value, in the precision the contract computes in (float32
for float16). Correct implementations that sum in another order (`flash_attention`,
PyTorch's SDPA and autograd) were measured at 5 such units at most, over 200 seeds; every
convention the battery tells apart differs by 0.01 or more.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .._checks import compute_dtype
from ._battery import DTYPES, backward_cases, forward_cases
from ._case import Case, Outputs, run_reference, truth
from ._conventions import MATCH_SLACK, Alternative
from ._report import CaseResult, Report

#: The floor of every tolerance, in units in the last place (see the module's docstring).
FLOOR_ULPS = 16

#: The tolerance rule, stated in every report.
RULE = (
    f"Tolerance = 2 * ref error + {FLOOR_ULPS} ulps of the largest true value, in the compute "
    "precision (float32 for float16); errors are max |output - float64 reference|, and ref "
    "error is attention_ref's own, run in the case's dtype."
)


def check(
    fn: Callable[..., object],
    *,
    dtypes: str | Iterable[str] = DTYPES,
    backward: Callable[..., object] | None = None,
    seed: int = 0,
) -> Report:
    r"""Check an attention implementation against attention_ref, and say what differs.

    Runs a battery of cases (plain attention, a given scale, cross-attention shapes, bool
    and float masks, causal masks with $L = S$, $L < S$ and $L > S$, fully masked rows,
    grouped-query heads, each dtype, huge logits, and the gradients when `backward` is
    given), compares each output with attention_ref's, and, when one differs, tries the
    known alternative conventions and names the one the output matches: "boolean mask
    polarity is inverted (True = masked)", "causal mask is aligned bottom-right", "fully
    masked rows give NaN", "GQA groups heads by tiling instead of repeat-interleave", ...

    Parameters
    ----------
    fn : callable
        The implementation, in attention_ref's calling convention:
        `fn(query, key, value, attn_mask=None, is_causal=False, scale=None)` with NumPy
        arrays `query (B, H, L, E)`, `key (B, Hkv, S, E)`, `value (B, Hkv, S, Ev)`, returning
        `(B, H, L, Ev)` (anything `np.asarray` converts). Keyword arguments are passed only
        when they differ from these defaults, so a function without masks still gets the
        cases it can run. A bool mask means True = may attend. When `fn` has an
        `enable_gqa` parameter, the grouped-query case passes `enable_gqa=True`; when it
        raises on that case, the case is "unsupported", not failed. For another calling
        convention, pass a one-line adapter (see the conformance page of the docs).
    dtypes : str or iterable of str, default ("float16", "float32", "float64")
        The dtypes to test. Each gets its own precision cases; the convention cases run in
        the widest one.
    backward : callable, optional
        `backward(grad_output, query, key, value, attn_mask=None, is_causal=False,
        scale=None) -> (grad_query, grad_key, grad_value)`: adds gradient cases, compared with
        `attention_ref.sdpa_backward`.
    seed : int, default 0
        Seeds the inputs.

    Returns
    -------
    Report
        One result per case (status, error, tolerance, diagnosis); `report.ok` is True when
        every case passes; `print(report)` shows the table.

    Notes
    -----
    The truth of each case is attention_ref in float64 on the case's inputs (cast exactly to
    float64). A case passes when the output's maximum absolute error is at most
    `2 * ref_error + floor`, `ref_error` being attention_ref's own error when run in the
    case's dtype and `floor` 16 units in the last place of the largest true value, in the
    compute precision (float32 for float16). The output must also have the inputs' dtype,
    the expected shape, and leave the inputs unmodified. Exceptions raised by `fn` are
    recorded as errors, never propagated; warnings it emits are silenced.

    Examples
    --------
    attention_ref conforms to itself, and so does its tiled `flash_attention`:

    >>> import attention_ref
    >>> from attention_ref.conformance import check
    >>> check(attention_ref.scaled_dot_product_attention).ok
    True
    >>> from attention_ref import flash_attention, sdpa_backward
    >>> check(flash_attention, backward=sdpa_backward).ok
    True

    An implementation that reads a boolean mask as True = masked (as `nn.MultiheadAttention`
    does) fails the mask cases, and the report says why:

    >>> def inverted(q, k, v, attn_mask=None, is_causal=False, scale=None):
    ...     if attn_mask is not None and attn_mask.dtype == bool:
    ...         attn_mask = ~attn_mask
    ...     return attention_ref.scaled_dot_product_attention(
    ...         q, k, v, attn_mask, is_causal, scale)
    >>> report = check(inverted)
    >>> report.ok, [r.name for r in report.failures]
    (False, ['bool mask', 'fully masked bool'])
    >>> report.failures[0].diagnosis.split(":")[0]
    'boolean mask polarity is inverted (True = masked)'
    """
    names = dtype_names(dtypes)
    cases = forward_cases(names, seed)
    if backward is not None:
        cases += backward_cases(names, seed)
    results = [_run(backward if case.backward else fn, case) for case in cases]
    name = _name(fn) if backward is None else f"{_name(fn)} (backward: {_name(backward)})"
    return Report(name, tuple(results), seed, RULE)


def dtype_names(dtypes: str | Iterable[str]) -> tuple[str, ...]:
    """Validate `dtypes`: names (or dtypes) among float16, float32, float64, in that order."""
    given = [dtypes] if isinstance(dtypes, (str, np.dtype, type)) else list(dtypes)
    try:
        names = {np.dtype(d).name for d in given}
    except TypeError:
        raise TypeError(f"dtypes must name float16, float32 or float64, got {dtypes!r}") from None
    if not names or not names <= set(DTYPES):
        raise ValueError(f"dtypes must be among {DTYPES}, got {dtypes!r}")
    return tuple(d for d in DTYPES if d in names)


def _name(fn: object) -> str:
    """A readable name: `module.function` (by its public module), `partial(...)`, `Class()`."""
    qualname = getattr(fn, "__qualname__", None)
    if qualname is None and isinstance(fn, functools.partial):
        return f"partial({_name(fn.func)})"
    if qualname is None:
        return f"{type(fn).__name__}()"
    module = getattr(fn, "__module__", None)
    if module in (None, "__main__", "builtins") or module.startswith("_"):
        return qualname  # defined in a script, a notebook or exec'd code
    parts = module.split(".")
    for i in range(1, len(parts)):  # attention_ref._sdpa.f -> attention_ref.f, if exported
        if getattr(sys.modules.get(".".join(parts[:i])), qualname, None) is fn:
            return f"{'.'.join(parts[:i])}.{qualname}"
    return f"{module}.{qualname}"


def _takes(fn: Callable[..., object], parameter: str) -> bool:
    """Whether `fn`'s signature names `parameter` (a `**kwargs` does not count)."""
    try:
        return parameter in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _distance(got: Sequence[np.ndarray], want: Outputs, ignore: np.ndarray | None = None) -> float:
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


def _call(fn: Callable[..., object], case: Case) -> tuple[object, tuple[np.ndarray, ...]]:
    """Call `fn` on copies of the case's arrays; return its result and the copies."""
    args = tuple(a.copy() for a in case.arrays())
    kwargs = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in case.keywords().items()}
    if case.gqa and _takes(fn, "enable_gqa"):
        kwargs["enable_gqa"] = True
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        result = fn(*args, **kwargs)
    mask = kwargs.get("attn_mask")
    return result, args + (() if mask is None else (mask,))


def _outputs(result: object, case: Case) -> tuple[np.ndarray, ...]:
    """The result as a tuple of arrays: (out,), or (d_q, d_k, d_v) for a backward case."""
    arrays = (np.asarray(result),) if not case.backward else tuple(map(np.asarray, result))  # type: ignore[call-overload]
    if len(arrays) != (3 if case.backward else 1):
        raise ValueError(f"backward returned {len(arrays)} arrays, not (d_q, d_k, d_v)")
    for a in arrays:
        if a.dtype.kind not in "fiu":
            raise TypeError(f"returned an array of dtype {a.dtype}, not real numbers")
    return arrays


def _run(fn: Callable[..., object], case: Case) -> CaseResult:
    """One case: call, compare with the truth, and diagnose a difference."""
    want = truth(case)
    reference_error = _distance(run_reference(case), want)
    largest = max(float(np.max(np.abs(w), initial=0.0)) for w in want)
    eps = float(np.finfo(compute_dtype(case.dtype)).eps)
    floor = FLOOR_ULPS * eps * max(largest, 1e-3)  # 1e-3: an all-zero answer still has a floor
    tolerance = 2 * reference_error + floor
    result = functools.partial(
        CaseResult,
        case.name,
        case.dtype.name,
        case.describe(),
        reference_error=reference_error,
        tolerance=tolerance,
    )
    try:
        raw, passed = _call(fn, case)
        got = _outputs(raw, case)
    except Exception as error:  # the implementation's failure is a result, not ours
        status = "unsupported" if case.gqa else "error"
        return result(status, diagnosis=f"{type(error).__name__}: {error}")

    outputs = ("grad_query", "grad_key", "grad_value") if case.backward else ("output",)
    for name, g, w in zip(outputs, got, want, strict=True):
        if g.shape != w.shape:
            return result(
                "fail", diagnosis=f"{name} has shape {g.shape}, not {w.shape}", matches=("shape",)
            )

    error = _distance(got, want)
    notes: list[str] = []
    keys: list[str] = []
    if error > tolerance:
        found = _diagnose(case, got, want, tolerance)
        keys += [alt.key for alt in found]
        notes += [alt.diagnosis for alt in found] or ["no known convention matches"]
    wrong_dtype = sorted({g.dtype.name for g in got if g.dtype != case.dtype})
    if wrong_dtype:
        keys.append("dtype")
        notes.append(f"returns {'/'.join(wrong_dtype)} for {case.dtype.name} inputs")
    names = ("grad_output", "query", "key", "value")[4 - len(case.arrays()) :]
    originals = case.arrays()
    if case.attn_mask is not None:
        names, originals = (*names, "attn_mask"), (*originals, case.attn_mask)
    changed = [
        name
        for name, a, b in zip(names, originals, passed, strict=True)
        if not np.array_equal(a, b, equal_nan=True)
    ]
    if changed:
        keys.append("mutates")
        notes.append(f"modifies its argument {' and '.join(changed)} in place")
    status = "fail" if notes else "pass"
    return result(status, error=error, diagnosis="; ".join(notes), matches=tuple(keys))


def _diagnose(
    case: Case, got: tuple[np.ndarray, ...], want: Outputs, tolerance: float
) -> list[Alternative]:
    """The alternatives of `case` whose output the implementation's matches."""
    found = []
    slack = MATCH_SLACK * tolerance
    with np.errstate(all="ignore"):
        for alt in case.alternatives:
            if alt.matches is not None:
                if alt.matches(case, got, tolerance):
                    found.append(alt)
                continue
            prediction = alt.predict(case)
            if prediction is None:
                continue
            expected, ignore = prediction
            if _distance(expected, want, ignore) <= slack:
                continue  # the same answer as the truth here: it cannot explain a failure
            # The implementation returns its dtype: allow for rounding the emulation to it.
            rounded = tuple(e.astype(case.dtype).astype(np.float64) for e in expected)
            if _distance(got, expected, ignore) <= slack + 2 * _distance(rounded, expected):
                found.append(alt)
    return found
