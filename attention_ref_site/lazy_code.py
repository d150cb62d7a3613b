"""MkDocs hook: highlighted code inside a closed `<details>` waits in a `<template>`.

Pygments wraps every token of a listing in a `<span>`, and the article's long listings sit in
collapsed blocks that most readers never open; their spans were most of the page's DOM
(Lighthouse flags pages over 1,400 elements; a phone pays for each one in style and layout).
This hook rewrites each highlighted block inside a `<details>` that is closed when the page
loads to

    <pre><span></span><code>the plain text</code><template class="ar-code">spans</template></pre>

The plain text is the same characters, so it reads, copies (Material's copy button copies
the `<code>`'s text) and is found by the browser's find-in-page exactly as before; the
`<template>`'s content is inert and not part of the document. When the block is opened,
`docs/assets/js/figures.js` puts the highlighted spans in place of the plain text. Without
JavaScript the code stays plain, and complete.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TAG_RE = re.compile(r"<[^>]+>")
# a Pygments block as pymdownx.highlight writes it (no line numbers on this site)
_BLOCK_RE = re.compile(
    r'(<div class="highlight"><pre><span></span><code>)(.*?)(</code></pre></div>)', re.DOTALL
)
_DETAILS_RE = re.compile(r"<details(?![^>]*\bopen\b)[^>]*>.*?</details>", re.DOTALL)


def _plain(highlighted: str) -> str:
    """The text of the spans, escaped again (entities stay entities)."""
    return html.escape(html.unescape(_TAG_RE.sub("", highlighted)), quote=False)


def _defer(match: re.Match[str]) -> str:
    head, inner, tail = match.groups()
    if "<span" not in inner:
        return match.group(0)
    return (
        f'{head}{_plain(inner)}</code><template class="ar-code">{inner}</template>'
        f"{tail.removeprefix('</code>')}"
    )


def defer_closed_code(content: str) -> str:
    """Rewrite the highlighted blocks of every closed `<details>` (nested ones included)."""
    return _DETAILS_RE.sub(lambda m: _BLOCK_RE.sub(_defer, m.group(0)), content)


def on_page_content(html_content: str, **kwargs: Any) -> str:
    return defer_closed_code(html_content)
