"""Source code shown on a page, laid out to fit the text column.

The pages show some functions of the project as they are (`inspect.getsource`), so that the
listing cannot drift from the code that ran. The project's line length is 100 characters; a
code block in the text column holds 80 (about 87 inside an admonition) at 1280 px. `fit`
re-lays a listing without changing its code: a trailing comment that makes a line too long
moves, wrapped, onto its own lines above the code it annotates, and a comment line that is
too long is rewrapped. A line of code that is still too long is an error, so that the source
is rewrapped instead of being cut off on the page.
"""

from __future__ import annotations

import inspect
import io
import textwrap
import tokenize
from collections.abc import Callable
from typing import Any

#: Characters per line of a code block in the text column at 1280 px (tests/browser checks
#: that no block scrolls sideways).
WIDTH = 80


def _comments(source: str) -> dict[int, int]:
    """Line number (0-based) -> column of the trailing comment, for the lines that have one
    (the whole source is tokenized: a "#" inside a string is not a comment)."""
    tokens = tokenize.generate_tokens(io.StringIO(source + "\n").readline)
    return {t.start[0] - 1: t.start[1] for t in tokens if t.type == tokenize.COMMENT}


def fit(source: str, width: int = WIDTH) -> str:
    """`source` with every over-long line's trailing comment moved above it, wrapped.

    Raises ValueError naming the line if a line is too long without its comment.
    """
    comments = _comments(textwrap.dedent(source))
    indent_all = len(source.splitlines()[0]) - len(textwrap.dedent(source).splitlines()[0])
    out = []
    for number, line in enumerate(source.splitlines()):
        if len(line) <= width:
            out.append(line)
            continue
        at = comments.get(number)
        at = None if at is None else at + indent_all
        code = line[:at].rstrip() if at is not None else line
        if at is None or len(code) > width:
            raise ValueError(f"line of {len(line)} characters (> {width}): {line.strip()!r}")
        indent = " " * (len(line) - len(line.lstrip()))
        comment = line[at:].lstrip("#").strip()
        out += textwrap.wrap(
            comment, width, initial_indent=indent + "# ", subsequent_indent=indent + "# "
        )
        if code.strip():  # a comment of its own line is only rewrapped
            out.append(code)
    return "\n".join(out)


def source(*objects: Callable[..., Any] | type, width: int = WIDTH) -> str:
    """The source of `objects`, one after another, each laid out by `fit`."""
    return "\n\n\n".join(fit(inspect.getsource(o).rstrip("\n"), width) for o in objects)
