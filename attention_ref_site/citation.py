"""The citation of attention-ref, read from `CITATION.cff`, the one place it is written.

`CITATION.cff` (Citation File Format 1.2.0) holds the title, authors, version and release
date. Everything else is generated from it:

- the BibTeX on the site's Cite page, when the site is built (`attention_ref_site.hooks`);
- `citation.bib` and a copy of `CITATION.cff` published with the site;
- the README's BibTeX block: ``python -m attention_ref_site.citation --write-readme``
  rewrites it, ``--check-readme`` fails if it is out of date (tests/test_publish.py checks it).

``python -m attention_ref_site.citation`` prints the BibTeX.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "BIBTEX_KEY",
    "README_MARKER",
    "bibtex",
    "load",
    "readme_bibtex",
    "with_readme_bibtex",
]

ROOT = Path(__file__).resolve().parent.parent

#: The key of the BibTeX entry (`\cite{attention_ref}`).
BIBTEX_KEY = "attention_ref"

#: The comment in README.md right above its generated ```bibtex block.
README_MARKER = (
    "<!-- BibTeX generated from CITATION.cff: "
    "python -m attention_ref_site.citation --write-readme -->"
)

_README_BLOCK_RE = re.compile(
    rf"^{re.escape(README_MARKER)}\n```bibtex\n(?P<body>.*?)^```$", re.DOTALL | re.MULTILINE
)

# Characters that mean something to (La)TeX inside a BibTeX value.
_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def load(path: Path | str = ROOT / "CITATION.cff") -> dict[str, Any]:
    """The citation metadata: `CITATION.cff` parsed, with the fields used here checked."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    missing = [key for key in ("cff-version", "title", "authors", "version") if key not in data]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    if not data["authors"]:
        raise ValueError(f"{path}: no authors")
    return data


def _tex(text: str) -> str:
    return "".join(_TEX_SPECIALS.get(char, char) for char in str(text))


def _title(text: str) -> str:
    """Escaped, with every word that holds a capital braced so BibTeX styles keep its case."""
    return " ".join(
        f"{{{_tex(word)}}}" if any(c.isupper() for c in word) else _tex(word)
        for word in str(text).split()
    )


def _author(author: dict[str, Any]) -> str:
    """One CFF author as a BibTeX name: "von Last, Jr, First", or {Entity} kept whole."""
    if "family-names" in author:
        last = " ".join(
            _tex(author[key]) for key in ("name-particle", "family-names") if author.get(key)
        )
        parts = [last]
        if author.get("name-suffix"):
            parts.append(_tex(author["name-suffix"]))
        if author.get("given-names"):
            parts.append(_tex(author["given-names"]))
        return ", ".join(parts)
    if "name" in author:
        return f"{{{_tex(author['name'])}}}"
    raise ValueError(f"a CFF author needs family-names or name: {author!r}")


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def bibtex(cff: dict[str, Any], key: str = BIBTEX_KEY) -> str:
    """The BibTeX `@software` entry (biblatex's type for software) of the CFF metadata."""
    fields: list[tuple[str, str]] = [
        ("title", _title(cff["title"])),
        ("author", " and ".join(_author(a) for a in cff["authors"])),
    ]
    released = _date(cff.get("date-released"))
    if released:
        fields.append(("year", str(released.year)))
    fields.append(("version", _tex(cff["version"])))
    if cff.get("doi"):
        fields.append(("doi", _tex(cff["doi"])))
    url = cff.get("url") or cff.get("repository-code")
    if url:
        fields.append(("url", str(url)))
    if cff.get("license"):
        license_ = cff["license"]
        fields.append(
            ("license", _tex(license_ if isinstance(license_, str) else "/".join(license_)))
        )
    width = max(len(name) for name, _ in fields)
    lines = [f"  {name.ljust(width)} = {{{value}}}" for name, value in fields]
    return f"@software{{{key},\n" + ",\n".join(lines) + "\n}\n"


def readme_bibtex(readme: str) -> str | None:
    """The BibTeX block under `README_MARKER` in the README's text, or None."""
    m = _README_BLOCK_RE.search(readme)
    return m.group("body") if m else None


def with_readme_bibtex(readme: str, entry: str) -> str:
    """The README's text with the block under `README_MARKER` replaced by `entry`."""
    if readme_bibtex(readme) is None:
        raise ValueError(f"README has no ```bibtex block right under {README_MARKER}")
    return _README_BLOCK_RE.sub(
        lambda _: f"{README_MARKER}\n```bibtex\n{entry}```", readme, count=1
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attention_ref_site.citation",
        description="Print the BibTeX of CITATION.cff, or update the README's copy of it.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write-readme", action="store_true", help="rewrite README.md's block")
    group.add_argument("--check-readme", action="store_true", help="fail if it is out of date")
    args = parser.parse_args(argv)
    entry = bibtex(load())
    readme_path = ROOT / "README.md"
    if args.write_readme:
        text = readme_path.read_text(encoding="utf-8")
        readme_path.write_text(with_readme_bibtex(text, entry), encoding="utf-8")
    elif args.check_readme:
        if readme_bibtex(readme_path.read_text(encoding="utf-8")) != entry:
            print("README.md's BibTeX differs from CITATION.cff's: run", file=sys.stderr)
            print("  python -m attention_ref_site.citation --write-readme", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(entry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
