"""How to cite, from the installed package: `attention_ref.__citation__` and
`python -m attention_ref --cite` say what CITATION.cff says, and the URLs agree.

`attention_ref` imports only NumPy, so it cannot parse CITATION.cff (YAML); its citation is the
generated module `attention_ref/_citation.py`, checked here against the generator run on
CITATION.cff. tests/test_distribution.py prints it from a wheel in a fresh environment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import attention_ref
from attention_ref import _citation
from attention_ref.__main__ import main
from attention_ref_site import citation

ROOT = Path(__file__).resolve().parent.parent
CFF = ROOT / "CITATION.cff"


@pytest.fixture(scope="module")
def cff():
    return citation.load(CFF)


def test_package_module_is_generated_from_cff(cff):
    assert citation.PACKAGE_MODULE.read_text(encoding="utf-8") == citation.package_module(cff), (
        "attention_ref/_citation.py differs from CITATION.cff: "
        "run python -m attention_ref_site.citation --write"
    )
    assert _citation.SOFTWARE_BIBTEX == citation.bibtex(cff)
    assert _citation.ARTICLE_BIBTEX == citation.article_bibtex(cff)
    assert attention_ref.__citation__ == _citation.CITATION == citation.citation_text(cff)
    assert "__citation__" in attention_ref.__all__


def test_citation_text_holds_both_entries_and_says_what_each_covers(cff):
    text = attention_ref.__citation__
    assert f"attention-ref {cff['version']}" in text
    comments = [line for line in text.splitlines() if line.startswith("%")]
    entries = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    assert entries == f"{citation.bibtex(cff)}\n{citation.article_bibtex(cff)}".rstrip("\n")
    said = " ".join(comments)
    assert "code of attention_ref" in said and "numbers" in said  # the software
    assert "text of the article" in said and "Jimmy Ding" in said  # the article


def test_cite_command(capsys):
    assert main(["--cite"]) == 0
    assert capsys.readouterr().out == attention_ref.__citation__
    assert main([]) == 0
    assert "--cite" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"attention_ref {attention_ref.__version__}"


def test_article_is_the_home_page_by_its_author(cff):
    """CITATION.cff's article is the article on the site: its title, author and date."""
    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(re.match(r"\A---\n(.*?)\n---\n", text, re.DOTALL).group(1))
    ref = citation.article(cff)
    assert ref["title"] == meta["title"]
    (author,) = ref["authors"]
    assert f"{author['given-names']} {author['family-names']}" == meta["author"]
    assert str(ref["date-published"]) == str(meta["date"]) == "2024-03-20"
    assert ref["year"] == 2024 and ref["month"] == 3
    assert cff["authors"] == [{"name": "The attention-ref authors"}]  # the software's


def test_article_is_a_reference_not_the_preferred_citation(cff):
    # preferred-citation would replace the software's citation: the code would go uncited.
    assert "preferred-citation" not in cff
    assert cff["type"] == "software"


def test_urls_agree(cff):
    """No public repository yet: the published site's address is the project's URL."""
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    site_url = re.search(r'^site_url: !ENV \[SITE_URL, "([^"]+)"\]$', mkdocs, re.M).group(1)
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["urls"]
    assert cff["url"] == citation.article(cff)["url"] == site_url
    # The site is versioned (mike): the reference and the Cite page of the newest release.
    assert urls["Homepage"] == site_url
    assert urls["Documentation"] == site_url + "latest/reference/"
    assert urls["Citation"] == site_url + "latest/cite/"
    assert f"url     = {{{site_url}}}" in attention_ref.__citation__


def test_bibtex_commit_note(cff):
    entry = citation.bibtex(cff, commit="0123abc", dirty=True)
    assert "  note    = {commit 0123abc, with uncommitted changes}\n" in entry
    assert "note" not in citation.bibtex(cff)


def test_article_is_required(cff):
    with pytest.raises(ValueError, match="reference"):
        citation.article({**cff, "references": []})
    broken = {**citation.article(cff)}
    del broken["date-published"]
    with pytest.raises(ValueError, match="date-published"):
        citation.article({**cff, "references": [broken]})
