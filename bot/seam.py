"""The seam between Telegram and capgap: a command is a function (Services, Request) -> Reply.

The same function answers a Telegram update (through ``ptb_callback`` in bot/app.py) and
``capgap ask`` in a terminal, so what the CLI prints is what the bot would send.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.alerts.watcher import Watcher
from bot.clock import Clock
from bot.config import Settings
from bot.history import HistoryStore
from bot.i18n import Safe
from bot.market import Market, Snapshot
from bot.store.base import Store


@dataclass
class Services:
    """What handlers and jobs may use; built once in bot/app.py (or by `capgap ask`)."""

    settings: Settings
    clock: Clock
    history: HistoryStore
    market: Market
    store: Store | None  # None for `capgap ask` (no chat state)
    watch_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one rule evaluation at a time
    # The running bot's rule evaluator, keeping subscriber indexes between ticks (None without a store).
    watcher: Watcher | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.store is not None:
            self.watcher = Watcher(self.store)


@dataclass(frozen=True)
class Request:
    command: str  # without the slash and @botname, lower case
    args: tuple[str, ...]
    lang: str
    chat_id: int = 0
    user_id: int | None = None
    chat_type: str = "private"
    is_admin: bool = False  # the sender is in CAPGAP_ADMIN_IDS
    is_chat_admin: bool = True  # the sender may change this chat's settings (always true in private)
    asof: date | None = None  # `capgap ask --as-of`

    def snapshot(self, services: Services) -> Snapshot:
        return services.market.snapshot if self.asof is None else services.market.at(self.asof)


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data, at most 64 bytes


@dataclass(frozen=True)
class Chart:
    png: bytes
    caption: Safe  # short: title and source line (Telegram captions stop at 1,024 characters)

    @functools.cached_property
    def key(self) -> str:
        """The sha256 of the PNG, worked out once per chart (a memoised reply is sent many times): names
        the chart's Telegram file_id once uploaded, and its blob in the outbox."""
        return hashlib.sha256(self.png).hexdigest()


@dataclass(frozen=True)
class Reply:
    text: Safe
    chart: Chart | None = None
    buttons: Sequence[Sequence[Button]] = field(default_factory=tuple)
    # What a button press did, in a few plain words: shown as the press's notification (Telegram shows
    # a callback answer briefly at the top of the chat, up to 200 characters).
    notice: str = ""
    error: bool = False  # a UserError's text (usage, no data, not allowed) rather than an answer


CommandFunc = Callable[[Services, Request], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str
    func: CommandFunc
    description: str  # msgid, shown in the command menu and /help
    usage: str  # msgid of the usage line
    admin_only: bool = False  # CAPGAP_ADMIN_IDS only (e.g. /status)
    changes_chat: bool = False  # in groups, only chat administrators
    changes_chat_with_args: bool = False  # the same, only when given arguments (/alerts mute X)
    # A button of this command's reply changes what that reply shows (mute, unmute, delete): the press
    # edits the message the button belongs to instead of posting a new one.
    button_edits: bool = False

    def needs_chat_admin(self, args: tuple[str, ...]) -> bool:
        return self.changes_chat or (self.changes_chat_with_args and bool(args))
    cacheable: bool = False  # the reply depends only on (snapshot, args, language): memoised per snapshot


def split_args(text: str) -> tuple[str, tuple[str, ...]]:
    """'/r2k@capgap_bot chart 5y' -> ('r2k', ('chart', '5y'))."""
    parts = text.strip().split()
    if not parts or not parts[0].startswith("/"):
        return "", tuple(parts)
    head = parts[0][1:].split("@", 1)[0].lower()
    return head, tuple(parts[1:])


def visible_commands(commands: Sequence[Command], request: Request | None = None) -> list[Command]:
    """The commands of ``commands`` to list in the menu, /start and /help: operator commands only for
    operators, and only in a private chat (they answer nowhere else)."""

    def shown(c: Command) -> bool:
        return not c.admin_only or (request is not None and request.is_admin and request.chat_type == "private")

    return [c for c in commands if shown(c)]
