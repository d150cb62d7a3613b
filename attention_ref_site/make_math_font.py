"""Regenerate the site's self-hosted math font and the list of the characters it covers.

Writes two files to docs/assets/fonts/:

- ar-math.woff2: a subset of Latin Modern Math 1.959 (GUST Font License), renamed "AR Math"
  as the license asks of derived works, in WOFF2;
- ar-math.codepoints.txt: the code points the font maps (its cmap), one hex code point or
  range a line, headed by the SHA-256 of the font. tests/test_site.py checks, without
  fontTools, that every character of every <math> element the site builds is in it.

The font is on the article's first-paint path, so it keeps only what the site's math can
draw, not Latin Modern Math's ~2,000 characters:

1. MARGIN below: a fixed, modest set of what math writing commonly reaches for (Basic Latin,
   Greek, the italic letters browsers use for single-letter identifiers, common operators,
   relations, arrows, delimiters, big operators, double-struck capitals and digits), so that
   a new formula rarely needs a new font;
2. plus every character the built site's math uses: the site is built (with the project's
   .venv) and every <math> element of every page is read, API reference included, together
   with the characters a browser substitutes (see `implied_characters`).

For each kept character, the subsetter keeps all the glyphs layout can reach from it: the
MATH table's size variants and assembly parts (stretchy brackets, radicals, big operators,
over/under braces), and the OpenType features math layout uses: ssty (the script-size forms
Firefox uses in sub- and superscripts) and dtls (dotless i and j under accents). The script
checks that closure against the source font before writing anything.

Not a dependency of the project. Run it in a throwaway environment, from anywhere:

    apt-get install fonts-lmodern
    python3 -m venv /tmp/fontvenv && /tmp/fontvenv/bin/pip install fonttools brotli
    /tmp/fontvenv/bin/python attention_ref_site/make_math_font.py

It builds the site into a temporary directory with .venv/bin/python (`--python` to use
another interpreter, `--site DIR` to read an existing build instead). Same sources, same
fontTools and brotli: same bytes (the source's timestamps are kept).

This module imports fontTools only when it writes the font: tests/test_site.py imports
`implied_characters` from it.
"""

# ruff: noqa: RUF001  (the character lists below hold Greek letters and math symbols on purpose)
from __future__ import annotations

import argparse
import hashlib
import html
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/texmf/fonts/opentype/public/lm-math/latinmodern-math.otf")
FONTS = ROOT / "docs" / "assets" / "fonts"
TARGET = FONTS / "ar-math.woff2"
CODEPOINTS = FONTS / "ar-math.codepoints.txt"
FAMILY = "AR Math"
POSTSCRIPT_NAME = "ARMath-Regular"
SOURCE_DATE_EPOCH = "1710892800"  # as tests/test_site.py: the build's output is fixed by it

# OpenType features kept (the subsetter keeps every glyph they reach from a kept character).
# Left out: aalt, a glyph picker's "access all alternates", which browsers never apply.
LAYOUT_FEATURES = ["ssty", "dtls"]


def _chars(text: str) -> set[int]:
    return {ord(c) for c in text if not c.isspace()}


def _span(low: int, high: int) -> set[int]:
    return set(range(low, high + 1))


# The fixed part of the character set. Costs in WOFF2 bytes, measured with Latin Modern Math
# 1.959 and fontTools 4.68: the site's own characters alone make a ~51 kB font, and this margin
# adds ~59 kB, half of it Greek (~28 kB: upright and italic, each letter with its two ssty
# script-size forms, ~300 bytes a letter); an operator costs ~100 bytes, a delimiter with
# its size variants and assembly parts 250 to 850. Left out as too dear for what they are
# likely to be used for (~14 kB each): calligraphic/script letters (\mathcal), bold letters
# (\mathbf, \boldsymbol), Fraktur, sans-serif and monospace; and Latin-1 letters with
# accents. The site's own characters come on top (section 2 of the docstring), so a page
# using one of these still gets it.
MARGIN: dict[str, set[int]] = {
    "Basic Latin": _span(0x20, 0x7E),
    "Latin-1 symbols": _chars("¨¬¯°±´·×÷") | {0xA0},  # no-break space: in <mtext>
    "spacing accents (\\hat \\check \\breve \\dot \\mathring \\tilde)": _chars("ˆˇ˘˙˚˜"),
    # Browsers draw a single-letter <mi> x as U+1D465 MATHEMATICAL ITALIC SMALL X (MathML
    # Core's text-transform: math-auto); h's italic is U+210E PLANCK CONSTANT.
    "mathematical italic Latin": _span(0x1D434, 0x1D467) | {0x210E},
    # Lowercase Greek and TeX's eleven capitals (the others look like Latin letters), upright
    # and italic: a single-letter <mi>α</mi> is drawn as U+1D6FC, \mathrm{α} upright.
    "Greek": _chars("αβγδεζηθικλμνξοπρςστυφχψω ϵϑϰϕϱϖ ΓΔΘΛΞΠΣΥΦΨΩ"),
    "mathematical italic Greek": (
        _span(0x1D6FC, 0x1D71B)  # α..ω, ∂, ϵ ϑ ϰ ϕ ϱ ϖ
        | _chars("𝛤𝛥𝛩𝛬𝛯𝛱𝛴𝛶𝛷𝛹𝛺")
    ),
    "punctuation: primes, norm, dots, daggers": _chars("′″‴‵‖…†‡•"),
    "invisible operators (function application, times, separator, plus)": _span(0x2061, 0x2064),
    "letterlike: ℝ ℕ ℤ ℚ ℂ ℍ ℙ ℓ ℏ ℘ ℑ ℜ ℵ": _chars("ℝℕℤℚℂℍℙℓℏ℘ℑℜℵ"),
    "double-struck capitals and digits (\\mathbb, 𝟙)": (
        _span(0x1D538, 0x1D550) | _span(0x1D7D8, 0x1D7E1)
    ),
    "arrows": _chars("←↑→↓↔↕↦↩↪⇐⇑⇒⇓⇔⟵⟶⟷⟸⟹⟺⟼"),
    "relations": _chars("=<>≠≤≥≪≫≈≃≅≡∼≐≔≜∝≲≳≺≻≼≽⪯⪰∈∉∋⊂⊃⊆⊇⊊∣∤∥⊥⊢⊨"),
    "binary operators": _chars("+−±∓×÷·⋅∘∙∗⋆⋄∖⊕⊖⊗⊘⊙∧∨∩∪"),
    "big operators and radical": _chars("∑∏∐∫∬∭∮⋀⋁⋂⋃⨀⨁⨂√"),
    "other symbols": _chars("∞∂∇∅∀∃∄¬∠∴∵⊤⊺⋮⋯⋰⋱"),
    "delimiters and braces": _chars("⌈⌉⌊⌋⟨⟩⟦⟧⏞⏟"),
}

# ---------------------------------------------------------------------------------------------
# What a page's math draws from the font (no fontTools needed: tests/test_site.py uses this)

MATH_RE = re.compile(r"<math\b[^>]*>.*?</math>", re.DOTALL)
_TAG_RE = re.compile(r"<[^>]*>")
# Token elements, with their attributes and text (self-closing ones have none).
_TOKEN_RE = re.compile(r"<(mi|mn|mo|mtext|ms)\b([^>]*?)(?:/>|>([^<]*)</\1>)")
_MATHVARIANT_RE = re.compile(r"\bmathvariant\s*=\s*[\"']([^\"']*)[\"']")
_RADICAL_RE = re.compile(r"<(?:msqrt|mroot)\b")

# MathML mathvariant values and the word(s) Unicode names their characters with.
_STYLES = {
    "bold": "BOLD",
    "italic": "ITALIC",
    "bold-italic": "BOLD ITALIC",
    "double-struck": "DOUBLE-STRUCK",
    "script": "SCRIPT",
    "bold-script": "BOLD SCRIPT",
    "fraktur": "FRAKTUR",
    "bold-fraktur": "BOLD FRAKTUR",
    "sans-serif": "SANS-SERIF",
    "bold-sans-serif": "SANS-SERIF BOLD",
    "sans-serif-italic": "SANS-SERIF ITALIC",
    "sans-serif-bold-italic": "SANS-SERIF BOLD ITALIC",
    "monospace": "MONOSPACE",
}


def styled(char: str, style: str) -> str | None:
    """The Mathematical Alphanumeric Symbol for `char` in `style` ("ITALIC", "BOLD",
    "DOUBLE-STRUCK", ...), or None if Unicode has none (then the browser keeps `char`).
    Covers the Letterlike Symbols that fill the block's holes (ℎ, ℝ, ℒ, ℭ, ...)."""
    name = unicodedata.name(char, "")
    for word in ("LATIN ", "GREEK ", "LETTER ", "LUNATE "):
        name = name.replace(word, "")
    if not name:
        return None
    candidates = [f"MATHEMATICAL {style} {name}", f"{style} {name}"]
    if style.endswith("FRAKTUR"):
        candidates.append(f"{style.replace('FRAKTUR', 'BLACK-LETTER')} {name}")
    if style == "ITALIC" and name == "SMALL H":
        candidates.append("PLANCK CONSTANT")
    for candidate in candidates:
        try:
            return unicodedata.lookup(candidate)
        except KeyError:
            continue
    return None


def implied_characters(math: str) -> set[str]:
    """Characters a browser draws from the math font for one <math> element's HTML that are
    not in its text:

    - a single-character <mi> without mathvariant is drawn in italic: <mi>x</mi> as U+1D465
      (MathML Core's automatic italic, in Chrome, Firefox and Safari);
    - a token with mathvariant="bold", "double-struck", ... is drawn with the matching
      Mathematical Alphanumeric Symbol (Firefox; Chrome keeps the plain character);
    - <msqrt> and <mroot> draw U+221A SQUARE ROOT (and its size variants);
    - Firefox draws "-" in an <mo> as U+2212 MINUS SIGN.
    """
    implied = set()
    for element, attributes, text in _TOKEN_RE.findall(math):
        text = html.unescape(text).strip()
        variant = _MATHVARIANT_RE.search(attributes)
        if variant:
            style = _STYLES.get(variant.group(1).strip())  # None for "normal"
        else:
            style = "ITALIC" if element == "mi" and len(text) == 1 else None
        if style:
            implied.update(s for s in (styled(c, style) for c in text) if s)
        if element == "mo" and "-" in text:
            implied.add("\u2212")
    if _RADICAL_RE.search(math):
        implied.add("\u221a")
    return implied


def math_characters(page: str) -> set[str]:
    """Every character the math of an HTML page draws from the math font: the text of its
    <math> elements (entities unescaped, whitespace ignored) and `implied_characters`."""
    chars: set[str] = set()
    for math in MATH_RE.findall(page):
        text = html.unescape(_TAG_RE.sub("", math))
        chars.update(c for c in text if not c.isspace())
        chars.update(implied_characters(math))
    return chars


def site_characters(site: Path) -> dict[str, str]:
    """Every math character of a built site, mapped to the first page that uses it."""
    found: dict[str, str] = {}
    for path in sorted(site.rglob("*.html")):
        for char in math_characters(path.read_text(encoding="utf-8")):
            found.setdefault(char, str(path.relative_to(site)))
    return found


def build_site(python: Path, dest: Path) -> Path:
    """`mkdocs build --strict` of the repository into `dest`, as tests/test_site.py builds."""
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, NO_MKDOCS_2_WARNING="1")
    env.pop("PYTHONOPTIMIZE", None)
    command = [str(python), "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(dest)]
    print(f"building the site with {python} ...", file=sys.stderr)
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return dest


# ---------------------------------------------------------------------------------------------
# Writing the font


def codepoint_lines(codepoints: set[int]) -> list[str]:
    """Sorted code points as hex, runs of consecutive ones as "LOW-HIGH"."""
    lines = []
    ordered = sorted(codepoints)
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            low, high = ordered[start], ordered[i - 1]
            lines.append(f"{low:04X}" if low == high else f"{low:04X}-{high:04X}")
            start = i
    return lines


def _math_constructions(font) -> dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]]:
    """(glyph, "vertical" or "horizontal") -> (size variants, assembly parts) of a MATH table."""
    variants = font["MATH"].table.MathVariants
    found = {}
    for direction, coverage, constructions in (
        ("vertical", variants.VertGlyphCoverage, variants.VertGlyphConstruction),
        ("horizontal", variants.HorizGlyphCoverage, variants.HorizGlyphConstruction),
    ):
        if coverage is None:
            continue
        for glyph, construction in zip(coverage.glyphs, constructions, strict=True):
            sizes = tuple(r.VariantGlyph for r in construction.MathGlyphVariantRecord)
            assembly = construction.GlyphAssembly
            parts = tuple(p.glyph for p in assembly.PartRecords) if assembly else ()
            found[(glyph, direction)] = (sizes, parts)
    return found


def make_font(codepoints: set[int]):
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = LAYOUT_FEATURES
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = True  # CFF hints: Windows uses them at text sizes
    options.desubroutinize = True  # lossless, and compresses better under WOFF2's brotli
    options.drop_tables += ["FFTM"]  # FontForge's timestamps (dropped anyway, but with a warning)

    source = TTFont(SOURCE)
    source_constructions = _math_constructions(source)
    font = TTFont(SOURCE, recalcTimestamp=False)  # keep the source's dates: same bytes each run
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)

    # The closure the MATH table needs: every kept glyph that stretches or grows in the source
    # still has all its size variants and assembly parts.
    assert "MATH" in font, "the MATH table must survive subsetting"
    kept = set(font.getGlyphOrder())
    constructions = _math_constructions(font)
    for key, (sizes, parts) in source_constructions.items():
        if key[0] in kept:
            assert constructions.get(key) == (sizes, parts), f"{key}: variants lost"
            assert set(sizes) | set(parts) <= kept, f"{key}: variant glyphs lost"
    # (The cmap may map a few more: characters whose glyph the closure kept, e.g. ∌ for ∋.)
    assert codepoints <= set(font.getBestCmap()), "requested characters lost"

    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 16):
            record.string = FAMILY
        elif record.nameID in (3, 4):
            record.string = f"{FAMILY} Regular"
        elif record.nameID == 6:
            record.string = POSTSCRIPT_NAME
    names.setName(
        f"{FAMILY}: a subset of Latin Modern Math 1.959 made for attention-ref; "
        "renamed as the GUST Font License requests of derived works.",
        10,
        3,
        1,
        0x409,
    )
    font["CFF "].cff.fontNames = [POSTSCRIPT_NAME]
    font.flavor = "woff2"
    return font


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="an existing build of the site to read")
    parser.add_argument(
        "--python",
        type=Path,
        default=ROOT / ".venv" / "bin" / "python",
        help="the interpreter that builds the site (default: the project's .venv)",
    )
    args = parser.parse_args(argv)

    from fontTools.ttLib import TTFont

    available = set(TTFont(SOURCE).getBestCmap())
    margin = set().union(*MARGIN.values())
    # Holes of the Mathematical Alphanumeric Symbols block (italic h, ...) are not characters.
    margin = {c for c in margin if unicodedata.category(chr(c)) != "Cn"}
    absent = sorted(margin - available)
    assert not absent, f"MARGIN lists characters Latin Modern Math lacks: {absent}"

    with tempfile.TemporaryDirectory() as tmp:
        site = args.site or build_site(args.python, Path(tmp) / "site")
        used = site_characters(site)
    lacking = {c: page for c, page in used.items() if ord(c) not in available}
    if lacking:
        listing = "\n".join(f"  U+{ord(c):04X} {c} ({page})" for c, page in sorted(lacking.items()))
        print(f"Latin Modern Math has no glyph for these math characters:\n{listing}")
        return 1
    extra = {ord(c) for c in used} - margin
    codepoints = margin | {ord(c) for c in used}

    font = make_font(codepoints)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(TARGET)
    digest = hashlib.sha256(TARGET.read_bytes()).hexdigest()
    header = [
        f"# The code points {TARGET.name} maps: one hex code point or LOW-HIGH range a line.",
        "# Written by attention_ref_site/make_math_font.py with the font; do not edit.",
        f"# sha256 {digest}",
    ]
    mapped = set(font.getBestCmap())
    CODEPOINTS.write_text("\n".join(header + codepoint_lines(mapped)) + "\n")
    print(
        f"{TARGET.relative_to(ROOT)}: {TARGET.stat().st_size} bytes, "
        f"{len(font.getGlyphOrder())} glyphs, {len(mapped)} code points "
        f"({len(margin)} from MARGIN, {len(used)} used by the site's math, "
        f"{len(extra)} of them beyond MARGIN: {''.join(sorted(map(chr, extra)))})"
    )
    print(f"{CODEPOINTS.relative_to(ROOT)}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
