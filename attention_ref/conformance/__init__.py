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

or run it from the command line, which prints the same table (or `--json`) and exits with 0
only when everything conforms:

```sh
python -m attention_ref.conformance my_module:my_attention
```

The calling convention is attention_ref's (and PyTorch's): NumPy arrays `query (B, H, L, E)`,
`key (B, Hkv, S, E)`, `value (B, Hkv, S, Ev)` in, `(B, H, L, Ev)` out; a bool mask means
True = may attend; a float mask is added to the scores; `is_causal` is `tril(ones(L, S))`;
`scale=None` is $1/\sqrt{E}$. An implementation with another convention is checked through
a one-line adapter (a layout swap, a tensor conversion, `~attn_mask`); the documentation's
conformance page shows them.

`CONVENTIONS` maps every key a report can name (`report.matches`, the JSON's `matches`) to
its meaning.

Each case is compared with attention_ref in float64 on the same inputs. The tolerance follows
FlashAttention's rule: the error may be at most twice attention_ref's own error in the same
dtype, plus a floor of 16 units in the last place for when that error is zero. Each report
states the numbers.
"""

from ._check import check
from ._cli import main
from ._conventions import CONVENTIONS
from ._report import CaseResult, Report
from ._variants import check_variant as check_variant  # the variants' conventions (flex)

__all__ = ["CONVENTIONS", "CaseResult", "Report", "check", "main"]
