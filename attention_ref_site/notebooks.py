"""Every page with executed code, as a Jupyter notebook written while the site is built.

The notebook is made from the build itself, not kept by hand:

- **Code cells** are the page's executed blocks exactly as markdown-exec ran them: after
  `pymdownx.snippets` replaced the `--8<--` lines (so the page's hidden setup,
  `docs/snippets/_setup.py`, and every included example are there in full), with the
  prompts of `pycon` blocks removed. `Recorder` wraps markdown-exec's Python runner and keeps,
  for each block, the code, the block's options and what it printed.
- **Outputs** are what the page printed: a stream for `result="..."` blocks, HTML for
  `html="1"` blocks (figures), Markdown for blocks whose output the page reads as Markdown.
  Cells of the last two kinds start with `%%show_html` or `%%show_markdown`, cell magics
  (defined in the notebook's first code cell) that run the cell and display what it printed,
  as the page does.
- **Markdown cells** are the page's prose between the blocks: admonitions and tabs become a
  bold title over their text, heading attributes (`{ data-toc-label=... }`) are dropped,
  and relative links point at the published page.
- **The site's helper modules** the page uses (`attention_ref_site.figures`, and for the
  trained pages `attention_ref_site.training`) are not part of the attention-ref package:
  their source is in the notebook, one cell each (`%%site_module`, hidden by default), so
  the notebook runs with `attention_ref` and matplotlib alone. `attention_ref_site.mathml` is
  replaced by a stand-in (`MATHML_STANDIN`) that leaves `$...$` for Jupyter to typeset
  instead of converting it with latex2mathml.
- **The first cell** names the page, the `attention_ref` version and the commit (from
  `attention_ref_site.provenance`).

`tests/test_notebooks.py` runs every notebook in a fresh kernel and compares each cell's
output with the saved one, which is the page's.
"""

from __future__ import annotations

import ast
import posixpath
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import nbformat
from nbformat import v4

from attention_ref_site.provenance import Provenance

__all__ = ["Block", "Recorder", "build_notebook", "notebook_path", "site_modules"]

PACKAGE = "attention_ref_site"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
EXEC_LANGUAGES = frozenset({"python", "py", "pycon"})

# ---------------------------------------------------------------------------------------------
# Recording what markdown-exec runs


@dataclass
class Block:
    """One executed block: the code that ran, its options, and what it printed."""

    code: str
    output: str | None  # None: the block raised (the strict build fails)
    language: str
    session: str | None
    html: bool
    result: str
    source: str

    @property
    def display(self) -> str:
        """How the page shows the output: "html", "markdown" or "text"."""
        if self.html:
            return "html"
        if not self.result:
            return "markdown"
        return "text"


@dataclass
class Recorder:
    """Wraps markdown-exec's Python runner; `take()` returns the blocks run since the last call.

    The wrapping happens once per process (`mkdocs serve` reloads the hook on every rebuild):
    the wrappers record into the recorder installed last."""

    blocks: list[Block] = field(default_factory=list)
    _options: dict[str, Any] | None = None

    def install(self) -> None:
        _active[0] = self
        if _active[1]:
            return
        from markdown_exec._internal import main
        from markdown_exec._internal.formatters import pycon, python

        run = python._run_python

        def recording_run(code: str, *args: Any, **kwargs: Any) -> str:
            output: str | None = None  # a block that raised printed nothing to keep
            try:
                output = run(code, *args, **kwargs)
                return output
            finally:
                record(code, output)

        def record(code: str, output: str | None) -> None:
            recorder = _active[0]
            if recorder is not None and recorder._options is not None:
                options = recorder._options
                recorder.blocks.append(
                    Block(
                        code=code,
                        output=output,
                        language=options["language"],
                        session=options.get("session"),
                        html=bool(options.get("html")),
                        result=str(options.get("result") or ""),
                        source=str(options.get("source") or ""),
                    )
                )

        def recording_formatter(language: str, format_: Callable[..., Any]) -> Callable[..., Any]:
            def formatter(**kwargs: Any) -> Any:
                recorder = _active[0]
                if recorder is None:
                    return format_(**kwargs)
                recorder._options = {"language": language, **kwargs}
                try:
                    return format_(**kwargs)
                finally:
                    recorder._options = None

            return formatter

        python._run_python = recording_run  # looked up at call time by both formatters
        pycon._run_python = recording_run
        for language in EXEC_LANGUAGES:
            main.formatters[language] = recording_formatter(language, main.formatters[language])
        _active[1] = True

    def take(self) -> list[Block]:
        blocks, self.blocks = self.blocks, []
        return blocks


# The recorder the wrappers record into, and whether markdown-exec is wrapped yet.
_active: list[Any] = [None, False]


# ---------------------------------------------------------------------------------------------
# The page's Markdown, split at its executed blocks

_FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
_CONTAINER_RE = re.compile(
    r'^(?P<kind>!!!|\?\?\?\+?|===\+?)\s*(?P<type>[\w-]+)?\s*(?:"(?P<title>[^"]*)")?\s*$'
)
_HEADING_ATTRS_RE = re.compile(r"^(#{1,6}\s.*?)\s*\{[^{}]*\}\s*$")
_INLINE_LINK_RE = re.compile(r"(!?\[(?:[^\[\]]|\[[^\]]*\])*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_REFERENCE_LINK_RE = re.compile(r"^(\s*\[[^\]]+\]:\s*)(\S+)(.*)$")


def _is_executed(info: str) -> bool:
    language = info.split(None, 1)[0].lstrip(".") if info.strip() else ""
    return language in EXEC_LANGUAGES and bool(re.search(r'\bexec="(on|1|true|yes)"', info))


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@dataclass
class _Prose:
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines).strip("\n")


def split_markdown(markdown: str) -> list[str | int]:
    """The page as Markdown strings (prose, converted for Jupyter) and the indices of its
    executed blocks, in order."""
    parts: list[str | int] = []
    prose = _Prose()
    containers: list[int] = []  # the indentation of each open admonition or tab's body
    executed = 0
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip():
            while containers and _indent_of(line) < containers[-1]:
                containers.pop()
        depth = containers[-1] if containers else 0
        body = line[depth:] if line[:depth].strip() == "" else line.lstrip()
        fence = _FENCE_RE.match(body)
        if fence:
            marker = fence["fence"]
            close = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
            end = i + 1
            while end < len(lines) and not close.match(lines[end]):
                end += 1
            if _is_executed(fence["info"]):
                if prose.text():
                    parts.append(prose.text())
                prose = _Prose()
                parts.append(executed)
                executed += 1
            else:
                info = fence["info"]
                title = re.search(r'title="([^"]*)"', info)
                if title:
                    prose.lines.append(f"*{title.group(1)}*")
                    prose.lines.append("")
                language = info.split(None, 1)[0] if info.strip() else ""
                prose.lines.append(f"{fence['indent']}{marker}{language}")
                for inner in lines[i + 1 : end + 1]:
                    prose.lines.append(inner[depth:] if inner[:depth].strip() == "" else inner)
            i = end + 1
            continue
        container = _CONTAINER_RE.match(body)
        if container and line.strip():
            title = container["title"]
            if title is None:
                title = (container["type"] or "").replace("-", " ").capitalize()
            if title:
                prose.lines.append(f"**{title}**")
                prose.lines.append("")
            containers.append(depth + _indent_of(body) + 4)
            i += 1
            continue
        heading = _HEADING_ATTRS_RE.match(body)
        prose.lines.append(heading.group(1) if heading else body)
        i += 1
    if prose.text():
        parts.append(prose.text())
    return parts


def absolute_links(markdown: str, resolve: Callable[[str], str]) -> str:
    """Markdown with every relative link target passed through `resolve`."""

    def target(url: str) -> str:
        if urlsplit(url).scheme or url.startswith(("//", "mailto:")):
            return url
        return resolve(url)

    lines = []
    inside_code = False
    for line in markdown.split("\n"):
        if _FENCE_RE.match(line):
            inside_code = not inside_code
        if not inside_code:
            line = _INLINE_LINK_RE.sub(lambda m: m[1] + target(m[2]) + m[3], line)
            line = _REFERENCE_LINK_RE.sub(lambda m: m[1] + target(m[2]) + m[3], line)
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The site's modules a page needs


def _imported_site_modules(code: str, module: str | None, is_package: bool) -> set[str]:
    """`attention_ref_site` modules that `code` imports (absolute and relative imports; for
    `from package import name`, `package.name` too, which may be a submodule)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and module:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _module_file(root: Path, name: str) -> tuple[Path, bool] | None:
    path = root.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py", True
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py"), False
    return None


@dataclass(frozen=True)
class SiteModule:
    name: str
    source: str
    is_package: bool
    standin: bool  # not the module's own source (see MATHML_STANDIN)


MATHML_STANDIN = '''\
"""Stand-in for attention_ref_site.mathml in notebooks.

The site converts LaTeX to MathML at build time with latex2mathml; here a figure caption's
`$...$` is left for Jupyter to typeset, so the notebook needs neither latex2mathml nor
Python-Markdown."""

import html


def latex_to_mathml(latex, *, display):
    delimiter = "$$" if display else "$"
    return html.escape(f"{delimiter}{latex.strip()}{delimiter}")
'''

STANDINS = {f"{PACKAGE}.mathml": MATHML_STANDIN}


def site_modules(codes: Iterable[str], root: Path) -> list[SiteModule]:
    """The `attention_ref_site` modules the code imports, directly or through each other,
    dependencies first (a package after the submodules its `__init__` imports)."""
    wanted: dict[str, SiteModule] = {}
    dependencies: dict[str, set[str]] = {}
    queue = sorted(set().union(*(_imported_site_modules(code, None, False) for code in codes)))
    while queue:
        name = queue.pop()
        if name in wanted:
            continue
        located = _module_file(root, name)
        if located is None:
            continue  # a name imported from a module, not a module
        path, is_package = located
        standin = name in STANDINS
        source = STANDINS[name] if standin else path.read_text(encoding="utf-8")
        wanted[name] = SiteModule(name, source, is_package, standin)
        imported = _imported_site_modules(source, name, is_package) - {name}
        # A module's parent packages are set up empty by %%site_module; only their own
        # __init__ code, if imported, needs running.
        dependencies[name] = {
            dep for dep in imported if not name.startswith(dep + ".") or dep in wanted
        }
        queue.extend(sorted(imported - set(wanted)))
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting or name not in wanted:
            return
        visiting.add(name)
        for dep in sorted(dependencies.get(name, ())):
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(wanted):
        visit(name)
    return [wanted[name] for name in ordered]


# ---------------------------------------------------------------------------------------------
# The notebook

MAGICS = '''\
# Notebook machinery (not on the page). On the site, a block's printed output is shown as
# text, as HTML (figures) or as Markdown, and nothing else: no value of a cell's last line.
import sys
import types

from IPython import get_ipython
from IPython.core.magic import register_cell_magic
from IPython.display import HTML, Markdown, display

get_ipython().ast_node_interactivity = "none"  # show only what the cells print, as the page


def _printed(cell):
    """Run the cell in the notebook's namespace; return what it printed."""
    import contextlib, io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = get_ipython().run_cell(cell)
    result.raise_error()
    return buffer.getvalue()


@register_cell_magic
def show_html(line, cell):
    """Run the cell and show what it prints as HTML, as the page does (its figures)."""
    display(HTML(_printed(cell)))


@register_cell_magic
def show_markdown(line, cell):
    """Run the cell and show what it prints as Markdown, as the page does."""
    display(Markdown(_printed(cell)))


@register_cell_magic
def site_module(line, cell):
    """Run the cell as the module named on the magic's line, importable afterwards: the
    site's helper modules are not part of the attention-ref package."""
    import linecache

    name, _, kind = line.partition(" ")
    parts = name.split(".")
    for depth in range(1, len(parts)):  # parent packages, empty until their cell runs
        parent = ".".join(parts[:depth])
        if parent not in sys.modules:
            sys.modules[parent] = types.ModuleType(parent)
            sys.modules[parent].__path__ = []
        if depth > 1:
            grandparent = sys.modules[".".join(parts[: depth - 1])]
            setattr(grandparent, parts[depth - 1], sys.modules[parent])
    module = sys.modules.get(name) if kind == "package" else None
    if module is None:
        module = types.ModuleType(name)
    filename = f"<notebook: {name.replace('.', '/')}.py>"
    module.__file__ = filename
    module.__package__ = name if kind == "package" else name.rpartition(".")[0]
    if kind == "package":
        module.__path__ = []
    sys.modules[name] = module
    if len(parts) > 1:
        setattr(sys.modules[".".join(parts[:-1])], parts[-1], module)
    linecache.cache[filename] = (len(cell), None, cell.splitlines(True), filename)
    exec(compile(cell, filename, "exec"), module.__dict__)
'''


def notebook_path(src_uri: str) -> str:
    """Where a page's notebook is published: `notebooks/<page>.ipynb`."""
    stem = src_uri.removesuffix(".md").replace("/", "-")
    return f"notebooks/{stem}.ipynb"


def _cell_id(index: int) -> str:
    return f"cell-{index:03d}"


def _outputs(block: Block) -> list[Any]:
    if not block.output:
        return []
    if block.display == "html":
        return [v4.new_output("display_data", data={"text/html": block.output})]
    if block.display == "markdown":
        return [v4.new_output("display_data", data={"text/markdown": block.output})]
    return [v4.new_output("stream", name="stdout", text=block.output)]


def _code(block: Block) -> str:
    code = block.code.strip("\n")
    if block.output and block.display == "html":
        return "%%show_html\n" + code
    if block.output and block.display == "markdown":
        return "%%show_markdown\n" + code
    return code


def build_notebook(
    *,
    title: str,
    page_url: str,
    parts: list[str | int],
    blocks: list[Block],
    modules: list[SiteModule],
    provenance: Provenance,
) -> nbformat.NotebookNode:
    """The notebook of one page, with the page's outputs saved in it."""
    if provenance.commit:
        commit = f"commit `{provenance.commit}` ({provenance.commit_date})"
        if provenance.dirty:
            commit += ", with uncommitted changes"
    else:
        commit = "outside a git checkout (commit unknown)"
    intro = (
        f"**{title}**: [this page]({page_url}) of the attention-ref site, as a Jupyter notebook."
        f"\n\nGenerated when the site was built, with `attention_ref` {provenance.version} "
        f"and NumPy {provenance.numpy_version}, from {commit}. The code cells are the page's "
        "executed examples, in order, starting with its hidden setup; the saved outputs are "
        "what the page printed.\n\n"
        f"To run it: `pip install attention-ref=={provenance.version} matplotlib`, then run "
        "all cells from the top. The next cells define the site's helper modules, which the "
        "attention-ref package does not include (their source is hidden: click to show it)."
    )
    cells = [v4.new_markdown_cell(intro), v4.new_code_cell(MAGICS)]
    for module in modules:
        kind = " package" if module.is_package else ""
        note = "a stand-in for " if module.standin else ""
        cell = v4.new_code_cell(
            f"%%site_module {module.name}{kind}\n"
            f"# {note}{module.name.replace('.', '/')}"
            f"{'/__init__' if module.is_package else ''}.py\n{module.source.rstrip()}\n"
        )
        cell.metadata["jupyter"] = {"source_hidden": True}
        cells.append(cell)
    for part in parts:
        if isinstance(part, str):
            cells.append(v4.new_markdown_cell(part))
        else:
            block = blocks[part]
            cells.append(v4.new_code_cell(_code(block), outputs=_outputs(block)))
    for index, cell in enumerate(cells):
        cell.id = _cell_id(index)
        if cell.cell_type == "code":
            cell.execution_count = None
    notebook = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": KERNEL,
            "language_info": {"name": "python"},
            "attention_ref": {
                "page": page_url,
                "version": provenance.version,
                "commit": provenance.commit,
                "dirty": provenance.dirty,
            },
        },
    )
    notebook.nbformat_minor = 5
    nbformat.validate(notebook)
    return notebook


def dumps(notebook: nbformat.NotebookNode) -> bytes:
    return (nbformat.writes(notebook) + "\n").encode()


def resolver(
    page_src_uri: str, page_url: str, site_url: str, url_of: Callable[[str], str | None]
) -> Callable[[str], str]:
    """Turns a link written on the page into an absolute URL of the published site."""
    page_absolute = urljoin(site_url, page_url)

    def resolve(url: str) -> str:
        path, _, fragment = url.partition("#")
        suffix = f"#{fragment}" if fragment else ""
        if not path:
            return page_absolute + suffix
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page_src_uri), path))
        published = url_of(target)
        return urljoin(site_url, published if published is not None else target) + suffix

    return resolve


if __name__ == "__main__":  # pragma: no cover
    sys.exit("attention_ref_site.notebooks is used by the site's build (hooks.py)")
