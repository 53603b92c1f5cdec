"""/start, /help and /lang."""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import UsageError
from bot.i18n import N_, parse_lang, tr
from bot.render.alerts import render_subscribe_help
from bot.render.text import render_help, render_start
from bot.seam import Command, Reply, Request, Services, visible_commands

START_USAGE = N_("Usage: /start")
HELP_USAGE = N_("Usage: /help [command]")
LANG_USAGE = N_("Usage: /lang en | zh-Hant")


async def start_command(services: Services, request: Request, commands: Sequence[Command]) -> Reply:
    """/start lists ``commands`` (the whole table, handlers/registry.py hands it over) as ``request`` may see them."""
    return Reply(text=render_start(visible_commands(commands, request), request.lang))


async def help_command(services: Services, request: Request, commands: Sequence[Command]) -> Reply:
    if len(request.args) > 1:
        raise UsageError(HELP_USAGE)
    if request.args:
        name = request.args[0].lstrip("/").lower()
        command = next((c for c in commands if c.name == name), None)
        if command is None or (command.admin_only and not request.is_admin):
            raise UsageError(HELP_USAGE)
        if name == "subscribe":  # the rules and their parameters do not fit one usage line
            return Reply(text=render_subscribe_help(request.lang))
        return Reply(text=tr(command.usage, request.lang))
    return Reply(text=render_help(visible_commands(commands, request), request.lang))


async def lang_command(services: Services, request: Request) -> Reply:
    if len(request.args) != 1:
        raise UsageError(LANG_USAGE)
    lang = parse_lang(request.args[0])
    if lang is None:
        raise UsageError(LANG_USAGE)
    if services.store is not None:
        from dataclasses import replace

        from bot.store.base import ChatSettings

        chat = await services.store.get_chat(request.chat_id) or ChatSettings(
            chat_id=request.chat_id, kind=request.chat_type
        )
        await services.store.put_chat(replace(chat, lang=lang))
    return Reply(text=tr(N_("Language set to English."), lang) if lang == "en"
                 else tr(N_("Language set to Traditional Chinese."), lang))
