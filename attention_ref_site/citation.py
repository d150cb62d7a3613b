"""The citation of attention-ref, read from `CITATION.cff`, the one place it is written.

`CITATION.cff` (Citation File Format 1.2.0) holds two works: at its root the software (the
code of attention_ref and the numbers computed with it: title, authors, version, release
date), and under `references` the article (its text: author, title, date). Everything else is
generated from it:

- the two BibTeX entries on the site's Cite page, when the site is built
  (`attention_ref_site.hooks`), the software's with the commit the site was built from;
- `citation.bib` (the same two entries) and a copy of `CITATION.cff` published with the site;
- the README's two BibTeX blocks, and `attention_ref/_citation.py`, which gives the installed
  package `attention_ref.__citation__` and ``python -m attention_ref --cite`` (the package
  imports only NumPy, so it cannot read YAML itself): ``python -m attention_ref_site.citation
  --write`` rewrites both, ``--check`` fails if either is out of date (tests/test_publish.py
  checks them).

``python -m attention_ref_site.citation`` prints the citation, as `attention_ref.__citation__`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "BIBTEX_KEY",
    "PACKAGE_MODULE",
    "README_ARTICLE_MARKER",
    "README_MARKER",
    "article",
    "article_bibtex",
    "article_key",
    "bibtex",
    "citation_text",
    "load",
    "package_module",
    "readme_bibtex",
    "with_readme_bibtex",
]

ROOT = Path(__file__).resolve().parent.parent

#: The key of the BibTeX entry (`\cite{attention_ref}`).
BIBTEX_KEY = "attention_ref"

#: The comment in README.md right above its generated ```bibtex block of the software.
README_MARKER = (
    "<!-- BibTeX generated from CITATION.cff: python -m attention_ref_site.citation --write -->"
)

#: The comment in README.md right above its generated ```bibtex block of the article.
README_ARTICLE_MARKER = (
    "<!-- The article's BibTeX, generated from CITATION.cff: "
    "python -m attention_ref_site.citation --write -->"
)

#: The generated module that gives the installed package its citation.
PACKAGE_MODULE = ROOT / "attention_ref" / "_citation.py"


def _block_re(marker: str) -> re.Pattern[str]:
    return re.compile(
        rf"^{re.escape(marker)}\n```bibtex\n(?P<body>.*?)^```$", re.DOTALL | re.MULTILINE
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


#: BibTeX lines are wrapped to this width (a braced value may span lines), so that an entry
#: fits a page's code column and a terminal.
BIBTEX_WIDTH = 78


def _entry(kind: str, key: str, fields: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in fields)
    lines = []
    for name, value in fields:
        lead = f"  {name.ljust(width)} = "
        lines.append(
            "\n".join(
                textwrap.wrap(
                    f"{lead}{{{value}}}",
                    width=BIBTEX_WIDTH,
                    subsequent_indent=" " * (len(lead) + 1),
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        )
    return f"@{kind}{{{key},\n" + ",\n".join(lines) + "\n}\n"


def bibtex(
    cff: dict[str, Any], key: str = BIBTEX_KEY, commit: str | None = None, dirty: bool = False
) -> str:
    """The BibTeX `@software` entry (biblatex's type for software) of the CFF metadata.

    `commit`, when given, goes into a `note` (and `dirty` says the build had uncommitted
    changes): what the site's Cite page shows, so a number from the site can be traced.
    """
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
    if commit:
        changes = ", with uncommitted changes" if dirty else ""
        fields.append(("note", f"commit {_tex(commit)}{changes}"))
    return _entry("software", key, fields)


def article(cff: dict[str, Any]) -> dict[str, Any]:
    """The article: the entry of `references` in the CFF metadata (there is exactly one)."""
    refs = cff.get("references") or []
    if len(refs) != 1:
        raise ValueError(f"CITATION.cff: expected the article as the one reference, got {refs!r}")
    ref = refs[0]
    missing = [key for key in ("title", "authors", "date-published") if not ref.get(key)]
    if missing:
        raise ValueError(f"CITATION.cff: the article misses {', '.join(missing)}")
    return ref


def article_key(ref: dict[str, Any]) -> str:
    """`ding2024understanding`: first author's family name, year, first word of the title."""
    first = ref["authors"][0]
    name = first.get("family-names") or first.get("name", "anonymous")
    year = _date(ref["date-published"]).year  # type: ignore[union-attr]
    word = re.sub(r"[^a-z0-9]", "", str(ref["title"]).split()[0].lower())
    return f"{re.sub(r'[^a-z0-9]', '', str(name).lower())}{year}{word}"


def article_bibtex(cff: dict[str, Any]) -> str:
    """The article as a biblatex `@online` entry (published on the web, in no journal)."""
    ref = article(cff)
    fields: list[tuple[str, str]] = [
        ("title", _title(ref["title"])),
        ("author", " and ".join(_author(a) for a in ref["authors"])),
        ("date", _date(ref["date-published"]).isoformat()),  # type: ignore[union-attr]
    ]
    if ref.get("url"):
        fields.append(("url", str(ref["url"])))
    return _entry("online", article_key(ref), fields)


def _names(authors: list[dict[str, Any]]) -> str:
    return ", ".join(
        " ".join(str(a[k]) for k in ("given-names", "name-particle", "family-names") if a.get(k))
        or str(a.get("name", ""))
        for a in authors
    )


def citation_text(cff: dict[str, Any]) -> str:
    """Both entries, each under a comment saying what it covers: a valid .bib file."""
    ref = article(cff)
    return (
        f"% How to cite attention-ref {cff['version']} (generated from its CITATION.cff).\n"
        "%\n"
        "% The code of attention_ref, and the numbers, tables and figures computed with it:\n"
        "% cite the software, with the version you used. For a number from the site, add\n"
        "% the commit named in the page's footer (note = {commit ...}).\n"
        f"{bibtex(cff)}"
        "\n"
        f'% The text of the article "{ref["title"]}"\n'
        f"% ({_names(ref['authors'])}, {ref['date-published']}): cite the article.\n"
        f"{article_bibtex(cff)}"
    )


def package_module(cff: dict[str, Any]) -> str:
    """The source of `attention_ref/_citation.py`."""

    def literal(text: str) -> str:
        if '"""' in text:
            raise ValueError("the citation holds a triple quote")
        return '"""\\\n' + text.replace("\\", "\\\\") + '"""'

    return (
        '"""How to cite attention_ref. GENERATED from CITATION.cff: do not edit.\n'
        "\n"
        "Regenerate with ``python -m attention_ref_site.citation --write``; tests/test_publish.py\n"
        "fails when this file and CITATION.cff disagree. ``attention_ref.__citation__`` is\n"
        "`CITATION`, and ``python -m attention_ref --cite`` prints it.\n"
        '"""\n'
        "\n"
        "#: The software: the code of attention_ref and the numbers computed with it.\n"
        f"SOFTWARE_BIBTEX = {literal(bibtex(cff))}\n"
        "\n"
        "#: The article: its text.\n"
        f"ARTICLE_BIBTEX = {literal(article_bibtex(cff))}\n"
        "\n"
        "#: Both, each under a comment saying what it covers (a valid .bib file).\n"
        f"CITATION = {literal(citation_text(cff))}\n"
    )


def readme_bibtex(readme: str, marker: str = README_MARKER) -> str | None:
    """The BibTeX block under `marker` in the README's text, or None."""
    m = _block_re(marker).search(readme)
    return m.group("body") if m else None


def with_readme_bibtex(readme: str, entry: str, marker: str = README_MARKER) -> str:
    """The README's text with the block under `marker` replaced by `entry`."""
    if readme_bibtex(readme, marker) is None:
        raise ValueError(f"README has no ```bibtex block right under {marker}")
    return _block_re(marker).sub(lambda _: f"{marker}\n```bibtex\n{entry}```", readme, count=1)


def _generated(cff: dict[str, Any], readme: str) -> tuple[str, str]:
    """The README's text and the package module, as generated from `cff`."""
    readme = with_readme_bibtex(readme, bibtex(cff))
    readme = with_readme_bibtex(readme, article_bibtex(cff), README_ARTICLE_MARKER)
    return readme, package_module(cff)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attention_ref_site.citation",
        description="Print the citation of CITATION.cff, or update its generated copies "
        "(README.md's BibTeX and attention_ref/_citation.py).",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the generated copies")
    group.add_argument("--check", action="store_true", help="fail if one is out of date")
    group.add_argument("--write-readme", action="store_true", help="the same as --write")
    group.add_argument("--check-readme", action="store_true", help="the same as --check")
    args = parser.parse_args(argv)
    cff = load()
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    if args.write or args.write_readme:
        new_readme, module = _generated(cff, readme)
        readme_path.write_text(new_readme, encoding="utf-8")
        PACKAGE_MODULE.write_text(module, encoding="utf-8")
    elif args.check or args.check_readme:
        new_readme, module = _generated(cff, readme)
        stale = [
            name
            for name, ok in (
                ("README.md", new_readme == readme),
                (str(PACKAGE_MODULE.relative_to(ROOT)), _read(PACKAGE_MODULE) == module),
            )
            if not ok
        ]
        if stale:
            print(f"{' and '.join(stale)} differ from CITATION.cff: run", file=sys.stderr)
            print("  python -m attention_ref_site.citation --write", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(citation_text(cff))
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
