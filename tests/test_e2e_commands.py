"""End to end: the real Application, polling the Telegram peer over HTTP, answering real commands."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.history import HistoryStore
from bot.sources.cme import parse_cme_settlements
from bot.sources.fred import parse_fredgraph_csv
from tests.e2e import clock_at_close, running_bot
from tests.telegram_peer import TelegramPeer

FEDWATCH_DAY = date(2026, 9, 17)


def load_fedwatch_fixture(shared_data: Path, data_dir: Path) -> None:
    history = HistoryStore(data_dir)
    history.put_strip(parse_cme_settlements((shared_data / "fixtures/cme/settlements_ZQ_20260917.json").read_bytes()))
    bundle = json.loads((shared_data / "fixtures/cme/fred_target_range_202609.json").read_text())
    for series_id, body in bundle.items():
        history.write(series_id, parse_fredgraph_csv(body, series_id), source="fred", fetched_at=None)


async def test_e2e_start_lists_commands_in_the_users_language(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        peer.inject_message(1001, "/start", language_code="zh-hant")
        call = await peer.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 1001, timeout=10)
        assert "歡迎使用 capgap" in call.text and "/r2k" in call.text and call.ok


async def test_e2e_menu_is_set_in_english_and_chinese(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        en = {c["command"]: c["description"] for c in peer.commands("")}
        zh = {c["command"]: c["description"] for c in peer.commands("zh")}
        assert "r2k" in en and "fedodds" in en
        assert en.keys() == zh.keys() and zh["r2k"] != en["r2k"]


async def test_e2e_lang_is_stored_per_chat_and_used_next_time(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)) as bot:
        peer.inject_message(1002, "/lang zh-Hant", language_code="en")
        await peer.wait_for(lambda c: c.chat_id == 1002 and "繁體中文" in (c.text or ""), timeout=10)
        peer.inject_message(1002, "/help", language_code="en")
        call = await peer.wait_for(lambda c: c.chat_id == 1002 and "capgap 指令" in (c.text or ""), timeout=10)
        assert call.ok
        stored = await bot.services.store.get_chat(1002)  # type: ignore[union-attr]
        assert stored is not None and stored.lang == "zh-Hant"


async def test_e2e_bad_lang_argument_gets_usage_in_the_users_language(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        peer.inject_message(1003, "/lang xx", language_code="zh-TW")
        call = await peer.wait_for(lambda c: c.chat_id == 1003, timeout=10)
        assert call.text.startswith("用法：/lang")


async def test_e2e_lang_in_a_group_needs_a_chat_admin(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)) as bot:
        peer.set_admins(-5001, [77])
        peer.inject_message(-5001, "/lang zh-Hant", user_id=88, chat_type="group")
        call = await peer.wait_for(lambda c: c.chat_id == -5001 and c.method == "sendMessage", timeout=10)
        assert "administrators" in call.text
        assert await bot.services.store.get_chat(-5001) is None  # type: ignore[union-attr]
        peer.inject_message(-5001, "/lang zh-Hant", user_id=77, chat_type="group")
        await peer.wait_for(lambda c: c.chat_id == -5001 and "繁體中文" in (c.text or ""), timeout=10)


async def test_e2e_fedodds_replies_with_worked_example_numbers_and_its_chart_button_sends_the_chart(
    tmp_path: Path, shared_data: Path
) -> None:
    load_fedwatch_fixture(shared_data, tmp_path)
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        peer.inject_message(1004, "/fedodds 2")
        text = await peer.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 1004, timeout=10)
        assert text.reply_markup is not None
        [[button]] = text.reply_markup["inline_keyboard"]
        assert button["callback_data"] == "fedodds:2:chart"
        assert text.message_id is not None
        peer.inject_callback(1004, text.message_id, button["callback_data"])
        photo = await peer.wait_for(lambda c: c.method == "sendPhoto" and c.chat_id == 1004, timeout=20)
        assert "44.6%" in text.text and "55.4%" in text.text and "47.3%" in text.text and "41.7%" in text.text
        assert "2026-09-17" in text.text and text.ok
        assert photo.ok and photo.photo is not None and photo.photo[:4] == b"\x89PNG"


async def test_e2e_fedodds_one_meeting_sends_its_then_and_now_table_as_one_pre_block_telegram_accepts(
    tmp_path: Path, shared_data: Path
) -> None:
    load_fedwatch_fixture(shared_data, tmp_path)
    async with TelegramPeer() as peer, running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        peer.inject_message(1006, "/fedodds 2026-12", language_code="zh-hant")
        sent = await peer.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 1006, timeout=10)
        assert sent.ok and "前一交易日" in sent.result["text"]
        [pre] = [e for e in sent.result["entities"] if e["type"] == "pre"]
        utf16 = sent.result["text"].encode("utf-16-le")
        table = utf16[2 * pre["offset"] : 2 * (pre["offset"] + pre["length"])].decode("utf-16-le").splitlines()
        assert table[0].split() == ["09-17", "09-16", "09-10", "08-17"]
        assert table[1:] == ["3.75–4.00   11.0%       -       -       -", "4.00–4.25   47.3%       -       -       -",
                             "4.25–4.50   41.7%       -       -       -"]


async def test_e2e_unexpected_error_gets_an_apology_and_a_logged_traceback_without_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.start as start

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(start, "render_help", broken)
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        peer.inject_message(1005, "/help")
        call = await peer.wait_for(lambda c: c.chat_id == 1005, timeout=10)
        assert call.text.startswith("Sorry, something went wrong")
    assert any("boom" in (r.exc_text or "") or (r.exc_info and "boom" in str(r.exc_info[1])) for r in caplog.records)
    assert peer.token not in caplog.text


async def test_e2e_r2k_replies_with_the_real_close_of_2026_02_20(tmp_path: Path, shared_data: Path) -> None:
    from bot.sources.csvfile import read_series_csv

    history = HistoryStore(tmp_path)
    history.write("RUT", read_series_csv(shared_data / "indices/RUT_yahoo_alitalbi.csv", "RUT").frame, source="yahoo",
                  fetched_at=None)
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(date(2026, 2, 20))):
        peer.inject_message(1006, "/r2k")
        call = await peer.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 1006, timeout=10)
        assert call.ok and "2,663.78" in call.text and "2,718.77" in call.text and "−2.02%" in call.text
        assert "Source: Yahoo Finance (RUT) · as of close 2026-02-20" in call.result["text"]
        peer.inject_message(1006, "/r2k banana")
        usage = await peer.wait_for(lambda c: c.chat_id == 1006 and (c.text or "").startswith("Usage: /r2k"), timeout=10)
        assert usage.ok
