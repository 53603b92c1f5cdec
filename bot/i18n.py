"""Translations: gettext catalogs (``bot/locales/<locale>/LC_MESSAGES/capgap.po``) read with Babel.

The catalogs are read straight from the .po files at first use (no compile step to forget). Every string
a user sees is a msgid here with named ``{placeholders}``; ``tr`` fills them and HTML-escapes every value
that is not already marked ``Safe`` (text the renderer itself built), so user or vendor text can never
inject markup into an HTML-mode message.

Text with a count goes through ``trn(singular, plural, n, ...)`` (gettext's ngettext): English picks
"1 month" / "3 months", and each catalog's ``Plural-Forms`` header decides for its language (Chinese has
one form). The plural lookup is the standard library's ``gettext.GNUTranslations`` over the same .po
file compiled in memory by Babel, so the plural rules are gettext's own, not ours.
"""

from __future__ import annotations

import gettext
import html
import io
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "capgap"
# Catalog folder per language (gettext locale names use underscores).
CATALOG_LOCALE = {"en": "en", "zh-Hant": "zh_Hant"}
# Babel locale for numbers and dates.
BABEL_LOCALE = {"en": "en_US", "zh-Hant": "zh_Hant_TW"}

current_lang: ContextVar[str] = ContextVar("current_lang", default="en")


class Safe(str):
    """Text that is already valid HTML for Telegram (built by the renderer); ``tr`` won't escape it."""


def N_(msgid: str) -> str:
    """Mark a msgid for extraction without translating it here."""
    return msgid


def po_path(lang: str) -> Path:
    return LOCALE_DIR / CATALOG_LOCALE[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalog(lang: str) -> dict[str, str]:
    """msgid -> translation for ``lang`` (empty translations fall back to the msgid)."""
    with po_path(lang).open("rb") as handle:
        cat = read_po(handle, locale=BABEL_LOCALE[lang])
    out: dict[str, str] = {}
    for message in cat:
        if message.id and isinstance(message.id, str):
            out[message.id] = message.string if isinstance(message.string, str) and message.string else message.id
    return out


@cache
def translations(lang: str) -> gettext.GNUTranslations:
    """The catalog of ``lang`` as a gettext object (for ``ngettext``); untranslated entries fall back."""
    with po_path(lang).open("rb") as handle:
        cat = read_po(handle, locale=BABEL_LOCALE[lang])
    compiled = io.BytesIO()
    write_mo(compiled, cat)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def normalise_lang(code: str | None) -> str:
    """Map a Telegram ``language_code`` or a user's /lang argument to a supported language."""
    if not code:
        return "en"
    low = code.strip().lower().replace("_", "-")
    if low in ("zh-hant", "zh-tw", "zh-hk", "zh-mo", "zh", "zh-cn", "zh-hans", "tw", "hk", "zht"):
        # Chinese readers get Traditional Chinese; there is no Simplified catalog.
        return "zh-Hant"
    return "en"


def parse_lang(arg: str) -> str | None:
    """A /lang argument -> a supported language, or None when it is not one we offer."""
    low = arg.strip().lower()
    if low in ("en", "english", "eng"):
        return "en"
    if low in ("zh-hant", "zh_hant", "zh-tw", "zh", "tw", "繁體", "繁體中文", "中文", "繁中"):
        return "zh-Hant"
    return None


def _escape(value: Any) -> Any:
    if isinstance(value, Safe):
        return value
    if isinstance(value, str):
        return html.escape(value, quote=False)
    return value


def tr(msgid: str, lang: str | None = None, **params: Any) -> Safe:
    """Translate ``msgid`` into ``lang`` (default: the current context's) and fill its placeholders."""
    language = lang if lang in LANGUAGES else current_lang.get()
    text = catalog(language).get(msgid, msgid)
    if params:
        text = text.format(**{k: _escape(v) for k, v in params.items()})
    return Safe(text)


def trn(singular: str, plural: str, n: int, lang: str | None = None, **params: Any) -> Safe:
    """``tr`` for text with a count: the form for ``n`` in ``lang`` (gettext ngettext), then placeholders.

    ``n`` only chooses the form; pass the count again by its placeholder name (``months=n``) so each
    msgid reads as a sentence and translators can move it.
    """
    language = lang if lang in LANGUAGES else current_lang.get()
    text = translations(language).ngettext(singular, plural, n)
    if params:
        text = text.format(**{k: _escape(v) for k, v in params.items()})
    return Safe(text)


def tr_text(msgid: str, lang: str | None = None) -> Safe:
    """Translate a plain-text msgid (a series label, a name with "&") and escape it for HTML."""
    language = lang if lang in LANGUAGES else current_lang.get()
    return Safe(html.escape(catalog(language).get(msgid, msgid), quote=False))


def localise_params(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """Error parameters that are themselves msgids (e.g. a series label) in the reader's language."""
    known = catalog(lang)
    return {k: (tr_text(v, lang) if isinstance(v, str) and not isinstance(v, Safe) and v in known else v)
            for k, v in params.items()}
