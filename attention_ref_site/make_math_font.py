"""Regenerate docs/assets/fonts/ar-math.woff2, the site's self-hosted math font.

The font is a subset of Latin Modern Math 1.959 (GUST Font License), renamed "AR Math" as the
license asks of derived works, converted to WOFF2. It keeps the MATH table and every glyph
that MathML layout needs: Latin, Greek, the mathematical operators, arrows and delimiters
with all their size variants and assembly pieces (for stretchy brackets and radicals), and
the mathematical alphanumeric symbols that browsers use for italic, bold, double-struck and
script letters.

Not a dependency of the project. Run it in a throwaway environment:

    apt-get install fonts-lmodern
    python -m venv /tmp/fontvenv && /tmp/fontvenv/bin/pip install fonttools brotli
    /tmp/fontvenv/bin/python attention_ref_site/make_math_font.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

SOURCE = Path("/usr/share/texmf/fonts/opentype/public/lm-math/latinmodern-math.otf")
TARGET = Path(__file__).resolve().parent.parent / "docs" / "assets" / "fonts" / "ar-math.woff2"
FAMILY = "AR Math"
POSTSCRIPT_NAME = "ARMath-Regular"

# Unicode blocks math layout draws from (inclusive ranges).
UNICODE_RANGES = [
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x00FF),  # Latin-1: × · ± ¬ ¯ ...
    (0x0131, 0x0131),  # dotless i, for accents
    (0x0237, 0x0237),  # dotless j
    (0x0300, 0x036F),  # combining diacritical marks (hat, bar, tilde, dot)
    (0x0391, 0x03F6),  # Greek, with the variant forms ϑ ϕ ϖ ϱ ϵ
    (0x2000, 0x206F),  # general punctuation: primes, ‖, …, invisible operators
    (0x20D0, 0x20FF),  # combining marks for symbols (vector arrows)
    (0x2100, 0x214F),  # letterlike: ℝ ℕ ℤ ℓ ∂-like letters
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators
    (0x2300, 0x23FF),  # misc technical: ceilings, floors, bracket pieces, over/under braces
    (0x25A0, 0x25FF),  # geometric shapes
    (0x27C0, 0x27FF),  # misc mathematical symbols A, supplemental arrows A: ⟨ ⟩ ⟦ ⟧ ⟶
    (0x2900, 0x2AFF),  # supplemental arrows B, misc math symbols B, supplemental operators
    # Mathematical alphanumeric symbols: the styles LaTeX's \mathbf, \mathit (and the
    # browser's automatic italic for single letters), \boldsymbol, \mathcal, \mathbb give.
    # Fraktur, sans-serif and monospace (\mathfrak, \mathsf, \mathtt) are left out to halve
    # the block; a browser falls back to another font for them.
    (0x1D400, 0x1D503),  # bold, italic, bold italic, script, bold script
    (0x1D538, 0x1D56B),  # double-struck
    (0x1D6A4, 0x1D755),  # dotless i/j italic; Greek bold, italic, bold italic
    (0x1D7CA, 0x1D7E1),  # bold digamma, bold digits, double-struck digits
]


def main() -> int:
    options = subset.Options()
    options.layout_features = ["*"]  # keep ssty (script-size forms), dtls, flac, ...
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = True
    options.desubroutinize = False

    font = TTFont(SOURCE)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[cp for low, high in UNICODE_RANGES for cp in range(low, high + 1)])
    subsetter.subset(font)
    assert "MATH" in font, "the MATH table must survive subsetting"

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
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(TARGET)
    print(f"{TARGET}: {TARGET.stat().st_size} bytes, {len(font.getGlyphOrder())} glyphs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
