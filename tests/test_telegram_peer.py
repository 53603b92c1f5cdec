"""The Bot API peer, driven by a real PTB Application over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram_peer import (
    DEFAULT_TOKEN,
    HtmlParseError,
    Limits,
    SentCall,
    TelegramPeer,
    grey_png,
    image_size,
    parse_html,
)

# PTB 22 warns on every RetryAfter built from the Bot API's integer retry_after.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

USER = 1850121251
GROUP = -713953955
SUPERGROUP = -1001713953955


CHART = grey_png(1200, 675)


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    name = html.escape(update.effective_user.first_name)
    await update.effective_message.reply_text(
        f"Hello <b>{name}</b>", parse_mode=ParseMode.HTML, do_quote=True
    )


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(
        f"<i>echo:</i> {html.escape(update.effective_message.text)}", parse_mode=ParseMode.HTML
    )


async def _chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    chat_id = update.effective_chat.id
    await context.bot.send_chat_action(chat_id, "upload_photo")
    await context.bot.send_photo(chat_id, CHART, caption="R2K vs NDX")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("1Y", callback_data="range:1y")]])
    await context.bot.send_message(chat_id, "Pick a range", reply_markup=keyboard)


async def _pick(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer(f"range {query.data.split(':')[1]}")
    await query.edit_message_text("Range: 1Y")


@asynccontextmanager
async def _polling_bot(peer: TelegramPeer) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    app = peer.application_builder().build()
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("chart", _chart))
    app.add_handler(CallbackQueryHandler(_pick))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=2)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


@pytest.fixture
async def peer() -> AsyncIterator[TelegramPeer]:
    async with TelegramPeer() as running:
        yield running


def _to(chat_id: int, method: str = "sendMessage") -> Callable[[SentCall], bool]:
    return lambda call: call.method == method and call.chat_id == chat_id


# ---- the Bot API as PTB sees it ------------------------------------------------------------------


async def test_get_me_with_valid_token_returns_bot_user(peer: TelegramPeer) -> None:
    app = peer.application_builder().build()
    async with app:
        me = await app.bot.get_me()
    assert (me.id, me.is_bot, me.username, me.first_name) == (123456, True, "capgap_test_bot", "capgap test")
    assert peer.token == DEFAULT_TOKEN
    assert peer.stats().requests["getMe"] == 2  # Application.initialize asks once, the test once


async def test_start_command_by_polling_answered_with_html_reply(peer: TelegramPeer) -> None:
    async with _polling_bot(peer):
        update = peer.inject_message(USER, "/start", first_name="JOHN", username="johndoe")
        reply = await peer.wait_for(_to(USER), timeout=5)
    assert update["message"]["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert reply.text == "Hello <b>JOHN</b>"
    assert reply.parse_mode == "HTML"
    assert reply.result["text"] == "Hello JOHN"
    assert reply.result["entities"] == [{"type": "bold", "offset": 6, "length": 4}]
    assert reply.result["from"]["is_bot"] is True
    assert reply.result["message_id"] == 2  # the user's /start was message 1 of this chat
    assert reply.result["reply_to_message"]["message_id"] == 1
    assert peer.pending_updates() == 0  # PTB confirmed the update with its next offset on stopping


async def test_chart_command_photo_bytes_recorded_and_callback_answered(peer: TelegramPeer) -> None:
    async with _polling_bot(peer):
        peer.inject_message(USER, "/chart")
        keyboard_message = await peer.wait_for(_to(USER), timeout=5)
        assert keyboard_message.message_id is not None
        peer.inject_callback(USER, keyboard_message.message_id, "range:1y")
        edit = await peer.wait_for(lambda c: c.method == "editMessageText", timeout=5)
    photo = peer.calls("sendPhoto")[0]
    assert photo.photo == CHART
    assert photo.text == "R2K vs NDX"
    assert [(s["width"], s["height"]) for s in photo.result["photo"]] == [
        (90, 51),
        (320, 180),
        (800, 450),
        (1200, 675),
    ]
    assert [c.method for c in peer.messages_to(USER)] == ["sendPhoto", "sendMessage"]
    assert keyboard_message.reply_markup == {
        "inline_keyboard": [[{"text": "1Y", "callback_data": "range:1y"}]]
    }
    assert keyboard_message.result["reply_markup"] == keyboard_message.reply_markup
    answer = peer.calls("answerCallbackQuery")[0]
    assert (answer.ok, answer.text) == (True, "range 1y")
    assert edit.ok and edit.result["text"] == "Range: 1Y" and "reply_markup" not in edit.result
    assert peer.message(USER, keyboard_message.message_id)["text"] == "Range: 1Y"  # type: ignore[index]
    assert peer.calls("sendChatAction")[0].params["action"] == "upload_photo"


async def test_file_url_after_send_photo_downloads_same_bytes(peer: TelegramPeer) -> None:
    app = peer.application_builder().build()
    async with app:
        message = await app.bot.send_photo(USER, CHART)
        telegram_file = await message.photo[-1].get_file()
        downloaded = await telegram_file.download_as_bytearray()
    assert bytes(downloaded) == CHART


async def test_send_photo_with_non_image_bytes_rejected(peer: TelegramPeer) -> None:
    app = peer.application_builder().build()
    async with app:
        with pytest.raises(BadRequest, match="Image_process_failed"):
            await app.bot.send_photo(USER, b"not a picture")


async def test_set_my_commands_per_language_stored_separately(peer: TelegramPeer) -> None:
    app = peer.application_builder().build()
    async with app:
        await app.bot.set_my_commands([("spread", "R2K vs NDX spread")], language_code="en")
        await app.bot.set_my_commands([("spread", "羅素2000與那斯達克100價差")], language_code="zh")
        zh = await app.bot.get_my_commands(language_code="zh")
        default = await app.bot.get_my_commands()
        await app.bot.delete_my_commands(language_code="en")
    assert [(c.command, c.description) for c in zh] == [("spread", "羅素2000與那斯達克100價差")]
    assert default == ()
    assert peer.commands("zh") == [{"command": "spread", "description": "羅素2000與那斯達克100價差"}]
    assert peer.commands("en") == []


async def test_set_my_commands_with_uppercase_command_rejected(peer: TelegramPeer) -> None:
    app = peer.application_builder().build()
    async with app:
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await app.bot.set_my_commands([("Spread", "x")])


# ---- errors Telegram sends -----------------------------------------------------------------------


async def test_unknown_token_answers_401_unauthorized(peer: TelegramPeer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{peer.url}/bot654321:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    bot = peer.application_builder().token("654321:WRONG").build().bot
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with bot:  # shuts its connection pool down when getMe fails
            pass


async def test_unknown_method_answers_404_not_found(peer: TelegramPeer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{peer.url}/bot{peer.token}/sendTelepathy")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_limiter_second_message_within_a_second_gets_429_json() -> None:
    async with TelegramPeer(limits=Limits()) as peer:
        url = f"{peer.url}/bot{peer.token}/sendMessage"
        async with httpx.AsyncClient() as client:
            first = await client.post(url, data={"chat_id": str(USER), "text": "one"})
            second = await client.post(url, data={"chat_id": str(USER), "text": "two"})
            retried = await client.post(url, data={"chat_id": str(USER), "text": "two"})
            other_chat = await client.post(url, data={"chat_id": str(USER + 1), "text": "one"})
        app = peer.application_builder().build()
        async with app:
            with pytest.raises(RetryAfter) as raised:
                await app.bot.send_message(USER, "three")
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert retried.status_code == 429
    assert other_chat.status_code == 200  # the per-chat window is per chat
    assert raised.value.retry_after == 1
    stats = peer.stats()
    assert (stats.too_many_requests, stats.flood_violations) == (3, 2)
    assert [c.text for c in peer.messages_to(USER)] == ["one"]


async def test_limiter_group_twenty_per_minute_scaled_then_recovers() -> None:
    # scale 30: the group's minute lasts 2 s; the per-chat cap is lifted so only the group rule bites.
    scale = 30
    async with TelegramPeer(limits=Limits(per_chat_per_second=100, scale=scale)) as peer:
        app = peer.application_builder().build()
        async with app:
            for n in range(20):
                await app.bot.send_message(GROUP, f"alert {n}")
            with pytest.raises(RetryAfter) as raised:
                await app.bot.send_message(GROUP, "alert 20")
            with pytest.raises(RetryAfter):
                await app.bot.send_message(GROUP, "alert 20")  # too early: the ban still runs
            retry_after = raised.value.retry_after
            assert isinstance(retry_after, int) and 1 <= retry_after <= 60
            await asyncio.sleep(retry_after / scale)
            await app.bot.send_message(GROUP, "alert 20")
    assert len(peer.messages_to(GROUP)) == 21
    assert (peer.stats().too_many_requests, peer.stats().flood_violations) == (2, 1)


async def test_blocked_chat_send_raises_forbidden(peer: TelegramPeer) -> None:
    peer.block(USER)
    app = peer.application_builder().build()
    async with app:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await app.bot.send_message(USER, "digest")
    call = peer.sent[-1]
    assert (call.status, call.description) == (403, "Forbidden: bot was blocked by the user")
    assert peer.messages_to(USER) == []


async def test_migrated_group_raises_chat_migrated_with_new_id(peer: TelegramPeer) -> None:
    peer.inject_message(GROUP, "/start", chat_type="group", title="GROUPME")
    peer.migrate(GROUP, SUPERGROUP)
    app = peer.application_builder().build()
    async with app:
        with pytest.raises(ChatMigrated) as raised:
            await app.bot.send_message(GROUP, "alert")
        moved = await app.bot.send_message(raised.value.new_chat_id, "alert")
    assert raised.value.new_chat_id == SUPERGROUP
    assert (moved.chat.id, moved.chat.type, moved.chat.title) == (SUPERGROUP, "supergroup", "GROUPME")


async def test_one_shot_429_fault_then_send_succeeds(peer: TelegramPeer) -> None:
    peer.flood_once(USER, retry_after=7)
    app = peer.application_builder().build()
    async with app:
        with pytest.raises(RetryAfter) as raised:
            await app.bot.send_message(USER, "x")
        await app.bot.send_message(USER, "x")
    assert raised.value.retry_after == 7
    assert [c.status for c in peer.calls("sendMessage")] == [429, 200]


async def test_fail_next_two_requests_502_then_ok(peer: TelegramPeer) -> None:
    peer.fail_next(2, 502, "Bad Gateway", methods={"sendMessage"})
    app = peer.application_builder().build()
    async with app:
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await app.bot.send_message(USER, "x")
        await app.bot.send_message(USER, "x")
    assert [c.status for c in peer.calls("sendMessage")] == [502, 502, 200]


async def test_delayed_chat_client_times_out_but_message_lands(peer: TelegramPeer) -> None:
    peer.delay(USER, 0.5, times=1)
    app = peer.application_builder().read_timeout(0.2).build()
    async with app:
        with pytest.raises(TimedOut):
            await app.bot.send_message(USER, "slow")
        await peer.wait_until(lambda: len(peer.messages_to(USER)) == 1, timeout=2)


async def test_malformed_html_rejected_and_escaped_html_accepted(peer: TelegramPeer) -> None:
    app = peer.application_builder().build()
    hostile = "<script>alert(1)</script> & AT&T 1<2"
    async with app:
        with pytest.raises(BadRequest, match='(?i)unsupported start tag "script" at byte offset 0'):
            await app.bot.send_message(USER, hostile, parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)can't find end tag corresponding to start tag b"):
            await app.bot.send_message(USER, "<b>bold", parse_mode=ParseMode.HTML)
        sent = await app.bot.send_message(USER, html.escape(hostile), parse_mode=ParseMode.HTML)
    assert sent.text == hostile
    assert peer.calls("sendMessage")[0].description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "script" at byte offset 0'
    )


async def test_echo_of_user_html_through_polling_is_escaped(peer: TelegramPeer) -> None:
    async with _polling_bot(peer):
        peer.inject_message(USER, "P/E <20 & rising")
        reply = await peer.wait_for(_to(USER), timeout=5)
    assert reply.ok
    assert reply.result["text"] == "echo: P/E <20 & rising"


async def test_group_admins_reported_by_get_chat_member_and_administrators(peer: TelegramPeer) -> None:
    peer.inject_message(GROUP, "/start", chat_type="group", user_id=7)
    peer.set_admins(GROUP, [7, 8], creator_id=7)
    app = peer.application_builder().build()
    async with app:
        owner = await app.bot.get_chat_member(GROUP, 7)
        admin = await app.bot.get_chat_member(GROUP, 8)
        member = await app.bot.get_chat_member(GROUP, 9)
        admins = await app.bot.get_chat_administrators(GROUP)
        chat = await app.bot.get_chat(GROUP)
    assert (owner.status, admin.status, member.status) == ("creator", "administrator", "member")
    assert [a.user.id for a in admins] == [7, 8]
    assert (chat.id, chat.type) == (GROUP, "group")


async def test_second_get_updates_terminates_first_with_409(peer: TelegramPeer) -> None:
    url = f"{peer.url}/bot{peer.token}/getUpdates"
    async with httpx.AsyncClient() as client:
        first = asyncio.create_task(client.post(url, data={"timeout": "5"}))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(client.post(url, data={"timeout": "0"}))
        terminated, latest = await first, await second
    assert terminated.status_code == 409
    assert terminated.json()["description"].startswith("Conflict: terminated by other getUpdates request")
    assert latest.json() == {"ok": True, "result": []}


async def test_get_updates_offset_confirms_earlier_updates(peer: TelegramPeer) -> None:
    first = peer.inject_message(USER, "one")
    second = peer.inject_message(USER, "two")
    url = f"{peer.url}/bot{peer.token}/getUpdates"
    async with httpx.AsyncClient() as client:
        both = (await client.get(url)).json()["result"]
        after = (await client.get(url, params={"offset": str(second["update_id"])})).json()["result"]
        again = (await client.get(url, params={"offset": str(first["update_id"])})).json()["result"]
    assert [u["message"]["text"] for u in both] == ["one", "two"]
    assert [u["message"]["message_id"] for u in both] == [1, 2]
    assert after == [second]
    assert again == [second]  # "one" was confirmed and is gone for good


async def test_wait_for_nothing_matching_raises_timeout(peer: TelegramPeer) -> None:
    with pytest.raises(TimeoutError, match="sent: nothing"):
        await peer.wait_for(lambda call: True, timeout=0.05)


async def test_webhook_set_delivers_injected_update_to_ptb_webhook(peer: TelegramPeer) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = peer.application_builder().build()
    app.add_handler(CommandHandler("start", _start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url=f"http://127.0.0.1:{port}/hook",
            secret_token="s3cret",
        )
        try:
            peer.inject_message(USER, "/start", first_name="Ann")
            reply = await peer.wait_for(_to(USER), timeout=5)
            info = await app.bot.get_webhook_info()
        finally:
            await app.updater.stop()
            await app.stop()
    assert reply.result["text"] == "Hello Ann"
    assert (info.url, info.pending_update_count) == (f"http://127.0.0.1:{port}/hook", 0)


# ---- the threaded mode, for a bot in a subprocess ------------------------------------------------


def test_threaded_peer_serves_sync_client_and_sync_wait() -> None:
    with TelegramPeer.start_in_thread(limits=Limits()) as peer:
        update = peer.inject_message(USER, "hi")
        with httpx.Client() as client:
            base = f"{peer.url}/bot{peer.token}"
            polled = client.post(f"{base}/getUpdates", data={"timeout": "1"}).json()
            client.post(f"{base}/sendMessage", json={"chat_id": USER, "text": "hello"})
        call = peer.wait_for_sync(lambda c: c.method == "sendMessage", timeout=2)
    assert polled["result"] == [update]
    assert (call.ok, call.chat_id, call.text) == (True, USER, "hello")


# ---- the HTML parser and image sniffing on their own ---------------------------------------------


def test_parse_html_offsets_count_utf16_units() -> None:
    text, entities = parse_html("📈 <b>羅素</b> <a href='https://example.com/x?a=1&amp;b=2'>link</a>")
    assert text == "📈 羅素 link"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "text_link", "offset": 6, "length": 4, "url": "https://example.com/x?a=1&b=2"},
    ]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("羅<p>", 'Unsupported start tag "p" at byte offset 3'),
        ("AT&T", 'Unescaped "&" at byte offset 2; write &amp; (the peer\'s strict mode)'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_parse_html_malformed_input_raises_telegram_reason(source: str, reason: str) -> None:
    with pytest.raises(HtmlParseError) as raised:
        parse_html(source)
    assert str(raised.value) == reason


def test_parse_html_bare_ampersand_kept_when_not_strict() -> None:
    assert parse_html("AT&T &lt;3", strict_ampersand=False) == ("AT&T <3", [])


def test_parse_html_pre_code_language_kept_on_pre_only() -> None:
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre> <code>y</code>')
    assert text == "x = 1 y"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "code", "offset": 6, "length": 1},
    ]


def test_image_size_png_and_jpeg_header_read() -> None:
    jpeg = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffc0001108021c03c003012200021101031101")
    assert image_size(CHART) == (1200, 675)
    assert image_size(jpeg) == (960, 540)
    assert image_size(b"GIF89a") is None


def test_sent_call_without_result_has_no_message_id() -> None:
    call = SentCall("sendMessage", USER, "x", None, None, None, 0.0, 403, "Forbidden", None, {})
    assert (call.ok, call.message_id) == (False, None)
