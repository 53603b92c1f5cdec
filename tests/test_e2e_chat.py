"""End to end over the Bot API peer: what a chat sees around the commands (unknown commands, operator
commands in a group, buttons that edit their message or send a chart once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e import clock_at_close, running_bot
from tests.telegram_peer import TelegramPeer
from tests.test_e2e_commands import FEDWATCH_DAY, load_fedwatch_fixture


async def test_e2e_chart_button_sends_the_chart_once_and_leaves_the_message(tmp_path: Path, shared_data: Path) -> None:
    load_fedwatch_fixture(shared_data, tmp_path)
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        peer.inject_message(2001, "/fedodds 2")
        text = await peer.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 2001, timeout=10)
        assert text.message_id is not None and text.reply_markup is not None
        peer.inject_callback(2001, text.message_id, "fedodds:2:chart")
        await peer.wait_for(lambda c: c.method == "sendPhoto" and c.chat_id == 2001, timeout=20)
        peer.inject_callback(2001, text.message_id, "fedodds:2:chart")  # pressed again (an old client)
        await peer.wait_for(lambda c: c.method == "answerCallbackQuery" and "already" in str(c.params.get("text")), timeout=10)
        assert [c.method for c in peer.messages_to(2001)] == ["sendMessage", "sendPhoto"]
        assert not (peer.message(2001, text.message_id) or {}).get("reply_markup")


async def test_e2e_mute_button_edits_the_alert_list_in_place(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)):
        peer.inject_message(2002, "/subscribe cut_odds 75")
        await peer.wait_for(lambda c: c.chat_id == 2002 and "Subscribed" in (c.text or ""), timeout=10)
        peer.inject_message(2002, "/alerts")
        listing = await peer.wait_for(lambda c: c.chat_id == 2002 and c.reply_markup is not None, timeout=10)
        assert listing.message_id is not None
        peer.inject_callback(2002, listing.message_id, "alerts:mute:cut_odds")
        edit = await peer.wait_for(lambda c: c.method == "editMessageText" and c.chat_id == 2002, timeout=10)
        assert edit.ok and "(muted)" in (peer.message(2002, listing.message_id) or {}).get("text", "")
        assert len(peer.messages_to(2002)) == 2  # the subscription and the list: nothing new for the press


async def test_e2e_group_quiet_on_unknown_commands_and_operator_status_points_to_private(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY), admin_ids=(77,)):
        peer.inject_message(-5002, "/foo", user_id=88, chat_type="supergroup")
        peer.inject_message(-5002, "good morning", user_id=88, chat_type="supergroup")
        peer.inject_message(-5002, "/status", user_id=77, chat_type="supergroup")
        answer = await peer.wait_for(lambda c: c.chat_id == -5002 and c.method == "sendMessage", timeout=10)
        assert "private" in (answer.text or "") and "capgap status" not in (answer.text or "")
        peer.inject_message(2003, "/foo")
        pointer = await peer.wait_for(lambda c: c.chat_id == 2003, timeout=10)
        assert "/help" in (pointer.text or "")
        await asyncio.sleep(0.2)
        assert len(peer.messages_to(-5002)) == 1


async def test_e2e_mute_button_pressed_by_a_non_admin_in_a_group_tells_only_the_presser(tmp_path: Path) -> None:
    peer = TelegramPeer()
    async with running_bot(peer, tmp_path, clock=clock_at_close(FEDWATCH_DAY)) as bot:
        peer.set_admins(-5003, [77])
        peer.inject_message(-5003, "/subscribe cut_odds 75", user_id=77, chat_type="supergroup")
        await peer.wait_for(lambda c: c.chat_id == -5003 and "Subscribed" in (c.text or ""), timeout=10)
        peer.inject_message(-5003, "/alerts", user_id=77, chat_type="supergroup")
        listing = await peer.wait_for(lambda c: c.chat_id == -5003 and c.reply_markup is not None, timeout=10)
        assert listing.message_id is not None
        peer.inject_callback(-5003, listing.message_id, "alerts:mute:cut_odds", user_id=88)
        answer = await peer.wait_for(lambda c: c.method == "answerCallbackQuery" and c.params.get("text"), timeout=10)
        assert "administrators" in str(answer.params["text"]) and answer.params.get("show_alert") in (True, "true", "True")
        assert len(peer.messages_to(-5003)) == 2 and peer.calls("editMessageText") == []
        [sub] = await bot.services.store.list_subscriptions(chat_id=-5003)  # type: ignore[union-attr]
        assert sub.muted_until is None
