"""What `check` returns: one `CaseResult` per case, gathered in a `Report`.

A report reads once, top to bottom: one sentence (`headline`: "fn follows attention_ref
except: ..."), the findings grouped (conventions that differ, precision, other failures,
unsupported cases), then the table of cases with a reason in each row that did not pass. It
converts to plain Python (`to_dict`) and to JSON (`to_json`) in a versioned schema
(`SCHEMA_VERSION`, the fields in `REPORT_FIELDS` and `RESULT_FIELDS`), and says in one
attribute whether the implementation conforms (`ok`).
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: The statuses a case can end with. "unsupported" is not a failure: the implementation
#: cannot express what the case needs (a parameter it does not have, $E_v \ne E$, a float
#: mask, grouped-query heads: it raised on that).
STATUSES = ("pass", "fail", "error", "unsupported")

#: The version of the JSON document (`Report.to_dict`). Version 1 (the kit's first form, never
#: released) had no `schema_version`, `headline`, `layout`, `precision`, `findings`, `reason`
#: or `judged_at`. A field that changes meaning or goes away makes a new version.
SCHEMA_VERSION = 2

#: The fields of the JSON document, with their meaning (schema version 2).
REPORT_FIELDS = {
    "schema_version": "int: the version of this schema, 2",
    "implementation": "str: the name of the function checked",
    "headline": "str: the report in one sentence",
    "ok": "bool: true when no case failed or raised (unsupported cases do not count)",
    "seed": "int: the seed the inputs were drawn with",
    "layout": 'str: "BHLE" or "BLHE", the layout the function was called in',
    "precision": "object: for each input dtype, the accuracy the function was judged at",
    "rule": "str: how the tolerances are chosen",
    "counts": "object: the number of cases of each status (pass, fail, error, unsupported)",
    "findings": "object: conventions, precision, other, unsupported, errors (lists, below)",
    "results": "list: one object per case, in the battery's order (fields below)",
}

#: The fields of each element of `results`.
RESULT_FIELDS = {
    "name": 'str: the case, e.g. "causal L < S"',
    "dtype": 'str: the dtype of the inputs, e.g. "float64"',
    "description": "str: the arguments passed (shapes, mask, is_causal, scale)",
    "status": 'str: "pass", "fail", "error" or "unsupported"',
    "error": 'number or null: max |output - truth|; "inf" or "nan" as strings',
    "reference_error": "number or null: attention_ref's own error at the judged accuracy",
    "tolerance": "number or null: 2 * reference_error + floor; passes when error <= it",
    "judged_at": 'str: the accuracy the case was judged at, e.g. "float32"',
    "reason": "str: why the case did not pass, in a few words (empty when it passed)",
    "diagnosis": "str: the full explanation (the conventions matched, the exception)",
    "matches": 'list of str: the keys of the conventions found, e.g. ["mask-polarity"]',
}

#: The groups of `findings`: each a list of objects with these fields.
FINDINGS_FIELDS = {
    "conventions": "key, short, diagnosis, cases: conventions other than attention_ref's",
    "precision": "dtype, accuracy, cases: inputs computed with less accuracy than their dtype",
    "other": "key, diagnosis, cases: wrong dtype or shape, writes, unexplained failures",
    "errors": "diagnosis, cases: the exceptions raised, each with the cases (name and dtype)",
    "unsupported": "case, dtypes, reason, diagnosis: cases the function cannot express",
}

_COLUMNS = ("case", "dtype", "status", "error", "ref error", "tolerance", "reason")

#: Keys that are not conventions but other kinds of failure (grouped under "other").
_OTHER = {
    "shape": lambda note: note.startswith(("output has", "grad_")),
    "dtype": lambda note: note.startswith("returns "),
    "mutates": lambda note: note.startswith("modifies "),
}


@dataclass(frozen=True)
class CaseResult:
    r"""The outcome of one case of the battery.

    Attributes
    ----------
    name : str
        The case, e.g. `"causal L < S"`.
    dtype : str
        The dtype of the inputs, e.g. `"float64"`.
    description : str
        The arguments passed: shapes, mask, `is_causal`, `scale`.
    status : str
        `"pass"`, `"fail"`, `"error"` (the implementation raised on a case that needs nothing
        special) or `"unsupported"` (it cannot express what the case needs; not a failure).
    error : float or None
        $\max |\mathrm{output} - \mathrm{truth}|$, the truth being attention_ref in float64 on
        the same inputs; `inf` when the output is NaN or infinite where the truth is finite;
        None when there is no output to measure.
    reference_error : float or None
        The same error for attention_ref run in the case's dtype (or at the accuracy the
        implementation was found to compute at, `judged_at`).
    tolerance : float or None
        `2 * reference_error + floor`; the case passes when `error <= tolerance`.
    diagnosis : str
        Empty for a passing case. For a failing one, the known convention(s) whose output the
        implementation's matches, or "no known convention matches" (the error is in
        `error`); for an error or an unsupported case, the reason and the exception.
    matches : tuple of str
        The keys of the conventions that match (stable identifiers, e.g.
        `"mask-polarity"`), for programs.
    reason : str
        Why the case did not pass, in a few words: the table's last column.
    judged_at : str
        The accuracy the case was judged at: its dtype, or the coarser precision the
        implementation was found to compute at.
    """

    name: str
    dtype: str
    description: str
    status: str
    error: float | None = None
    reference_error: float | None = None
    tolerance: float | None = None
    diagnosis: str = ""
    matches: tuple[str, ...] = ()
    reason: str = ""
    judged_at: str = ""

    @property
    def passed(self) -> bool:
        """True unless the case failed or raised (an unsupported case counts as passed)."""
        return self.status in ("pass", "unsupported")

    @property
    def label(self) -> str:
        """The case's name and dtype, e.g. `"precision (float64)"`."""
        return f"{self.name} ({self.dtype})"

    def to_dict(self) -> dict[str, object]:
        """The result as JSON-ready Python values (`inf` and `nan` become strings)."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "description": self.description,
            "status": self.status,
            "error": _json_number(self.error),
            "reference_error": _json_number(self.reference_error),
            "tolerance": _json_number(self.tolerance),
            "judged_at": self.judged_at or self.dtype,
            "reason": self.reason,
            "diagnosis": self.diagnosis,
            "matches": list(self.matches),
        }


@dataclass(frozen=True)
class Report:
    """The conformance of one implementation: a result per case, findings, and a verdict.

    Attributes
    ----------
    implementation : str
        The name of the function checked.
    results : tuple of CaseResult
        One per case, in the battery's order.
    seed : int
        The seed the inputs were drawn with.
    rule : str
        How the tolerances were chosen, in words.
    layout : str
        `"BHLE"` or `"BLHE"`: the layout the function was called in.
    precision : dict of str to str
        For each input dtype, the accuracy the implementation was found to compute at (and
        judged at): the dtype itself, or a coarser one ("float32" for float64 inputs).
    conventions : dict of str to (str, str)
        For every key a result can name, its short phrase and its meaning (the findings and
        the headline use them).
    schema_version : int
        The version of `to_dict`'s schema, `SCHEMA_VERSION`.
    """

    implementation: str
    results: tuple[CaseResult, ...]
    seed: int = 0
    rule: str = ""
    layout: str = "BHLE"
    precision: dict[str, str] = field(default_factory=dict)
    conventions: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        """True when every case passed (or is unsupported)."""
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        """The cases that failed or raised."""
        return tuple(r for r in self.results if not r.passed)

    @property
    def unsupported(self) -> tuple[CaseResult, ...]:
        """The cases the implementation cannot express."""
        return tuple(r for r in self.results if r.status == "unsupported")

    @property
    def matches(self) -> tuple[str, ...]:
        """The keys of every convention named in the report, each once, in order."""
        return tuple(dict.fromkeys(key for r in self.results for key in r.matches))

    def count(self, status: str) -> int:
        """The number of cases with this status."""
        return sum(r.status == status for r in self.results)

    # --- findings --------------------------------------------------------------------------

    def findings(self) -> dict[str, list[dict[str, Any]]]:
        """The findings, grouped: conventions that differ, precision, other failures, errors,
        unsupported cases (see `FINDINGS_FIELDS`)."""
        conventions: dict[str, dict[str, Any]] = {}
        other: dict[str, dict[str, Any]] = {}
        precision: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        unsupported: list[dict[str, Any]] = []
        names = [r.name for r in self.results]
        label = lambda r: r.label if names.count(r.name) > 1 else r.name  # noqa: E731
        for r in self.results:
            if r.status == "unsupported":
                same = next(
                    (
                        u
                        for u in unsupported
                        if (u["case"], u["diagnosis"]) == (r.name, r.diagnosis)
                    ),
                    None,
                )
                if same is None:
                    same = {
                        "case": r.name,
                        "dtypes": [],
                        "reason": r.reason,
                        "diagnosis": r.diagnosis,
                    }
                    unsupported.append(same)
                same["dtypes"].append(r.dtype)
            elif r.status == "error":
                same_error = next((e for e in errors if e["diagnosis"] == r.diagnosis), None)
                if same_error is None:
                    same_error = {"diagnosis": r.diagnosis, "cases": []}
                    errors.append(same_error)
                same_error["cases"].append(label(r))
            for key in r.matches:
                if key.startswith("precision-"):
                    entry = precision.setdefault(
                        r.dtype, {"dtype": r.dtype, "accuracy": r.judged_at, "cases": []}
                    )
                elif key in _OTHER:  # the case's own words: "returns float64 for float16 inputs"
                    note = next((n for n in r.diagnosis.split("; ") if _OTHER[key](n)), key)
                    entry = other.setdefault(
                        f"{key}: {note}", {"key": key, "diagnosis": note, "cases": []}
                    )
                else:
                    short, meaning = self.conventions.get(key, (key, key))
                    entry = conventions.setdefault(
                        key, {"key": key, "short": short, "diagnosis": meaning, "cases": []}
                    )
                entry["cases"].append(label(r))
            if r.status == "fail" and "no known convention matches" in r.diagnosis:
                entry = other.setdefault(
                    "unexplained",
                    {"key": "unexplained", "diagnosis": "no known convention matches", "cases": []},
                )
                entry["cases"].append(label(r))
        return {
            "conventions": list(conventions.values()),
            "precision": list(precision.values()),
            "other": list(other.values()),
            "errors": errors,
            "unsupported": unsupported,
        }

    def headline(self) -> str:
        """The report in one sentence: "fn follows attention_ref except: ...".

        Lists the conventions that differ (short phrases), the precision found when coarser
        than the inputs', the other failures, the number of errors, and the unsupported cases
        with their reasons.
        """
        f = self.findings()
        items = [str(c["short"]) for c in f["conventions"]]
        items += [f"{p['dtype']} inputs, {p['accuracy']} accuracy" for p in f["precision"]]
        items += dict.fromkeys(
            self.conventions.get(str(o["key"]), (_UNEXPLAINED,))[0] for o in f["other"]
        )
        if f["errors"]:
            n = self.count("error")
            items.append(f"it raises on {n} case{'s' * (n > 1)}")
        name = self.implementation
        if any(c["key"] == "layout" for c in f["conventions"]):
            other = "BLHE" if self.layout == "BHLE" else "BHLE"
            bad = len(self.failures) + len(self.unsupported)
            return (
                f'{name} reads the other layout: check it with layout="{other}" '
                f"(--layout {other}); {bad} of the {len(self.results)} cases fail or cannot "
                "run because of it."
            )
        if items and not self.count("pass"):
            sentence = f"{name} passes none of the {len(self.results)} cases: {'; '.join(items)}."
        elif items:
            sentence = f"{name} follows attention_ref except: {'; '.join(items)}."
        elif f["unsupported"]:
            sentence = f"{name} follows attention_ref in every case it supports."
        else:
            sentence = f"{name} follows attention_ref in all {len(self.results)} cases."
        if f["unsupported"]:
            reasons = dict.fromkeys(f"{u['case']} ({u['reason']})" for u in f["unsupported"])
            n = len(f["unsupported"])
            sentence += f" {n} case{'s' * (n > 1)} unsupported: {', '.join(reasons)}."
        return sentence

    def summary(self) -> str:
        """One line: how many cases of each status, and the verdict."""
        counts = [f"{n} {s}" for s in STATUSES if (n := self.count(s))]
        verdict = "conforms" if self.ok else "does not conform"
        return f"{len(self.results)} cases: {', '.join(counts)}. {self.implementation} {verdict}."

    # --- text --------------------------------------------------------------------------------

    def format(self, failures_only: bool = False, width: int = 80) -> str:
        """The report as text: the headline, the findings, the table, the tolerance rule.

        Parameters
        ----------
        failures_only : bool, default False
            List only the cases that failed or raised in the table.
        width : int, default 80
            The width the sentences are wrapped to.
        """
        wrap = lambda text, **kw: textwrap.wrap(text, width=width, break_on_hyphens=False, **kw)  # noqa: E731
        lines = wrap(self.headline())
        lines += self._findings_text(wrap)
        shown = self.failures if failures_only else self.results
        lines += ["", *self._table(shown, width)] if shown else [""]
        layout = "" if self.layout == "BHLE" else f", layout {self.layout}"
        lines += wrap(f"{self.summary()} (seed {self.seed}{layout})")
        if self.rule:
            lines += wrap(self.rule)
        return "\n".join(lines)

    def _findings_text(self, wrap: Callable[..., list[str]]) -> list[str]:
        f = self.findings()
        indent = {"initial_indent": "    ", "subsequent_indent": "    "}
        lines: list[str] = []

        def cases(names: Iterable[str]) -> list[str]:
            return wrap("in: " + ", ".join(dict.fromkeys(names)), **indent)

        if f["conventions"]:
            lines += ["", "Conventions that differ:"]
            for c in f["conventions"]:
                lines += wrap(f"- {c['diagnosis']} [{c['key']}]", subsequent_indent="  ")
                lines += cases(c["cases"])
        if f["precision"]:
            lines += ["", "Precision:"]
            for p in f["precision"]:
                lines += wrap(
                    f"- {p['dtype']} inputs, {p['accuracy']} accuracy: the implementation "
                    f"computes (or rounds) in {p['accuracy']}; its {p['dtype']} cases are "
                    f"judged at {p['accuracy']} accuracy, so that their conventions are still "
                    "checked",
                    subsequent_indent="  ",
                )
                lines += cases(p["cases"])
        if f["other"]:
            lines += ["", "Other failures:"]
            for o in f["other"]:
                lines += wrap(f"- {o['diagnosis']} [{o['key']}]", subsequent_indent="  ")
                lines += cases(o["cases"])
        if f["errors"]:
            lines += ["", "Errors (the function raised):"]
            for e in f["errors"]:
                lines += wrap(f"- {e['diagnosis']}", subsequent_indent="  ")
                lines += cases(e["cases"])
        if f["unsupported"]:
            lines += ["", "Unsupported (not failures):"]
            for u in f["unsupported"]:
                dtypes = ", ".join(u["dtypes"])
                lines += wrap(f"- {u['case']} ({dtypes}): {u['diagnosis']}", subsequent_indent="  ")
        return lines

    def _table(self, shown: tuple[CaseResult, ...], width: int = 80) -> list[str]:
        # The reason column is there only when some row has a reason.
        header = _COLUMNS if any(r.reason for r in shown) else (*_COLUMNS[:-1], "")
        rows = [header] + [
            (
                r.name,
                r.dtype,
                r.status if r.passed else r.status.upper(),
                _number(r.error),
                _number(r.reference_error if r.error is not None else None),
                _number(r.tolerance if r.error is not None else None),
                r.reason,
            )
            for r in shown
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        # A long reason does not widen the whole table: it is wrapped to what is left of
        # `width` (at least 20 characters), continuation lines aligned under its column.
        indent = sum(widths[:6]) + 2 * 6
        room = max(width - indent, 20)
        lines = []
        for row in rows:
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2])]
            cells += [cell.rjust(w) for cell, w in zip(row[3:6], widths[3:6], strict=True)]
            reason = textwrap.wrap(row[6], width=room, break_on_hyphens=False)
            lines.append("  ".join([*cells, *reason[:1]]).rstrip())
            lines += [" " * indent + more for more in reason[1:]]
        return lines

    def __str__(self) -> str:
        return self.format()

    # --- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready Python values, in the schema of `REPORT_FIELDS`."""
        return {
            "schema_version": self.schema_version,
            "implementation": self.implementation,
            "headline": self.headline(),
            "ok": self.ok,
            "seed": self.seed,
            "layout": self.layout,
            "precision": dict(self.precision),
            "rule": self.rule,
            "counts": {s: self.count(s) for s in STATUSES},
            "findings": self.findings(),
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON document (`to_dict`, serialised)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


_UNEXPLAINED = "some cases fail with no known convention matching"


def _number(x: float | None) -> str:
    """A table cell: `-` for no value, `0` for zero, otherwise two significant digits."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.1e}"


def _json_number(x: float | None) -> float | str | None:
    """JSON has no inf or NaN: write them as strings."""
    if x is None or math.isfinite(x):
        return x
    return str(x)
