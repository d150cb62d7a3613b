"""rope_check: each broken rotary embedding in tests/rope_impls.py gets its own diagnosis.

The correct implementation there is written independently of attention_ref (complex
multiplication of the pairs), so its passing is a cross-check of both. The command line is
run in a subprocess exactly as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rope_impls

import attention_ref as ar
from attention_ref.conformance import ROPE_CONVENTIONS, main, rope_check

ROOT = Path(__file__).resolve().parent.parent


def test_attention_ref_and_an_independent_implementation_conform():
    for fn in (ar.rotary_embedding, rope_impls.correct):
        report = rope_check(fn)
        assert report.ok, report
        assert report.matches == ()
        assert all(r.status == "pass" for r in report.results)


@pytest.mark.parametrize(
    ("impl", "keys", "failing"),
    [
        ("always_half_split", ("rope-half-split-pairs",), {"interleaved pairs"}),
        ("always_interleaved", ("rope-interleaved-pairs",), {"half-split pairs"}),
        ("ignores_base", ("rope-base-ignored",), {"base 500000"}),
        ("ignores_rotary_dim", ("rope-rotary-dim-ignored",), {"rotary_dim 8 of 16"}),
        ("exponent_uses_e", ("rope-rotary-dim-exponent",), {"rotary_dim 8 of 16"}),
        ("counts_from_one", ("rope-positions-plus-one",), {"positions default"}),
        ("ignores_positions", ("rope-positions-ignored",), {"positions 37 ... 42"}),
        ("float32_angles", ("rope-float32-angles",), {"positions 2^20 ..."}),
        ("float32_everything", ("rope-float32",), {"half-split pairs"}),
        (
            "half_split_and_from_one",
            ("rope-positions-plus-one", "rope-half-split-pairs"),
            {"interleaved pairs", "half-split pairs"},
        ),
    ],
)
def test_each_bug_is_named(impl, keys, failing):
    report = rope_check(getattr(rope_impls, impl))
    assert not report.ok
    assert report.matches == keys, report
    names = {r.name for r in report.failures}
    assert failing <= names
    for r in report.failures:  # every failing case explained, by the bug(s) it has
        assert r.matches and set(r.matches) <= set(keys)
        assert r.diagnosis == "; ".join(ROPE_CONVENTIONS[k] for k in r.matches)


def test_only_the_cases_a_bug_touches_fail():
    report = rope_check(rope_impls.ignores_base)
    assert {r.name for r in report.failures} == {"base 500000", "positions 2^20, base 500000"}
    report = rope_check(rope_impls.always_half_split)
    assert {r.name for r in report.failures} == {"interleaved pairs", "rotary_dim 8, interleaved"}


def test_float32_angles_are_tiny_at_small_positions_and_large_at_2_20():
    report = rope_check(rope_impls.float32_angles)
    errors = {r.name: r.error for r in report.results}
    assert errors["half-split pairs"] < 1e-6
    assert errors["positions 2^20 ..."] > 1e-3


def test_mutation_and_exceptions_are_reported():
    report = rope_check(rope_impls.in_place)
    assert {r.diagnosis for r in report.failures} == {"modifies its input x in place"}
    report = rope_check(rope_impls.layout_only)
    assert all(r.status == "error" for r in report.results)
    assert all(r.diagnosis.startswith("raises TypeError") for r in report.results)


def test_garbage_is_not_explained():
    def noise(x, positions=None, **kw):
        return np.asarray(x) * 1.5

    report = rope_check(noise)
    assert not report.ok and report.matches == ()
    assert {r.diagnosis for r in report.failures} == {"no known convention matches"}


def test_wrong_shape():
    report = rope_check(lambda x, positions=None, **kw: np.asarray(x)[..., :8])
    assert all("returns shape" in r.diagnosis for r in report.failures)


def _run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "attention_ref.conformance", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_rope():
    ok = _run_cli("--rope", "attention_ref:rotary_embedding")
    assert ok.returncode == 0, ok.stderr
    assert "10 cases: 10 pass" in ok.stdout
    broken = _run_cli("--rope", "tests.rope_impls:always_interleaved")
    assert broken.returncode == 1, broken.stderr
    assert ROPE_CONVENTIONS["rope-interleaved-pairs"][:40] in broken.stdout.replace("\n", " ")
    data = json.loads(_run_cli("--rope", "tests.rope_impls:counts_from_one", "--json").stdout)
    assert data["ok"] is False
    assert {tuple(r["matches"]) for r in data["results"]} == {("rope-positions-plus-one",)}


def test_cli_rope_in_process(capsys):
    assert main(["--rope", "attention_ref:rotary_embedding"]) == 0
    assert "does conform" not in capsys.readouterr().out
    assert main(["--rope", "tests.rope_impls:float32_angles", "--seed", "3"]) == 1
    assert "float32" in capsys.readouterr().out


def test_report_names_the_function():
    namespace = {"__name__": "_code_block_session"}  # how markdown-exec runs a page's code
    exec("def my_rope(x, positions=None, **kw):\n    return x", namespace)
    assert rope_check(namespace["my_rope"]).implementation == "my_rope"
    assert rope_check(rope_impls.correct).implementation == "rope_impls.correct"
