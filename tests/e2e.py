"""Run the real capgap Application against the Telegram peer (shared by end-to-end tests and bench/): over
HTTP when the peer serves (``async with TelegramPeer()``), else in process through ``peer.request()``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from telegram.ext import Application

from bot import calendar
from bot.app import build_application
from bot.clock import Clock, FixedClock
from bot.config import Settings
from bot.market import Market
from bot.seam import Services
from bot.store.factory import make_history, make_store
from tests.telegram_peer import TelegramPeer


@dataclass
class Running:
    application: Application  # type: ignore[type-arg]
    services: Services
    peer: TelegramPeer


def clock_at_close(day: date) -> FixedClock:
    return FixedClock(calendar.session_close(day))


@contextlib.asynccontextmanager
async def running_bot(
    peer: TelegramPeer,
    data_dir: Path,
    *,
    clock: Clock,
    redis_url: str | None = None,
    admin_ids: tuple[int, ...] = (),
    fixed_asof: date | None = None,
    poll: bool = True,
) -> AsyncIterator[Running]:
    settings = Settings(
        telegram_token=peer.token,
        telegram_base_url=peer.base_url,
        data_dir=data_dir,
        redis_url=redis_url,
        admin_ids=admin_ids,
        refresh_enabled=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    history = make_history(data_dir=data_dir, redis_url=redis_url)  # as `capgap run` opens it
    market = Market(history, clock, fixed_asof=fixed_asof)
    store = make_store(data_dir=data_dir, redis_url=redis_url)
    services = Services(settings=settings, clock=clock, history=history, market=market, store=store)
    application = build_application(settings, services, request=None if peer.serving else peer.request())
    async with application:
        assert application.post_init is not None
        await application.post_init(application)
        await application.start()
        if poll:
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield Running(application=application, services=services, peer=peer)
        finally:
            if poll and application.updater is not None:
                await application.updater.stop()
            await application.stop()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)
