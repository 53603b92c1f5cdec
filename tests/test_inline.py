"""Inline mode: `@bot r2k`, `@bot spread`, `@bot fedodds` typed in any chat, through PTB as Telegram sends it
(an inline_query update in the Bot API's shape) and answered with answerInlineQuery: each answer is the
command's own reply as an HTML article with its source and as-of, in the language of the user's client;
an empty or unknown query offers the three; nothing raises."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from telegram.request import RequestData

from bot import calendar
from bot.app import INLINE_CACHE_S, run_command
from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.i18n import tr
from bot.inline import INLINE_HELP, inline_answers, parse_inline_query
from bot.market import Market
from bot.seam import Command, Reply, Request, Services
from handlers.registry import COMMANDS
from tests.commands_data import import_real_data
from tests.instant import InstantRequest
from tests.test_app_chat import feed, start, stop

# The day of the shipped CME strip: /fedodds has its odds; the index closes end in February, so /r2k and
# /spread say they are stale, as they would live.
DAY = date(2026, 9, 17)


@pytest.fixture(scope="module")
def history(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> HistoryStore:
    return import_real_data(shared_data, tmp_path_factory.mktemp("history"))


def make_services(history: HistoryStore, tmp: Path) -> Services:
    clock = FixedClock(calendar.session_close(DAY))
    settings = Settings(telegram_token="123456:" + "A" * 35, data_dir=tmp, refresh_enabled=False,  # type: ignore[call-arg]
                        _env_file=None)
    return Services(settings=settings, clock=clock, history=history, market=Market(history, clock), store=None)


class TooLate(InstantRequest):
    """Telegram refuses an answer that comes after the query expired."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None, **kw: Any) -> tuple[int, bytes]:
        if url.endswith("/answerInlineQuery"):
            return 400, json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: query is too old and "
                                    "response timeout expired or query id is invalid"}).encode()
        return await super().do_request(url, method, request_data, **kw)


@pytest.fixture
async def app(history: HistoryStore, tmp_path: Path) -> AsyncIterator[tuple[Any, InstantRequest, Services]]:
    request = InstantRequest(record=True)
    services = make_services(history, tmp_path)
    application = await start(services, request)
    yield application, request, services
    await stop(application)


def inline_update(query: str, update_id: int, *, lang: str | None = "en") -> dict[str, Any]:
    """An inline_query update as the Bot API documents it (https://core.telegram.org/bots/api#inlinequery)."""
    user: dict[str, Any] = {"id": 4242, "is_bot": False, "first_name": "Ann", "username": "ann"}
    if lang is not None:
        user["language_code"] = lang
    return {"update_id": update_id, "inline_query": {"id": f"88{update_id}", "from": user, "query": query, "offset": "",
                                                     "chat_type": "supergroup"}}


def answered(request: InstantRequest) -> dict[str, Any]:
    (params,) = [p for method, p in request.calls if method == "answerInlineQuery"]
    return params


def results(request: InstantRequest) -> list[dict[str, Any]]:
    return answered(request)["results"]  # type: ignore[no-any-return]


async def reply_of(services: Services, name: str, lang: str = "en") -> Reply:
    return await run_command(services, COMMANDS[name], Request(command=name, args=(), lang=lang))


@pytest.mark.parametrize(("query", "name"), [("r2k", "r2k"), ("spread", "spread"), ("fedodds", "fedodds"), ("/R2K", "r2k")])
async def test_inline_query_offers_the_commands_own_reply_as_an_html_article(app, query: str, name: str) -> None:  # type: ignore[no-untyped-def]
    application, request, services = app
    await feed(application, inline_update(query, 1))
    params = answered(request)
    assert params["inline_query_id"] == "881" and params["is_personal"] is True and params["cache_time"] == INLINE_CACHE_S
    (article,) = params["results"]
    content = article["input_message_content"]
    assert article["type"] == "article" and article["id"].startswith(f"{name}-") and content["parse_mode"] == "HTML"
    assert content["message_text"] == (await reply_of(services, name)).text  # the same handler code as the command
    assert "Source:" in content["message_text"] and "as of" in content["message_text"]
    assert article["title"] == tr(COMMANDS[name].description, "en").replace("&amp;", "&")
    assert article["description"] and "<" not in article["description"]
    assert "reply_markup" not in article  # no chart button: a message sent inline has no chat to post a chart in


async def test_inline_answer_says_a_stale_input_is_stale(app) -> None:  # type: ignore[no-untyped-def]
    application, request, _ = app
    await feed(application, inline_update("r2k", 1))
    text = results(request)[0]["input_message_content"]["message_text"]
    assert "⚠️ RUT data is stale: last close 2026-02-2" in text


@pytest.mark.parametrize("query", ["", "   ", "banana", "r2", "@capgap", "/help"])
async def test_inline_empty_or_unknown_query_offers_the_three_answers(app, query: str) -> None:  # type: ignore[no-untyped-def]
    application, request, _ = app
    await feed(application, inline_update(query, 2))
    assert [r["id"].split("-")[0] for r in results(request)] == ["r2k", "spread", "fedodds"]


async def test_inline_query_in_zh_hant_answers_in_traditional_chinese(app) -> None:  # type: ignore[no-untyped-def]
    application, request, services = app
    await feed(application, inline_update("fedodds", 3, lang="zh-hant"))
    (article,) = results(request)
    text = article["input_message_content"]["message_text"]
    assert text == (await reply_of(services, "fedodds", "zh-Hant")).text and "資料來源" in text
    assert article["title"] == tr(COMMANDS["fedodds"].description, "zh-Hant") and "降息機率" in article["title"]


async def test_inline_query_without_a_language_code_answers_in_english(app) -> None:  # type: ignore[no-untyped-def]
    application, request, _ = app
    await feed(application, inline_update("spread", 4, lang=None))
    assert "Source:" in results(request)[0]["input_message_content"]["message_text"]


async def test_inline_query_arguments_pass_to_the_command_and_chart_words_are_dropped(app) -> None:  # type: ignore[no-untyped-def]
    application, request, services = app
    await feed(application, inline_update("fedodds 2026-12 chart", 5))
    (article,) = results(request)
    expected = await run_command(services, COMMANDS["fedodds"], Request(command="fedodds", args=("2026-12",), lang="en"))
    assert article["input_message_content"]["message_text"] == expected.text and "2026-12-09" in expected.text
    request.calls.clear()
    await feed(application, inline_update("r2k banana", 6))
    assert results(request)[0]["input_message_content"]["message_text"].startswith("Usage: /r2k")


async def test_inline_answer_refused_as_too_old_is_logged_not_raised(history: HistoryStore, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    request = TooLate(record=True)
    application = await start(make_services(history, tmp_path), request)
    try:
        with caplog.at_level(logging.INFO, logger="bot.app"):
            await feed(application, inline_update("r2k", 7))
    finally:
        await stop(application)
    assert any("inline answer not delivered" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


# bot/inline.py without PTB ------------------------------------------------------------------------------

def test_parse_inline_query_names_the_command_and_its_arguments() -> None:
    assert parse_inline_query("spread 1y") == (("spread",), ("1y",))
    assert parse_inline_query("/fedodds@capgap_bot 8") == (("fedodds",), ("8",))
    assert parse_inline_query("r2k CHART 5y") == (("r2k",), ())
    assert parse_inline_query("status") == (("r2k", "spread", "fedodds"), ())


async def test_inline_answers_leave_out_a_failing_command_and_fall_back_to_help() -> None:
    async def broken_spread(command: Command, args: tuple[str, ...]) -> Reply:
        if command.name == "spread":
            raise RuntimeError("boom")
        return Reply(text=tr("<b>ok</b>", "en"))

    offered = await inline_answers("", "en", COMMANDS, broken_spread)
    assert [a.id.split("-")[0] for a in offered] == ["r2k", "fedodds"] and offered[0].description == "ok"

    async def all_broken(command: Command, args: tuple[str, ...]) -> Reply:
        raise RuntimeError("boom")

    (help_result,) = await inline_answers("r2k", "zh-Hant", COMMANDS, all_broken)
    assert help_result.id == "help" and help_result.text == tr(INLINE_HELP, "zh-Hant") and "r2k" in help_result.text
