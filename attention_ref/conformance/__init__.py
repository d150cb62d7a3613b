r"""Does my attention match? A conformance kit for attention implementations.

`check(fn)` runs a battery of cases against `attention_ref` and reports, for each, whether
`fn` agrees, and when it does not, which convention it follows instead: "boolean mask
polarity is inverted (True = masked)", "causal mask is aligned bottom-right", "scale is
1/sqrt(Ev)", "fully masked rows give NaN", "float16 overflows (computed natively)", "GQA
groups heads by tiling instead of repeat-interleave", and more. It needs nothing but NumPy.

This subpackage is not imported by `import attention_ref`; import it explicitly:

```python
from attention_ref.conformance import check

report = check(my_attention)  # my_attention(query, key, value, attn_mask=None,
print(report)                 #              is_causal=False, scale=None)
assert report.ok
```

or run it from the command line, which prints the same report (or `--json`) and exits with 0
only when everything conforms:

```sh
python -m attention_ref.conformance my_attention.py:attention
```

The calling convention is attention_ref's (and PyTorch's): `query (B, H, L, E)`,
`key (B, Hkv, S, E)`, `value (B, Hkv, S, Ev)` in, `(B, H, L, Ev)` out; a bool mask means
True = may attend; a float mask is added to the scores; `is_causal` is `tril(ones(L, S))`;
`scale=None` is $1/\sqrt{E}$. Real code is taken as it is:

- `layout="BLHE"` calls `fn` with `(B, L, H, E)` arrays (JAX's, Flax's layout);
- `array=torch.from_numpy` (or `jax.numpy.asarray`) converts the inputs; outputs go through
  `np.asarray`;
- a case `fn` cannot express (a parameter it lacks, $E_v \ne E$, a float mask, grouped-query
  heads without `enable_gqa`) is "unsupported", with the reason, not a failure;
- the precision `fn` computes in is estimated first ("float64 inputs, float32 accuracy") and
  every case is judged at it, so that its conventions are still named.

The report leads with one sentence (`report.headline()`), groups the findings, and has a
reason in each row; `report.to_json()` follows a versioned schema (`SCHEMA_VERSION`; the
fields are in `_report.py`'s `REPORT_FIELDS`, `RESULT_FIELDS` and `FINDINGS_FIELDS`).
`CONVENTIONS` maps every key a report can name (`report.matches`, the JSON's `matches`) to its
meaning.

Each case is compared with attention_ref in float64 on the same inputs. The tolerance follows
FlashAttention's rule: the error may be at most twice attention_ref's own error in the same
dtype (or at the precision found), plus a floor of 16 units in the last place for when that
error is zero. Each report states the numbers.

Modules, each importing only those before it: `_case.py` (a `Case` and an `Alternative`),
`_conventions.py` (the alternatives and their emulations), `_battery.py` (the case
families), `_precision.py` (errors, tolerances, the precision estimate), `_report.py`,
`_check.py` (running and judging), `_cli.py`.

Adding a case family (a window, a soft-cap, RoPE, ...):

1. Its alternatives, in a module of their own: `Alternative(key, diagnosis, predict,
   short=...)`, where `predict(case)` returns `((outputs,), rows_to_ignore_or_None)` for
   what an implementation of that convention outputs, or None where it does not apply
   (`_conventions.py` has helpers: `_changed(**arguments)` is attention_ref with some
   arguments changed; `emulate` is attention written out with knobs).
2. A function `(dtypes, seed) -> list[Case]` drawing its cases. Keyword arguments that
   attention_ref's SDPA does not take go in `Case(..., extra={"window": (4, 0)})` (passed
   to the implementation as they are; a function without such a parameter gets the case
   "unsupported"); give `reference=` the function computing the truth on float64 arrays
   (called like the implementation). Make each case change one thing from `plain`.
3. Add the function to the list `_battery.FORWARD_FAMILIES` (or `BACKWARD_FAMILIES`). Its
   alternatives' keys join `CONVENTIONS`, and a test should show an implementation of each
   alternative getting exactly its diagnosis (`tests/test_conformance.py`, `WRONG`).
"""

from ._check import check, known_conventions
from ._cli import main
from ._report import SCHEMA_VERSION, CaseResult, Report
from ._rope import ROPE_CONVENTIONS, rope_check
from ._variants import check_variant

__all__ = [
    "CONVENTIONS",
    "ROPE_CONVENTIONS",
    "SCHEMA_VERSION",
    "CaseResult",
    "Report",
    "check",
    "check_variant",
    "main",
    "rope_check",
]


def __getattr__(name: str) -> object:
    """`CONVENTIONS`, every key a report can name (`report.matches`, the JSON's `matches`)
    with its meaning, is made on first use: it draws the battery's cases, work that
    `import attention_ref.conformance` should not do."""
    if name == "CONVENTIONS":
        conventions = {key: meaning for key, (_, meaning) in known_conventions().items()}
        globals()["CONVENTIONS"] = conventions
        return conventions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
