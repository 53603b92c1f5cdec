"""Regenerate the CJK chart font shipped in bot/fonts/ from the zh-Hant catalog.

    python scripts/font_subset.py [--source NotoSansCJK-Regular.ttc] [--font-number 3]

zh-Hant chart labels need a font with Chinese glyphs, and a fresh machine has none. The full Noto Sans CJK
is ~20 MB per weight, so we ship a subset of Noto Sans CJK TC (SIL Open Font License 1.1, bot/fonts/OFL.txt)
holding only what charts can draw: printable ASCII, full-width punctuation and forms, the date words Babel
writes, and every character of the zh-Hant catalog's translations that the source font has (emoji are
not in it; charts draw none). tests/test_charts.py fails, naming the characters, when a translation uses
a CJK character the subset lacks: run this script then (the source is Debian's `fonts-noto-cjk`,
`apt-get install fonts-noto-cjk`; member 3 of its collection is the Traditional Chinese one).

The output is reproducible: the same catalog and source give the same bytes (no build timestamp).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.pofile import read_po
from fontTools import subset
from fontTools.ttLib import TTFont

REPO = Path(__file__).resolve().parent.parent
CATALOG = REPO / "bot" / "locales" / "zh_Hant" / "LC_MESSAGES" / "capgap.po"
FONT_DIR = REPO / "bot" / "fonts"
FONT_FILE = "capgap-NotoSansCJKtc-Regular-subset.otf"
FAMILY = "capgap Noto Sans CJK TC"  # renamed so it never shadows (or is shadowed by) an installed Noto
DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TC_MEMBER = 3  # JP, KR, SC, TC, HK, then the Mono members, in Noto's collection

ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
# Full-width forms (！ to ～), the ideographic space and CJK punctuation, plus the words Babel and the
# renderers use for dates and units in zh-Hant (年月日, weekdays, 上午/下午).
FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "".join(chr(c) for c in range(0x3000, 0x3020))
DATE_WORDS = "年月日時分秒週星期一二三四五六七八九十上午下午點"

# Unicode blocks whose characters DejaVu Sans (matplotlib's default font) lacks: a zh-Hant string using
# one of these must find it in the shipped subset, or its chart draws a box.
CJK_BLOCKS = (
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # kana
    (0x3100, 0x312F),  # Bopomofo
    (0x3200, 0x33FF),  # enclosed CJK, CJK compatibility
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # half-width and full-width forms
    (0x20000, 0x2FFFF),  # CJK extensions B and later
)


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in CJK_BLOCKS)


def catalog_chars(path: Path = CATALOG) -> set[str]:
    """Every character of every zh-Hant translation (plural forms included)."""
    with path.open("rb") as handle:
        catalog = read_po(handle)
    chars: set[str] = set()
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        for text in strings:
            chars.update(text or "")
    return chars


def wanted_chars(path: Path = CATALOG) -> set[str]:
    return set(ASCII) | set(FULL_WIDTH) | set(DATE_WORDS) | catalog_chars(path)


def build(source: Path, font_number: int, out: Path, catalog: Path = CATALOG) -> tuple[int, list[str]]:
    """Write the subset to ``out``; returns (glyphs kept, wanted characters the source font lacks)."""
    font = TTFont(str(source), fontNumber=font_number, recalcTimestamp=False, lazy=False)
    cmap = font.getBestCmap()
    wanted = wanted_chars(catalog)
    absent = sorted(c for c in wanted if ord(c) not in cmap and c not in "\n\t")
    options = subset.Options()
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]  # keep copyright and licence notices (OFL §2)
    options.hinting = False  # Agg renders unhinted at chart sizes; hints only add bytes
    options.layout_features = ["kern", "vert", "locl"]
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=sorted(ord(c) for c in wanted if ord(c) in cmap))
    subsetter.subset(font)
    _rename(font)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(out))
    return len(font.getGlyphOrder()), absent


def _rename(font: TTFont) -> None:
    """A modified font gets its own family name (OFL practice; Noto's Reserved Font Name is only 'Source')."""
    name = font["name"]
    postscript = FAMILY.replace(" ", "") + "-Regular"
    for record in list(name.names):
        if record.nameID in (16, 17, 21, 22):  # typographic family/subfamily: drop, use 1/2 only
            name.removeNames(nameID=record.nameID)
    for record in name.names:
        if record.nameID == 1:
            record.string = FAMILY
        elif record.nameID == 3:
            record.string = f"{postscript};subset by capgap scripts/font_subset.py"
        elif record.nameID == 4:
            record.string = f"{FAMILY} Regular"
        elif record.nameID == 6:
            record.string = postscript
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [postscript]
        top = cff.topDictIndex[0]
        top.FullName = f"{FAMILY} Regular"
        top.FamilyName = FAMILY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help=f"Noto Sans CJK collection or font (default {DEFAULT_SOURCE})")
    parser.add_argument("--font-number", type=int, default=TC_MEMBER,
                        help="member of a .ttc collection (default 3: Noto Sans CJK TC)")
    parser.add_argument("--out", type=Path, default=FONT_DIR / FONT_FILE)
    args = parser.parse_args(argv)
    if not args.source.exists():
        print(f"font_subset: {args.source} not found; install it with `apt-get install fonts-noto-cjk` "
              "or pass --source", file=sys.stderr)
        return 2
    glyphs, absent = build(args.source, args.font_number, args.out)
    size = args.out.stat().st_size
    print(f"font_subset: wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out} "
          f"({glyphs} glyphs, {size / 1024:.0f} KiB)")
    missing_cjk = [c for c in absent if is_cjk(c)]
    if absent:
        print("font_subset: not in the source font (drawn by DejaVu Sans or not at all): "
              + " ".join(f"{c} U+{ord(c):04X}" for c in absent))
    if missing_cjk:
        print("font_subset: CJK characters the source font lacks: " + "".join(missing_cjk), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
