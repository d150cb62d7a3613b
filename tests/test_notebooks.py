"""Every page with executed code has a notebook that runs and prints what the page printed.

The site is built once (`python -m mkdocs build --strict`, as tests/test_site.py builds it).
For each page with an executed block:

- the page links to `notebooks/<page>.ipynb`, which exists and is a valid nbformat 4 notebook
  whose first cell names the page, the `attention_ref` version and the commit;
- the outputs saved in the notebook are the page's: each appears verbatim in the built page's
  HTML (so the recording in attention_ref_site/notebooks.py cannot drift from what readers
  see);
- the notebook, run top to bottom by nbclient in a fresh Python kernel, in an empty directory
  where `attention_ref_site` cannot be imported, raises nothing, writes nothing to stderr,
  loads none of the site's build tooling (Markdown, latex2mathml, MkDocs), and prints, cell
  by cell, exactly what the page printed. Figures (HTML) compare equal except for their
  captions' math, which the page shows as MathML and the notebook leaves to Jupyter as
  `$...$`.

On a quiet 2-core machine the whole file takes about 50 s: the build 14 s, then the 16
notebooks about 35 s together, each in a fresh kernel (the training pages' the slowest, ~5 s).
"""

from __future__ import annotations

import copy
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import attention_ref
from attention_ref_site import provenance

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCE_DATE_EPOCH = "1710892800"  # as tests/test_site.py
BUILD_TIMEOUT = 600
CELL_TIMEOUT = 600  # seconds per cell; the training pages' cells take a few seconds

# The site's build tooling: a notebook that loads any of these does not run with attention-ref
# and matplotlib alone.
BUILD_TOOLING = ("markdown", "latex2mathml", "mkdocs", "pymdownx", "markdown_exec")

# Cells that measure the machine they run on (the flash page's peak memory, by tracemalloc,
# which in a kernel also counts the kernel's own threads): their figure is compared by its
# caption and alt text only, not its numbers. (page, a string in the cell's source)
MEASUREMENTS = {("flash.md", "tracemalloc")}
_FIGURE_TEXT = re.compile(r'aria-label="[^"]*"|<figcaption>.*?</figcaption>', re.S)

_EXECUTED = re.compile(r'^\s*```(?:python|py|pycon)\b[^\n]*\bexec="on"', re.M)
_MATHML = re.compile(r"<math\b.*?</math>", re.S)
_TEX = re.compile(r"\$\$?[^$<]+?\$\$?")


def _pages_with_executed_code() -> list[str]:
    excluded = {"_writing.md"}
    return sorted(
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if "snippets" not in path.relative_to(DOCS).parts
        and path.name not in excluded
        and _EXECUTED.search(path.read_text(encoding="utf-8"))
    )


PAGES = _pages_with_executed_code()


def _notebook_name(page: str) -> str:
    return page.removesuffix(".md").replace("/", "-") + ".ipynb"


def _page_html(site: Path, page: str) -> Path:
    stem = page.removesuffix(".md")
    return site / ("index.html" if stem == "index" else f"{stem.removesuffix('/index')}/index.html")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("notebook-site") / "site"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONOPTIMIZE", "SITE_URL"}}
    env.update(SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{done.stdout[-3000:]}{done.stderr[-6000:]}")
    return out


def _read(site: Path, page: str):
    path = site / "notebooks" / _notebook_name(page)
    assert path.is_file(), f"no notebook for {page}"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def test_plain_build_has_no_version_selector(site: Path) -> None:
    """Material's version selector loads ../versions.json, which only a mike deployment has
    (tests/browser/test_versions.py): a plain build must not ask for it."""
    assert '"version": null' in (site / "index.html").read_text(encoding="utf-8")


def test_every_page_with_executed_code_has_a_notebook(site: Path) -> None:
    assert len(PAGES) >= 10, PAGES
    published = sorted(p.name for p in (site / "notebooks").glob("*.ipynb"))
    assert published == sorted(_notebook_name(page) for page in PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_links_its_notebook(site: Path, page: str) -> None:
    text = _page_html(site, page).read_text(encoding="utf-8")
    link = re.search(r'<p class="ar-notebook"><a href="([^"]+)" download="[^"]+\.ipynb">', text)
    assert link, f"{page} has no notebook link"
    target = (_page_html(site, page).parent / link.group(1)).resolve()
    assert target == (site / "notebooks" / _notebook_name(page)).resolve()


@pytest.mark.parametrize("page", PAGES)
def test_first_cell_names_version_and_commit(site: Path, page: str) -> None:
    first = _read(site, page).cells[0]
    assert first.cell_type == "markdown"
    built = provenance.collect(ROOT)
    assert f"`attention_ref` {attention_ref.__version__}" in first.source
    assert f"pip install attention-ref=={attention_ref.__version__}" in first.source
    if built.commit:
        assert f"commit `{built.commit}`" in first.source
    else:
        assert "commit unknown" in first.source


def _printed(cell) -> tuple[str, list[tuple[str, str]]]:
    """A code cell's stdout, and its displays as (MIME type, content)."""
    stdout = "".join(
        o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"
    )
    displays = [
        (mime, data)
        for o in cell.outputs
        if o.output_type in {"display_data", "execute_result"}
        for mime, data in sorted(o.data.items())
        if mime != "text/plain"
    ]
    return stdout, displays


_CODE = re.compile(r"<code\b[^>]*>(.*?)</code>", re.S)
_TAG = re.compile(r"<[^>]+>")


def _code_texts(page_html: str) -> str:
    """The text of every code element of a page (highlighting removed), one after another."""
    return "\n".join(html.unescape(_TAG.sub("", m.group(1))) for m in _CODE.finditer(page_html))


@pytest.mark.parametrize("page", PAGES)
def test_saved_outputs_are_what_the_page_shows(site: Path, page: str) -> None:
    text = _page_html(site, page).read_text(encoding="utf-8")
    code = _code_texts(text)
    checked = 0
    for cell in _read(site, page).cells:
        if cell.cell_type != "code":
            continue
        stdout, displays = _printed(cell)
        if stdout:
            assert stdout.strip("\n") in code, f"not on the page: {stdout[:200]!r}"
            checked += 1
        for mime, data in displays:
            if mime == "text/html":
                assert data in text, f"not on the page: {data[:200]!r}"
                checked += 1
    assert checked, f"{page}: no output checked"


def _comparable_html(data: str) -> str:
    """A figure's HTML with each caption formula replaced by a placeholder."""
    return _TEX.sub("[math]", _MATHML.sub("[math]", data))


_EXECUTE = f"""\
import sys, nbformat, nbclient
notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(
    notebook, timeout={CELL_TIMEOUT}, kernel_name="python3", allow_errors=False,
    resources={{"metadata": {{"path": sys.argv[3]}}}},
).execute()
nbformat.write(notebook, sys.argv[2])
"""

_GUARD = """\
import importlib.util, sys
assert importlib.util.find_spec("attention_ref_site") is None, "attention_ref_site is importable"
"""

# The build tooling loaded, and attention_ref_site modules that did not come from the notebook.
_TOOLING_PROBE = f"""\
import sys
print(sorted({{m.split(".")[0] for m in sys.modules}} & set({BUILD_TOOLING!r})), sorted(
    name for name, module in sys.modules.items()
    if name.split(".")[0] == "attention_ref_site"
    and not getattr(module, "__file__", "<notebook").startswith("<notebook")
))
"""


@pytest.mark.parametrize("page", PAGES)
def test_notebook_runs_and_prints_what_the_page_printed(
    site: Path, page: str, tmp_path: Path
) -> None:
    saved = _read(site, page)
    run = copy.deepcopy(saved)
    run.cells.insert(0, nbformat.v4.new_code_cell(_GUARD))
    run.cells.append(nbformat.v4.new_code_cell(_TOOLING_PROBE))
    for index, cell in enumerate(run.cells):
        cell.id = f"run-{index:03d}"
    # nbclient runs in a process of its own: it leaves an asyncio event loop behind, in
    # which Playwright's sync API (tests/browser/test_versions.py) refuses to run.
    source, executed = tmp_path / "notebook.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(run, source)
    work = tmp_path / "cwd"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _EXECUTE, str(source), str(executed), str(work)],
        capture_output=True,
        text=True,
        timeout=CELL_TIMEOUT * 4,
        check=False,
    )
    assert done.returncode == 0, f"{page}: the notebook failed:\n{done.stderr[-6000:]}"
    run = nbformat.read(executed, as_version=4)
    run_cells = run.cells[1:-1]
    stdout, _ = _printed(run.cells[-1])
    assert stdout.strip() == "[] []", f"the notebook loaded the site's build tooling: {stdout}"
    compared = 0
    for number, (expected, actual) in enumerate(zip(saved.cells, run_cells, strict=True)):
        if expected.cell_type != "code":
            continue
        where = f"{page}, cell {number}:\n{expected.source[:300]}"
        stderr = [
            o.text for o in actual.outputs if o.output_type == "stream" and o.name == "stderr"
        ]
        assert not stderr, f"{where}\nwrote to stderr: {''.join(stderr)[:2000]}"
        want_out, want_displays = _printed(expected)
        got_out, got_displays = _printed(actual)
        assert got_out == want_out, f"{where}\nprinted differently"
        assert [m for m, _ in got_displays] == [m for m, _ in want_displays], where
        for (mime, want), (_, got) in zip(want_displays, got_displays, strict=True):
            if mime == "text/html":
                want, got = _comparable_html(want), _comparable_html(got)
                if any(page == p and s in expected.source for p, s in MEASUREMENTS):
                    want, got = _FIGURE_TEXT.findall(want), _FIGURE_TEXT.findall(got)
                    assert len(want) == 2, where
            assert got == want, f"{where}\nshowed different {mime}"
        compared += bool(want_out or want_displays)
    assert compared, f"{page}: no cell printed anything"
