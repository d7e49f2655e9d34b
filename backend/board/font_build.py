"""The tumour-board PDF's font: the Korean face of Noto Sans CJK (Debian package fonts-noto-cjk) with
TrueType outlines, which reportlab can embed as a subset (it refuses the package's PostScript/CFF outlines).

    ai-server/.venv/bin/python scripts/board_font.py [OUTPUT] [--source TTC] [--face N]

(scripts/board_font.py runs this file; it lives in the backend's tree so that the backend image's `font`
stage, whose build context is backend/, can run it too.) Needs fontTools: the ai-server's environment has
it, through matplotlib; the backend's does not, and the image's `font` stage installs it alone
(requirements-font.lock). Never imported by the backend. Keeps
Latin, punctuation, arrows, CJK symbols, Hangul jamo and all 11,172 Hangul syllables (about 2 MB, a few
seconds); the backend embeds only the glyphs each PDF uses. OUTPUT defaults to var/fonts/, where
BOARD_PDF_FONT looks by default. The font stays under the SIL Open Font License 1.1 of its source.
"""

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

HERE = Path(__file__).resolve()
REPO = HERE.parents[2] if len(HERE.parents) > 2 else HERE.parent  # backend/board/ -> the repository
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
KOREAN_FACE = 1  # the collection's order: JP, KR, SC, TC, HK, then the Mono faces
OUTPUT = REPO / "var" / "fonts" / "NotoSansCJKkr-Regular-TT.ttf"
RANGES = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 (degree, plus-minus, micro)
    (0x2010, 0x205E),  # dashes, quotes, bullets, ‰
    (0x2190, 0x21FF),  # arrows
    (0x2260, 0x2265),  # ≠ ≤ ≥
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3131, 0x318E),  # Hangul compatibility jamo
    (0xAC00, 0xD7A3),  # Hangul syllables
)
TOLERANCE = 1.0  # font units: the largest distance of the quadratic outline from the cubic one


def convert(source: Path, face: int, output: Path) -> int:
    font = TTFont(source, fontNumber=face)
    options = subset.Options()
    options.layout_features = []  # reportlab neither shapes nor reads GSUB/GPOS
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.desubroutinize = True  # the outlines are drawn out whole below
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[code for low, high in RANGES for code in range(low, high + 1)])
    subsetter.subset(font)

    order = font.getGlyphOrder()
    drawn = font.getGlyphSet()
    glyphs = {}
    for name in order:  # cubic (CFF) to quadratic (glyf) curves, contours turned to TrueType's direction
        pen = TTGlyphPen(None)
        drawn[name].draw(Cu2QuPen(pen, TOLERANCE, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, glyphs
    del font["CFF "]
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000  # version 1.0 carries the TrueType limits; no hinting programs
    for field in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs", "maxStackElements",
                  "maxSizeOfInstructions", "maxComponentElements", "maxComponentDepth"):  # fmt: skip
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0  # no glyph names
    font.sfntVersion = "\0\1\0\0"
    output.parent.mkdir(parents=True, exist_ok=True)
    font.save(output)
    return len(order)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", type=Path, default=OUTPUT)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--face", type=int, default=KOREAN_FACE)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"{args.source} is missing: install the Debian package fonts-noto-cjk", file=sys.stderr)
        return 1
    glyphs = convert(args.source, args.face, args.output)
    print(f"{args.output}: {glyphs} glyphs, {args.output.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
