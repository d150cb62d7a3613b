"""attention_ref.conformance: the kit that checks an attention implementation and names the
convention it gets wrong.

Oracles:

- Correct implementations must pass every case with no diagnosis: attention_ref itself, its
  `flash_attention` (another order of summation), an independent NumPy implementation
  (`conformance_impls.attention`), and PyTorch's SDPA and autograd when torch is installed.
  Several seeds and dtype selections, so the tolerances are not tuned to one draw.
- Deliberately wrong implementations (`conformance_impls`, each one knob away from the
  correct one) must get exactly the diagnosis of their knob: the set of convention keys in
  the report is the expected one, and no failing case is left unexplained.
- The alternatives of every case differ from each other (otherwise one wrong implementation
  would match two diagnoses): checked directly on the emulations.
- The command line, in a subprocess exactly as a user runs it and in-process for coverage.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import conformance_impls as impls
import numpy as np
import pytest

import attention_ref
from attention_ref.conformance import (
    CONVENTIONS,
    SCHEMA_VERSION,
    CaseResult,
    Report,
    check,
    main,
)
from attention_ref.conformance._battery import backward_cases, forward_cases
from attention_ref.conformance._case import truth
from attention_ref.conformance._check import _name, _takes
from attention_ref.conformance._cli import load
from attention_ref.conformance._conventions import (
    FLOAT_MASK_BEFORE_SCALE,
    GRAD_NO_DELTA,
    MATCH_SLACK,
)
from attention_ref.conformance._precision import FLOOR_ULPS
from attention_ref.conformance._precision import distance as _distance
from attention_ref.conformance._report import FINDINGS_FIELDS, REPORT_FIELDS, RESULT_FIELDS

ROOT = Path(__file__).resolve().parent.parent
ALL_DTYPES = ("float16", "float32", "float64")
SEEDS = (0, 1, 2)


def flash(query, key, value, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """flash_attention with a block size that divides none of the battery's lengths."""
    return attention_ref.flash_attention(
        query, key, value, attn_mask, is_causal, scale, enable_gqa, block_size=4
    )


# --- correct implementations: every case passes, nothing is diagnosed -------------------------

CORRECT = {
    "attention_ref": (attention_ref.scaled_dot_product_attention, attention_ref.sdpa_backward),
    "flash_attention": (flash, attention_ref.sdpa_backward),
    "independent NumPy": (impls.attention, impls.backward),
}


def _assert_conforms(report: Report) -> None:
    assert report.ok, str(report)
    assert [r.status for r in report.results] == ["pass"] * len(report.results), str(report)
    assert report.matches == ()
    assert all(r.diagnosis == "" for r in report.results)


def test_attention_ref_conforms_to_itself():
    report = check(attention_ref.scaled_dot_product_attention, backward=attention_ref.sdpa_backward)
    _assert_conforms(report)
    # 12 conventions, precision and huge logits x 3 dtypes, single key x 2, 5 gradients
    assert len(report.results) == 25
    assert report.implementation == (
        "attention_ref.scaled_dot_product_attention (backward: attention_ref.sdpa_backward)"
    )
    assert report.headline() == (
        "attention_ref.scaled_dot_product_attention (backward: attention_ref.sdpa_backward) "
        "follows attention_ref in all 25 cases."
    )
    assert report.precision == {"float16": "float16", "float32": "float32", "float64": "float64"}


@pytest.mark.parametrize("dtypes", [ALL_DTYPES, ("float32",), ("float16",)])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", CORRECT)
def test_correct_implementations_get_no_diagnosis(name, seed, dtypes):
    fn, backward = CORRECT[name]
    if name == "independent NumPy" and dtypes != ALL_DTYPES:
        backward = None  # its backward pass is float64 only
    _assert_conforms(check(fn, dtypes=dtypes, backward=backward, seed=seed))


def test_gqa_is_unsupported_not_failed_when_the_callable_raises():
    report = check(impls.no_gqa)
    assert report.ok, str(report)
    (gqa,) = [r for r in report.results if r.status != "pass"]
    assert (gqa.name, gqa.status) == ("grouped-query heads", "unsupported")
    assert gqa.reason == "no enable_gqa parameter"
    assert gqa.diagnosis == (
        "grouped-query heads need enable_gqa=True, which the function does not take; "
        "called without it, it raises ValueError"
    )
    assert "1 unsupported" in report.summary()


# --- wrong implementations: exactly their diagnosis --------------------------------------------

# impl in conformance_impls -> (the keys of the conventions it must be diagnosed with, a phrase
# of the diagnosis). The first eight are the issue's.
WRONG = {
    "inverted_mask": ({"mask-polarity"}, "boolean mask polarity is inverted (True = masked)"),
    "bottom_right": ({"causal-bottom-right"}, "causal mask is aligned bottom-right"),
    "scale_value_size": ({"scale-value-size"}, "scale is 1/sqrt(Ev)"),
    "scale_model_width": ({"scale-model-width"}, "1/sqrt(D) of the model width"),
    "nan_rows": ({"masked-rows-nan"}, "fully masked rows give NaN"),
    "uniform_rows": ({"masked-rows-uniform"}, "fully masked rows give uniform weights"),
    "native_float16": (
        {"float16-overflow", "float16-precision"},
        "float16 overflows (computed natively)",
    ),
    "gqa_tiled": ({"gqa-tiled"}, "GQA groups heads by tiling instead of repeat-interleave"),
    "unscaled": ({"scale-none"}, "the scores are not scaled"),
    "scaled_twice": ({"scale-squared"}, "the scale is applied twice"),
    "softmax_over_queries": ({"softmax-axis"}, "the softmax is taken over the queries"),
    "no_max": ({"softmax-no-max"}, "does not subtract the row maximum"),
    "bool_mask_added": ({"bool-mask-added"}, "added to the scores as 0/1 numbers"),
    "float_mask_scaled": ({"float-mask-before-scale"}, "added before the scale"),
    "float_mask_multiplied": ({"float-mask-multiplied"}, "multiplies the scores"),
    "float_mask_as_bool": ({"float-mask-as-bool"}, "read as a boolean"),
    "mask_ignored": ({"mask-ignored"}, "the attention mask is ignored"),
    "strictly_causal": ({"causal-strict"}, "excludes the diagonal"),
    "causal_ignored": ({"causal-ignored"}, "is_causal is ignored"),
    "causal_reversed": ({"causal-reversed"}, "query i sees keys j >= i"),
    "float32_inside": ({"precision-float32"}, "float64 inputs, float32 accuracy"),
    "float16_inside": ({"precision-float16"}, "float64 inputs, float16 accuracy"),
    "scale_ignored": ({"scale-ignored"}, "the scale argument is ignored"),
    "scale_divides": ({"scale-divides"}, "divided by the scale argument"),
    "scale_times_default": ({"scale-times-default"}, "multiplies the default 1/sqrt(E)"),
    "jax_layout": ({"layout"}, "the implementation reads the other layout"),
    "returns_float64": ({"dtype"}, "returns float64 for float16 inputs"),
    "mutates": ({"mutates"}, "modifies its argument query in place"),
    "wrong_shape": ({"shape"}, "output has shape (2, 3, 9, 7), not (2, 3, 9, 8)"),
}

WRONG_BACKWARD = {
    "grad_no_scale": ({"grad-no-scale"}, "grad_query and grad_key miss the scale factor"),
    "grad_no_delta": ({"grad-no-delta"}, "omits the row-sum term"),
    "grad_nan_rows": ({"grad-masked-rows-nan"}, "fully masked rows give NaN gradients"),
}


def _assert_diagnosed(report: Report, keys: set[str], phrase: str) -> None:
    assert not report.ok
    assert set(report.matches) == keys, str(report)
    assert any(phrase in r.diagnosis for r in report.results), str(report)
    assert phrase in " ".join(str(report).split())  # the table shows it (wrapped)
    unexplained = [r.name for r in report.results if r.status == "fail" and not r.matches]
    assert unexplained == [], str(report)


@pytest.mark.parametrize("name", WRONG)
def test_each_wrong_implementation_gets_exactly_its_diagnosis(name):
    keys, phrase = WRONG[name]
    report = check(getattr(impls, name))
    _assert_diagnosed(report, keys, phrase)
    assert report.count("error") == 0, str(report)
    if name != "jax_layout":  # which raises wherever L != S: its arrays do not fit
        assert report.count("unsupported") == 0, str(report)


@pytest.mark.parametrize("name", WRONG_BACKWARD)
def test_each_wrong_backward_pass_gets_exactly_its_diagnosis(name):
    keys, phrase = WRONG_BACKWARD[name]
    report = check(impls.attention, backward=getattr(impls, name))
    _assert_diagnosed(report, keys, phrase)
    assert {r.name for r in report.failures} <= {
        "gradients",
        "gradients scale",
        "gradients Ev != E",
        "gradients causal",
        "gradients masked",
    }


def test_every_known_convention_is_produced_by_a_wrong_implementation():
    produced = set().union(*(keys for keys, _ in [*WRONG.values(), *WRONG_BACKWARD.values()]))
    assert produced == set(CONVENTIONS)


@pytest.mark.parametrize("seed", SEEDS[1:])
@pytest.mark.parametrize("name", [n for n in WRONG if n != "native_float16"])
def test_diagnoses_do_not_depend_on_the_seed(name, seed):
    keys, phrase = WRONG[name]
    _assert_diagnosed(check(getattr(impls, name), seed=seed), keys, phrase)


def test_a_wrong_implementation_is_diagnosed_in_float32_alone():
    report = check(impls.bottom_right, dtypes="float32")
    _assert_diagnosed(report, {"causal-bottom-right"}, "aligned bottom-right")
    assert {r.dtype for r in report.results} == {"float32"}


def test_the_issue_diagnoses_name_the_failing_cases():
    report = check(impls.bottom_right)
    assert [r.name for r in report.failures] == ["causal L < S", "causal L > S"]
    report = check(impls.native_float16)
    failed = {(r.name, r.dtype) for r in report.failures}
    assert ("huge logits", "float16") in failed
    assert {dtype for _, dtype in failed} == {"float16"}


@pytest.mark.parametrize("seed", SEEDS)
def test_the_alternatives_of_every_case_differ_from_each_other(seed):
    """Two alternatives closer than the matching slack could both match one implementation."""
    pairs = 0
    for case in forward_cases(ALL_DTYPES, seed) + backward_cases(ALL_DTYPES, seed):
        largest = max(float(np.abs(w).max()) for w in truth(case))
        # Above any case's matching slack: the largest tolerance, float16's, is about 1e-3 of
        # the values (float64's is FLOOR_ULPS ulps).
        slack = MATCH_SLACK * 2e-3 * largest
        assert slack > MATCH_SLACK * FLOOR_ULPS * np.finfo(np.float64).eps * largest
        predictions = {}
        with np.errstate(all="ignore"):
            for alt in case.alternatives:
                predicted = alt.predict(case) if alt.predict else None
                if (
                    predicted is not None
                    and _distance(predicted[0], truth(case), predicted[1]) > slack
                ):
                    predictions[alt.key] = predicted
        for a, (out_a, _) in predictions.items():
            for b, (out_b, ignore_b) in predictions.items():
                # An implementation of `a` (zeros where `a` leaves a row no key) must not
                # match `b`, compared as `b` is, without `b`'s rows that have no key.
                gap = _distance(out_a, out_b, ignore_b)
                assert a == b or gap > slack, f"{case.name} {case.dtype}: {a} matches {b}"
                pairs += a != b
    assert pairs > 100  # the battery has many alternatives to tell apart


# --- what a report holds -----------------------------------------------------------------------


def test_an_implementation_that_raises_is_an_error_not_a_crash():
    report = check(impls.always_raises)
    assert not report.ok
    assert {r.status for r in report.results} == {"error", "unsupported"}
    assert report.results[0].diagnosis == "RuntimeError: not implemented yet"
    assert report.results[0].error is None
    assert "ERROR" in str(report)


def test_outputs_that_are_not_numbers_are_errors():
    report = check(lambda q, k, v, **kwargs: np.full(q.shape[:-1] + v.shape[-1:], "x"))
    assert report.results[0].status == "error"
    assert "not real numbers" in report.results[0].diagnosis


def test_a_backward_that_returns_two_arrays_is_an_error():
    report = check(impls.attention, backward=lambda d, q, k, v, **kwargs: (q, k))
    assert (
        report.failures[-1].diagnosis
        == "ValueError: backward returned 2 arrays, not (d_q, d_k, d_v)"
    )


def test_a_failure_no_convention_explains_is_said_so():
    def off_by_a_bit(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
        return impls.attention(q, k, v, attn_mask, is_causal, scale, enable_gqa) + 0.05

    report = check(off_by_a_bit, dtypes="float64", name="off_by_a_bit")
    assert report.matches == ()
    assert {r.reason for r in report.failures} == {"unexplained"}
    (other,) = report.findings()["other"]
    assert other["diagnosis"] == "no known convention matches"
    assert report.headline() == (
        "off_by_a_bit passes none of the 15 cases: some cases fail with no known convention "
        "matching."
    )


def test_the_old_private_names_remain_for_other_case_families():
    from attention_ref.conformance import _check, _conventions

    case = forward_cases(ALL_DTYPES, 0)[0]
    assert _conventions._default_scale(case) == case.default_scale == 1 / np.sqrt(8)
    assert _check._distance is _distance and _check.FLOOR_ULPS == FLOOR_ULPS


def test_warnings_from_the_implementation_are_silenced():
    def noisy(q, k, v, attn_mask=None, is_causal=False, scale=None):
        import warnings

        warnings.warn("from the implementation", UserWarning, stacklevel=1)
        return impls.attention(q, k, v, attn_mask, is_causal, scale)

    assert check(noisy).count("fail") == 0  # pytest turns warnings into errors here


def test_report_table_and_json():
    report = check(impls.inverted_mask, backward=impls.grad_no_scale)
    text = str(report)
    lines = text.splitlines()
    # One sentence first, then the findings grouped, then the table.
    assert " ".join(text.split("\n\n")[0].split()) == (
        "conformance_impls.inverted_mask (backward: conformance_impls.grad_no_scale) follows "
        "attention_ref except: boolean mask polarity is inverted (True = masked); the "
        "gradients miss the scale factor."
    )
    assert lines.index("Conventions that differ:") < next(
        i for i, line in enumerate(lines) if line.startswith("case ")
    )
    header = next(line for line in lines if line.startswith("case "))
    assert header.split() == [
        "case", "dtype", "status", "error", "ref", "error", "tolerance", "reason"
    ]  # fmt: skip
    bool_row = next(line for line in lines if line.startswith("bool mask "))
    assert bool_row.split()[3] == "FAIL" and bool_row.endswith("mask-polarity")
    assert "does not conform" in text
    assert "tolerance = 2 * ref error + 16 ulps" in text.lower()
    assert "    in: bool mask, fully masked bool\n" in text
    assert "    in: gradients, gradients scale, gradients Ev != E, gradients causal,\n" in text
    short = report.format(failures_only=True)
    assert "plain " not in short and "bool mask " in short
    data = json.loads(report.to_json())
    assert data["schema_version"] == SCHEMA_VERSION == 2
    assert data["ok"] is False
    assert data["headline"] == report.headline()
    assert data["counts"] == {"pass": 18, "fail": 7, "error": 0, "unsupported": 0}
    assert [(c["key"], c["cases"]) for c in data["findings"]["conventions"]] == [
        ("mask-polarity", ["bool mask", "fully masked bool"]),
        (
            "grad-no-scale",
            [f"gradients{s}" for s in ("", " scale", " Ev != E", " causal", " masked")],
        ),
    ]
    bool_mask = next(r for r in data["results"] if r["name"] == "bool mask")
    assert bool_mask["matches"] == ["mask-polarity"]
    assert bool_mask["reason"] == "mask-polarity"
    assert bool_mask["judged_at"] == "float64"
    assert (
        bool_mask["description"] == "query (2, 3, 8, 6), key (2, 3, 8, 6), value (2, 3, 8, 6), "
        "attn_mask bool (2, 1, 8, 8)"
    )
    assert report.to_dict() == json.loads(json.dumps(report.to_dict()))


def test_the_json_schema_is_the_documented_one():
    """Every field of the JSON is in REPORT_FIELDS / RESULT_FIELDS / FINDINGS_FIELDS (which the
    conformance page prints), and every documented field is there."""
    for fn in (impls.float32_inside_inverted_mask, impls.no_enable_gqa, impls.always_raises):
        data = json.loads(check(fn, backward=impls.grad_no_delta).to_json())
        assert list(data) == list(REPORT_FIELDS)
        assert list(data["findings"]) == list(FINDINGS_FIELDS)
        for result in data["results"]:
            assert list(result) == list(RESULT_FIELDS)
            assert result["status"] in ("pass", "fail", "error", "unsupported")
        assert set(data["precision"]) == set(ALL_DTYPES)


def test_json_writes_infinities_as_strings():
    result = CaseResult("huge logits", "float16", "", "fail", error=float("inf"), tolerance=1e-6)
    assert result.to_dict()["error"] == "inf"
    assert json.loads(Report("f", (result,)).to_json())["results"][0]["error"] == "inf"
    assert "inf" in str(Report("f", (result,)))


def test_dtypes_are_validated():
    assert {
        r.dtype
        for r in check(attention_ref.scaled_dot_product_attention, dtypes=[np.float16]).results
    } == {"float16"}
    with pytest.raises(ValueError, match="dtypes must be among"):
        check(impls.attention, dtypes="int32")
    with pytest.raises(ValueError, match="dtypes must be among"):
        check(impls.attention, dtypes=())
    with pytest.raises(TypeError, match="dtypes must name"):
        check(impls.attention, dtypes=[object()])


def test_names():
    assert _name(attention_ref.flash_attention) == "attention_ref.flash_attention"
    assert _name(functools.partial(impls.attention)) == "partial(conformance_impls.attention)"
    assert _name(flash) == "test_conformance.flash"

    class Adapter:
        def __call__(self, q, k, v, attn_mask=None, is_causal=False, scale=None):
            return impls.attention(q, k, v, attn_mask, is_causal, scale)

    assert _name(Adapter()) == "Adapter()"
    assert check(Adapter()).count("unsupported") == 1  # no enable_gqa parameter
    assert not _takes(max, "enable_gqa")  # a builtin without a signature
    assert _name(lambda q, k, v: q).endswith("<lambda>")
    assert _name(np.add) == "numpy.add"
    exec_globals = {"__name__": "_code_block_session_3"}  # as markdown-exec runs a page's code
    exec("def attention(q, k, v): pass", exec_globals)
    assert _name(exec_globals["attention"]) == "attention"


# --- the command line --------------------------------------------------------------------------


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attention_ref.conformance", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_exit_status_and_table():
    ok = _run_cli(
        "tests.conformance_impls:attention", "--backward", "tests.conformance_impls:backward"
    )
    assert ok.returncode == 0, ok.stderr
    assert "25 cases: 25 pass" in ok.stdout
    broken = _run_cli("tests.conformance_impls:inverted_mask")
    assert broken.returncode == 1, broken.stderr
    assert "boolean mask polarity is inverted (True = masked)" in broken.stdout


def test_cli_json():
    result = _run_cli("tests.conformance_impls:bottom_right", "--json", "--dtypes", "float64")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [r["matches"] for r in data["results"] if r["status"] == "fail"] == [
        ["causal-bottom-right"],
        ["causal-bottom-right"],
    ]


def test_the_readme_command_on_a_file(tmp_path):
    """The README's one line, run as written on a file in the current directory; and the
    same by path from elsewhere."""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- conformance-command -->\n```sh\n(.*?)\n```", readme).group(1)
    assert command == "python -m attention_ref.conformance my_attention.py:attention"
    (tmp_path / "my_attention.py").write_text(
        "from helper import sdpa\n\n"
        "def attention(query, key, value, attn_mask=None, is_causal=False, scale=None):\n"
        "    return sdpa(query, key, value, attn_mask, is_causal, scale)\n"
    )  # importing a neighbour: the file's folder is on sys.path
    (tmp_path / "helper.py").write_text(
        "from attention_ref import scaled_dot_product_attention as sdpa\n"
    )
    argv = [sys.executable, *command.split()[1:]]
    for cwd, target in [(tmp_path, argv[-1]), (ROOT, f"{tmp_path}/my_attention.py:attention")]:
        result = subprocess.run(
            [*argv[:-1], target], cwd=cwd, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(
            "my_attention.attention follows attention_ref in every case it supports. 1 case\n"
            "unsupported: grouped-query heads (no enable_gqa parameter)."
        ), result.stdout


def test_cli_layout_and_array(capsys):
    target = "conformance_impls:heads_second"
    assert main([target, "--layout", "BLHE", "--array", "numpy:ascontiguousarray"]) == 0
    assert "layout BLHE" in " ".join(capsys.readouterr().out.split())
    assert main([target, "--dtypes", "float64"]) == 1
    assert 'check it with layout="BLHE"' in " ".join(capsys.readouterr().out.split())
    assert main([target, "--layout", "BSHD"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_cli_a_missing_file_is_named(tmp_path, capsys):
    assert main([f"{tmp_path}/no_such_file.py:attention"]) == 2
    assert f"no such file: {tmp_path}/no_such_file.py" in capsys.readouterr().err


def test_cli_usage_error():
    result = _run_cli("no_such_module:fn")
    assert result.returncode == 2
    assert "ModuleNotFoundError" in result.stderr


def test_main_in_process(capsys):
    assert main(["attention_ref:scaled_dot_product_attention"]) == 0
    out = capsys.readouterr().out
    assert "20 cases: 20 pass" in out
    assert out.startswith("attention_ref.scaled_dot_product_attention follows attention_ref")
    target = "conformance_impls:inverted_mask"
    assert main([target, "--json", "--seed", "3", "--dtypes", "float32,float64"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["seed"] == 3 and data["implementation"] == "conformance_impls.inverted_mask"
    backward = ["--backward", "attention_ref:sdpa_backward"]
    assert main(["attention_ref:flash_attention", *backward]) == 0
    assert (
        "attention_ref.flash_attention (backward: attention_ref.sdpa_backward)"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["attention_ref"], "expected MODULE:FUNCTION or FILE.py:FUNCTION"),
        (["attention_ref:no_such_function"], "AttributeError"),
        (["attention_ref:__version__"], "is not callable"),
        (["attention_ref:softmax", "--dtypes", "float8"], "TypeError"),
        (["attention_ref:softmax", "--dtypes", "int32"], "dtypes must be among"),
    ],
)
def test_main_usage_errors(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_main_help_and_bad_options(capsys):
    assert main(["--help"]) == 0
    assert "MODULE:FUNCTION" in capsys.readouterr().out
    assert main([]) == 2
    assert "required" in capsys.readouterr().err


def test_python_dash_m_entry_point(monkeypatch, capsys):
    """`python -m attention_ref.conformance` runs __main__.py, which exits with main's status."""
    monkeypatch.setattr(
        sys, "argv", ["conformance", "conformance_impls:attention", "--dtypes", "float64"]
    )
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("attention_ref.conformance", run_name="__main__")
    assert exit_.value.code == 0
    assert "conforms" in capsys.readouterr().out


def test_load_a_file(tmp_path):
    (tmp_path / "neighbour.py").write_text("VALUE = 3\n")
    (tmp_path / "by_path.py").write_text(
        "from neighbour import VALUE\n\nclass Attention:\n    def f(self):\n        return VALUE\n"
    )
    method = load(f"{tmp_path}/by_path.py:Attention.f")
    assert method(None) == 3 and method.__module__ == "by_path"
    with pytest.raises(FileNotFoundError, match=r"no such file: nowhere\.py"):
        load("nowhere.py:attention")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(ImportError, match="cannot load"):
        load(f"{tmp_path}/notes.txt:attention")


def test_load_a_dotted_attribute():
    assert load("attention_ref.conformance:Report.format") is Report.format


# --- dependencies ------------------------------------------------------------------------------

_PROBE = """
import json, sys
before = set(sys.modules)
import attention_ref
lean = "attention_ref.conformance" not in sys.modules
from attention_ref.conformance import check
ok = check(attention_ref.scaled_dot_product_attention).ok
new = sorted(set(sys.modules) - before)
print(json.dumps({"new": new, "lean": lean, "ok": ok, "stdlib": sorted(sys.stdlib_module_names)}))
"""


def test_the_kit_needs_nothing_but_numpy():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(result.stdout)
    # NumPy's Cython-compiled numpy.random (the seeded inputs) registers its runtime module.
    allowed = set(report["stdlib"]) | {"numpy", "attention_ref", "cython_runtime"}
    foreign = [
        m for m in report["new"] if m.split(".")[0] not in allowed and not m.startswith("_cython_")
    ]
    assert foreign == [], f"attention_ref.conformance imported {foreign}"
    assert report["lean"], "import attention_ref must not import attention_ref.conformance"
    assert report["ok"]


# --- the libraries on the conformance page ----------------------------------------------

# The page's snippets (docs/snippets/conformance/), each with the library it checks. Each
# snippet asserts what the page says of its library; the page shows its printed headline
# after a marker `<!-- output of conformance/NAME -->`, compared here. torch is installed in
# CI (ATTENTION_REF_REQUIRE_TORCH=1, tests/test_readme.py); jax and flax are not: their tests
# run where they are installed and skip elsewhere, and the page says so.
LIBRARY_SNIPPETS = {
    "torch_sdpa.py": "torch",
    "torch_mha.py": "torch",
    "jax_attention.py": "jax",
    "flax_attention.py": "flax",
}
PAGE = ROOT / "docs" / "conformance.md"


def _page_outputs() -> dict[str, str]:
    pattern = r"<!-- output of conformance/(\S+) -->\s*```text[^\n]*\n(.*?)\n```"
    return dict(re.findall(pattern, PAGE.read_text(), re.S))


def test_every_library_snippet_is_on_the_page_with_its_output():
    text = PAGE.read_text()
    for name in LIBRARY_SNIPPETS:
        assert f'--8<-- "conformance/{name}"' in text, name
    assert set(_page_outputs()) == set(LIBRARY_SNIPPETS)


@pytest.mark.parametrize("name", LIBRARY_SNIPPETS)
def test_what_the_page_says_of_each_library(name, capsys):
    library = LIBRARY_SNIPPETS[name]
    pytest.importorskip(library, reason=f"{library} is not installed: its check is optional")
    runpy.run_path(str(ROOT / "docs" / "snippets" / "conformance" / name))  # its asserts
    printed = capsys.readouterr().out
    assert " ".join(printed.split()) == " ".join(_page_outputs()[name].split())


def test_multihead_attention_conforms_once_its_masks_are_inverted():
    torch = pytest.importorskip("torch", reason="torch is not installed: optional")
    snippet = runpy.run_path(str(ROOT / "docs" / "snippets" / "conformance" / "torch_mha.py"))

    def inverted(query, key, value, attn_mask=None, is_causal=False):
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            attn_mask = ~attn_mask  # attention_ref's True = attend is MHA's False = masked out
        return snippet["multihead"](query, key, value, attn_mask, is_causal)

    report = check(inverted, array=torch.from_numpy, name="inverted")
    assert report.headline() == (
        "inverted follows attention_ref in every case it supports. 3 cases unsupported: "
        "custom scale (no scale parameter), value head size (raises on Ev != E (Ev=8, E=5)), "
        "grouped-query heads (no enable_gqa parameter)."
    )


def test_jax_with_x64_returns_float64_and_still_has_float32_accuracy():
    """The page's claim: with jax_enable_x64 the output is float64 (no "dtype" finding), and
    the accuracy stays float32 (jax.nn.dot_product_attention computes its softmax in
    float32, as its source says)."""
    jax = pytest.importorskip("jax", reason="jax is not installed: optional")
    snippet = runpy.run_path(str(ROOT / "docs" / "snippets" / "conformance" / "jax_attention.py"))
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        report = check(snippet["jax_attention"], layout="BLHE", array=jax.numpy.asarray)
    finally:
        jax.config.update("jax_enable_x64", previous)
    assert report.precision["float64"] == "float32"
    assert set(report.matches) == {"masked-rows-uniform", "masked-rows-nan", "precision-float32"}
    assert [r.name for r in report.failures if "precision-float32" in r.matches] == ["precision"]


def test_the_subpackage_is_packaged():
    """A wheel holds only the packages pyproject.toml's find patterns match: the CLI needs this."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "attention_ref").rglob("__init__.py")
    }
    assert "attention_ref.conformance" in packages
    for package in packages:
        assert any(fnmatch.fnmatchcase(package, pattern) for pattern in include), package


# --- real code: precision, capabilities, layouts, array types (issue 17) ------------------------

F64_AT_F32 = {"float16": "float16", "float32": "float32", "float64": "float32"}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_float32_inside_implementation_gets_its_precision_and_nothing_else(seed):
    report = check(impls.float32_inside, seed=seed)
    assert report.precision == F64_AT_F32
    assert report.matches == ("precision-float32",)
    assert [r.label for r in report.failures] == ["precision (float64)", "single key (float64)"]
    assert report.headline() == (
        "conformance_impls.float32_inside follows attention_ref except: float64 inputs, "
        "float32 accuracy."
    )
    # The float64 convention cases pass, judged at float32 accuracy.
    plain = report.results[0]
    assert (plain.name, plain.status, plain.judged_at) == ("plain", "pass", "float32")
    assert plain.error > 1e-9 and plain.tolerance > plain.error  # a float32-sized error
    assert "Precision:\n- float64 inputs, float32 accuracy" in str(report)
    # Checked in float32 alone, it conforms: that is its precision.
    _assert_conforms(check(impls.float32_inside, dtypes="float32", seed=seed))


# A float32-inside implementation with one convention wrong: (keys, failing cases).
FLOAT32_INSIDE = {
    "float32_inside_inverted_mask": (
        {"mask-polarity", "precision-float32"},
        ["bool mask", "fully masked bool", "precision", "single key"],
    ),
    "float32_inside_nan_rows": (
        {"masked-rows-nan", "precision-float32"},
        ["fully masked bool", "fully masked float", "precision", "single key"],
    ),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", FLOAT32_INSIDE)
def test_a_float32_inside_implementation_still_gets_its_conventions_named(name, seed):
    keys, failing = FLOAT32_INSIDE[name]
    report = check(getattr(impls, name), dtypes="float64", seed=seed)
    assert set(report.matches) == keys, str(report)
    assert [r.name for r in report.failures] == failing
    assert report.precision == {"float64": "float32"}
    assert all(r.matches for r in report.failures), str(report)  # nothing unexplained


def test_the_precision_comes_from_single_key_when_a_convention_spoils_the_precision_case():
    """float32 inside and unscaled: `precision` fits no accuracy (its error is the scale's),
    `single key` (exact whatever the scale) gives float32, and the scale is still named."""
    report = check(impls.float32_inside_unscaled, dtypes="float64")
    assert report.precision == {"float64": "float32"}
    assert set(report.matches) == {"scale-none", "precision-float32"}
    precision = next(r for r in report.results if r.name == "precision")
    assert precision.reason == "float32 accuracy; scale-none"
    assert report.headline() == (
        "conformance_impls.float32_inside_unscaled follows attention_ref except: the scores "
        "are not scaled; float64 inputs, float32 accuracy."
    )


def test_float16_accuracy_for_wider_inputs():
    report = check(impls.float16_inside)
    assert report.precision == {"float16": "float16", "float32": "float16", "float64": "float16"}
    assert report.matches == ("precision-float16",)
    assert report.headline().endswith(
        "except: float32 inputs, float16 accuracy; float64 inputs, float16 accuracy."
    )


def test_an_implementation_that_rejects_ev_not_e_is_unsupported_there_only():
    report = check(impls.same_head_size)
    assert report.ok
    (case,) = report.unsupported
    assert (case.name, case.reason) == ("value head size", "raises on Ev != E (Ev=8, E=5)")
    assert case.diagnosis == (
        "raises on Ev != E (Ev=8, E=5): ValueError: head sizes must match: value 8, query 5"
    )
    assert report.count("pass") == len(report.results) - 1  # the custom scale case included
    assert report.headline() == (
        "conformance_impls.same_head_size follows attention_ref in every case it supports. "
        "1 case unsupported: value head size (raises on Ev != E (Ev=8, E=5))."
    )
    lines = str(report).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("value head size"))
    more = [line.strip() for line in lines[at + 1 : at + 3] if line.startswith(" ")]
    row = " ".join([lines[at], *more])  # a long reason wraps under its column
    assert row.split()[4:6] == ["unsupported", "-"] and row.endswith(
        "raises on Ev != E (Ev=8, E=5)"
    )


def test_a_wrong_scale_is_caught_without_ev_not_e():
    """The custom-scale case has E == Ev: an implementation that supports only Ev == E still
    gets its scale checked."""
    case = next(c for c in forward_cases(ALL_DTYPES, 0) if c.name == "custom scale")
    assert case.needs() == ("a scale",)

    def ignores_scale_same_head_size(q, k, v, attn_mask=None, is_causal=False, scale=None):
        return impls.same_head_size(q, k, v, attn_mask, is_causal, None)

    report = check(ignores_scale_same_head_size)
    assert report.matches == ("scale-ignored",)
    assert [r.name for r in report.failures] == ["custom scale"]


def test_each_convention_case_changes_one_thing_from_plain():
    needs = {c.name: c.needs() for c in forward_cases(ALL_DTYPES, 0) if not c.probe}
    assert needs["plain"] == ()
    one_thing = ["custom scale", "cross-attention", "value head size", "bool mask", "float mask"]
    one_thing += ["causal L = S", "grouped-query heads", "fully masked bool", "fully masked float"]
    for name in one_thing:
        assert len(needs[name]) == 1, (name, needs[name])
    for name in ("causal L < S", "causal L > S"):  # is_causal, where L != S is the point
        assert needs[name][0] == "is_causal" and needs[name][1].startswith("L != S")
    for case in backward_cases(ALL_DTYPES, 0):
        assert len(case.needs()) <= 1 or case.name == "gradients causal", case.name


def test_a_missing_scale_parameter_is_unsupported_and_never_called():
    calls = []

    def no_scale(q, k, v, attn_mask=None, is_causal=False, enable_gqa=False):
        calls.append(q.shape)
        return impls.no_scale_parameter(q, k, v, attn_mask, is_causal, enable_gqa)

    report = check(no_scale, dtypes="float64", name="no_scale")
    (case,) = report.unsupported
    assert (case.name, case.reason) == ("custom scale", "no scale parameter")
    assert len(calls) == len(report.results) - 1
    assert report.ok and report.headline() == (
        "no_scale follows attention_ref in every case it supports. 1 case unsupported: "
        "custom scale (no scale parameter)."
    )


def test_a_missing_enable_gqa_is_unsupported_not_a_broadcasting_error():
    report = check(impls.no_enable_gqa)
    (case,) = report.unsupported
    assert (case.name, case.reason) == ("grouped-query heads", "no enable_gqa parameter")
    assert "broadcast" not in str(report)
    assert report.ok


def test_a_function_without_a_signature_gets_keywords_until_it_refuses_them():
    """Builtins (torch's SDPA) have no signature Python can read: the keywords are passed,
    and a TypeError about one of them makes the case unsupported (enable_gqa: retried)."""

    class NoSignature:
        __signature__ = property(lambda self: (_ for _ in ()).throw(ValueError("no signature")))

        def __call__(self, q, k, v, **kwargs):
            for name in kwargs:
                if name not in ("attn_mask", "is_causal"):
                    raise TypeError(f"attend() got an unexpected keyword argument '{name}'")
            return impls.attention(q, k, v, **kwargs)

    fn = NoSignature()
    with pytest.raises(ValueError):
        inspect.signature(fn)
    report = check(fn, dtypes="float64")
    assert {(r.name, r.reason) for r in report.unsupported} == {
        ("custom scale", "no scale parameter"),
        ("grouped-query heads", "no enable_gqa parameter"),
    }
    assert report.ok


def test_a_float_mask_the_function_refuses_is_unsupported():
    report = check(impls.bool_masks_only)
    assert [(r.name, r.reason) for r in report.unsupported] == [
        ("float mask", "raises on a float attn_mask (3, 8, 8)"),
        ("fully masked float", "raises on a float attn_mask (2, 3, 8, 8)"),
    ]
    assert report.ok


def test_an_implementation_that_raises_everywhere_has_errors_not_missing_capabilities():
    report = check(impls.always_raises)
    assert report.count("error") == len(report.results) - 1
    assert [r.reason for r in report.unsupported] == ["no enable_gqa parameter"]
    assert report.headline().startswith(
        "conformance_impls.always_raises passes none of the 20 cases: it raises on 19 cases."
    )


def test_a_row_under_tolerance_that_fails_says_why():
    report = check(impls.float_on_row_dtype)
    plain = report.results[0]
    assert plain.status == "fail" and plain.error <= plain.tolerance
    assert plain.reason == "returns float32"
    row = next(line for line in str(report).splitlines() if line.startswith("plain "))
    assert row.split()[2] == "FAIL" and row.endswith("returns float32")


@pytest.mark.parametrize("seed", SEEDS)
def test_the_blhe_layout(seed):
    _assert_conforms(check(impls.heads_second, layout="BLHE", seed=seed))

    def backward_blhe(d_out, q, k, v, **kwargs):
        swap = lambda a: np.swapaxes(a, -2, -3)  # noqa: E731
        grads = impls.backward(swap(d_out), swap(q), swap(k), swap(v), **kwargs)
        return tuple(map(swap, grads))

    report = check(impls.heads_second, layout="BLHE", backward=backward_blhe, dtypes="float64")
    _assert_conforms(report)
    assert report.layout == "BLHE" and "layout BLHE)" in " ".join(str(report).split())


def test_the_wrong_layout_is_named_with_the_fix():
    report = check(impls.heads_second)
    assert report.matches == ("layout",)
    assert report.headline().startswith(
        'conformance_impls.heads_second reads the other layout: check it with layout="BLHE" '
        "(--layout BLHE);"
    )
    report = check(impls.attention, layout="BLHE")
    assert report.matches == ("layout",)
    assert 'layout="BHLE"' in report.headline()
    with pytest.raises(ValueError, match="layout must be 'BHLE' or 'BLHE'"):
        check(impls.attention, layout="BSHD")


class _ArrayLike:
    """Not a NumPy array: converted by np.asarray through __array__, as tensors are."""

    def __init__(self, data):
        self.data = data

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.data, dtype=dtype)

    def detach(self):  # as a torch tensor that tracks gradients
        return self


def test_array_likes_in_and_out():
    seen = set()

    def on_array_likes(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
        seen.update(type(a).__name__ for a in (q, k, v, attn_mask) if a is not None)
        q, k, v = map(np.asarray, (q, k, v))
        mask = None if attn_mask is None else np.asarray(attn_mask)
        return _ArrayLike(impls.attention(q, k, v, mask, is_causal, scale, enable_gqa))

    _assert_conforms(check(on_array_likes, array=_ArrayLike))
    assert seen == {"_ArrayLike"}


def test_torch_sdpa_conforms_with_no_adapter():
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
    sdpa = torch.nn.functional.scaled_dot_product_attention
    report = check(sdpa, array=torch.from_numpy)
    _assert_conforms(report)
    assert report.implementation == "torch.nn.functional.scaled_dot_product_attention"


def test_scale_zero_is_a_scale_not_the_default():
    case = next(c for c in forward_cases(ALL_DTYPES, 0) if c.name == "float mask")
    zero = case.replace(scale=0.0)
    assert zero.resolved_scale == 0.0 and case.resolved_scale == case.default_scale
    # A float mask "added before the scale" is multiplied by the scale: by 0.0, it vanishes.
    (predicted,), _ = FLOAT_MASK_BEFORE_SCALE.predict(zero)
    (unmasked,) = truth(zero.replace(attn_mask=None))
    np.testing.assert_allclose(predicted, unmasked, rtol=1e-12, atol=1e-12)
    # The gradients' emulation scales by 0.0 too: grad_query and grad_key are zero.
    grad = next(c for c in backward_cases(ALL_DTYPES, 0) if c.name == "gradients")
    (d_q, d_k, _), _ = GRAD_NO_DELTA.predict(grad.replace(scale=0.0))
    assert not d_q.any() and not d_k.any()


def test_the_package_has_no_import_cycle():
    """Each module of the kit imports only modules before it (TYPE_CHECKING imports too)."""
    import ast

    package = ROOT / "attention_ref" / "conformance"
    graph = {}
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                imported |= {node.module} if node.module else {a.name for a in node.names}
        graph[path.stem] = imported & {p.stem for p in package.glob("*.py")}
    order = []
    while graph:
        ready = sorted(m for m, deps in graph.items() if deps <= set(order))
        assert ready, f"an import cycle among {sorted(graph)}"
        order += ready
        for m in ready:
            del graph[m]
    assert order.index("_case") < order.index("_conventions") < order.index("_battery")


def test_a_new_case_family_is_a_small_addition(monkeypatch):
    """What the package's docstring says to do: an alternative, a family, registered."""
    from attention_ref.conformance import _battery
    from attention_ref.conformance._case import Alternative, Case

    def softcapped(cap):
        def fn(
            q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False, softcap=None
        ):
            if softcap is None:
                return impls.attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)
            scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
            scores = scale * (q @ np.swapaxes(k, -1, -2))
            if softcap is not None:
                scores = cap(softcap) * np.tanh(scores / cap(softcap))
            p = np.exp(scores - scores.max(-1, keepdims=True))
            return (p / p.sum(-1, keepdims=True)) @ v

        return fn

    def reference(q, k, v, softcap=None):
        return softcapped(lambda c: c)(q, k, v, softcap=softcap)

    twice = Alternative(
        "softcap-twice",
        "the soft cap is applied as 2 * cap",
        lambda case: ((softcapped(lambda c: 2 * c)(*case.arrays(), **case.keywords()),), None),
    )

    def softcap_cases(dtypes, seed):
        rng = np.random.default_rng(seed)
        q, k, v = (3 * rng.standard_normal((1, 2, 5, 4)) for _ in range(3))
        return [Case("soft cap", q, k, v, extra={"softcap": 1.5}, reference=reference,
                     alternatives=(twice,))]  # fmt: skip

    monkeypatch.setattr(_battery, "FORWARD_FAMILIES", [*_battery.FORWARD_FAMILIES, softcap_cases])
    assert check(softcapped(lambda c: c), dtypes="float64").ok
    report = check(softcapped(lambda c: 2 * c), dtypes="float64")
    assert report.matches == ("softcap-twice",)
    assert [r.name for r in report.failures] == ["soft cap"]
    assert report.failures[0].description.endswith("softcap=1.5")
