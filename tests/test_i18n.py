"""Every msgid in the code is in both catalogs, translated in zh-Hant, with the same placeholders."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bot.i18n import Safe, catalog, normalise_lang, parse_lang, tr, trn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import i18n as i18n_tool  # noqa: E402

PLACEHOLDER = re.compile(r"\{(\w+)[^}]*\}")
MSGIDS = i18n_tool.extract_msgids()


def test_extraction_finds_the_strings_of_the_code() -> None:
    assert "Usage: /lang en | zh-Hant" in MSGIDS
    assert len(MSGIDS) > 20


def _entries(locale: str) -> dict[object, object]:
    """Catalog entries by id: a msgid string, or a (singular, plural) tuple for plural entries."""
    return {m.id: m for m in i18n_tool.load(locale) if m.id}


def test_extraction_finds_the_plural_pairs_of_the_code() -> None:
    plurals = [m for m in MSGIDS if isinstance(m, tuple)]
    assert ("From {start} to {end} it would have fired {count} time.",
            "From {start} to {end} it would have fired {count} times.") in plurals


@pytest.mark.parametrize("locale", ["en", "zh_Hant"])
def test_catalog_has_every_msgid_of_the_code(locale: str) -> None:
    entries = _entries(locale)
    missing = [m for m in MSGIDS if m not in entries]  # a plural pair must be a plural entry, not a plain one
    assert missing == [], f"run `python scripts/i18n.py extract` and translate: {missing}"


def test_zh_hant_catalog_translates_every_msgid_and_every_plural_form() -> None:
    cat = i18n_tool.load("zh_Hant")
    untranslated = [m.id for m in cat if m.id and i18n_tool.untranslated(m)]
    assert untranslated == []
    forms = [len(m.string) for m in cat if m.id and isinstance(m.id, tuple)]
    assert forms and set(forms) == {cat.num_plurals} == {1}  # Chinese has one plural form


def test_zh_hant_translation_keeps_the_placeholders_of_its_msgid() -> None:
    for msgid, text in catalog("zh-Hant").items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(text)), msgid
    for entry in i18n_tool.load("zh_Hant"):
        if isinstance(entry.id, tuple):
            wanted = set(PLACEHOLDER.findall(entry.id[1]))
            assert set(PLACEHOLDER.findall(entry.id[0])) == wanted, entry.id
            assert all(set(PLACEHOLDER.findall(form)) == wanted for form in entry.string), entry.id


@pytest.mark.parametrize(
    ("n", "text"), [(1, "it would have fired 1 time."), (0, "it would have fired 0 times."), (3, "it would have fired 3 times.")]
)
def test_trn_in_english_picks_singular_for_one_only(n: int, text: str) -> None:
    out = trn("From {start} to {end} it would have fired {count} time.",
              "From {start} to {end} it would have fired {count} times.", n, "en",
              start="2020-01-02", end="2020-12-31", count=n)
    assert out.endswith(text)


def test_trn_in_zh_hant_uses_the_one_chinese_form_and_escapes_values() -> None:
    one = trn("From {start} to {end} it would have fired {count} time.",
              "From {start} to {end} it would have fired {count} times.", 1, "zh-Hant",
              start="<a>", end="2020-12-31", count=1)
    many = trn("From {start} to {end} it would have fired {count} time.",
               "From {start} to {end} it would have fired {count} times.", 5, "zh-Hant",
               start="<a>", end="2020-12-31", count=5)
    assert one == "自 &lt;a&gt; 至 2020-12-31 會觸發 1 次。" and many == "自 &lt;a&gt; 至 2020-12-31 會觸發 5 次。"


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
    ("code", "lang"),
    [("zh-hant", "zh-Hant"), ("zh-TW", "zh-Hant"), ("zh", "zh-Hant"), ("en-GB", "en"), (None, "en"), ("fr", "en")]
)
def test_normalise_lang_maps_telegram_codes(code: str | None, lang: str) -> None:
    assert normalise_lang(code) == lang


@pytest.mark.parametrize(("arg", "lang"),
                         [("en", "en"), ("zh-Hant", "zh-Hant"), ("繁體中文", "zh-Hant"), ("xx", None), ("", None)])
def test_parse_lang_accepts_known_names_only(arg: str, lang: str | None) -> None:
    assert parse_lang(arg) == lang


# zh-Hant wording rules (issue 13, section 5): one term per concept, Chinese punctuation, no English months.
_CJK = "[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
ZH_WORDING_RULES = {
    "trailing P/E is 過去12個月本益比 (追蹤 means tracking)": re.compile("追蹤本益比"),
    "percentage points are 百分點, nothing else": re.compile(r"個百分點|百分比點|(?<![A-Za-z])pp(?![A-Za-z])"),
    "full-width punctuation after a Chinese character": re.compile(_CJK + "[,;:?!]"),
    "no English month names": re.compile(
        r"\b(January|February|March|April|May|June|July|August|September|October|November|December"
        r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b"
    ),
    "no 您的水準 / 某水準": re.compile("您的水準|某水準"),
}


def zh_wording_problems(text: str) -> list[str]:
    return [rule for rule, pattern in ZH_WORDING_RULES.items() if pattern.search(text)]


def _zh_translations() -> list[tuple[object, str]]:
    out: list[tuple[object, str]] = []
    for entry in i18n_tool.load("zh_Hant"):
        if entry.id:
            forms = entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
            out += [(entry.id, form) for form in forms]
    return out


@pytest.mark.parametrize(
    "bad",
    ["標普 500 追蹤本益比", "變動 5 個百分點", "差距 −8.88 pp", "降息機率,下次", "差距:5", "要嗎?", "太好了!", "2026 年 Sep 26",
     "（您的水準 3）", "達到某水準"],
)
def test_zh_wording_check_catches_each_known_mistake(bad: str) -> None:
    assert zh_wording_problems(bad) != []


def test_zh_wording_check_accepts_correct_text() -> None:
    text = "標普 500 過去12個月本益比：差距 −8.88 百分點（2026年9月），" "您設定的門檻為 3。R2K/NDX, S&P 500"
    assert zh_wording_problems(text) == []


def test_zh_hant_catalog_follows_the_wording_rules() -> None:
    problems = [(msgid, text, zh_wording_problems(text)) for msgid, text in _zh_translations() if zh_wording_problems(text)]
    assert problems == []


def test_zh_hant_translates_trailing_without_追蹤() -> None:
    trailing = [(msgid, text) for msgid, text in _zh_translations() if "trailing" in str(msgid)]
    assert trailing and all("追蹤" not in text and "過去12個月" in text for _, text in trailing)


def test_untranslated_flags_a_plural_entry_with_any_empty_form() -> None:
    from babel.messages.catalog import Message

    assert i18n_tool.untranslated(Message(("{n} day", "{n} days"), ("",)))
    assert i18n_tool.untranslated(Message(("{n} day", "{n} days"), ("{n} day", "")))
    assert not i18n_tool.untranslated(Message(("{n} day", "{n} days"), ("{n} 天",)))
    assert i18n_tool.untranslated(Message("x", "")) and not i18n_tool.untranslated(Message("x", "乙"))
