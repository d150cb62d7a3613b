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


_LIBRARY_TESTS_PROBE = """
import importlib, sys
import pytest
sys.path[:0] = [{tests!r}, {root!r}]
for name in {stack!r}:
    sys.modules[name] = None  # as if not installed: importing it raises ImportError
failed = []
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except ImportError as error:
        failed.append(f"{{module}}: {{error}}")
    except pytest.skip.Exception:  # a module-level importorskip (torch): skipped, as pytest does
        pass
print("\\n".join(failed))
"""


def test_library_tests_import_without_the_docs_stack():
    # `pip install -e '.[test-lib]'` then `pytest` must collect every test file that is not a
    # site test (tests/conftest.py's SITE_TESTS): a library test importing the docs stack
    # would fail there with an ImportError instead of running.
    from pathlib import Path

    import conftest

    here = Path(__file__).parent
    modules = sorted(
        p.stem
        for p in here.glob("test_*.py")
        if p.name not in conftest.SITE_TESTS and p.name != Path(__file__).name
    )
    probe = _LIBRARY_TESTS_PROBE.format(
        tests=str(here), root=str(here.parent), stack=list(conftest._DOCS_STACK), modules=modules
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=here
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", result.stdout
