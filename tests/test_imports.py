"""The package imports nothing but NumPy and the standard library, and exports the contract.

The import check runs in a fresh interpreter, so that modules loaded by pytest, Hypothesis or
other tests cannot hide (or fake) a dependency.
"""

from __future__ import annotations

import json
import subprocess
import sys

import attention_ref

CONTRACT_NAMES = (
    "softmax",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "flash_attention",
    "sdpa_backward",
    "additive_attention",
    "MultiHeadAttention",
)

_PROBE = """
import json, sys
before = set(sys.modules)
import attention_ref
new = sorted(set(sys.modules) - before)
print(json.dumps({"new": new, "stdlib": sorted(sys.stdlib_module_names)}))
"""


def test_imports_only_numpy_and_stdlib():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(result.stdout)
    stdlib = set(report["stdlib"])
    allowed = stdlib | {"numpy", "attention_ref"}
    foreign = [m for m in report["new"] if m.split(".")[0] not in allowed]
    assert foreign == [], f"attention_ref imported non-stdlib, non-NumPy modules: {foreign}"
    assert "attention_ref" in report["new"]


def test_version_is_a_string():
    assert isinstance(attention_ref.__version__, str)
    assert attention_ref.__version__


def test_every_contract_name_is_exported():
    missing = [name for name in CONTRACT_NAMES if not hasattr(attention_ref, name)]
    assert missing == []
    for name in CONTRACT_NAMES:
        assert callable(getattr(attention_ref, name)), name


def test_all_lists_the_contract_names_if_defined():
    public = getattr(attention_ref, "__all__", None)
    if public is not None:
        assert set(CONTRACT_NAMES) <= set(public)
        for name in public:
            assert hasattr(attention_ref, name), name
