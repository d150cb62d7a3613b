"""MkDocs hook: every highlighted listing waits in a `<template>` until a reader gets near it.

Pygments wraps every token of a listing in a `<span>`; on most pages those spans were most of
the DOM (Lighthouse flags pages over 1,400 elements; a phone pays for each one in style and
layout, whether or not the reader ever scrolls to the listing or opens the collapsed block
that holds it). This hook rewrites each highlighted block of a page to

    <pre><span></span><code>the plain text</code>
    <template class="ar-code" data-search-exclude>spans</template></pre>

(on one line; `data-search-exclude` keeps the spans' text out of Material's search index,
which indexes the plain text once)

The plain text is the same characters, so it reads, copies (Material's copy button copies
the `<code>`'s text) and is found by the browser's find-in-page exactly as before; the
`<template>`'s content is inert and not part of the document. `docs/assets/js/figures.js`
puts the highlighted spans in place of the plain text when the listing comes within a quarter
of a screen of the viewport, or when the closed `<details>` holding it is opened. Without
JavaScript the code stays plain, and complete.

The line numbers of mkdocstrings' source listings (always in a closed "Source code in ..."
block) become plain text for good: their one span per line only carried a padding, which
`pre.ar-plain` gives in `docs/assets/css/site.css`.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TAG_RE = re.compile(r"<[^>]+>")
# a Pygments block as pymdownx.highlight writes it: in a `div.highlight` of a page, or in the
# code cell of a `table.highlighttable` (mkdocstrings' source listings, with line numbers)
_BLOCK_RE = re.compile(r"(<pre><span></span><code>)(.*?)(</code></pre>)", re.DOTALL)
# the line numbers of a `table.highlighttable`: one `<span class="normal">` per line
_LINENOS_RE = re.compile(r'(<div class="linenodiv"><pre>)<span></span>(.*?)(</pre>)', re.DOTALL)


def _plain(highlighted: str) -> str:
    """The text of the spans, escaped again (entities stay entities)."""
    return html.escape(html.unescape(_TAG_RE.sub("", highlighted)), quote=False)


def _defer(match: re.Match[str]) -> str:
    head, inner, tail = match.groups()
    if "<span" not in inner:
        return match.group(0)
    return (
        f"{head}{_plain(inner)}</code>"
        # data-search-exclude: Material's search indexes the text once, from the <code>
        f'<template class="ar-code" data-search-exclude>{inner}</template>'
        f"{tail.removeprefix('</code>')}"
    )


def _plain_linenos(match: re.Match[str]) -> str:
    head, inner, tail = match.groups()
    head = head.replace("<pre>", '<pre class="ar-plain">')
    return f"{head}{_plain(inner)}{tail}"


def defer_code(content: str) -> str:
    """Rewrite every highlighted block of a page's content (and plain line numbers).

    A listing with line numbers (the API pages' "Source code in ..." blocks, the only ones)
    is left out of Material's search index (`data-search-exclude`): the docstrings above it
    are what a reader searches, and the sources were half of the index every page loads.
    """
    content = content.replace(
        '<table class="highlighttable">', '<table class="highlighttable" data-search-exclude>'
    )
    return _LINENOS_RE.sub(_plain_linenos, _BLOCK_RE.sub(_defer, content))


def on_page_content(html_content: str, **kwargs: Any) -> str:
    return defer_code(html_content)
