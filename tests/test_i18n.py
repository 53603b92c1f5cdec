"""Every msgid in the code is in both catalogs, translated in zh-Hant, with the same placeholders."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bot.render.i18n import Safe, catalog, normalise_lang, parse_lang, tr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import i18n as i18n_tool  # noqa: E402

PLACEHOLDER = re.compile(r"\{(\w+)[^}]*\}")
MSGIDS = i18n_tool.extract_msgids()


def test_extraction_finds_the_strings_of_the_code() -> None:
    assert "Usage: /lang en | zh-Hant" in MSGIDS
    assert len(MSGIDS) > 20


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
def test_catalog_has_every_msgid_of_the_code(lang: str) -> None:
    missing = [m for m in MSGIDS if m not in catalog(lang)]
    assert missing == [], f"run `python scripts/i18n.py extract` and translate: {missing}"


def test_zh_hant_catalog_translates_every_msgid() -> None:
    cat = i18n_tool.load("zh_Hant")
    untranslated = [m.id for m in cat if m.id and not m.string]
    assert untranslated == []


def test_zh_hant_translation_keeps_the_placeholders_of_its_msgid() -> None:
    for msgid, text in catalog("zh-Hant").items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(text)), msgid


def test_zh_hant_translation_keeps_the_html_tags_of_its_msgid() -> None:
    tags = re.compile(r"</?[a-z]+>")
    for msgid, text in catalog("zh-Hant").items():
        assert sorted(tags.findall(msgid)) == sorted(tags.findall(text)), msgid


def test_tr_escapes_plain_string_parameters_but_not_safe_ones() -> None:
    text = tr("⚠️ {series} data is stale: last close {last}.", "en", series="<b>x</b>", last=Safe("<i>1</i>"))
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<i>1</i>" in text


def test_tr_in_zh_hant_returns_the_translation() -> None:
    assert tr("Language set to Traditional Chinese.", "zh-Hant") != "Language set to Traditional Chinese."


@pytest.mark.parametrize(
    ("code", "lang"), [("zh-hant", "zh-Hant"), ("zh-TW", "zh-Hant"), ("zh", "zh-Hant"), ("en-GB", "en"), (None, "en"), ("fr", "en")]
)
def test_normalise_lang_maps_telegram_codes(code: str | None, lang: str) -> None:
    assert normalise_lang(code) == lang


@pytest.mark.parametrize(("arg", "lang"), [("en", "en"), ("zh-Hant", "zh-Hant"), ("繁體中文", "zh-Hant"), ("xx", None), ("", None)])
def test_parse_lang_accepts_known_names_only(arg: str, lang: str | None) -> None:
    assert parse_lang(arg) == lang
