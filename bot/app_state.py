"""The running bot's state, typed: what PTB keeps in ``Application.bot_data`` (``ContextTypes(bot_data=AppState)``).

Built by PTB with no arguments when the Application is; ``build_application`` (bot/app.py) sets
``services`` before the first update, the scheduler (jobs/schedule.py) the leadership and the sender.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from bot.digests import DigestRenders
from bot.errors import StoreUnavailableError
from bot.seam import Services
from bot.store.base import ChatSettings
from bot.telegram_edge import Photos

# How long a chat's settings are used without asking the store again (see ChatCache).
CHAT_CACHE_TTL_S = 5.0
CHAT_CACHE_MAX = 100_000
# Charts sent for a button press, per (chat, message, button): a second press does not post the chart
# again. Bounded: a press older than the last few thousand is also caught by the button being gone.
CHART_PRESSES_MAX = 4096


class ChatCache:
    """Chat settings per chat, read from the store at most once per ``ttl`` seconds.

    Every update needs its chat's language. Asking the store each time costs a thread hop (SQLite) or a
    network round trip (Redis): more than answering a memoised command. So the answer, including "this
    chat has no settings", is kept for ``ttl`` seconds. A command that may change the chat's settings
    (``Command.needs_chat_admin``) makes this process forget its entry (``invalidate``), so its own
    changes show at once; a change written by another bot process on the same store shows within
    ``ttl``. While the store is unreachable the last known settings are used, however old.
    """

    def __init__(self, *, ttl: float = CHAT_CACHE_TTL_S, max_chats: int = CHAT_CACHE_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_chats = max_chats
        self._clock = clock
        self._chats: dict[int, tuple[float, ChatSettings | None]] = {}  # chat id -> (read at, settings)
        self._invalidations = 0

    async def get(self, services: Services, chat_id: int) -> ChatSettings | None:
        entry = self._chats.get(chat_id)
        now = self._clock()
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        if services.store is None:
            return entry[1] if entry is not None else None
        invalidations = self._invalidations
        try:
            chat = await services.store.get_chat(chat_id)
        except StoreUnavailableError:
            return entry[1] if entry is not None else None
        if invalidations == self._invalidations:  # else settings changed during the read: it may be stale
            self._remember(chat_id, now, chat)
        return chat

    def put(self, chat: ChatSettings) -> None:
        self._remember(chat.chat_id, self._clock(), chat)

    def invalidate(self, chat_id: int) -> None:
        """The chat's settings may have changed: read them from the store next time. The last known
        settings stay available for when the store is down."""
        self._invalidations += 1
        entry = self._chats.get(chat_id)
        if entry is not None:
            self._chats[chat_id] = (-math.inf, entry[1])

    def _remember(self, chat_id: int, now: float, chat: ChatSettings | None) -> None:
        self._chats.pop(chat_id, None)  # re-inserted last: the dict is oldest-read first
        if len(self._chats) >= self.max_chats:
            for old in list(itertools.islice(self._chats, max(1, self.max_chats // 8))):
                del self._chats[old]
        self._chats[chat_id] = (now, chat)



@dataclass(eq=False)
class AppState:
    """One per Application. ``services`` is set by build_application right after PTB made the state."""

    services: Services = field(init=False)
    chats: ChatCache = field(default_factory=ChatCache)
    photos: Photos = field(default_factory=Photos)  # charts uploaded once, shared with the outbox sender
    # (chat, message, callback data) of the chart buttons already answered, oldest first
    chart_presses: OrderedDict[tuple[int, int, str], None] = field(default_factory=OrderedDict)
    owner: str | None = None  # this process's name in the leader lock
    leader: bool | None = None  # None until the first election
    heartbeat: Path | None = None
    sender: tuple[asyncio.Event, asyncio.Task[None]] | None = None  # the outbox sender's stop flag and task
    renew_at: float = 0.0  # loop time from which the leader renews its lease again (jobs/schedule.py)
    digests: DigestRenders = field(default_factory=DigestRenders)  # the digests this run rendered

    def first_press(self, key: tuple[int, int, str]) -> bool:
        """Remember a chart button press; False when it was pressed before."""
        if key in self.chart_presses:
            return False
        self.chart_presses[key] = None
        if len(self.chart_presses) > CHART_PRESSES_MAX:
            self.chart_presses.popitem(last=False)
        return True


CONTEXT_TYPES = ContextTypes(bot_data=AppState)
AppContext = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], AppState]
# The job queue's own context type is PTB's default: jobs take an AppContext all the same (one Application).
AppApplication = Application[ExtBot[Any], AppContext, dict[Any, Any], dict[Any, Any], AppState, JobQueue[Any]]
