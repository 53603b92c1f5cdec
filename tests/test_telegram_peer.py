"""The Bot API peer, driven by a real PTB Application: in process, and over HTTP where the transport matters."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.telegram_peer import HtmlParseError, Limits, TelegramPeer, grey_png, parse_html

# PTB 22 warns on every RetryAfter built from the Bot API's integer retry_after.
pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")

USER = 1850121251
GROUP = -713953955
SUPERGROUP = -1001713953955
CHART = grey_png(1200, 675)
App = tuple[TelegramPeer, Application]  # type: ignore[type-arg]


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_user is not None and update.effective_message is not None
    name = html.escape(update.effective_user.first_name)
    await update.effective_message.reply_text(f"Hello <b>{name}</b>", parse_mode=ParseMode.HTML, do_quote=True)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("1Y", callback_data="range:1y")]])
    await update.effective_message.reply_photo(CHART, caption="R2K vs NDX", reply_markup=keyboard)


async def _pick(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer("range 1y")
    await update.callback_query.edit_message_reply_markup(None)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    peer = TelegramPeer()
    application = peer.application_builder().build()
    async with application:
        yield peer, application


async def test_in_process_polling_bot_answers_start_with_html_photo_and_button(app: App) -> None:
    peer, application = app
    application.add_handler(CommandHandler("start", _start))
    application.add_handler(CallbackQueryHandler(_pick))
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        update = peer.inject_message(USER, "/start", first_name="JOHN & co")
        photo = await peer.wait_for(lambda c: c.method == "sendPhoto")
        assert photo.message_id is not None
        peer.inject_callback(USER, photo.message_id, "range:1y")
        await peer.wait_for(lambda c: c.method == "editMessageReplyMarkup")
    finally:
        await application.updater.stop()
        await application.stop()
    assert update["message"]["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    text, photo = peer.messages_to(USER)
    assert (text.text, text.result["text"]) == ("Hello <b>JOHN &amp; co</b>", "Hello JOHN & co")
    assert text.result["entities"] == [{"type": "bold", "offset": 6, "length": 9}]
    assert text.result["reply_to_message"]["message_id"] == 1  # the user's /start was message 1 of the chat
    assert photo.photo == CHART and photo.result["caption"] == "R2K vs NDX"
    assert [(s["width"], s["height"]) for s in photo.result["photo"]] == [(90, 51), (320, 180), (800, 450), (1200, 675)]
    assert photo.reply_markup == {"inline_keyboard": [[{"text": "1Y", "callback_data": "range:1y"}]]}
    assert peer.calls("answerCallbackQuery")[0].text == "range 1y"
    assert "reply_markup" not in (peer.message(USER, photo.message_id) or {"reply_markup": "?"})
    assert peer.pending_updates() == 0  # PTB confirmed the updates with its next offset
    assert peer.stats().requests["getMe"] == 1


async def test_html_errors_and_limits_refused_with_telegrams_reasons(app: App) -> None:
    peer, application = app
    bot = application.bot
    with pytest.raises(BadRequest, match='(?i)unsupported start tag "script" at byte offset 0'):
        await bot.send_message(USER, "<script>alert(1)</script>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)unescaped"):
        await bot.send_message(USER, "AT&T", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(USER, "<b>x</b>" + "羅" * 4096, parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)message caption is too long"):
        await bot.send_photo(USER, CHART, caption="x" * 1025)
    with pytest.raises(BadRequest, match="(?i)image_process_failed"):
        await bot.send_photo(USER, b"not a picture")
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        sent = await bot.send_message(USER, "same")
        await bot.edit_message_text("same", USER, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([("Spread", "x")])
    ok = await bot.send_message(USER, "<b>" + "羅" * 4096 + "</b>", parse_mode=ParseMode.HTML)  # the limit is on the text
    assert peer.calls("sendMessage")[0].description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "script" at byte offset 0'
    )
    assert len(ok.text or "") == 4096 and [c.ok for c in peer.calls("sendMessage")] == [False] * 3 + [True, True]
    await bot.set_my_commands([("spread", "羅素2000與那斯達克100價差")], language_code="zh")
    assert peer.commands("zh") == [{"command": "spread", "description": "羅素2000與那斯達克100價差"}]


async def test_faults_blocked_migrated_flood_5xx_and_delay_raise_ptbs_errors(app: App) -> None:
    peer, application = app
    bot = application.bot
    peer.block(USER)
    peer.inject_message(GROUP, "/start", chat_type="group", title="GROUPME")
    peer.migrate(GROUP, SUPERGROUP)
    peer.flood_once(USER + 1, retry_after=7)
    peer.fail_next(1, 502, "Bad Gateway", methods={"sendMessage"})
    peer.chat_not_found(USER + 4)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(USER + 4)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(USER + 2, "x")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "digest")
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(GROUP, "alert")
    moved = await bot.send_message(migrated.value.new_chat_id, "alert")
    with pytest.raises(RetryAfter) as flooded:
        await bot.send_message(USER + 1, "x")
    await bot.send_message(USER + 1, "x")
    assert (moved.chat.id, moved.chat.type, moved.chat.title) == (SUPERGROUP, "supergroup", "GROUPME")
    assert flooded.value.retry_after == 7
    assert [(c.chat_id, c.status) for c in peer.calls("sendMessage")] == [
        (USER + 2, 502), (USER, 403), (GROUP, 400), (SUPERGROUP, 200), (USER + 1, 429), (USER + 1, 200),
    ]  # fmt: skip
    assert peer.messages_to(USER) == [] and peer.stats().too_many_requests == 1
    peer.delay(USER + 3, 0.3, times=1)  # in process too, a call slower than the read timeout still lands
    with pytest.raises(TimedOut):
        await bot.send_message(USER + 3, "slow", read_timeout=0.1)
    await peer.wait_until(lambda: len(peer.messages_to(USER + 3)) == 1, timeout=2)


async def test_http_limiter_refuses_a_second_message_within_a_second_and_counts_early_retries() -> None:
    async with TelegramPeer(limits=Limits()) as peer, httpx.AsyncClient() as client:
        url = f"{peer.base_url}{peer.token}/sendMessage"
        first, second, early = [await client.post(url, data={"chat_id": str(USER), "text": t}) for t in "122"]
        other_chat = await client.post(url, json={"chat_id": USER + 1, "text": "one"})
        wrong_token = await client.post(f"{peer.base_url}654321:WRONG/getMe")
        unknown = await client.get(f"{peer.base_url}{peer.token}/sendTelepathy")
    assert [r.status_code for r in (first, second, early, other_chat, wrong_token, unknown)] == [200, 429, 429, 200, 401, 404]
    assert second.json() == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1},
    }  # fmt: skip
    assert (peer.stats().too_many_requests, peer.stats().flood_violations) == (2, 1)


def test_parse_html_offsets_count_utf16_units_and_links_decode_entities() -> None:
    text, entities = parse_html("📈 <b>羅素</b> <a href='https://example.com/x?a=1&amp;b=2'>link</a>")
    assert text == "📈 羅素 link"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "text_link", "offset": 6, "length": 4, "url": "https://example.com/x?a=1&b=2"},
    ]
    assert parse_html("AT&T &lt;3 &#x41;", strict_ampersand=False) == ("AT&T <3 A", [])


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
        ("<b>bold", "Can't find end tag corresponding to start tag b"),
    ],
)
def test_parse_html_malformed_input_raises_telegrams_reason(source: str, reason: str) -> None:
    with pytest.raises(HtmlParseError) as raised:
        parse_html(source)
    assert str(raised.value) == reason
