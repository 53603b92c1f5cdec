"""What a chat sees around the commands themselves (bot/app.py): unknown commands and plain text, the
apology after an internal error, operator commands in groups, and what a button press posts or edits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application

from bot import calendar
from bot.app import (
    ADMIN_IN_PRIVATE,
    APOLOGY,
    CHART_ALREADY_SENT,
    UNKNOWN_COMMAND,
    UNKNOWN_TEXT,
    build_application,
)
from bot.clock import FixedClock
from bot.config import Settings
from bot.history import HistoryStore
from bot.i18n import tr
from bot.market import Market
from bot.seam import Services
from bot.store.factory import make_store
from tests.instant import BOT_USER, InstantRequest, callback_for, group_update_for, update_for

ASOF = date(2026, 2, 20)
OPERATOR = 31
AppFixture = tuple[Application, InstantRequest, Services]  # type: ignore[type-arg]


def make_services(tmp: Path) -> Services:
    clock = FixedClock(calendar.session_close(ASOF))
    settings = Settings(  # type: ignore[call-arg]
        telegram_token="123456:" + "A" * 35, data_dir=tmp, refresh_enabled=False, admin_ids=(OPERATOR,), _env_file=None
    )
    history = HistoryStore(tmp / "history")
    store = make_store(data_dir=tmp, redis_url=None)
    return Services(settings=settings, clock=clock, history=history, market=Market(history, clock), store=store)


async def start(services: Services, request: InstantRequest) -> Application:  # type: ignore[type-arg]
    application = build_application(services.settings, services, request=request)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    request.calls.clear()
    return application


async def stop(application: Application) -> None:  # type: ignore[type-arg]
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[AppFixture]:
    request = InstantRequest(record=True)
    services = make_services(tmp_path)
    application = await start(services, request)
    yield application, request, services
    await stop(application)


async def feed(application: Application, payload: dict[str, Any]) -> None:  # type: ignore[type-arg]
    await application.process_update(Update.de_json(payload, application.bot))


def sent(request: InstantRequest, *methods: str) -> list[dict[str, Any]]:
    return [params for method, params in request.calls if method in (methods or ("sendMessage", "sendPhoto"))]


def markup_of(params: dict[str, Any]) -> dict[str, Any]:
    """The keyboard of a call, whether PTB encoded it or we passed it pre-encoded."""
    raw = params.get("reply_markup")
    if raw is None:
        raw = (params.get("api_kwargs") or {}).get("reply_markup")
    return json.loads(raw) if isinstance(raw, str) else (raw or {})


def replied_to(params: dict[str, Any]) -> int | None:
    """The message a call replies to (PTB sends reply_to_message_id as reply_parameters)."""
    reply = params.get("reply_parameters")
    if isinstance(reply, str):
        reply = json.loads(reply)
    return reply["message_id"] if reply else None


def callback_data(params: dict[str, Any]) -> list[str]:
    return [b["callback_data"] for row in markup_of(params).get("inline_keyboard", []) for b in row]


# unknown commands and plain text -------------------------------------------------------------------------


async def test_unknown_command_in_a_private_chat_points_to_help(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, update_for("/foo", 1))
    assert [p["text"] for p in sent(request)] == [tr(UNKNOWN_COMMAND, "en", command="foo")]
    assert "/help" in sent(request)[0]["text"] and "/foo" in sent(request)[0]["text"]


async def test_plain_text_in_a_private_chat_points_to_help(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, update_for("what is the russell doing?", 1))
    assert [p["text"] for p in sent(request)] == [tr(UNKNOWN_TEXT, "en")]


async def test_unknown_command_answers_in_the_chats_language(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, update_for("/foo", 1, lang="zh-hant"))
    await feed(application, update_for("/lang zh-Hant", 2, chat_id=77))
    await feed(application, update_for("hello", 3, chat_id=77))  # an English client in a zh-Hant chat
    first, _, chosen = (p["text"] for p in sent(request))
    assert first == tr(UNKNOWN_COMMAND, "zh-Hant", command="foo") != tr(UNKNOWN_COMMAND, "en", command="foo")
    assert chosen == tr(UNKNOWN_TEXT, "zh-Hant") != tr(UNKNOWN_TEXT, "en")


@pytest.mark.parametrize("text", ["/foo", "/foo@some_other_bot", "/r2k@some_other_bot", "nice rally today", "@someone_else hi",
                                  "@capgap_bench_bot_fan hi"])
async def test_group_messages_not_addressed_to_the_bot_get_no_answer(app: AppFixture, text: str) -> None:
    application, request, _ = app
    await feed(application, group_update_for(text, 1))
    assert sent(request) == []


@pytest.mark.parametrize(("text", "reply_to_bot", "expected"), [
    ("/foo@capgap_bench_bot", False, tr(UNKNOWN_COMMAND, "en", command="foo")),
    ("and the Nasdaq?", True, tr(UNKNOWN_TEXT, "en")),
    ("@capgap_bench_bot hi", False, tr(UNKNOWN_TEXT, "en")),
])
async def test_group_messages_addressed_to_the_bot_get_the_help_pointer_as_a_reply(
    app: AppFixture, text: str, reply_to_bot: bool, expected: str
) -> None:
    application, request, _ = app
    await feed(application, group_update_for(text, 5, reply_to_bot=reply_to_bot))
    [answer] = sent(request)
    assert answer["text"] == expected and replied_to(answer) == 5


async def test_known_commands_still_reach_their_handler(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, update_for("/help", 1))
    await feed(application, group_update_for("/help@capgap_bench_bot", 2))
    assert all("capgap commands" in p["text"] for p in sent(request)) and len(sent(request)) == 2


# the apology ---------------------------------------------------------------------------------------------


async def test_apology_after_an_internal_error_is_in_the_chats_language(
    app: AppFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    application, request, _ = app
    await feed(application, update_for("/lang zh-Hant", 1, chat_id=88))

    def bug(*args: object) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr("handlers.start.render_help", bug)  # /help now fails inside the handler
    await feed(application, update_for("/help", 2, chat_id=88))  # the client says English; the chat chose zh-Hant
    await feed(application, update_for("/help", 3, chat_id=89, lang="zh-tw"))  # no choice: the client's language
    await feed(application, update_for("/help", 4, chat_id=90))
    apologies = [p["text"] for p in sent(request)][1:]
    assert apologies == [tr(APOLOGY, "zh-Hant"), tr(APOLOGY, "zh-Hant"), tr(APOLOGY, "en")]
    assert tr(APOLOGY, "zh-Hant") != tr(APOLOGY, "en")


# operator commands ---------------------------------------------------------------------------------------


async def test_status_by_an_operator_in_a_group_says_ask_in_private(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, group_update_for("/status", 1, user_id=OPERATOR))
    await feed(application, group_update_for("/status@capgap_bench_bot", 2, user_id=OPERATOR, lang="zh-hant"))
    group = [p["text"] for p in sent(request)]
    assert group == [tr(ADMIN_IN_PRIVATE, "en", command="status"), tr(ADMIN_IN_PRIVATE, "zh-Hant", command="status")]
    assert all("capgap status" not in t for t in group)
    request.calls.clear()
    await feed(application, update_for("/status", 3, chat_id=OPERATOR))
    assert "capgap status" in sent(request)[0]["text"]


async def test_help_in_a_group_does_not_list_operator_commands(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, group_update_for("/help", 1, user_id=OPERATOR))
    await feed(application, update_for("/help", 2, chat_id=OPERATOR))
    in_group, in_private = (p["text"] for p in sent(request))
    assert "/status" not in in_group and "/status" in in_private


# buttons -------------------------------------------------------------------------------------------------


def bot_message(request: InstantRequest, params: dict[str, Any], chat_id: int) -> dict[str, Any]:
    """The message Telegram holds for the last one the bot sent (its id, text and keyboard)."""
    return {"message_id": request._message_id, "date": 1_700_000_000, "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER, "text": "alerts", "reply_markup": markup_of(params)}


async def test_mute_and_delete_buttons_edit_the_alert_list_in_place(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, update_for("/subscribe cut_odds 75", 1))
    await feed(application, update_for("/subscribe r2k_drawdown 15", 2))
    await feed(application, update_for("/alerts", 3))
    listing = sent(request)[-1]
    assert "alerts:mute:cut_odds" in callback_data(listing)
    message = bot_message(request, listing, 4242)
    request.calls.clear()
    await feed(application, callback_for("alerts:mute:cut_odds", 4, message=message))
    assert sent(request) == []  # nothing new in the chat
    [edit] = sent(request, "editMessageText")
    assert edit["message_id"] == message["message_id"] and "(muted)" in edit["text"]
    assert "alerts:unmute:cut_odds" in callback_data(edit) and "alerts:mute:cut_odds" not in callback_data(edit)
    [answer] = sent(request, "answerCallbackQuery")
    assert "cut_odds" in answer["text"] and "mute" in answer["text"]
    request.calls.clear()
    await feed(application, callback_for("alerts:del:cut_odds", 5, message=message))
    [edit] = sent(request, "editMessageText")
    assert sent(request) == [] and "cut_odds" not in callback_data(edit) and "r2k_drawdown" in edit["text"]
    assert "cut_odds" in sent(request, "answerCallbackQuery")[0]["text"]


async def test_a_stale_button_answers_the_presser_only(app: AppFixture) -> None:
    application, request, _ = app
    await feed(application, callback_for("alerts:del:cut_odds", 1))  # no such subscription (any more)
    assert sent(request) == [] and sent(request, "editMessageText") == []
    [answer] = sent(request, "answerCallbackQuery")
    assert "no cut_odds subscription" in answer["text"] and answer["show_alert"] is True


class NotModifiedRequest(InstantRequest):
    """Telegram's answer when the keyboard is already what we ask for: another process took the button off."""

    async def do_request(self, url: str, method: str, request_data: Any = None, **kwargs: Any) -> tuple[int, bytes]:
        if url.endswith("/editMessageReplyMarkup"):
            self.calls.append(("editMessageReplyMarkup", dict(request_data.parameters if request_data else {})))
            body = {"ok": False, "error_code": 400,
                    "description": "Bad Request: message is not modified: specified new message content and reply markup "
                                   "are exactly the same as a current content and reply markup of the message"}
            return 400, json.dumps(body).encode()
        return await super().do_request(url, method, request_data, **kwargs)


async def test_chart_button_sends_the_chart_once(tmp_path: Path, shared_data: Path) -> None:
    from bench.bench_latency import load_real_history

    request = InstantRequest(record=True)
    services = make_services(tmp_path)
    load_real_history(shared_data, services.history)
    services.market.reload()
    application = await start(services, request)
    try:
        await feed(application, update_for("/r2k", 1))
        first = sent(request)[-1]
        assert callback_data(first) == ["r2k:chart:ytd"]
        message = bot_message(request, first, 4242)
        request.calls.clear()
        await feed(application, callback_for("r2k:chart:ytd", 2, message=message))
        assert [m for m, _ in request.calls if m in ("sendMessage", "sendPhoto")] == ["sendPhoto"]
        [photo] = sent(request, "sendPhoto")
        assert replied_to(photo) == message["message_id"]
        assert photo["caption"].startswith("Russell 2000 vs Nasdaq-100, rebased to 100")
        [unbutton] = sent(request, "editMessageReplyMarkup")
        assert unbutton["message_id"] == message["message_id"] and callback_data(unbutton) == []
        request.calls.clear()
        await feed(application, callback_for("r2k:chart:ytd", 3, message=message))  # a double tap
        assert sent(request) == []
        assert sent(request, "answerCallbackQuery")[0]["text"] == tr(CHART_ALREADY_SENT, "en")
    finally:
        await stop(application)
    # Another bot process (its own memory) gets the press: Telegram says the button is already gone.
    other_request = NotModifiedRequest(record=True)
    other = await start(services, other_request)
    try:
        await feed(other, callback_for("r2k:chart:ytd", 4, message=message))
        assert sent(other_request) == []
        assert sent(other_request, "answerCallbackQuery")[0]["text"] == tr(CHART_ALREADY_SENT, "en")
    finally:
        await stop(other)


class CannotEditRequest(InstantRequest):
    """Telegram refuses the edit (the message is gone or cannot be edited any more)."""

    async def do_request(self, url: str, method: str, request_data: Any = None, **kwargs: Any) -> tuple[int, bytes]:
        if url.endswith("/editMessageText"):
            self.calls.append(("editMessageText", dict(request_data.parameters if request_data else {})))
            body = {"ok": False, "error_code": 400, "description": "Bad Request: message can't be edited"}
            return 400, json.dumps(body).encode()
        return await super().do_request(url, method, request_data, **kwargs)


async def test_mute_button_on_a_message_that_cannot_be_edited_sends_the_list_anew(tmp_path: Path) -> None:
    request = CannotEditRequest(record=True)
    application = await start(make_services(tmp_path), request)
    try:
        await feed(application, update_for("/subscribe cut_odds 75", 1))
        await feed(application, update_for("/alerts", 2))
        message = bot_message(request, sent(request)[-1], 4242)
        request.calls.clear()
        await feed(application, callback_for("alerts:mute:cut_odds", 3, message=message))
        assert len(sent(request, "editMessageText")) == 1
        [fresh] = sent(request)
        assert "(muted)" in fresh["text"] and "alerts:unmute:cut_odds" in callback_data(fresh)
    finally:
        await stop(application)
