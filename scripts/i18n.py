"""Keep the gettext catalogs in step with the code.

    python scripts/i18n.py extract   add every msgid found in bot/, handlers/, jobs/ to both catalogs
                                     (existing translations kept; obsolete ones dropped)
    python scripts/i18n.py missing   list msgids that have no zh-Hant translation yet

Msgids are the literal first arguments of ``tr(...)`` and ``N_(...)``, and the singular/plural pairs (first
and second arguments) of ``trn(...)``, written as msgid/msgid_plural entries with one
msgstr[i] per plural form of the language. tests/test_i18n.py fails when a catalog misses one, so run
`extract` after adding a string, then translate it in bot/locales/zh_Hant/LC_MESSAGES/capgap.po.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

REPO = Path(__file__).resolve().parent.parent
LOCALES = REPO / "bot" / "locales"
KEYWORDS = {"tr": (1,), "N_": (1,), "trn": (1, 2)}
Msgid = str | tuple[str, str]  # a plain msgid, or (singular, plural)
CATALOGS = {"en": "en", "zh_Hant": "zh_Hant_TW"}


def extract_msgids() -> dict[Msgid, list[str]]:
    found: dict[Msgid, list[str]] = {}
    for folder in ("bot", "handlers", "jobs"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            REPO / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            key: Msgid | None = None
            if isinstance(message, str) and message:
                key = message
            elif isinstance(message, tuple) and len(message) == 2 and all(isinstance(m, str) and m for m in message):
                key = (message[0], message[1])
            if key is not None:
                found.setdefault(key, []).append(f"{folder}/{filename}:{lineno}")
    return found


def untranslated(message: Message) -> bool:
    """No translation, or (for a plural entry) any plural form left empty."""
    if isinstance(message.string, tuple | list):
        return not all(message.string)
    return not message.string


def catalog_path(locale: str) -> Path:
    return LOCALES / locale / "LC_MESSAGES" / "capgap.po"


def load(locale: str) -> Catalog:
    path = catalog_path(locale)
    if not path.exists():
        return Catalog(locale=CATALOGS[locale], project="capgap", fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=CATALOGS[locale])


def save(locale: str, catalog: Catalog) -> None:
    path = catalog_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False, sort_output=False, include_previous=False)


def extract() -> None:
    found = extract_msgids()
    for locale in CATALOGS:
        old = load(locale)
        new = Catalog(locale=CATALOGS[locale], project="capgap", fuzzy=False)
        for msgid, where in found.items():
            previous = old.get(msgid[0] if isinstance(msgid, tuple) else msgid)
            string: str | tuple[str, ...] = ""
            if previous is not None and isinstance(previous.id, tuple) == isinstance(msgid, tuple):
                # A msgid that became plural (or back) is translated afresh.
                string = tuple(previous.string) if isinstance(previous.string, tuple | list) else previous.string or ""
            if isinstance(msgid, tuple) and not string:
                string = ("",) * new.num_plurals
            new.add(msgid, string, locations=[(w.rsplit(":", 1)[0], int(w.rsplit(":", 1)[1])) for w in where])
        save(locale, new)
    print(f"{len(found)} msgids written to {', '.join(CATALOGS)}")


def missing() -> int:
    cat = load("zh_Hant")
    todo = [m.id for m in cat if m.id and untranslated(m)]
    for msgid in todo:
        print(msgid)
    return 1 if todo else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "extract"
    if command == "extract":
        extract()
    elif command == "missing":
        sys.exit(missing())
    else:
        print(__doc__)
        sys.exit(2)
