"""What `check` returns: one `CaseResult` per case, gathered in a `Report`.

A report prints as a table (`str(report)`), converts to plain Python (`to_dict`) and to JSON
(`to_json`), and says in one attribute whether the implementation conforms (`ok`).
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass

#: The statuses a case can end with. "unsupported" is not a failure: it is given only to the
#: grouped-query case when the implementation raises on key/value heads fewer than the query's.
STATUSES = ("pass", "fail", "error", "unsupported")

_COLUMNS = ("case", "dtype", "status", "error", "ref error", "tolerance")


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
        `"pass"`, `"fail"`, `"error"` (the implementation raised) or `"unsupported"` (it
        raised on the grouped-query case; not a failure).
    error : float or None
        $\max |\mathrm{output} - \mathrm{truth}|$, the truth being attention_ref in float64 on
        the same inputs; `inf` when the output is NaN or infinite where the truth is finite;
        None when there is no output to measure.
    reference_error : float or None
        The same error for attention_ref run in the case's dtype.
    tolerance : float or None
        `2 * reference_error + floor`; the case passes when `error <= tolerance`.
    diagnosis : str
        Empty for a passing case. For a failing one, the known convention(s) whose output the
        implementation's matches, or "no known convention matches" (the error is in
        `error`); for an error, the exception.
    matches : tuple of str
        The keys of the conventions that match (stable identifiers, e.g.
        `"mask-polarity"`), for programs.
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

    @property
    def passed(self) -> bool:
        """True unless the case failed or raised (an unsupported case counts as passed)."""
        return self.status in ("pass", "unsupported")

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
            "diagnosis": self.diagnosis,
            "matches": list(self.matches),
        }


@dataclass(frozen=True)
class Report:
    """The conformance of one implementation: a result per case, and a verdict.

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
    """

    implementation: str
    results: tuple[CaseResult, ...]
    seed: int = 0
    rule: str = ""

    @property
    def ok(self) -> bool:
        """True when every case passed (or is unsupported)."""
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        """The cases that failed or raised."""
        return tuple(r for r in self.results if not r.passed)

    @property
    def matches(self) -> tuple[str, ...]:
        """The keys of every convention named in the report, each once, in order."""
        return tuple(dict.fromkeys(key for r in self.results for key in r.matches))

    def summary(self) -> str:
        """One line: how many cases of each status, and the verdict."""
        counts = [f"{n} {s}" for s in STATUSES if (n := self.count(s))]
        verdict = "conforms" if self.ok else "does not conform"
        return f"{len(self.results)} cases: {', '.join(counts)}. {self.implementation} {verdict}."

    def count(self, status: str) -> int:
        """The number of cases with this status."""
        return sum(r.status == status for r in self.results)

    def format(self, failures_only: bool = False, width: int = 88) -> str:
        """The report as a text table, then the diagnoses of the cases that did not pass.

        Parameters
        ----------
        failures_only : bool, default False
            List only the cases that failed or raised in the table.
        width : int, default 88
            The width the title, the summary and the diagnoses are wrapped to.
        """
        shown = self.failures if failures_only else self.results
        rows = [_COLUMNS] + [
            (
                r.name,
                r.dtype,
                r.status if r.passed else r.status.upper(),
                _number(r.error),
                _number(r.reference_error),
                _number(r.tolerance),
            )
            for r in shown
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        title = f"Conformance of {self.implementation} to attention_ref (seed {self.seed})"
        lines = textwrap.wrap(title, width=width, break_on_hyphens=False)
        for row in rows:
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2])]
            cells += [cell.rjust(w) for cell, w in zip(row[3:], widths[3:], strict=True)]
            lines.append("  ".join(cells).rstrip())
        lines.extend(textwrap.wrap(self.summary(), width=width, break_on_hyphens=False))
        lines.extend(self._diagnoses(width))
        if self.rule:
            lines.append("")
            lines.extend(textwrap.wrap(self.rule, width=width))
        return "\n".join(lines)

    def _diagnoses(self, width: int) -> list[str]:
        """Each distinct diagnosis once, followed by the cases it was made for."""
        repeated = {
            r.name for r in self.results if [x.name for x in self.results].count(r.name) > 1
        }
        cases: dict[str, list[str]] = {}
        for r in self.results:
            if r.diagnosis:
                label = f"{r.name} ({r.dtype})" if r.name in repeated else r.name
                cases.setdefault(r.diagnosis, []).append(label)
        lines = []
        for diagnosis, labels in cases.items():
            lines.append("")
            lines.extend(textwrap.wrap(diagnosis, width=width, break_on_hyphens=False))
            lines.extend(
                textwrap.wrap(
                    "in: " + ", ".join(labels),
                    width=width,
                    initial_indent="    ",
                    subsequent_indent="    ",
                    break_on_hyphens=False,
                )
            )
        return lines

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready Python values."""
        return {
            "implementation": self.implementation,
            "ok": self.ok,
            "seed": self.seed,
            "rule": self.rule,
            "counts": {s: self.count(s) for s in STATUSES},
            "results": [r.to_dict() for r in self.results],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as a JSON document (`to_dict`, serialised)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


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
