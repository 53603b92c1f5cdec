"""The per-update shortcuts of bot/app.py, and what keeps them right: the chat-settings cache and its
invalidation, the per-snapshot reply memo, and how a reply is sent (bot/telegram_edge.py: photo + caption,
split texts, buttons on the last part, a chart uploaded once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from telegram import Update
from telegram.ext import Application

from bot import calendar
from bot.app import REPLY_MEMO_MAX, build_application, run_command
from bot.app_state import ChatCache
from bot.clock import FixedClock
from bot.config import Settings
from bot.errors import NoDataError, StoreUnavailableError
from bot.history import HistoryStore
from bot.i18n import Safe
from bot.market import Market
from bot.seam import Button, Chart, Command, Reply, Request, Services
from bot.store.base import ChatSettings
from bot.store.factory import make_store
from bot.telegram_edge import CAPTION_LIMIT, Photos, caption_length, send
from tests.instant import InstantRequest, callback_for, update_for

ASOF = date(2026, 2, 20)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


class CountingStore:
    """A store stand-in that counts get_chat calls and can be taken down."""

    def __init__(self) -> None:
        self.chats: dict[int, ChatSettings] = {}
        self.reads = 0
        self.down = False

    async def get_chat(self, chat_id: int) -> ChatSettings | None:
        self.reads += 1
        if self.down:
            raise StoreUnavailableError()
        return self.chats.get(chat_id)


@dataclass
class Tick:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def services_with(store: object, tmp: Path) -> Services:
    clock = FixedClock(calendar.session_close(ASOF))
    history = HistoryStore(tmp / "history")
    settings = Settings(  # type: ignore[call-arg]
        telegram_token="123456:" + "A" * 35, data_dir=tmp, refresh_enabled=False, _env_file=None
    )
    market = Market(history, clock)
    return Services(settings=settings, clock=clock, history=history, market=market, store=store)  # type: ignore[arg-type]


# chat settings ------------------------------------------------------------------------------------------


async def test_chat_settings_are_read_from_the_store_once_per_ttl(tmp_path: Path) -> None:
    store, tick = CountingStore(), Tick()
    store.chats[1] = ChatSettings(chat_id=1, lang="zh-Hant")
    cache, services = ChatCache(ttl=5.0, clock=tick), services_with(store, tmp_path)
    for _ in range(100):
        assert (await cache.get(services, 1)).lang == "zh-Hant"  # type: ignore[union-attr]
    assert store.reads == 1
    tick.now = 5.0
    await cache.get(services, 1)
    assert store.reads == 2


async def test_a_chat_without_settings_is_cached_too(tmp_path: Path) -> None:
    store, tick = CountingStore(), Tick()
    cache, services = ChatCache(ttl=5.0, clock=tick), services_with(store, tmp_path)
    assert await cache.get(services, 7) is None and await cache.get(services, 7) is None
    assert store.reads == 1


async def test_settings_written_elsewhere_show_once_the_ttl_has_passed(tmp_path: Path) -> None:
    """Another bot process on the same store: its change is seen within the TTL."""
    store, tick = CountingStore(), Tick()
    cache, services = ChatCache(ttl=5.0, clock=tick), services_with(store, tmp_path)
    assert await cache.get(services, 1) is None
    store.chats[1] = ChatSettings(chat_id=1, lang="zh-Hant")
    tick.now = 4.9
    assert await cache.get(services, 1) is None
    tick.now = 5.0
    assert (await cache.get(services, 1)).lang == "zh-Hant"  # type: ignore[union-attr]


async def test_invalidate_makes_the_next_read_go_to_the_store(tmp_path: Path) -> None:
    store, tick = CountingStore(), Tick()
    cache, services = ChatCache(ttl=5.0, clock=tick), services_with(store, tmp_path)
    await cache.get(services, 1)
    store.chats[1] = ChatSettings(chat_id=1, lang="zh-Hant")
    cache.invalidate(1)
    assert (await cache.get(services, 1)).lang == "zh-Hant"  # type: ignore[union-attr]
    assert store.reads == 2


async def test_a_read_that_raced_a_settings_change_is_not_kept(tmp_path: Path) -> None:
    """A read that started before a change and ends after it may carry the old settings: not cached."""
    store, tick = CountingStore(), Tick()
    cache, services = ChatCache(ttl=5.0, clock=tick), services_with(store, tmp_path)
    store.chats[1] = ChatSettings(chat_id=1, lang="en")
    real_get = store.get_chat

    async def slow_get(chat_id: int) -> ChatSettings | None:
        old = await real_get(chat_id)
        store.chats[1] = ChatSettings(chat_id=1, lang="zh-Hant")  # /lang lands while the read is in flight
        cache.invalidate(1)
        return old

    store.get_chat = slow_get  # type: ignore[method-assign]
    assert (await cache.get(services, 1)).lang == "en"  # type: ignore[union-attr]
    store.get_chat = real_get  # type: ignore[method-assign]
    assert (await cache.get(services, 1)).lang == "zh-Hant"  # type: ignore[union-attr]


async def test_store_down_answers_with_the_last_known_settings_however_old(tmp_path: Path) -> None:
    store, tick = CountingStore(), Tick()
    store.chats[1] = ChatSettings(chat_id=1, lang="zh-Hant")
    cache, services = ChatCache(ttl=5.0, clock=tick), services_with(store, tmp_path)
    await cache.get(services, 1)
    store.down = True
    tick.now = 3600.0
    assert (await cache.get(services, 1)).lang == "zh-Hant"  # type: ignore[union-attr]
    cache.invalidate(1)
    assert (await cache.get(services, 1)).lang == "zh-Hant"  # type: ignore[union-attr]
    assert await cache.get(services, 2) is None


async def test_chat_cache_stays_within_its_size(tmp_path: Path) -> None:
    store = CountingStore()
    cache, services = ChatCache(ttl=5.0, max_chats=64, clock=Tick()), services_with(store, tmp_path)
    for chat_id in range(1000):
        await cache.get(services, chat_id)
    assert len(cache._chats) <= 64
    reads = store.reads
    await cache.get(services, 999)  # the most recent ones are kept
    assert store.reads == reads


# the application: settings changes reach the next reply at once ------------------------------------------


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Application, InstantRequest, Services]]:  # type: ignore[type-arg]
    request = InstantRequest(record=True)
    services = services_with(make_store(data_dir=tmp_path, redis_url=None), tmp_path)
    application = build_application(services.settings, services, request=request)
    async with application:
        assert application.post_init is not None
        await application.post_init(application)
        yield application, request, services
        assert application.post_shutdown is not None
        await application.post_shutdown(application)


async def feed(application: Application, payload: dict[str, Any]) -> None:  # type: ignore[type-arg]
    await application.process_update(Update.de_json(payload, application.bot))


def last_text(request: InstantRequest) -> str:
    return str(request.calls[-1][1].get("text") or request.calls[-1][1].get("caption"))


AppFixture = tuple[Application, InstantRequest, Services]  # type: ignore[type-arg]


async def test_lang_change_shows_in_the_very_next_reply(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, update_for("/help", 1, chat_id=11))
    assert "capgap commands" in last_text(request)  # cached: no settings, the user's English
    await feed(application, update_for("/lang zh-Hant", 2, chat_id=11))
    await feed(application, update_for("/help", 3, chat_id=11))
    assert "capgap 指令" in last_text(request)
    await feed(application, update_for("/lang en", 4, chat_id=11))
    await feed(application, update_for("/help", 5, chat_id=11))
    assert "capgap commands" in last_text(request)


async def test_lang_change_from_a_button_shows_in_the_very_next_reply(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, update_for("/help", 1, chat_id=4242))
    assert "capgap commands" in last_text(request)
    await feed(application, callback_for("lang:zh-Hant", 2, chat_id=4242))
    await feed(application, update_for("/help", 3, chat_id=4242))
    assert "capgap 指令" in last_text(request)


async def test_settings_are_not_read_from_the_store_on_every_update(
    app: AppFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    application, _, services = app
    assert services.store is not None
    reads = 0
    real_get = services.store.get_chat

    async def counting(chat_id: int) -> ChatSettings | None:
        nonlocal reads
        reads += 1
        return await real_get(chat_id)

    monkeypatch.setattr(services.store, "get_chat", counting)
    for update_id in range(1, 51):
        await feed(application, update_for("/help", update_id, chat_id=12))
    assert reads == 1


# the reply memo ---------------------------------------------------------------------------------------


def counting_command(calls: list[str], *, fail: bool = False) -> Command:
    async def func(services: Services, request: Request) -> Reply:
        calls.append(request.lang)
        if fail:
            raise NoDataError(what="the test series")
        return Reply(text=Safe(f"answer {len(calls)} as of {services.market.snapshot.asof}"))

    return Command("counted", func, "counted", "usage", cacheable=True)


async def test_memoised_reply_is_computed_once_per_snapshot(tmp_path: Path) -> None:
    services, calls = services_with(None, tmp_path), []
    command = counting_command(calls)
    request = Request(command="counted", args=(), lang="en")
    first = await run_command(services, command, request)
    assert await run_command(services, command, request) is first
    assert await run_command(services, command, replace(request, lang="zh-Hant")) is not first
    assert calls == ["en", "zh-Hant"]


async def test_new_snapshot_invalidates_the_memoised_reply(tmp_path: Path) -> None:
    services, calls = services_with(None, tmp_path), []
    command = counting_command(calls)
    request = Request(command="counted", args=(), lang="en")
    first = await run_command(services, command, request)
    services.market.reload()
    second = await run_command(services, command, request)
    assert second is not first and second.text == "answer 2 as of 2026-02-20" and len(calls) == 2


async def test_no_data_reply_is_memoised_until_data_arrives(tmp_path: Path) -> None:
    from handlers.registry import COMMANDS

    services = services_with(None, tmp_path)
    request = Request(command="pe", args=(), lang="en")
    no_data = await run_command(services, COMMANDS["pe"], request)
    assert no_data.text.startswith("No data stored yet")
    assert await run_command(services, COMMANDS["pe"], request) is no_data
    days = pd.bdate_range("2025-02-03", "2026-02-20")
    for name, value in (("PE_SPY", 27.0), ("PE_IJR", 17.5)):
        frame = pd.DataFrame({"value": [value] * len(days)}, index=days)
        services.history.write(name, frame, source="yahoo_pe", fetched_at=None)
    services.market.reload()
    answer = await run_command(services, COMMANDS["pe"], request)
    assert "Gap: <b>+9.5</b> turns" in answer.text and "as of close 2026-02-20" in answer.text


async def test_not_allowed_is_never_memoised_for_the_next_user(tmp_path: Path) -> None:
    calls: list[str] = []
    services = services_with(None, tmp_path)
    command = replace(counting_command(calls), admin_only=True)
    refused = await run_command(services, command, Request(command="counted", args=(), lang="en"))
    assert "operators only" in refused.text and calls == []
    admin = Request(command="counted", args=(), lang="en", is_admin=True)
    allowed = await run_command(services, command, admin)
    assert allowed.text.startswith("answer 1")


async def test_reply_memo_forgets_its_oldest_entries_not_all_of_them(tmp_path: Path) -> None:
    services, calls = services_with(None, tmp_path), []
    command = counting_command(calls)
    recent = Request(command="counted", args=("recent",), lang="en")
    for index in range(REPLY_MEMO_MAX - 1):
        await run_command(services, command, Request(command="counted", args=(str(index),), lang="en"))
    kept = await run_command(services, command, recent)
    for index in range(REPLY_MEMO_MAX // 8):  # a burst of new arguments (a user trying random ones)
        await run_command(services, command, Request(command="counted", args=(f"x{index}",), lang="en"))
    assert await run_command(services, command, recent) is kept
    memo = services.market.snapshot.memo["replies"]
    assert len(memo) <= REPLY_MEMO_MAX  # type: ignore[arg-type]


# sending -------------------------------------------------------------------------------------------


class RecordingBot:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> object:
        self.calls.append(("sendMessage", {"text": text, **kwargs}))
        return object()

    async def send_photo(self, chat_id: int, photo: object, **kwargs: Any) -> object:
        self.calls.append(("sendPhoto", {"photo": photo, **kwargs}))

        class Sent:
            photo = [type("Size", (), {"file_id": f"file{len(self.calls)}"})()]

        return Sent()


def test_caption_length_counts_what_telegram_counts() -> None:
    assert caption_length("<b>a&amp;b</b>") == 3
    assert caption_length("😀") == 2  # one astral character is two UTF-16 code units
    assert caption_length("<i>繁體</i>") == 2


async def test_chart_reply_that_fits_a_caption_is_one_photo_with_the_text_as_caption() -> None:
    bot = RecordingBot()
    buttons = ((Button("More", "r2k:chart:1y"),),)
    text = Safe("<b>Gap</b> +8.27 pp\n<i>Source: x · as of close 2026-02-20</i>")
    reply = Reply(text=text, chart=Chart(PNG, Safe("title")), buttons=buttons)
    await send(bot, 1, reply, photos=Photos())
    assert [c[0] for c in bot.calls] == ["sendPhoto"]
    sent = bot.calls[0][1]
    assert sent["caption"] == reply.text and sent["photo"] == PNG and sent["parse_mode"] == "HTML"
    assert sent["reply_markup"].inline_keyboard[0][0].callback_data == "r2k:chart:1y"


async def test_chart_reply_too_long_for_a_caption_is_photo_under_its_own_caption_then_text() -> None:
    bot = RecordingBot()
    text = Safe("\n".join(f"<b>line {i}</b> " + "x" * 60 for i in range(20)))
    assert caption_length(text) > CAPTION_LIMIT
    await send(bot, 1, Reply(text=text, chart=Chart(PNG, Safe("FOMC odds · 2026-09-17")), buttons=((Button("b", "r2k"),),)),
               photos=Photos())
    assert [c[0] for c in bot.calls] == ["sendPhoto", "sendMessage"]
    photo, message = (params for _, params in bot.calls)
    assert photo["caption"] == "FOMC odds · 2026-09-17" and photo["reply_markup"] is None
    assert message["text"] == text and message["reply_markup"] is not None  # the buttons under the last part


async def test_chart_is_uploaded_once_then_sent_by_file_id() -> None:
    bot, photos = RecordingBot(), Photos()
    reply = Reply(text=Safe("short"), chart=Chart(PNG, Safe("t")))
    for _ in range(3):
        await send(bot, 1, reply, photos=photos)
    sent = [c[1]["photo"] for c in bot.calls]
    assert sent[0] == PNG and sent[1] is sent[2] and sent[1].file_id == "file1"


async def test_long_text_is_split_and_the_buttons_go_on_the_last_part() -> None:
    bot = RecordingBot()
    text = Safe("\n".join("y" * 100 for _ in range(60)))
    await send(bot, 1, Reply(text=text, buttons=((Button("b", "r2k"),),)), photos=Photos())
    assert [c[0] for c in bot.calls] == ["sendMessage", "sendMessage"]
    first, last = (params["reply_markup"] for _, params in bot.calls)
    assert first is None and last is not None
    assert all(params["link_preview_options"].is_disabled for _, params in bot.calls)
    assert "".join(c[1]["text"] for c in bot.calls).replace("\n", "") == text.replace("\n", "")


async def test_spread_is_one_photo_whose_caption_has_the_figures_source_and_asof_and_is_uploaded_once(
    tmp_path: Path, shared_data: Path
) -> None:
    from bench.bench_latency import load_real_history

    request = InstantRequest(record=True)
    services = services_with(make_store(data_dir=tmp_path, redis_url=None), tmp_path)
    load_real_history(shared_data, services.history)
    services.market.reload()
    application = build_application(services.settings, services, request=request)
    async with application:
        assert application.post_init is not None and application.post_shutdown is not None
        await application.post_init(application)
        request.calls.clear()
        await feed(application, update_for("/spread", 1))
        await feed(application, update_for("/spread", 2))
        await feed(application, update_for("/spread", 3, lang="zh-hant", chat_id=99))
        await application.post_shutdown(application)
    assert [method for method, _ in request.calls] == ["sendPhoto"] * 3
    first, second, chinese = (params for _, params in request.calls)
    assert "R2K − NDX: <b>+8.27 pp</b>" in first["caption"]
    assert "Source: imported CSV (RUT, NDX, SPX) · as of close 2026-02-20" in first["caption"]
    assert "photo" not in first  # uploaded: the PNG goes as a multipart file, not a parameter
    assert second["photo"] == "photo1" and second["caption"] == first["caption"]  # re-sent by file_id
    assert "資料來源" in chinese["caption"]
