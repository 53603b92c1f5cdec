"""/digest arguments: each mistake gets its own message, and `capgap ask` (no store) says that the
daily digest is set up in a chat with the running bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.app import run_command
from bot.history import HistoryStore
from bot.render.text import as_terminal_text
from bot.seam import Request, Services
from handlers.registry import COMMANDS
from tests.commands_data import services_for, with_embedded_store

ASOF = date(2026, 2, 20)


@pytest.fixture
def terminal(tmp_path: Path) -> Services:
    """What `capgap ask` has: history, no store."""
    return services_for(HistoryStore(tmp_path / "history"), ASOF, tmp_path)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Services]:
    async with with_embedded_store(services_for(HistoryStore(tmp_path / "history"), ASOF, tmp_path)) as services:
        yield services


async def digest(services: Services, *args: str, lang: str = "en") -> str:
    request = Request(command="digest", args=args, lang=lang, chat_id=77)
    return as_terminal_text((await run_command(services, COMMANDS["digest"], request)).text)


async def test_digest_on_in_the_terminal_says_settings_need_the_running_bot(terminal: Services) -> None:
    for args in (("on", "08:30", "Asia/Taipei"), ("on",), ("off",)):
        text = await digest(terminal, *args)
        assert text.startswith("Daily digest settings need the running bot") and "Usage" not in text
    zh = await digest(terminal, "on", "08:30", "Asia/Taipei", lang="zh-Hant")
    assert "/digest on" in zh and "Daily digest" not in zh


@pytest.mark.parametrize("when", ["25:00", "24:00", "8:75", "08.30", "99:99"])
async def test_digest_on_with_an_impossible_time_names_the_time(bot: Services, terminal: Services, when: str) -> None:
    for services in (bot, terminal):
        text = await digest(services, "on", when, "Asia/Taipei")
        assert text.startswith(f"{when} is not a time of day: use HH:MM from 00:00 to 23:59")
    assert (await bot.store.get_chat(77)) is None  # type: ignore[union-attr]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Taipei", "EST", "../../etc/passwd", "Asia/" + "x" * 300])
async def test_digest_on_with_an_unknown_zone_names_the_zone(bot: Services, terminal: Services, zone: str) -> None:
    for services in (bot, terminal):
        text = await digest(services, "on", "08:30", zone)
        assert text.startswith("Unknown time zone " + zone[:40] + ":") and "Asia/Taipei" in text
    assert (await bot.store.get_chat(77)) is None  # type: ignore[union-attr]


async def test_digest_on_with_time_and_zone_sets_them_in_the_bot(bot: Services) -> None:
    assert (await digest(bot, "on", "8:30", "asia/taipei")
            == "Daily digest on: 08:30 Asia/Taipei, on NYSE trading days, about the session before.")
    chat = await bot.store.get_chat(77)  # type: ignore[union-attr]
    assert chat is not None and (chat.digest_time, chat.tz) == ("08:30", "Asia/Taipei")
    assert (await digest(bot, "on", "08:30", "Asia/Taipei", "extra")).startswith("Usage: /digest")
