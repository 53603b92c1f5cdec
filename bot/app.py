"""build_application(): the PTB Application with every handler, job and the error handler.

The only module of bot/ that imports handlers/ and jobs/ (the composition root; `capgap` reaches them
through it): handlers and jobs use bot/, nothing else in bot/ imports them.
"""

from __future__ import annotations

import contextlib
import functools
import html
import itertools
import logging
import re
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import httpx
from telegram import (
    BotCommand,
    BotCommandScopeDefault,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.app_state import CONTEXT_TYPES, AppApplication, AppContext, AppState
from bot.config import Settings
from bot.delivery import Limits
from bot.errors import NoDataError, NotAllowedError, UsageError, UserError
from bot.i18n import N_, current_lang, localise_params, normalise_lang, tr
from bot.inline import inline_answers
from bot.render.text import as_terminal_text
from bot.seam import Chart, Command, Reply, Request, Services, split_args
from bot.sources.registry import open_sources
from bot.telegram_edge import NO_PREVIEW, Outgoing, send
from handlers.registry import COMMANDS as COMMANDS  # re-exported: `capgap ask` answers from the same table
from handlers.registry import visible_commands

log = logging.getLogger(__name__)

# What PTB calls for an update: the callbacks the handlers below are built on.
UpdateCallback = Callable[[Update, AppContext], Coroutine[Any, Any, None]]

APOLOGY = N_("Sorry, something went wrong on our side. The error was logged; please try again later.")
ADMIN_ONLY = N_("This command is for the bot's operators only.")
ADMIN_IN_PRIVATE = N_("Operator commands answer only in a private chat, so that the group does not see them: send /{command} to me privately.")  # noqa: E501 (a msgid is one line)
GROUP_ADMIN_ONLY = N_("Only the chat's administrators can change this.")
UNKNOWN_COMMAND = N_("I don't know the command /{command}. Send /help for the list of commands.")
UNKNOWN_TEXT = N_("I answer commands only, such as /r2k or /fedodds. Send /help for the list of commands.")
CHART_ALREADY_SENT = N_("This chart is already in the chat, just below the message.")
# A command name as Telegram clients recognise one (and as the bot's menu can hold it).
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$", re.ASCII)
# Telegram's limit for the text of a callback answer.
CALLBACK_ANSWER_LIMIT = 200

REPLY_MEMO_MAX = 512
# Telegram language codes for the command menu: zh covers zh-hant/zh-tw/zh-hk clients.
MENU_LANGUAGES = {"en": None, "zh-Hant": "zh"}


async def resolve_lang(state: AppState, update: Update) -> str:
    chat = update.effective_chat
    if chat is not None:
        settings = await state.chats.get(state.services, chat.id)
        if settings is not None and settings.lang:
            return settings.lang
    user = update.effective_user
    return normalise_lang(user.language_code if user else None)


async def _is_chat_admin(update: Update, context: AppContext) -> bool:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ("administrator", "creator")


def _reply_memo(services: Services) -> dict[object, Reply]:
    """The current snapshot's replies, oldest first (a new snapshot starts an empty one)."""
    memo = services.market.snapshot.memo
    replies = memo.get("replies")
    if replies is None:
        replies = memo["replies"] = {}
    return replies  # type: ignore[return-value]


async def run_command(services: Services, command: Command, request: Request) -> Reply:
    """Run one command and turn a UserError into its localized reply (shared with `capgap ask`).

    A ``cacheable`` command's reply, "no data yet" and usage replies included, depends only on
    (snapshot, command, args, language): it is computed once per snapshot and shared."""
    token = current_lang.set(request.lang)
    try:
        if command.admin_only and not request.is_admin:
            raise NotAllowedError(ADMIN_ONLY)
        if command.admin_only and request.chat_type != ChatType.PRIVATE:
            # An operator's answer (data sources, outbox, errors) is not for every member of a group.
            raise NotAllowedError(ADMIN_IN_PRIVATE, command=command.name)
        if command.needs_chat_admin(request.args) and not request.is_chat_admin:
            raise NotAllowedError(GROUP_ADMIN_ONLY)
        if not command.cacheable or request.asof is not None:
            return await command.func(services, request)
        memo = _reply_memo(services)
        key = (command.name, request.args, request.lang)
        cached = memo.get(key)
        if cached is not None:
            return cached
        try:
            reply = await command.func(services, request)
        except (UsageError, NoDataError) as exc:  # decided by the arguments and the snapshot alone
            reply = _user_error_reply(exc, request.lang)
        if len(memo) >= REPLY_MEMO_MAX:  # many distinct arguments: forget the oldest eighth
            for old in list(itertools.islice(memo, REPLY_MEMO_MAX // 8)):
                del memo[old]
        memo[key] = reply
        return reply
    except UserError as exc:
        return _user_error_reply(exc, request.lang)
    finally:
        current_lang.reset(token)


def _user_error_reply(exc: UserError, lang: str) -> Reply:
    return Reply(text=tr(exc.msgid, lang, **localise_params(exc.params, lang)), error=True)


async def build_request(
    update: Update, context: AppContext, command: Command, args: tuple[str, ...]
) -> Request:
    """Who asks what, in which language, with which rights."""
    services: Services = context.bot_data.services
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    is_chat_admin = True
    if command.needs_chat_admin(args) and chat.type != ChatType.PRIVATE:
        is_chat_admin = await _is_chat_admin(update, context)
    return Request(
        command=command.name,
        args=args,
        lang=await resolve_lang(context.bot_data, update),
        chat_id=chat.id,
        user_id=user.id if user else None,
        chat_type=chat.type,
        is_admin=bool(user and user.id in services.settings.admin_ids),
        is_chat_admin=is_chat_admin,
    )


async def _settings_may_have_changed(
    context: AppContext, services: Services, chat_id: int
) -> None:
    """After a command that may have changed the chat's settings: read them again, so the next reply
    uses them, and remember them for when the store is down."""
    context.bot_data.chats.invalidate(chat_id)
    await context.bot_data.chats.get(services, chat_id)


def ptb_callback(command: Command) -> UpdateCallback:
    async def callback(update: Update, context: AppContext) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or not message.text:
            return
        services: Services = context.bot_data.services
        _, args = split_args(message.text)
        request = await build_request(update, context, command, args)
        reply = await run_command(services, command, request)
        if command.needs_chat_admin(args):
            await _settings_may_have_changed(context, services, chat.id)
        await send(context.bot, chat.id, reply, photos=context.bot_data.photos)

    return callback


def _without_button(markup: InlineKeyboardMarkup | None, data: str) -> InlineKeyboardMarkup | None:
    """The keyboard of a message less the button whose callback data is ``data`` (None when empty)."""
    if markup is None:
        return None
    rows = [[b for b in row if b.callback_data != data] for row in markup.inline_keyboard]
    rows = [row for row in rows if row]
    return InlineKeyboardMarkup(rows) if rows else None


def _plain(text: str) -> str:
    """A callback answer is plain text of at most 200 characters."""
    plain = as_terminal_text(text)
    return plain if len(plain) <= CALLBACK_ANSWER_LIMIT else plain[: CALLBACK_ANSWER_LIMIT - 1] + "…"


def _not_modified(exc: BadRequest) -> bool:
    return "not modified" in exc.message.lower()


def callback_router() -> UpdateCallback:
    """Inline buttons carry "<command>:<arg>:<arg>..." and run that command like a typed message.

    What the press shows depends on what it asked for, as Telegram users expect:
    - a refusal or a usage line (a stale button, a non-admin in a group) is a notification to the one
      who pressed, not a message to the chat;
    - a reply with a chart (the "Chart" buttons) sends the chart once, under its short caption, as a
      reply to the message (which has the figures), and that button is taken off the message;
      pressing it again only says the chart is already there;
    - a command whose buttons change what its message shows (``button_edits``: mute, unmute, delete)
      edits that message in place and says what it did in the notification;
    - anything else is sent as a new message.
    """

    async def callback(update: Update, context: AppContext) -> None:
        query = update.callback_query
        if query is None:
            return
        data = query.data or ""
        parts = data.split(":")
        command = COMMANDS.get(parts[0]) if parts and parts[0] else None
        chat = update.effective_chat
        if command is None or chat is None:
            await query.answer()
            return
        services: Services = context.bot_data.services
        args = tuple(p for p in parts[1:] if p)
        request = await build_request(update, context, command, args)
        reply = await run_command(services, command, request)
        if command.needs_chat_admin(args):
            await _settings_may_have_changed(context, services, chat.id)
        message = query.message if isinstance(query.message, Message) else None
        if reply.error:
            await query.answer(_plain(reply.text), show_alert=True)
            return
        if reply.chart is not None and message is not None:
            if await _send_chart_once(context, chat.id, message, data, reply.chart):
                await query.answer()
            else:
                await query.answer(_plain(tr(CHART_ALREADY_SENT, request.lang)))
            return
        if command.button_edits and message is not None and await _edit_in_place(context, message, reply):
            await query.answer(_plain(reply.notice) if reply.notice else None)
            return
        await query.answer(_plain(reply.notice) if reply.notice else None)
        await send(context.bot, chat.id, reply, photos=context.bot_data.photos)

    return callback


async def _send_chart_once(context: AppContext, chat_id: int, message: Message, data: str,
                           chart: Chart) -> bool:
    """The chart a button asked for, once per message: the button comes off the message first, so
    another press (here or in another bot process) finds nothing to change and posts nothing.
    False when the chart was sent before."""
    if not context.bot_data.first_press((chat_id, message.message_id, data)):
        return False  # a double tap that arrived before the button was gone
    try:
        await context.bot.edit_message_reply_markup(chat_id, message.message_id,
                                                    reply_markup=_without_button(message.reply_markup, data))
    except BadRequest as exc:
        if _not_modified(exc):  # the button was already gone: the chart was sent
            return False
        log.warning("could not take the chart button off message %s: %s", message.message_id, exc.message)
    except TelegramError as exc:
        log.warning("could not take the chart button off message %s: %s", message.message_id, exc)
    # The figures are in the message the button belongs to: the chart goes under it with its short
    # caption (title, source), not with the whole text again.
    await send(context.bot, chat_id, Reply(text=chart.caption, chart=chart), photos=context.bot_data.photos,
               reply_to=message.message_id)
    return True


async def _edit_in_place(context: AppContext, message: Message, reply: Reply) -> bool:
    """Replace the text and keyboard of the message a button belongs to; False when it cannot be (a
    photo, a reply longer than one message, Telegram refused): the caller sends a new message."""
    plan = Outgoing.of(reply)
    if len(plan.parts) != 1 or plan.parts[0].photo or message.text is None:
        return False
    try:
        await context.bot.edit_message_text(
            plan.parts[0].text, message.chat_id, message.message_id, parse_mode=ParseMode.HTML,
            reply_markup=plan.markup, link_preview_options=NO_PREVIEW,
        )
    except BadRequest as exc:
        if _not_modified(exc):  # a second press of the same button: the message already shows it
            return True
        log.warning("could not edit message %s after a button press: %s", message.message_id, exc.message)
        return False
    except TelegramError as exc:
        log.warning("could not edit message %s after a button press: %s", message.message_id, exc)
        return False
    return True


async def _apology_lang(context: AppContext, update: Update) -> str:
    """The chat's language, as every other reply has it; the sender's when the settings cannot be read
    (the error may be the store's)."""
    user = update.effective_user
    fallback = normalise_lang(user.language_code if user else None)
    try:
        return await resolve_lang(context.bot_data, update)
    except Exception:  # noqa: BLE001 (whatever failed, the apology still goes out)
        log.warning("chat settings unreadable for the apology", exc_info=True)
        return fallback


def unknown_message_handler() -> UpdateCallback:
    """A message no command handler took: an unknown /command or plain text.

    In a private chat it gets one line pointing to /help, in the chat's language. In a group the bot
    stays quiet unless the message is addressed to it (a command with @thisbot, a mention, or a reply to
    one of its messages): other bots' commands and the members' talk are not for it.
    """

    async def callback(update: Update, context: AppContext) -> None:
        message, chat = update.message, update.effective_chat
        if message is None or chat is None or not message.text:
            return
        text = message.text.strip()
        username = (context.bot.username or "").lower()
        name = ""
        if text.startswith("/"):
            head = text.split(maxsplit=1)[0][1:]
            name, _, target = head.partition("@")
            if target and target.lower() != username:
                return  # another bot's command
            if name.lower() in COMMANDS:
                return  # ours, but not in a form the command handlers take: not "unknown"
            addressed = bool(target)
        else:
            replied = message.reply_to_message
            mention = re.compile(rf"@{re.escape(username)}(?!\w)", re.IGNORECASE) if username else None
            addressed = bool(
                (replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id)
                or (mention is not None and mention.search(text))
            )
        private = chat.type == ChatType.PRIVATE
        if not private and not addressed:
            return
        lang = await resolve_lang(context.bot_data, update)
        if not text.startswith("/"):
            answer = tr(UNKNOWN_TEXT, lang)
        elif _COMMAND_NAME.match(name.lower()):
            answer = tr(UNKNOWN_COMMAND, lang, command=name.lower())
        else:
            answer = tr(UNKNOWN_TEXT, lang)
        await send(context.bot, chat.id, Reply(text=answer), photos=context.bot_data.photos,
                   reply_to=None if private else message.message_id)

    return callback


# Telegram may serve an inline answer again for this long; answers depend on the market snapshot.
INLINE_CACHE_S = 60


def inline_query_handler() -> UpdateCallback:
    """Inline mode (what is offered: bot/inline.py), in the language of the user's Telegram client, each
    answer an article the user can send to the chat they are in."""

    async def callback(update: Update, context: AppContext) -> None:
        query = update.inline_query
        if query is None:
            return
        services = context.bot_data.services
        lang = normalise_lang(query.from_user.language_code)

        async def run(command: Command, args: tuple[str, ...]) -> Reply:
            request = Request(command=command.name, args=args, lang=lang, chat_id=query.from_user.id,
                              user_id=query.from_user.id, chat_type=query.chat_type or ChatType.SENDER)
            return await run_command(services, command, request)

        answers = await inline_answers(query.query, lang, COMMANDS, run)
        results = [InlineQueryResultArticle(
            id=a.id, title=a.title, description=a.description,
            input_message_content=InputTextMessageContent(a.text, parse_mode=ParseMode.HTML,
                                                          link_preview_options=NO_PREVIEW),
        ) for a in answers]
        try:
            await query.answer(results, cache_time=INLINE_CACHE_S, is_personal=True)
        except BadRequest as exc:  # "query is too old": the user typed on, and nobody waits for this one
            log.info("inline answer not delivered: %s", exc.message)

    return callback


async def error_handler(update: object, context: AppContext) -> None:
    """Log first, then a short apology to the user and a redacted note to the ops chat."""
    log.error("unhandled error while handling an update", exc_info=context.error)
    services = context.bot_data.services
    if isinstance(update, Update) and update.effective_chat is not None:
        lang = await _apology_lang(context, update)
        try:
            await context.bot.send_message(update.effective_chat.id, tr(APOLOGY, lang), parse_mode=ParseMode.HTML)
        except TelegramError:
            log.warning("could not send the apology")
    if services.settings.ops_chat_id and context.error is not None:
        summary = "".join(traceback.format_exception_only(type(context.error), context.error)).strip()
        try:
            await context.bot.send_message(
                services.settings.ops_chat_id,
                f"<b>capgap error</b>\n<code>{html.escape(summary[:3000])}</code>",
                parse_mode=ParseMode.HTML,
            )
        except TelegramError:
            log.warning("could not notify the ops chat")


async def set_menus(application: AppApplication) -> None:
    """setMyCommands in every language, so the menu matches the user's language."""
    for lang, code in MENU_LANGUAGES.items():
        # The menu is plain text: descriptions are HTML msgids, so entities are decoded here.
        commands = [BotCommand(c.name, html.unescape(tr(c.description, lang))[:256]) for c in visible_commands(None)]
        await application.bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=code)


def build_application(
    settings: Settings,
    services: Services,
    *,
    extra_post_init: Sequence[object] = (),
    extra_post_stop: Sequence[object] = (),
    request: BaseRequest | None = None,
) -> AppApplication:
    """The Application. ``request`` replaces PTB's HTTP transport (benchmarks use one that answers
    at once, to measure capgap's own cost per update)."""
    if settings.telegram_token is None:
        raise ValueError("build_application needs a token")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_url.replace("/bot", "/file/bot"))
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.rate_limit_per_second,
                overall_time_period=1,
                group_max_rate=settings.rate_limit_per_group_minute,
                group_time_period=60,
                max_retries=0,
            )
        )
        .concurrent_updates(True)
        .context_types(CONTEXT_TYPES)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)

    async def post_init(application: AppApplication) -> None:
        if services.store is not None:
            await services.store.open()
        try:
            await set_menus(application)
        except TelegramError:
            log.warning("setMyCommands failed; the menu may be out of date")
        for hook in extra_post_init:
            await hook(application)  # type: ignore[operator]

    async def post_stop(application: AppApplication) -> None:
        for hook in extra_post_stop:
            await hook(application)  # type: ignore[operator]

    async def post_shutdown(application: AppApplication) -> None:
        if services.store is not None:
            await services.store.close()

    application = builder.post_init(post_init).post_stop(post_stop).post_shutdown(post_shutdown).build()
    application.bot_data.services = services
    for command in COMMANDS.values():
        application.add_handler(CommandHandler(command.name, ptb_callback(command)))
    # After the commands: a message none of them took (new messages only; an edit is not a new question).
    application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, unknown_message_handler()))
    application.add_handler(CallbackQueryHandler(callback_router()))
    application.add_handler(InlineQueryHandler(inline_query_handler()))
    application.add_error_handler(error_handler)
    return application

# --- running for real: `capgap run` ------------------------------------------------------------------------
# build_bot is what `capgap run` runs (the end-to-end tests and the soak start the bot through it too): the
# data sources are opened on one HTTP client for the life of the Application and closed on shutdown, so
# the scheduled passes fetch from Yahoo, FRED, CME and Stooq exactly as `capgap refresh` does.


def build_bot(
    settings: Settings,
    services: Services,
    *,
    http_client: httpx.AsyncClient | None = None,
    send_limits: Limits | None = None,
) -> AppApplication:
    """The Application `capgap run` runs. ``http_client`` replaces the data sources' HTTP client (tests
    answer the vendors locally); the bot closes a client it made itself, never one it was given.
    ``send_limits`` replaces the sender's pacing from the settings (the soak scales Telegram's clock)."""
    from jobs.schedule import schedule_jobs, step_down, stop_sender

    sources = contextlib.AsyncExitStack()

    async def open_data_sources(application: AppApplication) -> None:
        apikey = settings.stooq_apikey.get_secret_value() if settings.stooq_apikey else None
        services.market.sources = await sources.enter_async_context(open_sources(stooq_apikey=apikey, client=http_client))
        log.info("data sources: %s", ", ".join(sorted(services.market.sources)))

    async def close_data_sources(application: AppApplication) -> None:
        services.market.sources = {}
        await sources.aclose()

    return build_application(
        settings,
        services,
        extra_post_init=[open_data_sources, functools.partial(schedule_jobs, send_limits=send_limits)],
        extra_post_stop=[stop_sender, step_down, close_data_sources],
    )


def run_bot(settings: Settings, services: Services, *, webhook_url: str | None) -> int:
    application = build_bot(settings, services)
    if webhook_url:
        from urllib.parse import urlparse

        path = urlparse(webhook_url).path.lstrip("/")
        log.info("serving the webhook on %s:%s/%s", settings.webhook_listen, settings.webhook_port, path)
        assert settings.webhook_secret is not None
        application.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=path,
            webhook_url=webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        log.info("polling Telegram for updates")
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
