"""build_application(): the PTB Application with every handler, job and the error handler.

This is the only module that imports everything: handlers and jobs use bot/, bot/ never imports them.
"""

from __future__ import annotations

import hashlib
import html
import logging
import traceback
from collections.abc import Sequence

from telegram import BotCommand, BotCommandScopeDefault, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.request import BaseRequest
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.config import Settings
from bot.errors import NotAllowedError, StoreUnavailableError, UserError
from bot.render.i18n import N_, current_lang, localise_params, normalise_lang, tr
from bot.render.text import split_message
from bot.store.base import ChatSettings
from handlers.base import Command, Reply, Request, Services, split_args
from handlers.registry import COMMANDS, visible_commands

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong on our side. The error was logged; please try again later.")
ADMIN_ONLY = N_("This command is for the bot's operators only.")
GROUP_ADMIN_ONLY = N_("Only the chat's administrators can change this.")

REPLY_MEMO_MAX = 512
# Telegram language codes for the command menu: zh covers zh-hant/zh-tw/zh-hk clients.
MENU_LANGUAGES = {"en": None, "zh-Hant": "zh"}


class ChatCache:
    """Last known settings per chat, so commands keep answering (in the right language) while the
    store is briefly unreachable."""

    def __init__(self) -> None:
        self._chats: dict[int, ChatSettings] = {}

    async def get(self, services: Services, chat_id: int) -> ChatSettings | None:
        if services.store is None:
            return self._chats.get(chat_id)
        try:
            chat = await services.store.get_chat(chat_id)
        except StoreUnavailableError:
            return self._chats.get(chat_id)
        if chat is not None:
            self._chats[chat_id] = chat
        return chat

    def put(self, chat: ChatSettings) -> None:
        self._chats[chat.chat_id] = chat


async def resolve_lang(services: Services, cache: ChatCache, update: Update) -> str:
    chat = update.effective_chat
    if chat is not None:
        settings = await cache.get(services, chat.id)
        if settings is not None and settings.lang:
            return settings.lang
    user = update.effective_user
    return normalise_lang(user.language_code if user else None)


async def _is_chat_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ("administrator", "creator")


def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
    )


async def send_reply(
    bot: object, chat_id: int, reply: Reply, *, reply_to: int | None = None, photo_ids: dict[str, str] | None = None
) -> None:
    """Send a reply: text split at Telegram's limit, then the chart. A chart already uploaded once is
    sent again by its Telegram file_id (``photo_ids``), not re-uploaded."""
    parts = split_message(reply.text)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        await bot.send_message(  # type: ignore[attr-defined]
            chat_id,
            part,
            parse_mode=ParseMode.HTML,
            disable_web_page_preview=True,
            reply_markup=_markup(reply) if last and not reply.chart else None,
            reply_to_message_id=reply_to if index == 0 else None,
        )
    if reply.chart is not None:
        key = hashlib.sha256(reply.chart.png).hexdigest()
        known = photo_ids.get(key) if photo_ids is not None else None
        message = await bot.send_photo(  # type: ignore[attr-defined]
            chat_id, known or reply.chart.png, caption=reply.chart.caption, parse_mode=ParseMode.HTML,
            reply_markup=_markup(reply),
        )
        if photo_ids is not None and known is None and getattr(message, "photo", None):
            if len(photo_ids) > REPLY_MEMO_MAX:
                photo_ids.clear()
            photo_ids[key] = message.photo[-1].file_id


async def run_command(services: Services, command: Command, request: Request) -> Reply:
    """Run one command and turn a UserError into its localized reply (shared with `capgap ask`)."""
    token = current_lang.set(request.lang)
    try:
        if command.admin_only and not request.is_admin:
            raise NotAllowedError(ADMIN_ONLY)
        if command.needs_chat_admin(request.args) and not request.is_chat_admin:
            raise NotAllowedError(GROUP_ADMIN_ONLY)
        if not command.cacheable or request.asof is not None:
            return await command.func(services, request)
        # The same question on the same snapshot has the same answer: compute it once per refresh.
        memo = services.market.snapshot.memo
        key = ("reply", command.name, request.args, request.lang)
        cached = memo.get(key)
        if isinstance(cached, Reply):
            return cached
        reply = await command.func(services, request)
        if len(memo) >= REPLY_MEMO_MAX:
            memo.clear()
        memo[key] = reply
        return reply
    except UserError as exc:
        return Reply(text=tr(exc.msgid, request.lang, **localise_params(exc.params, request.lang)))
    finally:
        current_lang.reset(token)


async def build_request(
    update: Update, context: ContextTypes.DEFAULT_TYPE, command: Command, args: tuple[str, ...]
) -> Request:
    """Who asks what, in which language, with which rights."""
    services: Services = context.application.bot_data["services"]
    cache: ChatCache = context.application.bot_data["chat_cache"]
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None
    is_chat_admin = True
    if command.needs_chat_admin(args) and chat.type != ChatType.PRIVATE:
        is_chat_admin = await _is_chat_admin(update, context)
    return Request(
        command=command.name,
        args=args,
        lang=await resolve_lang(services, cache, update),
        chat_id=chat.id,
        user_id=user.id if user else None,
        chat_type=chat.type,
        is_admin=bool(user and user.id in services.settings.admin_ids),
        is_chat_admin=is_chat_admin,
    )


def ptb_callback(command: Command):  # type: ignore[no-untyped-def]
    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        chat = update.effective_chat
        if message is None or chat is None or not message.text:
            return
        services: Services = context.application.bot_data["services"]
        _, args = split_args(message.text)
        request = await build_request(update, context, command, args)
        reply = await run_command(services, command, request)
        if command.needs_chat_admin(args):  # remember the chat's new settings for when the store is down
            await context.application.bot_data["chat_cache"].get(services, chat.id)
        await send_reply(context.bot, chat.id, reply, photo_ids=context.application.bot_data["photo_ids"])

    return callback


def callback_router():  # type: ignore[no-untyped-def]
    """Inline buttons carry "<command>:<arg>:<arg>..." and run that command like a typed message."""

    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        parts = (query.data or "").split(":")
        command = COMMANDS.get(parts[0]) if parts and parts[0] else None
        chat = update.effective_chat
        if command is None or chat is None:
            await query.answer()
            return
        services: Services = context.application.bot_data["services"]
        request = await build_request(update, context, command, tuple(p for p in parts[1:] if p))
        reply = await run_command(services, command, request)
        await query.answer()
        await send_reply(context.bot, chat.id, reply, photo_ids=context.application.bot_data["photo_ids"])

    return callback


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first, then a short apology to the user and a redacted note to the ops chat."""
    log.error("unhandled error while handling an update", exc_info=context.error)
    services: Services | None = context.application.bot_data.get("services")
    if isinstance(update, Update) and update.effective_chat is not None:
        lang = normalise_lang(update.effective_user.language_code if update.effective_user else None)
        try:
            await context.bot.send_message(update.effective_chat.id, tr(APOLOGY, lang), parse_mode=ParseMode.HTML)
        except TelegramError:
            log.warning("could not send the apology")
    if services is not None and services.settings.ops_chat_id and context.error is not None:
        summary = "".join(traceback.format_exception_only(type(context.error), context.error)).strip()
        try:
            await context.bot.send_message(
                services.settings.ops_chat_id,
                f"<b>capgap error</b>\n<code>{html.escape(summary[:3000])}</code>",
                parse_mode=ParseMode.HTML,
            )
        except TelegramError:
            log.warning("could not notify the ops chat")


async def set_menus(application: Application) -> None:  # type: ignore[type-arg]
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
) -> Application:  # type: ignore[type-arg]
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
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        if services.store is not None:
            await services.store.open()
        try:
            await set_menus(application)
        except TelegramError:
            log.warning("setMyCommands failed; the menu may be out of date")
        for hook in extra_post_init:
            await hook(application)  # type: ignore[operator]

    async def post_stop(application: Application) -> None:  # type: ignore[type-arg]
        for hook in extra_post_stop:
            await hook(application)  # type: ignore[operator]

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        if services.store is not None:
            await services.store.close()

    application = builder.post_init(post_init).post_stop(post_stop).post_shutdown(post_shutdown).build()
    application.bot_data["services"] = services
    application.bot_data["chat_cache"] = ChatCache()
    application.bot_data["photo_ids"] = {}
    for command in COMMANDS.values():
        application.add_handler(CommandHandler(command.name, ptb_callback(command)))
    application.add_handler(CallbackQueryHandler(callback_router()))
    application.add_error_handler(error_handler)
    return application
