r"""Python-Markdown extension: LaTeX math to MathML at build time.

`$...$` becomes inline MathML and `$$...$$` display MathML (`display="block"`), converted
with [latex2mathml](https://pypi.org/project/latex2mathml/) while the page is built, so the
site ships no JavaScript for math. Enable it in `mkdocs.yml`:

```yaml
markdown_extensions:
  - attention_ref_site.mathml
```

MkDocs passes `markdown_extensions` to every Markdown conversion, including the docstrings
that mkdocstrings renders, so API pages get the same math.

Rules (close to Pandoc's `tex_math_dollars`):

- Inline: `$x$`. The opening `$` must not be followed by a space and the closing one must not
  be preceded by a space nor followed by a digit, so "costs $5 and $10" stays text.
- Display: `$$...$$`, either as its own block (which may span several lines, but not a blank
  line, as in LaTeX) or inside running text.
- `\$` is a literal dollar sign, outside math and inside it.
- Code spans and code blocks are left alone: fenced blocks are stashed by superfences before
  this extension runs, indented code is claimed by a block processor of higher priority, and
  code spans by the backtick pattern, which runs before the math pattern.
- Any LaTeX that latex2mathml cannot convert, or converts by passing an unknown command
  through as text, raises `MathError`, which aborts the MkDocs build.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from typing import TYPE_CHECKING

from latex2mathml.converter import convert
from markdown import Extension
from markdown.blockprocessors import BlockProcessor
from markdown.inlinepatterns import InlineProcessor

if TYPE_CHECKING:
    from markdown import Markdown

__all__ = ["MathError", "MathMLExtension", "latex_to_mathml", "makeExtension"]

# Pattern priorities. Backtick code spans are 190 and backslash escapes 180: math must come
# after the code spans (so `$x$` in code stays code) and before escapes and emphasis (so `\_`,
# `\\` and `a_1 b_2` inside math reach LaTeX untouched).
INLINE_PRIORITY = 185
# Block processors: indented code is 80, ATX headings 70. Below 80 so that an indented `$$`
# remains a code block.
BLOCK_PRIORITY = 75

# `$$ ... $$`, not opened by an escaped dollar; the body may contain escaped dollars.
_DISPLAY_RE = r"(?<!\\)\$\$((?:[^$\\]|\\.)+?)\$\$"
# `$...$`: no space after the opening dollar, none before the closing one, no digit after it.
_INLINE_RE = r"(?<![\\$])\$(?![\s$])((?:[^$\\]|\\.)+?)(?<!\s)\$(?![\d$])"

# latex2mathml passes an unknown command through as the text of a token element.
_UNKNOWN_COMMAND_RE = re.compile(r"<(m[a-z]+)\b[^>]*>[^<]*?(\\[A-Za-z]+)[^<]*</\1>")
# An alignment `&` outside of a table (e.g. in an environment latex2mathml does not know).
_STRAY_AMPERSAND_RE = re.compile(r"<m[io]>&amp;</m[io]>|<m[io]>&</m[io]>")
# `\operatorname{softmax}` comes out as <mo>softmax</mo>, which browsers space as an unknown
# infix operator; as a multi-letter <mi> it is upright and spaced like \exp or \max.
_OPERATOR_NAME_RE = re.compile(r"<mo>([A-Za-z][A-Za-z0-9]+)</mo>")
# In display math the limits of \max and \min go under the name, as TeX sets them; latex2mathml
# leaves them as subscripts. Only simple subscripts (one token or one flat mrow) are moved.
_DISPLAY_LIMITS_RE = re.compile(
    r"<msub><mo>(max|min)</mo>(<mi>[^<]*</mi>|<mrow>(?:(?!</?mrow>).)*</mrow>)</msub>"
)
# latex2mathml makes \infty an operator (<mo>), so browsers pad it like a binary operator
# ("- ∞ ;"); it is an identifier.
_INFINITY = ("<mo>&#x0221E;</mo>", "<mi>&#x0221E;</mi>")
# latex2mathml keeps TeX's escapes inside \text{...} literally (head\_dim): unescape them.
_MTEXT_RE = re.compile(r"<mtext>([^<]*)</mtext>")
_TEXT_ESCAPE_RE = re.compile(r"\\([_%&$#{}])")


# \mathrm{softmax} comes out as one <mi mathvariant="normal"> per letter in an <mrow>: one
# multi-letter <mi> is the same upright word (and 1 element, not 8, of the page's DOM).
_UPRIGHT_LETTERS_RE = re.compile(r'<mrow>((?:<mi mathvariant="normal">[A-Za-z]</mi>){2,})</mrow>')
_LETTER_RE = re.compile(r'<mi mathvariant="normal">([A-Za-z])</mi>')
# An <mrow> that is the only child of <math> or <msqrt> changes nothing: their children form
# an inferred <mrow> already (MathML Core, 3.1.3). latex2mathml wraps every formula in one.
_INFERRED_MROW_RE = re.compile(r"(<math[^>]*>|<msqrt>)<mrow>")
_MROW_TAG_RE = re.compile(r"<(/?)mrow>")


def _upright_word(match: re.Match[str]) -> str:
    return '<mi mathvariant="normal">' + "".join(_LETTER_RE.findall(match.group(1))) + "</mi>"


def _drop_inferred_mrows(mathml: str) -> str:
    """Remove each `<mrow>` that is the only child of a `<math>` or an `<msqrt>`."""
    start = 0
    while match := _INFERRED_MROW_RE.search(mathml, start):
        parent = "math" if match.group(1).startswith("<math") else "msqrt"
        open_at, depth = match.end() - len("<mrow>"), 0
        for tag in _MROW_TAG_RE.finditer(mathml, open_at):
            depth += -1 if tag.group(1) else 1
            if depth == 0:
                break
        close_at = tag.start()
        if mathml.startswith(f"</{parent}>", tag.end()):  # the mrow is the only child
            mathml = (
                mathml[:open_at] + mathml[open_at + len("<mrow>") : close_at] + mathml[tag.end() :]
            )
            start = open_at  # the former child starts here; it may hold another
        else:
            start = open_at + 1
    return mathml


def _unescape_mtext(match: re.Match[str]) -> str:
    return "<mtext>" + _TEXT_ESCAPE_RE.sub(r"\1", match.group(1)) + "</mtext>"


class MathError(ValueError):
    """A LaTeX expression that cannot be converted to MathML."""


def latex_to_mathml(latex: str, *, display: bool) -> str:
    """Convert one LaTeX expression to a `<math>` element.

    Parameters
    ----------
    latex : str
        The expression, without its `$` delimiters.
    display : bool
        `True` for display math (`display="block"`), `False` for inline math.

    Returns
    -------
    str
        The MathML, as HTML text.

    Raises
    ------
    MathError
        If the expression is empty or latex2mathml cannot convert it.
    """
    source = latex.strip()
    kind = "display" if display else "inline"
    if not source:
        raise MathError(f"empty {kind} math")
    try:
        mathml = convert(source, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises a zoo of its own exception types
        detail = f": {error}" if str(error) else ""
        raise MathError(
            f"cannot convert {kind} math {source!r} to MathML ({type(error).__name__}{detail})"
        ) from error
    unknown = _UNKNOWN_COMMAND_RE.search(mathml)
    if unknown:
        raise MathError(f"unknown LaTeX command {unknown.group(2)!r} in {kind} math {source!r}")
    if _STRAY_AMPERSAND_RE.search(mathml):
        raise MathError(
            f"alignment '&' outside a matrix or array in {kind} math {source!r} "
            "(latex2mathml knows matrix, pmatrix, bmatrix, cases, array, align* and split; "
            "not aligned)"
        )
    mathml = mathml.replace(*_INFINITY)
    mathml = _MTEXT_RE.sub(_unescape_mtext, mathml)
    if display:
        mathml = _DISPLAY_LIMITS_RE.sub(r"<munder><mi>\1</mi>\2</munder>", mathml)
    mathml = _UPRIGHT_LETTERS_RE.sub(_upright_word, mathml)
    return _drop_inferred_mrows(_OPERATOR_NAME_RE.sub(r"<mi>\1</mi>", mathml))


def _display_html(latex: str, *, tag: str = "div") -> str:
    # The wrapper scrolls sideways when a formula is wider than the page (see site.css);
    # inside running text it must be a <span>, as a <div> may not sit in a <p>.
    return f'<{tag} class="math-display">{latex_to_mathml(latex, display=True)}</{tag}>'


class _InlineMathProcessor(InlineProcessor):
    def __init__(self, pattern: str, md: Markdown, *, display: bool) -> None:
        super().__init__(pattern, md)
        self.display = display
        self.compiled_re = re.compile(pattern, re.DOTALL)

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[str, int, int]:
        if self.display:
            html = _display_html(m.group(1), tag="span")
        else:
            html = latex_to_mathml(m.group(1), display=False)
        return self.md.htmlStash.store(html), m.start(0), m.end(0)


class _DisplayMathBlockProcessor(BlockProcessor):
    """A block that starts with `$$` and holds the whole display (LaTeX allows no blank line)."""

    _CLOSE_RE = re.compile(r"(?<!\\)\$\$")

    def test(self, parent: etree.Element, block: str) -> bool:
        return block.lstrip().startswith("$$")

    def run(self, parent: etree.Element, blocks: list[str]) -> bool:
        body = blocks.pop(0).lstrip()[2:]
        close = self._CLOSE_RE.search(body)
        if close is None:
            # Blocks are separated by blank lines, which LaTeX does not allow in display math.
            raise MathError(
                f"display math opened with '$$' is not closed before a blank line: {body!r}"
            )
        latex, rest = body[: close.start()], body[close.end() :]
        placeholder = etree.SubElement(parent, "p")
        placeholder.text = self.parser.md.htmlStash.store(_display_html(latex))
        if rest.strip():
            blocks.insert(0, rest.lstrip("\n"))
        return True


class MathMLExtension(Extension):
    """Convert `$...$` and `$$...$$` LaTeX to MathML with latex2mathml."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.registerExtension(self)
        if "$" not in md.ESCAPED_CHARS:
            md.ESCAPED_CHARS.append("$")
        md.parser.blockprocessors.register(
            _DisplayMathBlockProcessor(md.parser), "mathml-display-block", BLOCK_PRIORITY
        )
        md.inlinePatterns.register(
            _InlineMathProcessor(_DISPLAY_RE, md, display=True),
            "mathml-display",
            INLINE_PRIORITY + 0.1,
        )
        md.inlinePatterns.register(
            _InlineMathProcessor(_INLINE_RE, md, display=False),
            "mathml-inline",
            INLINE_PRIORITY,
        )


def makeExtension(**kwargs: object) -> MathMLExtension:
    """Entry point used by Python-Markdown for `attention_ref_site.mathml`."""
    return MathMLExtension(**kwargs)
