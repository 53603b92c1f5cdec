"""Inline mode: ``@bot r2k``, ``@bot spread`` or ``@bot fedodds`` typed in any chat offers that command's
answer as a message the user can send there.

What is offered, without PTB (bot/app.py turns each answer into an InlineQueryResultArticle): the first
word of the query names the command (a leading "/" is fine) and the words after it are its arguments; an
empty or unknown query offers all three with no arguments, so typing the bot's name alone shows what it
can send. Each answer is the command's own reply, run by the same handler code as the command typed in a
chat, so it carries the source and as-of footer and says a stale input is stale. An inline result is a
text message: the words from "chart" on are dropped (no photo, no buttons there). A usage line or a "no
data" reply is offered as it is, so a mistyped argument shows its usage in the list. Nothing raises: a
command that fails is left out (and logged), and when nothing is left a short help result is offered.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.i18n import N_, Safe, tr
from bot.render.text import as_terminal_text
from bot.seam import Command, Reply
from bot.telegram_edge import MESSAGE_LIMIT, split_html

log = logging.getLogger(__name__)

INLINE_COMMANDS = ("r2k", "spread", "fedodds")
INLINE_HELP_TITLE = N_("capgap: Russell 2000, small vs large caps, Fed cut odds")
INLINE_HELP = N_("Type r2k, spread or fedodds after the bot's name in any chat to send that answer there, e.g. r2k, spread 1y, fedodds 2026-12.")  # noqa: E501 (a msgid is one line)
# Telegram shows about two lines of a result's description under its title.
DESCRIPTION_LIMIT = 120

Runner = Callable[[Command, tuple[str, ...]], Awaitable[Reply]]


@dataclass(frozen=True)
class InlineAnswer:
    """One result: ``title`` and ``description`` are plain text, ``text`` the HTML message it sends."""

    id: str  # unique in the answer, at most 64 bytes
    title: str
    description: str
    text: Safe


def parse_inline_query(query: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """-> (the commands to offer, their arguments); see the module doc."""
    words = query.split()
    if words:
        name = words[0].lstrip("/").split("@")[0].lower()
        if name in INLINE_COMMANDS:
            args = tuple(words[1:])
            lowered = [a.lower() for a in args]
            return (name,), args[: lowered.index("chart")] if "chart" in lowered else args
    return INLINE_COMMANDS, ()


def _plain_lines(text: str) -> list[str]:
    return [line.strip() for line in as_terminal_text(text).splitlines() if line.strip()]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _answer(command: Command, args: tuple[str, ...], reply: Reply, lang: str) -> InlineAnswer:
    key = "\x1f".join((command.name, *args, lang)).encode()
    # A reply longer than one message (none of the three is) would lose its footer: send its first part.
    text = reply.text if len(reply.text) <= MESSAGE_LIMIT else Safe(split_html(reply.text)[0])
    return InlineAnswer(
        id=f"{command.name}-{hashlib.sha256(key).hexdigest()[:32]}",
        title=_shorten(html.unescape(tr(command.description, lang)), DESCRIPTION_LIMIT),
        description=_shorten(" · ".join(_plain_lines(reply.text)[:2]), DESCRIPTION_LIMIT),
        text=text,
    )


def help_answer(lang: str) -> InlineAnswer:
    return InlineAnswer(id="help", title=html.unescape(tr(INLINE_HELP_TITLE, lang)),
                        description=_shorten(html.unescape(tr(INLINE_HELP, lang)), DESCRIPTION_LIMIT),
                        text=tr(INLINE_HELP, lang))


async def inline_answers(query: str, lang: str, commands: Mapping[str, Command], run: Runner) -> list[InlineAnswer]:
    """The results for an inline ``query`` from a user reading ``lang``; ``run`` answers one command as
    the bot answers it in a chat (bot/app.py: run_command)."""
    names, args = parse_inline_query(query)
    answers = []
    for name in names:
        command = commands.get(name)
        if command is None:
            continue
        try:
            reply = await run(command, args)
        except Exception:  # one command's failure must not take the others (or the query) with it
            log.exception("inline query %r: /%s failed", query[:64], name)
            continue
        answers.append(_answer(command, args, reply, lang))
    return answers or [help_answer(lang)]
