"""One way from a reply to Telegram (bot/telegram_edge.py): texts split safely, the outbox plans the calls an
interactive answer makes, and /digest sends what the scheduled digest sends."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Bot, Update

from bot import calendar
from bot.app import build_application
from bot.clock import FixedClock
from bot.config import Settings
from bot.delivery import Limits, Sender
from bot.history import HistoryStore
from bot.i18n import Safe
from bot.market import Market
from bot.render.text import as_terminal_text
from bot.seam import Button, Chart, Reply, Services
from bot.store.base import ChatSettings
from bot.store.factory import make_store
from bot.telegram_edge import Outgoing, Part, planned, split_html
from jobs.digest import enqueue_due_digests
from tests.instant import InstantRequest, update_for

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
TOKEN = "123456:" + "A" * 35


def test_a_line_longer_than_a_message_is_cut_outside_tags_and_entities_and_keeps_its_formatting() -> None:
    line = " ".join(f'<b>R2K</b> &amp; <a href="https://example.com/{n}">NDX &lt;{n}&gt;</a>' for n in range(400))
    text = f"<i>head</i>\n{line}\n<i>tail</i>"
    parts = split_html(text, 500)
    assert len(parts) > 20 and all(len(p) <= 500 for p in parts)
    for part in parts:
        assert not re.search(r"<[^>]*$|&#?\w*$", part), "a part ends inside a tag or an entity"
        assert not re.match(r"^[^<]*>|^#?\w*;", part), "a part starts inside a tag or an entity"
        opened = re.findall(r"<(\w+)", part)
        assert sorted(opened) == sorted(re.findall(r"</(\w+)>", part)), f"unbalanced tags in {part!r}"
    assert as_terminal_text("".join(parts)).replace("\n", "") == as_terminal_text(text.replace("\n", ""))


def test_lines_stay_whole_when_they_fit() -> None:
    lines = [f"<b>{n:03d}</b> " + "x" * 90 for n in range(100)]
    parts = split_html("\n".join(lines))
    assert [len(p) for p in parts] == [4079, 4079, 2039] and "\n".join(parts) == "\n".join(lines)


def test_the_outbox_plans_the_calls_an_interactive_answer_makes() -> None:
    buttons = ((Button("📈 Chart", "r2k:chart:ytd"),),)
    long_text = Safe("\n".join(f"<b>line {i}</b> " + "x" * 60 for i in range(20)))
    for reply in (
        Reply(Safe("<b>R2K</b> −2.02%"), buttons=buttons),
        Reply(Safe("<b>Gap</b> +8.27 pp"), Chart(PNG, Safe("title")), buttons),
        Reply(long_text, Chart(PNG, Safe("title")), buttons),
        Reply(Safe("y" * 9000)),
    ):
        assert Outgoing.of_payload(planned(reply)) == Outgoing.of(reply)
    plan = Outgoing.of(Reply(long_text, Chart(PNG, Safe("title")), buttons))
    assert plan.parts == (Part("title", photo=True), Part(long_text))


class Calls(InstantRequest):
    """The Bot API calls a bot made, as (method, parameters)."""

    def sent(self) -> list[tuple[str, dict[str, Any]]]:
        return [(method, params) for method, params in self.calls if method in ("sendMessage", "sendPhoto")]


async def test_digest_command_and_scheduled_digest_make_the_same_bot_api_calls(tmp_path: Path, shared_data: Path) -> None:
    from bench.bench_latency import load_real_history

    history = HistoryStore(tmp_path / "history")
    load_real_history(shared_data, history)
    clock = FixedClock(calendar.session_close(date(2026, 2, 20)))
    settings = Settings(telegram_token=TOKEN, data_dir=tmp_path, refresh_enabled=False, _env_file=None)  # type: ignore[call-arg]
    store = make_store(data_dir=tmp_path, redis_url=None)
    services = Services(settings=settings, clock=clock, history=history, market=Market(history, clock), store=store)
    services.market.reload()
    interactive = Calls(record=True)
    application = build_application(settings, services, request=interactive)
    async with application:
        assert application.post_init is not None and application.post_shutdown is not None
        await application.post_init(application)
        await store.put_chat(ChatSettings(chat_id=4242, lang="en", tz="America/New_York", digest_time="08:00"))
        await application.process_update(Update.de_json(update_for("/digest", 1), application.bot))
        # Monday 08:00 in New York: the digest of Friday 2026-02-20, through the outbox.
        clock.instant = datetime(2026, 2, 23, 8, 0, tzinfo=ZoneInfo("America/New_York"))
        assert await enqueue_due_digests(services, clock.now()) == 1
        scheduled = Calls(record=True)
        async with Bot(TOKEN, request=scheduled) as bot:
            sender = Sender(store, bot, clock, limits=Limits(overall_per_s=1e4, per_chat_per_s=1e4, per_group_per_min=1e4))
            while (await store.outbox_counts())["pending"]:
                await sender.drain_once()
                clock.advance(seconds=1)
        await application.post_shutdown(application)
    [(method, params)] = interactive.sent()  # the digest fits a caption: one photo, the text under it
    assert method == "sendPhoto" and "2026-02-20" in params["caption"] and "reply_to_message_id" not in params
    assert scheduled.sent() == interactive.sent()
