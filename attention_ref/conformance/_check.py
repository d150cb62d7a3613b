"""Running the battery: call the implementation on each case, measure, diagnose.

Three steps. First every case is called (`_attempt`): the implementation's outputs, or the
reason it cannot run the case (a parameter it does not have, an exception on something the
case needs: "unsupported"), or its exception on a case that needs nothing special ("error").
Then the precision the implementation computes in is estimated from the probe cases
(`_precision.py`). Then every case is judged at that precision (`_judge`) and, when it
fails, diagnosed: the alternatives of the case whose output the implementation's matches.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import numpy as np

from ._battery import DTYPES, alternatives, backward_cases, forward_cases
from ._case import Alternative, Case, Outputs, truth
from ._conventions import MATCH_SLACK
from ._precision import FLOOR_ULPS, RULE, distance, estimate, fitting_level, tolerance
from ._report import SCHEMA_VERSION, CaseResult, Report

#: Names from before `_precision.py` (modules of other case families may import them here).
_distance = distance
__all__ = ["FLOOR_ULPS", "LAYOUTS", "RULE", "check", "dtype_names", "known_conventions"]

#: The keys a result can name that are not alternative conventions: (short phrase, meaning).
OTHER_FINDINGS = {
    "precision-float32": (
        "float64 inputs, float32 accuracy",
        "the implementation computes (or rounds) float64 inputs in float32",
    ),
    "precision-float16": (
        "float16 accuracy",
        "the implementation computes (or rounds) float32 or float64 inputs in float16",
    ),
    "shape": (
        "the output has the wrong shape",
        "the output does not have the shape (B, H, L, Ev) (or the inputs' shapes)",
    ),
    "dtype": (
        "the output's dtype is not the inputs'",
        "the output's dtype is not the inputs' dtype",
    ),
    "mutates": (
        "it modifies its arguments in place",
        "the function modifies an argument in place",
    ),
}


def known_conventions() -> dict[str, tuple[str, str]]:
    """Every key a report can name: `(short phrase, meaning)`, the battery's alternatives
    (of every case family) first."""
    found = {key: (alt.summary, alt.diagnosis) for key, alt in alternatives().items()}
    return found | OTHER_FINDINGS


#: The layouts `check` can call an implementation in: the axes of query, key, value and output.
LAYOUTS = {"BHLE": "(B, H, L, E), heads first (PyTorch)", "BLHE": "(B, L, H, E), JAX's"}


def check(
    fn: Callable[..., object],
    *,
    dtypes: str | Iterable[str] = DTYPES,
    backward: Callable[..., object] | None = None,
    layout: str = "BHLE",
    array: Callable[[np.ndarray], object] | None = None,
    name: str | None = None,
    seed: int = 0,
) -> Report:
    r"""Check an attention implementation against attention_ref, and say what differs.

    Runs a battery of cases (plain attention, a given scale, $L \ne S$, $E_v \ne E$, bool
    and float masks, causal masks with $L = S$, $L < S$ and $L > S$, fully masked rows,
    grouped-query heads, each dtype's precision, huge logits, and the gradients when
    `backward` is given), first estimates the precision `fn` computes in, then compares each
    output with attention_ref's at that precision and, when one differs, tries the known
    alternative conventions and names the one the output matches: "boolean mask polarity is
    inverted (True = masked)", "causal mask is aligned bottom-right", "fully masked rows give
    NaN", "GQA groups heads by tiling instead of repeat-interleave", ...

    Parameters
    ----------
    fn : callable
        The implementation, called as
        `fn(query, key, value, attn_mask=None, is_causal=False, scale=None)` with arrays
        `query (B, H, L, E)`, `key (B, Hkv, S, E)`, `value (B, Hkv, S, Ev)`, returning
        `(B, H, L, Ev)` (in `layout="BLHE"`, the two middle axes of each swapped). Keyword
        arguments are passed only when they differ from these defaults; a case that needs a
        parameter `fn` does not have (`scale`, `attn_mask`, `is_causal`), or something it
        raises on ($E_v \ne E$, a float mask, grouped-query heads), is reported as
        "unsupported", with the reason, and the other cases are still checked. The
        grouped-query case passes `enable_gqa=True` when `fn` has that parameter (or no
        signature Python can read). A bool mask means True = may attend; a float mask is
        added to the scores. The result may be anything `np.asarray` converts (a tensor
        with `.detach()` is detached first).
    dtypes : str or iterable of str, default ("float16", "float32", "float64")
        The dtypes to test. Each gets its own precision cases; the convention cases run in
        the widest one.
    backward : callable, optional
        `backward(grad_output, query, key, value, attn_mask=None, is_causal=False,
        scale=None) -> (grad_query, grad_key, grad_value)`: adds gradient cases, compared with
        `attention_ref.sdpa_backward`.
    layout : {"BHLE", "BLHE"}, default "BHLE"
        The axes of query, key, value and output (and of the gradients): `"BHLE"` is
        `(B, H, L, E)`, PyTorch's and attention_ref's; `"BLHE"` is `(B, L, H, E)`, JAX's and
        Flax's. The mask is `(B, H, L, S)` (broadcastable) in both, as in those libraries.
    array : callable, optional
        Converts each input array (query, key, value, grad_output, attn_mask) before the
        call: `torch.from_numpy`, `jax.numpy.asarray`. Default: NumPy arrays as they are.
    name : str, optional
        The name the report uses for `fn` (default: its module and qualified name).
    seed : int, default 0
        Seeds the inputs.

    Returns
    -------
    Report
        One result per case (status, error, tolerance, reason, diagnosis), the precision
        found for each dtype, and the findings; `report.ok` is True when no case failed or
        raised; `print(report)` shows the findings and the table.

    Raises
    ------
    ValueError
        If `layout` is not "BHLE" or "BLHE", or `dtypes` names another dtype.

    Notes
    -----
    The truth of each case is attention_ref in float64 on the case's inputs (cast exactly to
    float64). A case passes when the output's maximum absolute error is at most
    `2 * ref_error + floor`, `ref_error` being attention_ref's own error when run in the
    case's dtype and `floor` 16 units in the last place of the largest true value, in the
    compute precision (float32 for float16). The output must also have the inputs' dtype,
    the expected shape, and leave the inputs unmodified. Exceptions raised by `fn` are
    recorded, never propagated; warnings it emits are silenced.

    When `fn` computes in less precision than its inputs (float32 inside for float64 inputs),
    the precision cases say so ("float64 inputs, float32 accuracy") and every case of that
    dtype is judged at the tolerance attention_ref earns at that precision, so that its
    conventions are still named.

    Examples
    --------
    attention_ref conforms to itself, and so does its tiled `flash_attention`:

    >>> import textwrap
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
    >>> report = check(inverted, name="inverted")
    >>> report.ok, [r.name for r in report.failures]
    (False, ['bool mask', 'fully masked bool'])
    >>> print(textwrap.fill(report.headline(), 76))
    inverted follows attention_ref except: boolean mask polarity is inverted
    (True = masked). 1 case unsupported: grouped-query heads (no enable_gqa
    parameter).
    """
    names = dtype_names(dtypes)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'BHLE' or 'BLHE', got {layout!r}")
    cases = forward_cases(names, seed)
    if backward is not None:
        cases += backward_cases(names, seed)
    call = functools.partial(_attempt, layout=layout, array=array)
    attempts = [call(backward if backward and case.backward else fn, case) for case in cases]
    for is_backward in (False, True):
        _no_baseline_no_capability([a for a in attempts if a.case.backward == is_backward])

    fits: dict[str, list[str | None]] = {n: [] for n in names}
    for attempt in attempts:
        if attempt.case.probe and attempt.outputs is not None and attempt.shapes_match:
            fits[attempt.case.dtype.name].append(
                fitting_level(attempt.case, attempt.outputs, attempt.want)
            )
    precision = estimate(fits)
    results = [_judge(a, precision[a.case.dtype.name]) for a in attempts]
    if name is None:
        name = _name(fn) if backward is None else f"{_name(fn)} (backward: {_name(backward)})"
    return Report(
        name,
        tuple(results),
        seed,
        RULE,
        layout=layout,
        precision=precision,
        conventions=known_conventions(),
        schema_version=SCHEMA_VERSION,
    )


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
    if module in (None, "__main__", "builtins") or not module.replace(".", "_").isidentifier():
        return qualname  # defined in a script (runpy's "<run_path>"), a notebook, exec'd code
    if module.startswith("_"):
        return qualname
    parts = module.split(".")
    if not any(part.startswith("_") for part in parts):
        return f"{module}.{qualname}"
    for i in range(1, len(parts)):  # attention_ref._sdpa.f -> attention_ref.f, if exported
        if _exports(sys.modules.get(".".join(parts[:i])), qualname, fn):
            return f"{'.'.join(parts[:i])}.{qualname}"
    # Deeper in the same package (torch._C._nn.f -> torch.nn.functional.f), if imported.
    public = [
        m
        for m, obj in list(sys.modules.items())
        if (m + ".").startswith(parts[0] + ".")
        and not any(part.startswith("_") for part in m.split("."))
        and _exports(obj, qualname, fn)
    ]
    return f"{min(public, key=len) if public else module}.{qualname}"


def _exports(module: object, name: str, fn: object) -> bool:
    try:
        return getattr(module, name, None) is fn
    except Exception:  # pragma: no cover (a module whose __getattr__ does more than look up)
        return False


def _parameters(fn: Callable[..., object]) -> tuple[set[str], bool] | None:
    """The names of `fn`'s parameters and whether it takes `**kwargs`; None if unknown."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin or extension function without a signature
        return None
    names = {p.name for p in parameters if p.kind is not p.VAR_KEYWORD}
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def _takes(fn: Callable[..., object], parameter: str) -> bool:
    """Whether `fn`'s signature names `parameter` (a `**kwargs` does not count)."""
    known = _parameters(fn)
    return known is not None and parameter in known[0]


@dataclass
class _Attempt:
    """One call of the implementation on one case, before it is judged."""

    case: Case
    want: Outputs
    outputs: tuple[np.ndarray, ...] | None = None
    passed: tuple[np.ndarray, ...] = ()  # the NumPy arrays the call was given, to detect writes
    unsupported: str = ""  # the short reason the case could not run
    failure: str = ""  # why it could not run, in one line
    exception: str = ""  # the exception it raised, in one line

    @property
    def shapes_match(self) -> bool:
        return self.outputs is not None and all(
            g.shape == w.shape for g, w in zip(self.outputs, self.want, strict=True)
        )


_UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


def _one_line(error: BaseException, limit: int = 160) -> str:
    """`Type: message`, on one line, cut at `limit` characters."""
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _attempt(
    fn: Callable[..., object],
    case: Case,
    layout: str,
    array: Callable[[np.ndarray], object] | None,
) -> _Attempt:
    """Call `fn` on the case, or say why it cannot be called on it."""
    attempt = _Attempt(case, truth(case))
    kwargs = case.keywords()
    known = _parameters(fn)
    if known is not None and not known[1]:
        missing = [k for k in kwargs if k not in known[0]]
        if missing:
            attempt.unsupported = f"no {missing[0]} parameter"
            attempt.failure = (
                f"the case passes {missing[0]}=, and the function has no such parameter"
            )
            return attempt
    gqa_flag = case.gqa and (known is None or "enable_gqa" in known[0])
    if gqa_flag:
        kwargs["enable_gqa"] = True
    try:
        try:
            result, attempt.passed = _call(fn, case, kwargs, layout, array)
        except TypeError as error:
            unexpected = _UNEXPECTED.search(str(error))
            if unexpected is None or unexpected.group(1) not in kwargs:
                raise
            if unexpected.group(1) != "enable_gqa":
                attempt.unsupported = f"no {unexpected.group(1)} parameter"
                attempt.failure = _one_line(error)
                return attempt
            gqa_flag = False
            del kwargs["enable_gqa"]
            result, attempt.passed = _call(fn, case, kwargs, layout, array)
        attempt.outputs = _outputs(result, case, layout)
    except Exception as error:  # the implementation's failure is a result, not ours
        needs = case.needs()
        attempt.failure = attempt.exception = _one_line(error)
        if case.gqa and not gqa_flag:
            attempt.unsupported = "no enable_gqa parameter"
            attempt.failure = (
                f"grouped-query heads need enable_gqa=True, which the function does not take; "
                f"called without it, it raises {type(error).__name__}"
            )
        elif needs and attempt.outputs is None:
            attempt.unsupported = f"raises on {needs[-1] if case.gqa else ', '.join(needs)}"
            attempt.failure = f"raises on {', '.join(needs)}: {attempt.failure}"
    return attempt


def _no_baseline_no_capability(attempts: list[_Attempt]) -> None:
    """A function that raises on every case that needs nothing special has errors, not
    missing capabilities: its exceptions on the other cases are errors too."""
    baseline = [a for a in attempts if not a.case.needs()]
    if not baseline or any(a.outputs is not None for a in baseline):
        return
    for a in attempts:
        if a.unsupported.startswith("raises on"):
            a.unsupported, a.failure = "", a.exception


def _call(
    fn: Callable[..., object],
    case: Case,
    kwargs: dict[str, object],
    layout: str,
    array: Callable[[np.ndarray], object] | None,
) -> tuple[object, tuple[np.ndarray, ...]]:
    """Call `fn` on copies of the case's arrays (in `layout`, through `array`); return its
    result and the NumPy copies, to see whether it wrote to them."""
    swap = layout == "BLHE"
    args = tuple(
        np.ascontiguousarray(np.swapaxes(a, -2, -3)) if swap else a.copy() for a in case.arrays()
    )
    kwargs = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    # Views of what the call was given, in (B, H, L, E) again: they show its writes.
    passed: tuple[np.ndarray, ...] = tuple(np.swapaxes(a, -2, -3) if swap else a for a in args)
    mask = kwargs.get("attn_mask")
    passed += (mask,) if isinstance(mask, np.ndarray) else ()
    convert = (lambda a: a) if array is None else array
    call_kwargs = {k: convert(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        result = fn(*map(convert, args), **call_kwargs)
    return result, passed


def _to_numpy(x: object) -> np.ndarray:
    """`np.asarray`, after `.detach()` for a tensor that tracks gradients."""
    detach = getattr(x, "detach", None)
    return np.asarray(detach() if callable(detach) else x)


def _outputs(result: object, case: Case, layout: str) -> tuple[np.ndarray, ...]:
    """The result as a tuple of NumPy arrays, in `(B, H, L, E)` layout: (out,), or
    (d_q, d_k, d_v) for a backward case."""
    if case.backward:
        arrays = tuple(map(_to_numpy, cast(Iterable[object], result)))
        if len(arrays) != 3:
            raise ValueError(f"backward returned {len(arrays)} arrays, not (d_q, d_k, d_v)")
    else:
        arrays = (_to_numpy(result),)
    for a in arrays:
        if a.dtype.kind not in "fiu":
            raise TypeError(f"returned an array of dtype {a.dtype}, not real numbers")
    if layout == "BLHE":
        arrays = tuple(np.swapaxes(a, -2, -3) if a.ndim >= 3 else a for a in arrays)
    return arrays


def _judge(attempt: _Attempt, level: str) -> CaseResult:
    """One case, judged at the accuracy `level` found for its dtype, diagnosed if it fails."""
    case, want = attempt.case, attempt.want
    reference_error, tol = tolerance(case, want, level)
    result = functools.partial(
        CaseResult,
        case.name,
        case.dtype.name,
        case.describe(),
        reference_error=reference_error,
        tolerance=tol,
        judged_at=level,
    )
    if attempt.unsupported:
        return result("unsupported", reason=attempt.unsupported, diagnosis=attempt.failure)
    if attempt.outputs is None:
        reason = f"raises {attempt.exception.split(':')[0]}"
        return result("error", reason=reason, diagnosis=attempt.failure)
    got = attempt.outputs

    outputs = ("grad_query", "grad_key", "grad_value") if case.backward else ("output",)
    for name, g, w in zip(outputs, got, want, strict=True):
        if g.shape != w.shape:
            text = f"{name} has shape {g.shape}, not {w.shape}"
            return result("fail", reason="wrong shape", diagnosis=text, matches=("shape",))

    error = distance(got, want)
    notes: list[str] = []
    reasons: list[str] = []
    keys: list[str] = []
    if case.probe and level != case.dtype.name and error > tolerance(case, want)[1]:
        keys.append(f"precision-{level}")
        reasons.append(f"{level} accuracy")
        notes.append(
            f"{case.dtype.name} inputs, {level} accuracy: the implementation computes (or "
            f"rounds) in {level} where attention_ref computes in {case.dtype.name}; every "
            f"{case.dtype.name} case is judged at {level} accuracy"
        )
    if error > tol:
        found = _diagnose(case, got, want, tol)
        keys += [alt.key for alt in found]
        reasons += [alt.key for alt in found] or ["unexplained"]
        notes += [alt.diagnosis for alt in found] or ["no known convention matches"]
    wrong_dtype = sorted({g.dtype.name for g in got if g.dtype != case.dtype})
    if wrong_dtype:
        keys.append("dtype")
        reasons.append(f"returns {'/'.join(wrong_dtype)}")
        notes.append(f"returns {'/'.join(wrong_dtype)} for {case.dtype.name} inputs")
    names: tuple[str, ...] = case.array_names()
    originals = case.arrays()
    if case.attn_mask is not None:
        names, originals = (*names, "attn_mask"), (*originals, case.attn_mask)
    changed = [
        name
        for name, a, b in zip(names, originals, attempt.passed, strict=True)
        if not np.array_equal(a, b, equal_nan=True)
    ]
    if changed:
        keys.append("mutates")
        reasons.append(f"modifies {' and '.join(changed)}")
        notes.append(f"modifies its argument {' and '.join(changed)} in place")
    status = "fail" if notes else "pass"
    return result(
        status,
        error=error,
        reason="; ".join(reasons),
        diagnosis="; ".join(notes),
        matches=tuple(keys),
    )


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
            prediction = None if alt.predict is None else alt.predict(case)
            if prediction is None:
                continue
            expected, ignore = prediction
            if distance(expected, want, ignore) <= slack:
                continue  # the same answer as the truth here: it cannot explain a failure
            # The implementation returns its dtype: allow for rounding the emulation to it.
            rounded = tuple(e.astype(case.dtype).astype(np.float64) for e in expected)
            if distance(got, expected, ignore) <= slack + 2 * distance(rounded, expected):
                found.append(alt)
    return found
